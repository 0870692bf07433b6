CREATE TABLE `remote_profiles` (
	`user_id` text PRIMARY KEY NOT NULL,
	`display_name` text NOT NULL,
	`about` text DEFAULT '' NOT NULL,
	`avatar` text,
	`fetched_at` integer NOT NULL,
	`asked_at` integer
);
--> statement-breakpoint
CREATE INDEX `remote_profiles_avatar` ON `remote_profiles` (`avatar`);