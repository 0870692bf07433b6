DROP INDEX `room_events_txn`;--> statement-breakpoint
DROP INDEX `room_events_subject`;--> statement-breakpoint
CREATE UNIQUE INDEX `room_events_txn` ON `room_events` (`room_id`,`sender`,`txn_id`) WHERE "room_events"."txn_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `room_events_subject` ON `room_events` (`subject`,`pos`) WHERE "room_events"."subject" IS NOT NULL;