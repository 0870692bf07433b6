CREATE TABLE `federation_block_notices` (
	`blocker` text NOT NULL,
	`blocked` text NOT NULL,
	`destination` text NOT NULL,
	`on` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`blocker`, `blocked`)
);
--> statement-breakpoint
CREATE INDEX `federation_block_notices_destination` ON `federation_block_notices` (`destination`);