/**
 * Polls and calendar events: both are messages in a room's log; their answers are events too,
 * and these tables are their projections. Anonymous poll votes are the one exception: who voted
 * for what must never be readable through the log, so the vote rows live only here.
 */
import { sqliteTable, text, integer, index, primaryKey } from "drizzle-orm/sqlite-core";

export const polls = sqliteTable(
  "polls",
  {
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    question: text("question").notNull(),
    options: text("options").notNull(),
    multiple: integer("multiple", { mode: "boolean" }).notNull(),
    anonymous: integer("anonymous", { mode: "boolean" }).notNull(),
    createdBy: text("created_by").notNull(),
    closedAt: integer("closed_at"),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

export const pollVotes = sqliteTable(
  "poll_votes",
  {
    roomId: text("room_id").notNull(),
    pollSeq: integer("poll_seq").notNull(),
    userId: text("user_id").notNull(),
    options: text("options").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.pollSeq, t.userId] })],
);

export const calendarEvents = sqliteTable(
  "calendar_events",
  {
    roomId: text("room_id").notNull(),
    seq: integer("seq").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull(),
    startsAt: integer("starts_at").notNull(),
    endsAt: integer("ends_at"),
    timeZone: text("time_zone").notNull(),
    place: text("place"),
    link: text("link"),
    reminders: text("reminders").notNull(),
    createdBy: text("created_by").notNull(),
    cancelledAt: integer("cancelled_at"),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

export const rsvps = sqliteTable(
  "rsvps",
  {
    roomId: text("room_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    userId: text("user_id").notNull(),
    answer: text("answer", { enum: ["going", "maybe", "not_going"] }).notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.eventSeq, t.userId] })],
);

/** The durable reminder schedule. `doneAt` is set before the push, so none is sent twice. */
export const reminders = sqliteTable(
  "reminders",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    roomId: text("room_id").notNull(),
    eventSeq: integer("event_seq").notNull(),
    offsetSeconds: integer("offset_seconds").notNull(),
    dueAt: integer("due_at").notNull(),
    doneAt: integer("done_at"),
    outcome: text("outcome", { enum: ["sent", "skipped"] }),
  },
  (t) => [index("reminders_due").on(t.doneAt, t.dueAt), index("reminders_event").on(t.roomId, t.eventSeq)],
);

/**
 * Pushes kept for users who were offline when they were due (a reminder that fell due while they
 * were away, or at start-up before anyone reconnected): delivered on their next authentication,
 * unless they expired first.
 */
export const pendingPushes = sqliteTable(
  "pending_pushes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: text("user_id").notNull(),
    frame: text("frame").notNull(),
    expiresAt: integer("expires_at").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("pending_pushes_user").on(t.userId)],
);
