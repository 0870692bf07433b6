CREATE TABLE `federation_nonces` (
	`origin` text NOT NULL,
	`nonce` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`origin`, `nonce`)
);
--> statement-breakpoint
CREATE INDEX `federation_nonces_expiry` ON `federation_nonces` (`expires_at`);