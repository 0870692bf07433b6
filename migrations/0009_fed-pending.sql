CREATE TABLE `federation_nonces` (
	`origin` text NOT NULL,
	`nonce` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`origin`, `nonce`)
);
--> statement-breakpoint
CREATE INDEX `federation_nonces_expiry` ON `federation_nonces` (`expires_at`);--> statement-breakpoint
CREATE TABLE `federation_proposals` (
	`origin` text NOT NULL,
	`proposal_id` text NOT NULL,
	`answer` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`origin`, `proposal_id`)
);
--> statement-breakpoint
CREATE INDEX `federation_proposals_created` ON `federation_proposals` (`created_at`);--> statement-breakpoint
ALTER TABLE `federation_pending` ADD `proposal_id` text;