CREATE TABLE `memberships` (
	`segment_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`workspace_id` text NOT NULL,
	`member` integer NOT NULL,
	`changed_at` integer NOT NULL,
	PRIMARY KEY(`segment_id`, `profile_key`)
);
--> statement-breakpoint
CREATE INDEX `memberships_member` ON `memberships` (`segment_id`,`member`);--> statement-breakpoint
CREATE TABLE `profiles` (
	`workspace_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `profile_key`)
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`rule` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`backfill_total` integer DEFAULT 0 NOT NULL,
	`backfill_done` integer DEFAULT 0 NOT NULL,
	`deleted_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `segments_workspace` ON `segments` (`workspace_id`);