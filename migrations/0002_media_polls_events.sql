CREATE TABLE `calendar_events` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`title` text NOT NULL,
	`description` text NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer,
	`time_zone` text NOT NULL,
	`place` text,
	`link` text,
	`reminders` text NOT NULL,
	`created_by` text NOT NULL,
	`cancelled_at` integer,
	PRIMARY KEY(`room_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `media` (
	`id` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`mime` text NOT NULL,
	`width` integer,
	`height` integer,
	`has_preview` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `media_refs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`media_id` text NOT NULL,
	`kind` text NOT NULL,
	`room_id` text,
	`seq` integer,
	`user_id` text
);
--> statement-breakpoint
CREATE INDEX `media_refs_media` ON `media_refs` (`media_id`);--> statement-breakpoint
CREATE INDEX `media_refs_room` ON `media_refs` (`room_id`,`seq`);--> statement-breakpoint
CREATE INDEX `media_refs_user` ON `media_refs` (`user_id`);--> statement-breakpoint
CREATE TABLE `poll_votes` (
	`room_id` text NOT NULL,
	`poll_seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`options` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `poll_seq`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `polls` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`question` text NOT NULL,
	`options` text NOT NULL,
	`multiple` integer NOT NULL,
	`anonymous` integer NOT NULL,
	`created_by` text NOT NULL,
	`closed_at` integer,
	PRIMARY KEY(`room_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `reminders` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`room_id` text NOT NULL,
	`event_seq` integer NOT NULL,
	`offset_seconds` integer NOT NULL,
	`due_at` integer NOT NULL,
	`done_at` integer,
	`outcome` text
);
--> statement-breakpoint
CREATE INDEX `reminders_due` ON `reminders` (`done_at`,`due_at`);--> statement-breakpoint
CREATE INDEX `reminders_event` ON `reminders` (`room_id`,`event_seq`);--> statement-breakpoint
CREATE TABLE `rsvps` (
	`room_id` text NOT NULL,
	`event_seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`answer` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `event_seq`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`user_id` text NOT NULL,
	`media_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `media_id`)
);
--> statement-breakpoint
CREATE INDEX `uploads_media` ON `uploads` (`media_id`);--> statement-breakpoint
ALTER TABLE `messages` ADD `kind` text DEFAULT 'text' NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `file` text;