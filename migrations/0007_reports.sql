CREATE TABLE `report_attribution` (
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	`conversion` text NOT NULL,
	`model` text NOT NULL,
	`lookback_days` integer NOT NULL,
	`source` text NOT NULL,
	`medium` text NOT NULL,
	`campaign` text NOT NULL,
	`credit` integer NOT NULL,
	`revenue` integer NOT NULL,
	PRIMARY KEY(`site_id`, `conversion`, `model`, `lookback_days`, `day`, `source`, `medium`, `campaign`)
);
--> statement-breakpoint
CREATE TABLE `report_consent_days` (
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	`purpose` text NOT NULL,
	`source` text NOT NULL,
	`granted` integer NOT NULL,
	`denied` integer NOT NULL,
	PRIMARY KEY(`site_id`, `day`, `purpose`, `source`)
);
--> statement-breakpoint
CREATE TABLE `report_consent_seen` (
	`id` text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE `report_experiments` (
	`experience_id` text NOT NULL,
	`variant` text NOT NULL,
	`day` text NOT NULL,
	`exposed` integer NOT NULL,
	`converted` integer NOT NULL,
	`revenue` integer NOT NULL,
	PRIMARY KEY(`experience_id`, `variant`, `day`)
);
--> statement-breakpoint
CREATE TABLE `report_funnel_steps` (
	`site_id` text NOT NULL,
	`name` text NOT NULL,
	`day` text NOT NULL,
	`profile_key` text NOT NULL,
	`workspace_id` text NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`properties` text NOT NULL,
	PRIMARY KEY(`site_id`, `name`, `day`, `profile_key`)
);
--> statement-breakpoint
CREATE INDEX `report_funnel_steps_visitor` ON `report_funnel_steps` (`site_id`,`name`,`profile_key`,`day`);--> statement-breakpoint
CREATE INDEX `report_funnel_steps_profile` ON `report_funnel_steps` (`workspace_id`,`profile_key`);--> statement-breakpoint
CREATE TABLE `report_membership_seen` (
	`segment_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`member` integer NOT NULL,
	`at` integer NOT NULL,
	`workspace_id` text NOT NULL,
	PRIMARY KEY(`segment_id`, `profile_key`, `member`, `at`)
);
--> statement-breakpoint
CREATE INDEX `report_membership_seen_profile` ON `report_membership_seen` (`workspace_id`,`profile_key`);--> statement-breakpoint
CREATE TABLE `report_segment_days` (
	`segment_id` text NOT NULL,
	`day` text NOT NULL,
	`entered` integer NOT NULL,
	`exited` integer NOT NULL,
	PRIMARY KEY(`segment_id`, `day`)
);
--> statement-breakpoint
CREATE TABLE `report_touchpoints` (
	`workspace_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`id` text NOT NULL,
	`site_id` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `profile_key`, `id`)
);
--> statement-breakpoint
CREATE INDEX `report_touchpoints_time` ON `report_touchpoints` (`workspace_id`,`profile_key`,`at`);--> statement-breakpoint
CREATE TABLE `report_visitors` (
	`workspace_id` text NOT NULL,
	`profile_key` text NOT NULL,
	`version` integer NOT NULL,
	`contribution` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `profile_key`)
);
