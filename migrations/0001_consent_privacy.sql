CREATE TABLE `consent_ledger` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`site_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`subject` text,
	`at` integer NOT NULL,
	`signals` text NOT NULL,
	`consent` text NOT NULL,
	`policy_version` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `consent_ledger_id_unique` ON `consent_ledger` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `consent_ledger_chain` ON `consent_ledger` (`site_id`,`prev_hash`);--> statement-breakpoint
CREATE INDEX `consent_ledger_subject` ON `consent_ledger` (`workspace_id`,`subject`);--> statement-breakpoint
CREATE TABLE `cookieless_counts` (
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`site_id`, `day`, `type`, `name`)
);
--> statement-breakpoint
CREATE TABLE `cookieless_seen` (
	`message_id` text NOT NULL,
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	PRIMARY KEY(`site_id`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `cookieless_seen_day` ON `cookieless_seen` (`day`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`workspace_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`workspace_id`, `profile_key`)
);
--> statement-breakpoint
ALTER TABLE `sites` ADD `purposes` text DEFAULT '["analytics","personalization","advertising"]' NOT NULL;--> statement-breakpoint
ALTER TABLE `sites` ADD `policy_version` text DEFAULT '1' NOT NULL;--> statement-breakpoint
ALTER TABLE `sites` ADD `retention_days` integer DEFAULT 395 NOT NULL;