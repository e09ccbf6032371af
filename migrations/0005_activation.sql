CREATE TABLE `audience_members` (
	`destination_id` text NOT NULL,
	`segment_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`workspace_id` text NOT NULL,
	`state` text NOT NULL,
	`identifiers` text,
	`consent_mode` text,
	`changed_at` integer NOT NULL,
	PRIMARY KEY(`destination_id`, `segment_id`, `profile_key`)
);
--> statement-breakpoint
CREATE INDEX `audience_members_state` ON `audience_members` (`destination_id`,`state`);--> statement-breakpoint
CREATE INDEX `audience_members_profile` ON `audience_members` (`workspace_id`,`profile_key`);--> statement-breakpoint
CREATE INDEX `audience_members_identifiers` ON `audience_members` (`destination_id`,`identifiers`);--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`destination_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`message_id` text NOT NULL,
	`profile_key` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`last_attempt_at` integer,
	`delivered_at` integer,
	`response_status` integer,
	`response_body` text,
	`error` text,
	`payload` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deliveries_destination` ON `deliveries` (`destination_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_profile` ON `deliveries` (`workspace_id`,`profile_key`);--> statement-breakpoint
CREATE TABLE `destinations` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`config` text NOT NULL,
	`events` text,
	`purposes` text NOT NULL,
	`segments` text DEFAULT '[]' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`paused_reason` text,
	`secrets` text NOT NULL,
	`failure_streak` integer DEFAULT 0 NOT NULL,
	`failing_since` integer,
	`filtered` integer DEFAULT 0 NOT NULL,
	`deleted_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `destinations_workspace` ON `destinations` (`workspace_id`);