import type { Storage } from "../storage/database.ts";
import { readingStartSql } from "../rooms/reading.ts";

/** Read-side SQL of the communities area (lists, audit log, common groups). */
export function createCommunityQueries(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    userExists: db.prepare("SELECT 1 FROM accounts WHERE id = ?"),
    requests: db.prepare("SELECT user_id AS userId, at FROM join_requests WHERE room_id = ? ORDER BY at"),
    audit: db.prepare(
      "SELECT id, room_id AS roomId, actor, action, target, details, at FROM audit_log WHERE scope_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    ),
    auditOfRoom: db.prepare(
      "SELECT id, room_id AS roomId, actor, action, target, details, at FROM audit_log WHERE scope_id = ? AND room_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    ),
    myRooms: db.prepare(`
      SELECT r.id AS roomId, r.kind, r.name, r.picture, r.community_id AS communityId, m.role,
             coalesce(rm.seq, 0) AS readSeq,
             (SELECT count(*) FROM messages x WHERE x.room_id = r.id AND x.seq > coalesce(rm.seq, 0) AND x.seq >= m.since
                AND x.sender <> m.user_id AND x.deleted_at IS NULL AND x.thread_root IS NULL) AS unread,
             (SELECT max(seq) FROM messages x WHERE x.room_id = r.id AND x.seq >= m.since AND x.thread_root IS NULL) AS lastSeq,
             -- notify-moderation: mentions since the read marker, and the user's room settings
             (SELECT count(DISTINCT mm.seq) FROM message_mentions mm JOIN messages x ON x.room_id = mm.room_id AND x.seq = mm.seq
                WHERE mm.room_id = r.id AND mm.user_id IN (m.user_id, '@all') AND mm.seq > coalesce(rm.seq, 0) AND mm.seq >= m.since
                AND x.sender <> m.user_id AND x.deleted_at IS NULL) AS mentions,
             coalesce(p.level, 'all') AS level, p.muted_until AS mutedUntil, p.pinned_at AS pinnedAt, p.archived_at AS archivedAt
      -- Members read what was said since their current membership began (member_spans), not
      -- before: neither the last message nor the unread counts reach back past it.
      FROM (SELECT m.*, coalesce(${readingStartSql("m.room_id", "m.user_id")}, 0) AS since
            FROM room_members m WHERE m.user_id = ?) m
      JOIN rooms r ON r.id = m.room_id
      LEFT JOIN read_markers rm ON rm.room_id = m.room_id AND rm.user_id = m.user_id
      LEFT JOIN room_prefs p ON p.user_id = m.user_id AND p.room_id = m.room_id
      -- Of a pair's two direct rooms (opened at once from both servers), the pair's one; the
      -- other is listed only if something was said in it meanwhile (words are never hidden).
      WHERE (r.kind <> 'direct' OR EXISTS (SELECT 1 FROM direct_chats d WHERE d.room_id = r.id)
             OR EXISTS (SELECT 1 FROM messages x WHERE x.room_id = r.id))
      ORDER BY p.pinned_at IS NULL, p.pinned_at, r.kind, r.name`),
    lastMessage: db.prepare("SELECT seq, sender, body, ts, deleted_at AS deletedAt FROM messages WHERE room_id = ? AND seq = ?"),
    // A pair's second direct chat, closed by its home (room.tombstone): the room that replaces it.
    replacement: db.prepare("SELECT json_extract(content, '$.replacement') AS roomId FROM room_events WHERE room_id = ? AND type = 'room.tombstone' ORDER BY seq DESC LIMIT 1"),
    // The other person of a direct chat (an account of another server, once federation carries
    // direct chats, has no row here: its id stands in for the name).
    peer: db.prepare(
      "SELECT m.user_id AS userId, coalesce(a.display_name, m.user_id) AS displayName, a.avatar FROM room_members m LEFT JOIN accounts a ON a.id = m.user_id WHERE m.room_id = ? AND m.user_id <> ?",
    ),
    common: db.prepare(`
      SELECT r.id AS roomId, r.kind, r.name, r.community_id AS communityId
      FROM room_members a JOIN room_members b ON a.room_id = b.room_id JOIN rooms r ON r.id = a.room_id
      WHERE a.user_id = ? AND b.user_id = ? AND r.kind = 'group'
      ORDER BY r.name`),
  };
  return {
    userExists: (userId: string) => s.userExists.get(userId) !== undefined,
    requests: (roomId: string) => s.requests.all(roomId) as { userId: string; at: number }[],
    /** A page of a scope's audit log, newest first; only one room's entries when `roomId` is given. */
    audit(scopeId: string, before: number, limit: number, roomId?: string) {
      const rows = roomId === undefined ? s.audit.all(scopeId, before, limit) : s.auditOfRoom.all(scopeId, roomId, before, limit);
      return (rows as { id: number; roomId: string; actor: string; action: string; target: string | null; details: string; at: number }[]).map(
        (r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }),
      );
    },
    myRooms(userId: string) {
      const rows = s.myRooms.all(userId) as {
        roomId: string;
        kind: "community" | "group" | "direct";
        name: string;
        picture: string | null;
        communityId: string | null;
        role: string;
        readSeq: number;
        unread: number;
        lastSeq: number | null;
        mentions: number;
        level: "all" | "mentions" | "none";
        mutedUntil: number | null;
        pinnedAt: number | null;
        archivedAt: number | null;
      }[];
      return rows.map(({ lastSeq, level, mutedUntil, pinnedAt, archivedAt, ...r }) => {
        const last = lastSeq ? (s.lastMessage.get(r.roomId, lastSeq) as { seq: number; sender: string; body: string | null; ts: number; deletedAt: number | null }) : null;
        const lastMessage = last ? { seq: last.seq, sender: last.sender, body: last.body, ts: last.ts, deleted: last.deletedAt !== null } : null;
        const prefs = { notify: { level, mutedUntil }, pinned: pinnedAt !== null, archived: archivedAt !== null };
        if (r.kind !== "direct") return { ...r, lastMessage, ...prefs };
        // A direct chat is shown as the other person: their name, their picture.
        const peer = s.peer.get(r.roomId, userId) as { userId: string; displayName: string; avatar: string | null } | undefined;
        const replacedBy = (s.replacement.get(r.roomId) as { roomId: string } | undefined)?.roomId;
        return { ...r, name: peer?.displayName ?? r.name, picture: peer?.avatar ?? null, lastMessage, ...prefs, peer: peer ?? null, ...(replacedBy ? { replacedBy } : {}) };
      });
    },
    commonGroups: (a: string, b: string) => s.common.all(a, b) as { roomId: string; kind: string; name: string; communityId: string | null }[],
  };
}

export type CommunityQueries = ReturnType<typeof createCommunityQueries>;
