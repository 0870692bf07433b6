CREATE TABLE `delivery_markers` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `delivery_markers_room_seq` ON `delivery_markers` (`room_id`,`seq`);--> statement-breakpoint
CREATE INDEX `devices_revoked` ON `devices` (`revoked_at`);