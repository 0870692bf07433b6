import type { Statement } from "better-sqlite3";
import type { Storage } from "../storage/database.ts";

export interface MessageHit {
  pos: number;
  roomId: string;
  seq: number;
  sender: string;
  ts: number;
  kind: string;
  body: string;
}

export interface MessageSearch {
  userId: string;
  /** Words of 3 characters or more: matched through the trigram index. */
  long: string[];
  /** Shorter words: matched by substring within the rows found (or, alone, by a scan). */
  short: string[];
  roomId?: string;
  sender?: string;
  /** Only hits before this pos (the cursor). */
  before: number;
  /** Without long words: only positions from this one on (the scan's window). */
  floor?: number;
  limit: number;
}

/**
 * Read-side SQL of search. Message hits are limited in SQL to what the user may read: rooms they
 * are in now, from where their current membership began (`member_spans`, as history), not
 * deleted, not hidden by them. The index holds message text only, so anonymous votes (which are
 * not messages, and whose voters are never in the log) cannot be found.
 */
export function createSearchQueries(storage: Storage) {
  const db = storage.sqlite;
  const people = db.prepare(`
    SELECT a.id AS userId, a.display_name AS displayName, a.avatar
    FROM accounts a
    WHERE a.id <> @me AND a.disabled = 0 AND a.id > @after
      AND (instr(lower(a.display_name), @q) > 0 OR instr(a.username, @q) > 0)
      AND (@anyone = 1 OR EXISTS (
        SELECT 1 FROM room_members x JOIN room_members y ON y.room_id = x.room_id JOIN rooms r ON r.id = x.room_id
        WHERE x.user_id = @me AND y.user_id = a.id AND r.kind IN ('community', 'group') AND r.deactivated = 0))
    ORDER BY a.id LIMIT @limit`);
  // Users of other servers have no account here: they are found as members of the communities
  // and groups one shares with them (replicas included), by the local part of their id or by the
  // display name their server last gave (remote_profiles, federation/profiles.ts).
  const remotePeople = db.prepare(`
    SELECT u.userId FROM (
      SELECT DISTINCT y.user_id AS userId
      FROM room_members x JOIN room_members y ON y.room_id = x.room_id JOIN rooms r ON r.id = x.room_id
      WHERE x.user_id = @me AND r.kind IN ('community', 'group') AND r.deactivated = 0
        AND y.user_id > @after AND substr(y.user_id, -length(@suffix)) <> @suffix
    ) u LEFT JOIN remote_profiles p ON p.user_id = u.userId
    WHERE instr(lower(substr(u.userId, 2, instr(u.userId, ':') - 2)), @q) > 0 OR instr(lower(p.display_name), @q) > 0
    ORDER BY u.userId LIMIT @limit`);
  const cache = new Map<string, Statement>();
  const head = db.prepare("SELECT coalesce(max(pos), 0) AS pos FROM room_events");

  function messageStatement(q: MessageSearch): Statement {
    const useIndex = q.long.length > 0;
    const where: string[] = [
      "m.deleted_at IS NULL",
      "m.body IS NOT NULL",
      "NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = @me AND h.room_id = m.room_id AND h.seq = m.seq)",
    ];
    if (q.roomId !== undefined) where.push("e.room_id = @room");
    if (q.sender !== undefined) where.push("m.sender = @sender");
    q.short.forEach((_, i) => where.push(`instr(lower(m.body), @s${i}) > 0`));
    const sql = useIndex
      ? `SELECT e.pos, e.room_id AS roomId, e.seq, m.sender, m.ts, m.kind, m.body
         FROM messages_fts f
         JOIN room_events e ON e.pos = f.rowid
         JOIN member_spans s ON s.room_id = e.room_id AND s.user_id = @me AND s.to_pos IS NULL AND e.pos >= s.from_pos AND e.backfilled = 0
         JOIN messages m ON m.room_id = e.room_id AND m.seq = e.seq
         WHERE messages_fts MATCH @match AND f.rowid < @before AND ${where.join(" AND ")}
         ORDER BY f.rowid DESC LIMIT @limit`
      : // Only words under three characters (a two-character Chinese word, say): the trigram index
        // cannot serve them, so the log is scanned newest first within a window of positions (the
        // caller pages on below it), keeping the user's rooms. CROSS JOIN fixes that order: walking
        // the log backwards stops as soon as a page is full, where starting from the user's rooms
        // would gather and sort the whole window first (3x slower for a member of 1,000 rooms).
        `SELECT e.pos, e.room_id AS roomId, e.seq, m.sender, m.ts, m.kind, m.body
         FROM room_events e
         CROSS JOIN member_spans s ON s.room_id = e.room_id AND s.user_id = @me AND s.to_pos IS NULL AND e.pos >= s.from_pos AND e.backfilled = 0
         CROSS JOIN messages m ON m.room_id = e.room_id AND m.seq = e.seq
         WHERE e.pos < @before AND e.pos >= @floor AND e.type = 'message' AND ${where.join(" AND ")}
         ORDER BY e.pos DESC LIMIT @limit`;
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = db.prepare(sql)));
    return st;
  }

  return {
    /** The newest position of the server's stream. */
    head: () => (head.get() as { pos: number }).pos,
    /** People whose display name or username contains `q` (lower-cased), after `after` by id. */
    people(me: string, q: string, anyone: boolean, after: string, limit: number) {
      return people.all({ me, q, anyone: anyone ? 1 : 0, after, limit }) as { userId: string; displayName: string; avatar: string | null }[];
    },
    /** Users of other servers (not `:self`) sharing a community or group with `me`, whose id's local part or stored display name contains `q`. */
    remotePeople(me: string, self: string, q: string, after: string, limit: number) {
      return (remotePeople.all({ me, suffix: `:${self}`, q, after, limit }) as { userId: string }[]).map((r) => r.userId);
    },
    messages(q: MessageSearch): MessageHit[] {
      const params: Record<string, unknown> = { me: q.userId, before: q.before, limit: q.limit };
      if (q.long.length) params.match = q.long.map((w) => `"${w.replace(/"/g, '""')}"`).join(" AND ");
      else params.floor = q.floor ?? 0;
      if (q.roomId !== undefined) params.room = q.roomId;
      if (q.sender !== undefined) params.sender = q.sender;
      q.short.forEach((w, i) => (params[`s${i}`] = w));
      return messageStatement(q).all(params) as MessageHit[];
    },
  };
}

export type SearchQueries = ReturnType<typeof createSearchQueries>;
