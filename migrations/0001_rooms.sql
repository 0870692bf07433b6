CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scope_id` text NOT NULL,
	`room_id` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`details` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_scope` ON `audit_log` (`scope_id`,`id`);--> statement-breakpoint
CREATE TABLE `hidden_messages` (
	`user_id` text NOT NULL,
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`user_id`, `room_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `invite_links` (
	`id` text PRIMARY KEY NOT NULL,
	`token` text NOT NULL,
	`room_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`max_uses` integer,
	`uses` integer DEFAULT 0 NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invite_links_token_unique` ON `invite_links` (`token`);--> statement-breakpoint
CREATE INDEX `invite_links_room` ON `invite_links` (`room_id`);--> statement-breakpoint
CREATE TABLE `join_requests` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `member_spans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`from_pos` integer NOT NULL,
	`to_pos` integer
);
--> statement-breakpoint
CREATE INDEX `member_spans_user` ON `member_spans` (`user_id`,`to_pos`);--> statement-breakpoint
CREATE TABLE `messages` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`event_id` text NOT NULL,
	`sender` text NOT NULL,
	`body` text,
	`reply_to` integer,
	`thread_root` integer,
	`reply_count` integer DEFAULT 0 NOT NULL,
	`ts` integer NOT NULL,
	`edited_at` integer,
	`deleted_at` integer,
	`deleted_by` text,
	PRIMARY KEY(`room_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `messages_thread` ON `messages` (`room_id`,`thread_root`,`seq`);--> statement-breakpoint
CREATE TABLE `reactions` (
	`room_id` text NOT NULL,
	`target` integer NOT NULL,
	`user_id` text NOT NULL,
	`emoji` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `target`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `read_markers` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `read_markers_room_seq` ON `read_markers` (`room_id`,`seq`);--> statement-breakpoint
CREATE TABLE `room_bans` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`banned_by` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `room_events` (
	`pos` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`event_id` text NOT NULL,
	`type` text NOT NULL,
	`sender` text NOT NULL,
	`ts` integer NOT NULL,
	`content` text NOT NULL,
	`subject` text,
	`restricted` integer DEFAULT false NOT NULL,
	`txn_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `room_events_event_id_unique` ON `room_events` (`event_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `room_events_room_seq` ON `room_events` (`room_id`,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `room_events_txn` ON `room_events` (`room_id`,`sender`,`txn_id`);--> statement-breakpoint
CREATE INDEX `room_events_room_pos` ON `room_events` (`room_id`,`pos`);--> statement-breakpoint
CREATE INDEX `room_events_subject` ON `room_events` (`subject`,`pos`);--> statement-breakpoint
CREATE TABLE `room_invites` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`invited_by` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `room_invites_user` ON `room_invites` (`user_id`);--> statement-breakpoint
CREATE TABLE `room_members` (
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`joined_at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `room_members_user` ON `room_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `rooms` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`picture` text,
	`rules` text DEFAULT '' NOT NULL,
	`community_id` text,
	`settings` text NOT NULL,
	`deactivated` integer DEFAULT false NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL
);
