import type { Storage } from "../storage/database.ts";
import { eventFromRow } from "./store.ts";
import type { RoomEvent } from "./types.ts";

/**
 * The per-user sync stream. A user sees a room's events while they are a member (their member
 * spans), plus events about them from rooms they are not in (an invitation, a rejected request).
 * Restricted events (announcement-group membership, join requests) only reach their subject,
 * their sender and the room's current admins. Positions (`pos`) order the stream; a client
 * resumes from the last `pos` it saw and gets each event exactly once.
 */
export function createSync(storage: Storage) {
  const db = storage.sqlite;
  const page = db.prepare(`
    SELECT e.pos, e.room_id, e.seq, e.event_id, e.type, e.sender, e.ts, e.content
    FROM member_spans s JOIN room_events e ON e.room_id = s.room_id
    WHERE s.user_id = @user AND (s.to_pos IS NULL OR s.to_pos > @since)
      AND e.pos > @since AND e.pos >= s.from_pos AND e.backfilled = 0 AND (s.to_pos IS NULL OR e.pos <= s.to_pos)
      AND (e.restricted = 0 OR e.subject = @user OR e.sender = @user
           OR EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = e.room_id AND m.user_id = @user AND m.role <> 'member'))
    UNION
    SELECT e.pos, e.room_id, e.seq, e.event_id, e.type, e.sender, e.ts, e.content
    FROM room_events e WHERE e.subject = @user AND e.pos > @since AND e.backfilled = 0
    ORDER BY 1 LIMIT @limit`);
  const head = db.prepare("SELECT coalesce(max(pos), 0) AS pos FROM room_events");

  return {
    /** Up to `limit` events after `since`, the position to resume from, and whether more wait. */
    since(userId: string, since: number, limit: number): { events: RoomEvent[]; pos: number; more: boolean } {
      const rows = page.all({ user: userId, since, limit: limit + 1 }) as Parameters<typeof eventFromRow>[0][];
      const more = rows.length > limit;
      if (more) rows.pop();
      const events = rows.map(eventFromRow);
      // Once caught up, the newest position, even when `since` is past it (a position of another
      // server, or from before the database was restored): the client stores the real one and
      // goes on from there, instead of waiting for events that will never have its numbers.
      const pos = more ? events[events.length - 1].pos : (head.get() as { pos: number }).pos;
      return { events, pos, more };
    },
    head: () => (head.get() as { pos: number }).pos,
  };
}

export type Sync = ReturnType<typeof createSync>;
