CREATE TABLE `federation_servers` (
	`server` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`created_at` integer NOT NULL
);
