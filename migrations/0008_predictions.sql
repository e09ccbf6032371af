CREATE TABLE `predictions` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`goal` text NOT NULL,
	`within` text NOT NULL,
	`retrain_every` text,
	`status` text NOT NULL,
	`reason` text,
	`version` integer DEFAULT 0 NOT NULL,
	`model` text,
	`metrics` text,
	`features` text,
	`trained_at` integer,
	`requested_at` integer,
	`deleted_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `predictions_workspace` ON `predictions` (`workspace_id`);