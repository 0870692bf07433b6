CREATE TABLE `direct_chats` (
	`user_a` text NOT NULL,
	`user_b` text NOT NULL,
	`room_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_a`, `user_b`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `direct_chats_room_id_unique` ON `direct_chats` (`room_id`);--> statement-breakpoint
CREATE TABLE `user_blocks` (
	`blocker` text NOT NULL,
	`blocked` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`blocker`, `blocked`)
);
--> statement-breakpoint
ALTER TABLE `messages` ADD `quote` text;--> statement-breakpoint
CREATE INDEX `member_spans_room_user` ON `member_spans` (`room_id`,`user_id`,`to_pos`);--> statement-breakpoint
-- custom SQL (kept at merge)
-- Message search: an FTS5 index of each message's text (text, caption or file name, poll
-- question, event title), keyed by the message event's `pos`. Contentless (the text is in
-- `messages`), with contentless_delete so that edits and deletions remove their old text. The
-- trigram tokenizer finds substrings of 3+ characters in any script, Chinese included.
CREATE VIRTUAL TABLE `messages_fts` USING fts5(body, content='', contentless_delete=1, tokenize='trigram');
--> statement-breakpoint
INSERT INTO `messages_fts` (rowid, body) SELECT e.pos, m.body FROM `messages` m JOIN `room_events` e ON e.room_id = m.room_id AND e.seq = m.seq WHERE m.body IS NOT NULL AND m.deleted_at IS NULL;
