import type { Storage } from "../storage/database.ts";

export interface Person {
  userId: string;
  displayName: string;
  avatar: string | null;
}

/** Read-side SQL of direct chats and blocks: who people are, what they share, who blocked whom. */
export function createDirectQueries(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    person: db.prepare("SELECT id AS userId, display_name AS displayName, avatar FROM accounts WHERE id = ? AND disabled = 0"),
    // Sharing a community or a group: being in one room of either kind together (a member of a
    // community's group is a member of the community, so groups add only standalone ones).
    share: db.prepare(`
      SELECT 1 FROM room_members a JOIN room_members b ON b.room_id = a.room_id JOIN rooms r ON r.id = a.room_id
      WHERE a.user_id = ? AND b.user_id = ? AND r.kind IN ('community', 'group') AND r.deactivated = 0 LIMIT 1`),
    // A user of another server this server knows: a member (or a former one) of a room held here.
    known: db.prepare("SELECT 1 FROM room_members WHERE user_id = ? UNION ALL SELECT 1 FROM member_spans WHERE user_id = ? LIMIT 1"),
    block: db.prepare("INSERT OR IGNORE INTO user_blocks (blocker, blocked, at) VALUES (?, ?, ?)"),
    unblock: db.prepare("DELETE FROM user_blocks WHERE blocker = ? AND blocked = ?"),
    blocks: db.prepare("SELECT blocked AS userId, at FROM user_blocks WHERE blocker = ? AND blocked > ? ORDER BY blocked LIMIT ?"),
  };
  return {
    /** A user of this server who is not disabled. */
    person: (userId: string) => s.person.get(userId) as Person | undefined,
    share: (a: string, b: string) => s.share.get(a, b) !== undefined,
    /** Whether this server knows the user from a room it holds (its own or a replica). */
    known: (userId: string) => s.known.get(userId, userId) !== undefined,
    block: (blocker: string, blocked: string, at: number) => void s.block.run(blocker, blocked, at),
    unblock: (blocker: string, blocked: string) => void s.unblock.run(blocker, blocked),
    blocks: (blocker: string, after: string, limit: number) => s.blocks.all(blocker, after, limit) as { userId: string; at: number }[],
  };
}

export type DirectQueries = ReturnType<typeof createDirectQueries>;
