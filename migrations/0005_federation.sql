CREATE TABLE `federation_servers` (
	`server` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `room_events` ADD `content_hash` text;--> statement-breakpoint
ALTER TABLE `room_events` ADD `hash` text;