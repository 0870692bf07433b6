CREATE TABLE `replica_floors` (
	`room_id` text PRIMARY KEY NOT NULL,
	`snapshot_seq` integer NOT NULL,
	`low_seq` integer NOT NULL,
	`low_prev` text,
	`server_acl` text
);
--> statement-breakpoint
ALTER TABLE `member_spans` ADD `from_seq` integer;--> statement-breakpoint
ALTER TABLE `room_events` ADD `backfilled` integer DEFAULT false NOT NULL;