CREATE TABLE `backfill_progress` (
	`segment_id` text NOT NULL,
	`version` integer NOT NULL,
	`page` text NOT NULL,
	`from_cursor` text,
	`to_cursor` text,
	`next_page` text NOT NULL,
	`queued` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`segment_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `privacy_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`subject` text,
	`scope` text,
	`status` text NOT NULL,
	`steps` text DEFAULT '{}' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`lease_until` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`done_at` integer
);
--> statement-breakpoint
CREATE INDEX `privacy_requests_status` ON `privacy_requests` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `privacy_requests_workspace` ON `privacy_requests` (`workspace_id`,`created_at`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_events` (
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
	PRIMARY KEY(`workspace_id`, `site_id`, `message_id`)
);
--> statement-breakpoint
INSERT INTO `__new_events`("workspace_id", "message_id", "site_id", "type", "name", "profile_key", "user_id", "anonymous_id", "bot", "timestamp", "received_at", "payload") SELECT "workspace_id", "message_id", "site_id", "type", "name", "profile_key", "user_id", "anonymous_id", "bot", "timestamp", "received_at", "payload" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `events_site_time` ON `events` (`site_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `events_profile` ON `events` (`profile_key`);--> statement-breakpoint
CREATE INDEX `events_user` ON `events` (`workspace_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `events_anonymous` ON `events` (`workspace_id`,`anonymous_id`);