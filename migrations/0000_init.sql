CREATE TABLE `events` (
	`workspace_id` text NOT NULL,
	`message_id` text NOT NULL,
	`site_id` text NOT NULL,
	`type` text NOT NULL,
	`name` text,
	`profile_key` text,
	`user_id` text,
	`anonymous_id` text,
	`bot` integer DEFAULT false NOT NULL,
	`timestamp` integer NOT NULL,
	`received_at` integer NOT NULL,
	`payload` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `events_site_time` ON `events` (`site_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `events_profile` ON `events` (`profile_key`);--> statement-breakpoint
CREATE INDEX `events_user` ON `events` (`workspace_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `events_anonymous` ON `events` (`workspace_id`,`anonymous_id`);--> statement-breakpoint
CREATE TABLE `failed_events` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`received_at` integer NOT NULL,
	`code` text NOT NULL,
	`message` text NOT NULL,
	`path` text,
	`batch_index` integer,
	`message_id` text,
	`payload` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `failed_events_site_time` ON `failed_events` (`site_id`,`received_at`);--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`write_key` text NOT NULL,
	`secret_key_hash` text NOT NULL,
	`origins` text NOT NULL,
	`cookie_domain` text,
	`consent_defaults` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sites_write_key_unique` ON `sites` (`write_key`);--> statement-breakpoint
CREATE UNIQUE INDEX `sites_secret_key_hash_unique` ON `sites` (`secret_key_hash`);--> statement-breakpoint
CREATE INDEX `sites_workspace` ON `sites` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `workspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
