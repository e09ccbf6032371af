ALTER TABLE `sites` ADD `identity_secret_sealed` text;--> statement-breakpoint
ALTER TABLE `sites` ADD `identity_verification` text DEFAULT 'required' NOT NULL;