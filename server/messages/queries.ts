import type { Storage } from "../storage/database.ts";
import type { MessageRow } from "../rooms/store.ts";
import { readingStartSql } from "../rooms/reading.ts";

export interface MessageView {
  roomId: string;
  seq: number;
  eventId: string;
  sender: string;
  kind: "text" | "file" | "poll" | "event";
  body: string | null;
  file: Record<string, unknown> | null;
  replyTo: number | null;
  threadRoot: number | null;
  replyCount: number;
  ts: number;
  edited: boolean;
  deleted: boolean;
  reactions: { emoji: string; count: number }[];
  myReaction: string | null;
  /** Forwarded from another room (the event's `forwarded`); false for a deleted message. */
  forwarded: boolean;
  /** The members the message mentions, as the server kept them at the send (absent when none, or deleted). */
  mentions?: string[];
  /** An admin's @all (absent otherwise, or when deleted). */
  mentionAll?: true;
  /** A private reply's snapshot of the message it quotes from another room (direct chats). */
  quote?: Record<string, unknown>;
}

/** Read-side SQL of messages: history pages, threads, reactions, receipts, hidden messages. */
export function createMessageQueries(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    before: db.prepare(
      "SELECT * FROM messages m WHERE room_id = ? AND seq < ? AND seq >= ? AND thread_root IS NULL AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.room_id = m.room_id AND h.seq = m.seq) ORDER BY seq DESC LIMIT ?",
    ),
    after: db.prepare(
      "SELECT * FROM messages m WHERE room_id = ? AND seq > ? AND seq >= ? AND thread_root IS NULL AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.room_id = m.room_id AND h.seq = m.seq) ORDER BY seq ASC LIMIT ?",
    ),
    thread: db.prepare(
      "SELECT * FROM messages m WHERE room_id = ? AND thread_root = ? AND seq > ? AND seq >= ? AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.room_id = m.room_id AND h.seq = m.seq) ORDER BY seq ASC LIMIT ?",
    ),
    one: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq = ?"),
    visibleFrom: db.prepare(`SELECT ${readingStartSql("?", "?")} AS seq`),
    hidden: db.prepare("SELECT 1 FROM hidden_messages WHERE user_id = ? AND room_id = ? AND seq = ?"),
    hide: db.prepare("INSERT OR IGNORE INTO hidden_messages (user_id, room_id, seq) VALUES (?, ?, ?)"),
    reactionCounts: db.prepare("SELECT target, emoji, count(*) AS n FROM reactions WHERE room_id = ? AND target BETWEEN ? AND ? GROUP BY target, emoji ORDER BY n DESC, emoji"),
    myReactions: db.prepare("SELECT target, emoji FROM reactions WHERE room_id = ? AND user_id = ? AND target BETWEEN ? AND ?"),
    reactors: db.prepare("SELECT user_id AS userId, emoji FROM reactions WHERE room_id = ? AND target = ? ORDER BY at"),
    marker: db.prepare("SELECT seq FROM read_markers WHERE room_id = ? AND user_id = ?"),
    setMarker: db.prepare(
      "INSERT INTO read_markers (room_id, user_id, seq, at) VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET seq = excluded.seq, at = excluded.at WHERE excluded.seq > read_markers.seq",
    ),
    delivered: db.prepare("SELECT seq FROM delivery_markers WHERE room_id = ? AND user_id = ?"),
    setDelivered: db.prepare(
      "INSERT INTO delivery_markers (room_id, user_id, seq, at) VALUES (?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET seq = excluded.seq, at = excluded.at WHERE excluded.seq > delivery_markers.seq",
    ),
    deliveredCount: db.prepare("SELECT count(*) AS n FROM delivery_markers r JOIN room_members m ON m.room_id = r.room_id AND m.user_id = r.user_id WHERE r.room_id = ? AND r.seq >= ? AND r.user_id <> ?"),
    readCount: db.prepare("SELECT count(*) AS n FROM read_markers r JOIN room_members m ON m.room_id = r.room_id AND m.user_id = r.user_id WHERE r.room_id = ? AND r.seq >= ? AND r.user_id <> ?"),
    readers: db.prepare("SELECT r.user_id AS userId, r.at FROM read_markers r JOIN room_members m ON m.room_id = r.room_id AND m.user_id = r.user_id WHERE r.room_id = ? AND r.seq >= ? AND r.user_id <> ? ORDER BY r.at"),
    // What a message event's content says beyond the messages projection: whether it was forwarded
    // and whom it mentions. One statement per page: the CROSS JOIN keeps the page's seqs outside, so
    // each is one lookup by the (room_id, seq) index (not a scan of the room). Only rows that
    // carry any of the three come back. A redacted event's content has none of them.
    marks: db.prepare(
      "SELECT e.seq, json_extract(e.content, '$.forwarded') AS forwarded, json_extract(e.content, '$.mentions') AS mentions, json_extract(e.content, '$.mentionAll') AS mentionAll FROM json_each(?) j CROSS JOIN room_events e WHERE e.room_id = ? AND e.seq = j.value AND e.type = 'message' AND (json_extract(e.content, '$.forwarded') IS NOT NULL OR json_extract(e.content, '$.mentions') IS NOT NULL OR json_extract(e.content, '$.mentionAll') IS NOT NULL)",
    ),
  };

  type Marks = { forwarded: boolean; mentions?: string[]; mentionAll?: true };
  function marksOf(roomId: string, rows: MessageRow[]): Map<number, Marks> {
    const live = rows.filter((r) => !r.deleted_at && (r.kind === "text" || r.kind === "file")).map((r) => r.seq);
    const out = new Map<number, Marks>();
    if (live.length === 0) return out;
    for (const m of s.marks.all(JSON.stringify(live), roomId) as { seq: number; forwarded: number | null; mentions: string | null; mentionAll: number | null }[]) {
      const marks: Marks = { forwarded: m.forwarded === 1 };
      const mentions = m.mentions ? (JSON.parse(m.mentions) as unknown) : null;
      if (Array.isArray(mentions) && mentions.length) marks.mentions = mentions as string[];
      if (m.mentionAll === 1) marks.mentionAll = true;
      out.set(m.seq, marks);
    }
    return out;
  }

  function views(roomId: string, userId: string, rows: MessageRow[]): MessageView[] {
    if (rows.length === 0) return [];
    const lo = Math.min(...rows.map((r) => r.seq));
    const hi = Math.max(...rows.map((r) => r.seq));
    const counts = new Map<number, { emoji: string; count: number }[]>();
    for (const r of s.reactionCounts.all(roomId, lo, hi) as { target: number; emoji: string; n: number }[]) {
      let list = counts.get(r.target);
      if (!list) counts.set(r.target, (list = []));
      list.push({ emoji: r.emoji, count: r.n });
    }
    const mine = new Map((s.myReactions.all(roomId, userId, lo, hi) as { target: number; emoji: string }[]).map((r) => [r.target, r.emoji]));
    const marks = marksOf(roomId, rows);
    return rows.map((r) => ({
      roomId: r.room_id,
      seq: r.seq,
      eventId: r.event_id,
      sender: r.sender,
      kind: r.kind as MessageView["kind"],
      body: r.deleted_at ? null : r.body,
      file: r.deleted_at || !r.file ? null : (JSON.parse(r.file) as Record<string, unknown>),
      replyTo: r.reply_to,
      threadRoot: r.thread_root,
      replyCount: r.reply_count,
      ts: r.ts,
      edited: r.edited_at !== null,
      deleted: r.deleted_at !== null,
      reactions: r.deleted_at ? [] : (counts.get(r.seq) ?? []),
      // A deleted message keeps no reactions in its view, the reader's own included.
      myReaction: r.deleted_at ? null : (mine.get(r.seq) ?? null),
      // Forwarded and mentions come from the event (none for a deleted message: it was redacted).
      ...(marks.get(r.seq) ?? { forwarded: false }),
      ...(r.quote && !r.deleted_at ? { quote: JSON.parse(r.quote) as Record<string, unknown> } : {}),
    }));
  }

  return {
    /** The first seq a member may read: where their current membership began (as in WhatsApp). */
    visibleFrom: (roomId: string, userId: string) => (s.visibleFrom.get(roomId, userId) as { seq: number | null }).seq ?? Number.MAX_SAFE_INTEGER,
    findMessage: (roomId: string, seq: number) => s.one.get(roomId, seq) as MessageRow | undefined,
    isHidden: (userId: string, roomId: string, seq: number) => s.hidden.get(userId, roomId, seq) !== undefined,
    hide: (userId: string, roomId: string, seq: number) => void s.hide.run(userId, roomId, seq),
    view(roomId: string, userId: string, row: MessageRow): MessageView {
      return views(roomId, userId, [row])[0];
    },
    history(roomId: string, userId: string, dir: "before" | "after", from: number, min: number, limit: number): MessageView[] {
      const rows = (dir === "before" ? s.before : s.after).all(roomId, from, min, userId, limit) as MessageRow[];
      if (dir === "before") rows.reverse();
      return views(roomId, userId, rows);
    },
    thread(roomId: string, userId: string, root: number, after: number, min: number, limit: number): MessageView[] {
      return views(roomId, userId, s.thread.all(roomId, root, after, min, userId, limit) as MessageRow[]);
    },
    reactors: (roomId: string, target: number) => s.reactors.all(roomId, target) as { userId: string; emoji: string }[],
    readMarker: (roomId: string, userId: string) => (s.marker.get(roomId, userId) as { seq: number } | undefined)?.seq ?? 0,
    /** Moves a read marker forward (never back); true when it moved. */
    markRead: (roomId: string, userId: string, seq: number, at: number) => s.setMarker.run(roomId, userId, seq, at).changes > 0,
    deliveryMarker: (roomId: string, userId: string) => (s.delivered.get(roomId, userId) as { seq: number } | undefined)?.seq ?? 0,
    markDelivered: (roomId: string, userId: string, seq: number, at: number) => s.setDelivered.run(roomId, userId, seq, at).changes > 0,
    deliveredCount: (roomId: string, seq: number, sender: string) => (s.deliveredCount.get(roomId, seq, sender) as { n: number }).n,
    readCount: (roomId: string, seq: number, sender: string) => (s.readCount.get(roomId, seq, sender) as { n: number }).n,
    readers: (roomId: string, seq: number, sender: string) => s.readers.all(roomId, seq, sender) as { userId: string; at: number }[],
  };
}

export type MessageQueries = ReturnType<typeof createMessageQueries>;
