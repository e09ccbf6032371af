CREATE TABLE `imports` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`site_id` text NOT NULL,
	`format` text NOT NULL,
	`purposes` text NOT NULL,
	`object_key` text NOT NULL,
	`bytes` integer NOT NULL,
	`status` text NOT NULL,
	`offset` integer DEFAULT 0 NOT NULL,
	`previous_offset` integer,
	`columns` text,
	`rows` integer DEFAULT 0 NOT NULL,
	`applied` integer DEFAULT 0 NOT NULL,
	`duplicates` integer DEFAULT 0 NOT NULL,
	`rejected` integer DEFAULT 0 NOT NULL,
	`errors` text DEFAULT '[]' NOT NULL,
	`failure` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `imports_workspace` ON `imports` (`workspace_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `profile_emails` (
	`workspace_id` text NOT NULL,
	`email` text NOT NULL,
	`profile_key` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `email`)
);
--> statement-breakpoint
CREATE INDEX `profile_emails_key` ON `profile_emails` (`workspace_id`,`profile_key`);