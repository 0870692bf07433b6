CREATE TABLE `federation_departures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` text NOT NULL,
	`room_id` text NOT NULL,
	`home` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `federation_departures_user_room` ON `federation_departures` (`user_id`,`room_id`);--> statement-breakpoint
CREATE INDEX `federation_departures_home` ON `federation_departures` (`home`);--> statement-breakpoint
CREATE TABLE `remote_groups` (
	`community_id` text NOT NULL,
	`group_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`picture` text,
	`member_count` integer NOT NULL,
	`join_approval` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`community_id`, `group_id`)
);
--> statement-breakpoint
ALTER TABLE `replica_floors` ADD `groups` text;