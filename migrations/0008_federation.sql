CREATE TABLE `federation_cursors` (
	`destination` text NOT NULL,
	`room_id` text NOT NULL,
	`acked_seq` integer NOT NULL,
	`until_seq` integer,
	PRIMARY KEY(`destination`, `room_id`)
);
--> statement-breakpoint
CREATE TABLE `federation_peers` (
	`server` text PRIMARY KEY NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer DEFAULT 0 NOT NULL,
	`last_success_at` integer,
	`failing_since` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `federation_pending` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`home` text NOT NULL,
	`sender` text NOT NULL,
	`op` text NOT NULL,
	`params` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `federation_pending_home` ON `federation_pending` (`home`,`id`);--> statement-breakpoint
CREATE TABLE `federation_rooms` (
	`room_id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `federation_servers` (
	`server` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `room_events` ADD `content_hash` text;--> statement-breakpoint
ALTER TABLE `room_events` ADD `hash` text;