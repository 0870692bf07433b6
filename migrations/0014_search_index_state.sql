CREATE TABLE `search_index_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`indexed_pos` integer NOT NULL
);
--> statement-breakpoint
-- custom SQL (kept at merge)
-- Everything written before this migration is indexed already (messages_fts was written in the same transactions).
INSERT INTO `search_index_state` (`id`, `indexed_pos`) SELECT 1, coalesce(max(`pos`), 0) FROM `room_events`;
