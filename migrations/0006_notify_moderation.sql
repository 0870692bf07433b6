CREATE TABLE `message_mentions` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `pinned_messages` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`pinned_by` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `push_subscriptions` (
	`endpoint` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`device_id` text NOT NULL,
	`p256dh` text NOT NULL,
	`auth` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `push_subscriptions_user` ON `push_subscriptions` (`user_id`);--> statement-breakpoint
CREATE INDEX `push_subscriptions_device` ON `push_subscriptions` (`device_id`);--> statement-breakpoint
CREATE TABLE `reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scope_id` text NOT NULL,
	`room_id` text NOT NULL,
	`seq` integer,
	`target_user` text NOT NULL,
	`reporter` text NOT NULL,
	`reason` text NOT NULL,
	`snapshot` text,
	`status` text DEFAULT 'open' NOT NULL,
	`action` text,
	`resolved_by` text,
	`resolved_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `reports_scope_status` ON `reports` (`scope_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `reports_reporter` ON `reports` (`reporter`,`id`);--> statement-breakpoint
CREATE TABLE `room_prefs` (
	`user_id` text NOT NULL,
	`room_id` text NOT NULL,
	`level` text DEFAULT 'all' NOT NULL,
	`muted_until` integer,
	`pinned_at` integer,
	`archived_at` integer,
	PRIMARY KEY(`user_id`, `room_id`)
);
--> statement-breakpoint
CREATE TABLE `saved_messages` (
	`user_id` text NOT NULL,
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `room_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `saved_messages_user_at` ON `saved_messages` (`user_id`,`at`);