import type { Storage } from "../storage/database.ts";
import type { EventType, Role, RoomEvent, RoomKind, RoomSettings, RoomState, ServerAcl } from "./types.ts";

interface EventRow {
  pos: number;
  room_id: string;
  seq: number;
  event_id: string;
  type: string;
  sender: string;
  ts: number;
  content: string;
}

export interface MessageRow {
  room_id: string;
  seq: number;
  event_id: string;
  sender: string;
  kind: string;
  body: string | null;
  file: string | null;
  reply_to: number | null;
  quote: string | null;
  thread_root: number | null;
  reply_count: number;
  ts: number;
  edited_at: number | null;
  deleted_at: number | null;
  deleted_by: string | null;
}

export interface PollRow {
  room_id: string;
  seq: number;
  question: string;
  options: string;
  multiple: number;
  anonymous: number;
  created_by: string;
  closed_at: number | null;
}

export interface CalendarFields {
  title: string;
  description?: string;
  start: number;
  end?: number | null;
  timeZone: string;
  place?: string | null;
  link?: string | null;
  reminders?: number[];
}

export interface CalendarRow {
  room_id: string;
  seq: number;
  title: string;
  description: string;
  starts_at: number;
  ends_at: number | null;
  time_zone: string;
  place: string | null;
  link: string | null;
  reminders: string;
  created_by: string;
  cancelled_at: number | null;
}

export function eventFromRow(r: EventRow): RoomEvent {
  return { roomId: r.room_id, seq: r.seq, eventId: r.event_id, type: r.type as EventType, sender: r.sender, ts: r.ts, content: JSON.parse(r.content), pos: r.pos };
}

/**
 * All SQL of the room core: the log and its projections. Raw prepared statements (made once) on
 * the write path, because every append runs several of them inside the group commit.
 */
/** The search index's batches (see "The search index" in createRoomStore). */
const indexDelayMs = 1_000;
const indexBatchMessages = 5_000;
const indexBatchPositions = 20_000;

export function createRoomStore(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    insertEvent: db.prepare(
      "INSERT INTO room_events (room_id, seq, event_id, type, sender, ts, content, subject, restricted, txn_id, content_hash, hash, backfilled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    eventByTxn: db.prepare("SELECT * FROM room_events WHERE room_id = ? AND sender = ? AND txn_id = ?"),
    maxSeq: db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM room_events WHERE room_id = ?"),
    head: db.prepare("SELECT seq, hash FROM room_events WHERE room_id = ? ORDER BY seq DESC LIMIT 1"),
    room: db.prepare("SELECT * FROM rooms WHERE id = ?"),
    // A community's server access list is its last room.server_acl event (a projection of the log).
    // A replica begun from a join snapshot holds the list the snapshot carried until a later event.
    serverAcl: db.prepare(
      "SELECT content, k FROM (SELECT content, 1 AS k FROM room_events WHERE room_id = ? AND type = 'room.server_acl' ORDER BY seq DESC LIMIT 1) UNION ALL SELECT server_acl, 2 FROM replica_floors WHERE room_id = ? AND server_acl IS NOT NULL ORDER BY k LIMIT 1",
    ),
    // A direct room replaced by the pair's other room: its last room.tombstone (a projection of the log).
    tombstone: db.prepare("SELECT content FROM room_events WHERE room_id = ? AND type = 'room.tombstone' ORDER BY seq DESC LIMIT 1"),
    // Join order (rowid follows insertion): the successor rule for ownerless groups relies on it.
    members: db.prepare("SELECT user_id, role FROM room_members WHERE room_id = ? ORDER BY joined_at, rowid"),
    bans: db.prepare("SELECT user_id FROM room_bans WHERE room_id = ?"),
    requests: db.prepare("SELECT user_id FROM join_requests WHERE room_id = ?"),
    invites: db.prepare("SELECT user_id FROM room_invites WHERE room_id = ?"),
    groupsOf: db.prepare("SELECT id FROM rooms WHERE community_id = ?"),
    insertRoom: db.prepare(
      "INSERT INTO rooms (id, kind, name, description, picture, rules, community_id, settings, deactivated, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
    ),
    updateProfile: db.prepare("UPDATE rooms SET name = ?, description = ?, picture = ?, rules = ? WHERE id = ?"),
    updateSettings: db.prepare("UPDATE rooms SET settings = ? WHERE id = ?"),
    setCommunity: db.prepare("UPDATE rooms SET community_id = ? WHERE id = ?"),
    deactivate: db.prepare("UPDATE rooms SET deactivated = 1 WHERE id = ?"),
    addMember: db.prepare("INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)"),
    removeMember: db.prepare("DELETE FROM room_members WHERE room_id = ? AND user_id = ?"),
    setRole: db.prepare("UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?"),
    openSpan: db.prepare("INSERT INTO member_spans (room_id, user_id, from_pos, from_seq) VALUES (?, ?, ?, ?)"),
    floor: db.prepare("SELECT snapshot_seq AS snapshotSeq, low_seq AS lowSeq, low_prev AS lowPrev FROM replica_floors WHERE room_id = ?"),
    putFloor: db.prepare(
      "INSERT INTO replica_floors (room_id, snapshot_seq, low_seq, low_prev, server_acl, groups) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET low_seq = excluded.low_seq, low_prev = excluded.low_prev",
    ),
    // A replicated community's groups: those its join snapshot listed (if it began from one), then
    // its log's additions and removals since (the log names groups this server holds no copy of).
    snapshotGroups: db.prepare("SELECT snapshot_seq AS seq, groups FROM replica_floors WHERE room_id = ?"),
    groupChanges: db.prepare(
      "SELECT type, json_extract(content, '$.groupId') AS groupId FROM room_events WHERE room_id = ? AND seq > ? AND type IN ('community.group.add', 'community.group.remove') ORDER BY seq",
    ),
    targeting: db.prepare(
      "SELECT * FROM room_events WHERE room_id = ? AND seq > ? AND type IN ('message.edit', 'message.delete', 'reaction', 'poll.vote', 'poll.close', 'event.update', 'event.cancel', 'event.rsvp') AND coalesce(json_extract(content, '$.target'), json_extract(content, '$.poll')) = ? ORDER BY seq",
    ),
    recountReplies: db.prepare(
      "UPDATE messages SET reply_count = (SELECT count(*) FROM messages r WHERE r.room_id = messages.room_id AND r.thread_root = messages.seq) WHERE room_id = ? AND seq BETWEEN ? AND ?",
    ),
    closeSpan: db.prepare("UPDATE member_spans SET to_pos = ? WHERE room_id = ? AND user_id = ? AND to_pos IS NULL"),
    addBan: db.prepare("INSERT OR REPLACE INTO room_bans (room_id, user_id, banned_by, at) VALUES (?, ?, ?, ?)"),
    removeBan: db.prepare("DELETE FROM room_bans WHERE room_id = ? AND user_id = ?"),
    addRequest: db.prepare("INSERT OR REPLACE INTO join_requests (room_id, user_id, at) VALUES (?, ?, ?)"),
    removeRequest: db.prepare("DELETE FROM join_requests WHERE room_id = ? AND user_id = ?"),
    addInvite: db.prepare("INSERT OR REPLACE INTO room_invites (room_id, user_id, invited_by, at) VALUES (?, ?, ?, ?)"),
    removeInvite: db.prepare("DELETE FROM room_invites WHERE room_id = ? AND user_id = ?"),
    insertMessage: db.prepare(
      "INSERT INTO messages (room_id, seq, event_id, sender, kind, body, file, reply_to, quote, thread_root, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    // The search index (messages_fts, keyed by the message event's pos), written in batches
    // behind the log (see "The search index" below).
    indexedPos: db.prepare("SELECT indexed_pos AS pos FROM search_index_state WHERE id = 1"),
    setIndexedPos: db.prepare("INSERT INTO search_index_state (id, indexed_pos) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET indexed_pos = excluded.indexed_pos"),
    logHead: db.prepare("SELECT coalesce(max(pos), 0) AS pos FROM room_events"),
    indexRange: db.prepare(`INSERT INTO messages_fts (rowid, body)
      SELECT e.pos, m.body FROM room_events e JOIN messages m ON m.room_id = e.room_id AND m.seq = e.seq
      WHERE e.pos > ? AND e.pos <= ? AND m.body IS NOT NULL AND m.body <> '' AND m.deleted_at IS NULL
      ORDER BY e.pos`),
    posOf: db.prepare("SELECT pos FROM room_events WHERE room_id = ? AND seq = ?"),
    unindexText: db.prepare("DELETE FROM messages_fts WHERE rowid = ?"),
    indexText: db.prepare("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)"),
    directOf: db.prepare("SELECT room_id AS roomId FROM direct_chats WHERE user_a = ? AND user_b = ?"),
    // Two chats of one pair exist only when both people opened one from their own servers at
    // once: each server then keeps the room whose id sorts first, so both agree.
    insertDirect: db.prepare(`INSERT INTO direct_chats (user_a, user_b, room_id, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (user_a, user_b) DO UPDATE SET room_id = excluded.room_id, created_at = excluded.created_at WHERE excluded.room_id < direct_chats.room_id`),
    isBlocked: db.prepare("SELECT 1 FROM user_blocks WHERE blocker = ? AND blocked = ?"),
    bumpReplies: db.prepare("UPDATE messages SET reply_count = reply_count + 1 WHERE room_id = ? AND seq = ?"),
    editMessage: db.prepare("UPDATE messages SET body = ?, edited_at = ? WHERE room_id = ? AND seq = ?"),
    deleteMessage: db.prepare("UPDATE messages SET body = NULL, quote = NULL, deleted_at = ?, deleted_by = ? WHERE room_id = ? AND seq = ?"),
    message: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq = ?"),
    upsertReaction: db.prepare("INSERT OR REPLACE INTO reactions (room_id, target, user_id, emoji, at) VALUES (?, ?, ?, ?, ?)"),
    deleteReaction: db.prepare("DELETE FROM reactions WHERE room_id = ? AND target = ? AND user_id = ?"),
    insertPoll: db.prepare("INSERT INTO polls (room_id, seq, question, options, multiple, anonymous, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    poll: db.prepare("SELECT * FROM polls WHERE room_id = ? AND seq = ?"),
    closePoll: db.prepare("UPDATE polls SET closed_at = ? WHERE room_id = ? AND seq = ?"),
    // Votes are listed in the order of each voter's latest vote: a changed vote is a new row (REPLACE
    // gives it a new rowid), and the rowid breaks ties of `at` (two votes in one millisecond).
    putVote: db.prepare("INSERT OR REPLACE INTO poll_votes (room_id, poll_seq, user_id, options, at) VALUES (?, ?, ?, ?, ?)"),
    dropVote: db.prepare("DELETE FROM poll_votes WHERE room_id = ? AND poll_seq = ? AND user_id = ?"),
    votes: db.prepare("SELECT user_id, options FROM poll_votes WHERE room_id = ? AND poll_seq = ? ORDER BY at, rowid"),
    insertCalendar: db.prepare(
      "INSERT INTO calendar_events (room_id, seq, title, description, starts_at, ends_at, time_zone, place, link, reminders, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    calendar: db.prepare("SELECT * FROM calendar_events WHERE room_id = ? AND seq = ?"),
    updateCalendar: db.prepare(
      "UPDATE calendar_events SET title = ?, description = ?, starts_at = ?, ends_at = ?, time_zone = ?, place = ?, link = ?, reminders = ? WHERE room_id = ? AND seq = ?",
    ),
    cancelCalendar: db.prepare("UPDATE calendar_events SET cancelled_at = ? WHERE room_id = ? AND seq = ?"),
    putRsvp: db.prepare(
      "INSERT INTO rsvps (room_id, event_seq, user_id, answer, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id, event_seq, user_id) DO UPDATE SET answer = excluded.answer, at = excluded.at",
    ),
    dropRsvp: db.prepare("DELETE FROM rsvps WHERE room_id = ? AND event_seq = ? AND user_id = ?"),
    dropPendingReminders: db.prepare("DELETE FROM reminders WHERE room_id = ? AND event_seq = ? AND done_at IS NULL"),
    addReminder: db.prepare("INSERT INTO reminders (room_id, event_seq, offset_seconds, due_at) VALUES (?, ?, ?, ?)"),
    doneReminder: db.prepare("SELECT 1 FROM reminders WHERE room_id = ? AND event_seq = ? AND offset_seconds = ? AND due_at = ? AND done_at IS NOT NULL"),
    addMediaRef: db.prepare("INSERT INTO media_refs (media_id, kind, room_id, seq, user_id) VALUES (?, ?, ?, ?, NULL)"),
    dropMessageMedia: db.prepare("DELETE FROM media_refs WHERE kind = 'message' AND room_id = ? AND seq = ?"),
    dropRoomPicture: db.prepare("DELETE FROM media_refs WHERE kind = 'room' AND room_id = ?"),
    eventContent: db.prepare("SELECT content FROM room_events WHERE room_id = ? AND seq = ?"),
    setEventContent: db.prepare("UPDATE room_events SET content = ? WHERE room_id = ? AND seq = ?"),
    redactEdits: db.prepare(
      "UPDATE room_events SET content = json_object('target', json_extract(content, '$.target'), 'redacted', json('true')) WHERE room_id = ? AND type = 'message.edit' AND json_extract(content, '$.target') = ?",
    ),
    // mentions and pinned messages (notify-moderation)
    addMention: db.prepare("INSERT OR IGNORE INTO message_mentions (room_id, seq, user_id) VALUES (?, ?, ?)"),
    pins: db.prepare("SELECT seq FROM pinned_messages WHERE room_id = ? ORDER BY at, seq"),
    pin: db.prepare("INSERT OR REPLACE INTO pinned_messages (room_id, seq, pinned_by, at) VALUES (?, ?, ?, ?)"),
    unpin: db.prepare("DELETE FROM pinned_messages WHERE room_id = ? AND seq = ?"),
    audit: db.prepare("INSERT INTO audit_log (scope_id, room_id, actor, action, target, details, at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
  };

  /**
   * The search index. FTS5 writes what a transaction indexed as a new segment of the index at its
   * COMMIT and merges segments as they pile up, so its cost per message falls with the number of
   * messages per commit: about 11 µs at the 50 of a busy group commit, 5 µs at 2,000
   * (bench/index-cost.ts). New messages are therefore indexed in batches of their own, behind the
   * log: `search_index_state` says up to which `pos` every message is indexed, and a batch indexes
   * the messages after it, reading their text as it is then (an edit or a deletion before the
   * batch needs no index change of its own), and moves the mark, in one transaction. A batch runs
   * a second after the first message waiting, at once past `indexBatchMessages`, and before every
   * search (`indexSearch`), so that a search finds everything committed before it. After a crash,
   * the first batch indexes what the last one did not reach.
   *
   * An edit or a deletion of a message already indexed changes the index in its own transaction,
   * at its end: FTS5 also writes its pending terms out as a segment at every savepoint, and the
   * group commit opens one per command. A rolled-back command takes its index changes with it.
   */
  const indexOps: (() => void)[] = [];
  let depth = 0;
  const indexLater = (op: () => void) => (depth === 0 ? op() : void indexOps.push(op));
  /** Messages with text committed (or maybe committed) since the last batch. */
  let waiting = 0;
  let batchTimer: NodeJS.Timeout | null = null;
  /** Whether the message at (roomId, seq) is indexed already (else the next batch reads its text as it is then). */
  function indexedAt(roomId: string, seq: number): number | null {
    const row = s.posOf.get(roomId, seq) as { pos: number } | undefined;
    if (!row) return null;
    const mark = (s.indexedPos.get() as { pos: number } | undefined)?.pos ?? 0;
    return row.pos <= mark ? row.pos : null;
  }
  /** Indexes every message after the mark, in transactions of at most `indexBatchPositions` log positions. */
  function indexSearch(): void {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = null;
    waiting = 0;
    if (!db.open) return;
    for (;;) {
      const done = storage.write(() => {
        const from = (s.indexedPos.get() as { pos: number } | undefined)?.pos ?? 0;
        const head = (s.logHead.get() as { pos: number }).pos;
        if (head <= from) return true;
        const to = Math.min(head, from + indexBatchPositions);
        s.indexRange.run(from, to);
        s.setIndexedPos.run(to);
        return to === head;
      });
      if (done) return;
    }
  }
  function messageWaiting(): void {
    waiting++;
    if (depth === 0) scheduleIndexing();
  }
  function scheduleIndexing(): void {
    if (waiting >= indexBatchMessages) {
      // After this turn's commit, not inside it.
      if (!batchTimer) batchTimer = setTimeout(runBatch, 0);
    } else if (waiting > 0 && !batchTimer) {
      batchTimer = setTimeout(runBatch, indexDelayMs);
      batchTimer.unref();
    }
  }
  function runBatch(): void {
    batchTimer = null;
    try {
      indexSearch();
    } catch {
      // The database is busy or closing: the messages stay after the mark, for the next batch
      // (or the next search, which indexes them first).
      waiting = Math.max(waiting, 1);
      if (db.open) scheduleIndexing();
    }
  }
  function aclOf(row: { content: string } | undefined): ServerAcl | null {
    if (!row) return null;
    const c = JSON.parse(row.content) as ServerAcl;
    return { ...(c.allow ? { allow: c.allow } : {}), deny: c.deny, ...(c.allowIpLiterals === false ? { allowIpLiterals: false as const } : {}) };
  }
  function replacementOf(row: { content: string } | undefined): string | null {
    return row ? (JSON.parse(row.content) as { replacement: string }).replacement : null;
  }
  function lastOf(roomId: string): { seq: number; head: string | null } {
    const row = s.head.get(roomId) as { seq: number; hash: string | null } | undefined;
    return { seq: row?.seq ?? 0, head: row?.hash ?? null };
  }

  /** A community's groups: those held here, and for a replica those its snapshot and log name. */
  function groupsOf(roomId: string, replica: boolean): Set<string> {
    const groups = new Set((s.groupsOf.all(roomId) as { id: string }[]).map((r) => r.id));
    if (!replica) return groups;
    const snap = s.snapshotGroups.get(roomId) as { seq: number; groups: string | null } | undefined;
    const named = new Set<string>(snap?.groups ? (JSON.parse(snap.groups) as string[]) : []);
    for (const c of s.groupChanges.all(roomId, snap?.seq ?? 0) as { type: string; groupId: string }[]) {
      if (c.type === "community.group.add") named.add(c.groupId);
      else named.delete(c.groupId);
    }
    for (const g of named) groups.add(g);
    return groups;
  }

  // What a crash left after the mark is indexed by the first batch, soon after the start.
  if (((s.logHead.get() as { pos: number }).pos) > ((s.indexedPos.get() as { pos: number } | undefined)?.pos ?? 0)) {
    waiting = 1;
    scheduleIndexing();
  }

  return {
    raw: db,
    /** Runs fn in a transaction (a savepoint when nested). */
    transaction<T>(fn: () => T): T {
      return storage.write(() => {
        const mark = indexOps.length;
        depth++;
        try {
          const result = fn();
          // The outermost transaction writes the search index last, still inside it.
          if (depth === 1) for (const op of indexOps) op();
          return result;
        } catch (err) {
          // A rolled-back command (its savepoint) takes its index changes with it.
          indexOps.length = mark;
          throw err;
        } finally {
          depth--;
          if (depth === 0) {
            indexOps.length = 0;
            scheduleIndexing();
          }
        }
      });
    },
    insertEvent(
      e: Omit<RoomEvent, "pos">,
      subject: string | null,
      restricted: boolean,
      txnId: string | null,
      chain: { contentHash: string; hash: string } | null = null,
      backfilled = false,
    ): number {
      return Number(
        s.insertEvent.run(e.roomId, e.seq, e.eventId, e.type, e.sender, e.ts, JSON.stringify(e.content), subject, restricted ? 1 : 0, txnId, chain?.contentHash ?? null, chain?.hash ?? null, backfilled ? 1 : 0)
          .lastInsertRowid,
      );
    },
    findEventByTxn(roomId: string, sender: string, txnId: string): RoomEvent | undefined {
      const row = s.eventByTxn.get(roomId, sender, txnId) as EventRow | undefined;
      return row ? eventFromRow(row) : undefined;
    },
    /**
     * Loads a room's state from the projections; undefined when the room does not exist.
     * `replica`: the room is hosted on another server, so a community's groups are also those its
     * replicated log (and join snapshot) names, held here or not: `rooms.community_id` knows only
     * the groups held here.
     */
    loadState(roomId: string, replica = false): RoomState | undefined {
      const room = s.room.get(roomId) as
        | { id: string; kind: RoomKind; name: string; description: string; picture: string | null; rules: string; community_id: string | null; settings: string; deactivated: number; created_by: string; created_at: number }
        | undefined;
      if (!room) return undefined;
      const members = new Map<string, Role>();
      let adminCount = 0;
      for (const m of s.members.all(roomId) as { user_id: string; role: Role }[]) {
        members.set(m.user_id, m.role);
        if (m.role !== "member") adminCount++;
      }
      const ids = (stmt: typeof s.bans) => new Set((stmt.all(roomId) as { user_id: string }[]).map((r) => r.user_id));
      return {
        id: room.id,
        kind: room.kind,
        name: room.name,
        description: room.description,
        picture: room.picture,
        rules: room.rules,
        communityId: room.community_id,
        groups: room.kind === "community" ? groupsOf(roomId, replica) : new Set(),
        settings: JSON.parse(room.settings) as RoomSettings,
        members,
        bans: ids(s.bans),
        requests: ids(s.requests),
        invites: ids(s.invites),
        ...lastOf(roomId),
        deactivated: room.deactivated === 1,
        createdBy: room.created_by,
        createdAt: room.created_at,
        adminCount,
        pinned: (s.pins.all(roomId) as { seq: number }[]).map((r) => r.seq),
        serverAcl: room.kind === "community" ? aclOf(s.serverAcl.get(roomId, roomId) as { content: string } | undefined) : null,
        replacedBy: room.kind === "direct" ? replacementOf(s.tombstone.get(roomId) as { content: string } | undefined) : null,
      };
    },
    insertRoom(st: RoomState): void {
      s.insertRoom.run(st.id, st.kind, st.name, st.description, st.picture, st.rules, st.communityId, JSON.stringify(st.settings), st.createdBy, st.createdAt);
    },
    updateProfile(st: RoomState): void {
      s.updateProfile.run(st.name, st.description, st.picture, st.rules, st.id);
    },
    updateSettings(st: RoomState): void {
      s.updateSettings.run(JSON.stringify(st.settings), st.id);
    },
    setCommunity(groupId: string, communityId: string | null): void {
      s.setCommunity.run(communityId, groupId);
    },
    deactivate(roomId: string): void {
      s.deactivate.run(roomId);
    },
    /** `fromSeq`: where the member reads from, when their join is not an event held here (a snapshot). */
    addMember(roomId: string, userId: string, role: Role, at: number, pos: number, fromSeq: number | null = null): void {
      s.addMember.run(roomId, userId, role, at);
      s.openSpan.run(roomId, userId, pos, fromSeq);
      s.removeInvite.run(roomId, userId);
      s.removeRequest.run(roomId, userId);
    },
    removeMember(roomId: string, userId: string, pos: number): void {
      s.removeMember.run(roomId, userId);
      s.closeSpan.run(pos, roomId, userId);
    },
    setRole(roomId: string, userId: string, role: Role): void {
      s.setRole.run(role, roomId, userId);
    },
    addBan: (roomId: string, userId: string, by: string, at: number) => {
      s.addBan.run(roomId, userId, by, at);
      s.removeRequest.run(roomId, userId);
      s.removeInvite.run(roomId, userId);
    },
    removeBan: (roomId: string, userId: string) => void s.removeBan.run(roomId, userId),
    addRequest: (roomId: string, userId: string, at: number) => void s.addRequest.run(roomId, userId, at),
    removeRequest: (roomId: string, userId: string) => void s.removeRequest.run(roomId, userId),
    addInvite: (roomId: string, userId: string, by: string, at: number) => void s.addInvite.run(roomId, userId, by, at),
    removeInvite: (roomId: string, userId: string) => void s.removeInvite.run(roomId, userId),
    insertMessage(e: RoomEvent): void {
      const c = e.content as { kind?: string; body?: string; replyTo?: number; quote?: unknown; threadRoot?: number; question?: string; title?: string; file?: { name: string } };
      // The message's text as history shows it: the text, a file's caption or name, a poll's
      // question, an event's title. The same text is what search finds.
      const body = c.body ?? c.question ?? c.title ?? c.file?.name ?? null;
      s.insertMessage.run(e.roomId, e.seq, e.eventId, e.sender, c.kind ?? "text", body, c.file ? JSON.stringify(c.file) : null, c.replyTo ?? null, c.quote ? JSON.stringify(c.quote) : null, c.threadRoot ?? null, e.ts);
      if (body) messageWaiting();
      if (c.threadRoot != null) s.bumpReplies.run(e.roomId, c.threadRoot);
    },
    editMessage(roomId: string, seq: number, body: string, at: number): void {
      // No message here (a replica's target it does not hold, or holds withheld): nothing to index.
      if (s.editMessage.run(body, at, roomId, seq).changes === 0) return;
      indexLater(() => {
        const pos = indexedAt(roomId, seq);
        if (pos === null) return;
        s.unindexText.run(pos);
        if (body) s.indexText.run(pos, body);
      });
    },
    deleteMessage(roomId: string, seq: number, at: number, by: string): void {
      s.deleteMessage.run(at, by, roomId, seq);
      indexLater(() => {
        const pos = indexedAt(roomId, seq);
        if (pos !== null) s.unindexText.run(pos);
      });
    },
    /** Brings the search index up to the log (message.search calls it first). */
    indexSearch,
    /** The direct room of a pair of users, if they have one. */
    findDirect(a: string, b: string): string | undefined {
      const [x, y] = a < b ? [a, b] : [b, a];
      return (s.directOf.get(x, y) as { roomId: string } | undefined)?.roomId;
    },
    /**
     * Records a pair's direct room. A second one can only come from another server (direct.open
     * finds the pair's room in the same transaction before making one here): of two, the room
     * whose id sorts first is the pair's, on every server.
     */
    insertDirect(a: string, b: string, roomId: string, at: number): void {
      const [x, y] = a < b ? [a, b] : [b, a];
      s.insertDirect.run(x, y, roomId, at);
    },
    isBlocked: (blocker: string, blocked: string) => s.isBlocked.get(blocker, blocked) !== undefined,
    findMessage: (roomId: string, seq: number) => s.message.get(roomId, seq) as MessageRow | undefined,
    setReaction(roomId: string, target: number, userId: string, emoji: string | null, at: number): void {
      if (emoji === null) s.deleteReaction.run(roomId, target, userId);
      else s.upsertReaction.run(roomId, target, userId, emoji, at);
    },
    insertPoll(roomId: string, seq: number, c: { question: string; options: string[]; multiple: boolean; anonymous: boolean }, createdBy: string): void {
      s.insertPoll.run(roomId, seq, c.question, JSON.stringify(c.options), c.multiple ? 1 : 0, c.anonymous ? 1 : 0, createdBy);
    },
    findPoll(roomId: string, seq: number): PollRow | undefined {
      return s.poll.get(roomId, seq) as PollRow | undefined;
    },
    closePoll: (roomId: string, seq: number, at: number) => void s.closePoll.run(at, roomId, seq),
    /** Records (or with no options, withdraws) a user's vote. */
    setVote(roomId: string, pollSeq: number, userId: string, options: number[], at: number): void {
      if (options.length === 0) s.dropVote.run(roomId, pollSeq, userId);
      else s.putVote.run(roomId, pollSeq, userId, JSON.stringify(options), at);
    },
    votes: (roomId: string, pollSeq: number) =>
      (s.votes.all(roomId, pollSeq) as { user_id: string; options: string }[]).map((v) => ({ userId: v.user_id, options: JSON.parse(v.options) as number[] })),
    insertCalendarEvent(roomId: string, seq: number, c: CalendarFields, createdBy: string): void {
      s.insertCalendar.run(roomId, seq, c.title, c.description ?? "", c.start, c.end ?? null, c.timeZone, c.place ?? null, c.link ?? null, JSON.stringify(c.reminders ?? [3600]), createdBy);
    },
    findCalendarEvent: (roomId: string, seq: number) => s.calendar.get(roomId, seq) as CalendarRow | undefined,
    updateCalendarEvent(roomId: string, seq: number, c: CalendarFields): void {
      s.updateCalendar.run(c.title, c.description ?? "", c.start, c.end ?? null, c.timeZone, c.place ?? null, c.link ?? null, JSON.stringify(c.reminders ?? [3600]), roomId, seq);
    },
    cancelCalendarEvent: (roomId: string, seq: number, at: number) => void s.cancelCalendar.run(at, roomId, seq),
    setRsvp(roomId: string, eventSeq: number, userId: string, answer: string | null, at: number): void {
      if (answer === null) s.dropRsvp.run(roomId, eventSeq, userId);
      else s.putRsvp.run(roomId, eventSeq, userId, answer, at);
    },
    /** Replaces the pending reminders of an event (none when `start` is null: cancelled). */
    scheduleReminders(roomId: string, eventSeq: number, start: number | null, offsets: number[]): void {
      s.dropPendingReminders.run(roomId, eventSeq);
      if (start === null) return;
      for (const offset of new Set(offsets)) {
        const due = start - offset * 1000;
        // An edit that keeps this reminder's time (a new title, another offset added) must not
        // send again what was already sent: a reminder is sent once.
        if (s.doneReminder.get(roomId, eventSeq, offset, due)) continue;
        s.addReminder.run(roomId, eventSeq, offset, due);
      }
    },
    addMentions(roomId: string, seq: number, userIds: string[]): void {
      for (const u of userIds) s.addMention.run(roomId, seq, u);
    },
    pinMessage: (roomId: string, seq: number, by: string, at: number) => void s.pin.run(roomId, seq, by, at),
    unpinMessage: (roomId: string, seq: number) => void s.unpin.run(roomId, seq),
    addMessageMedia: (mediaId: string, roomId: string, seq: number) => void s.addMediaRef.run(mediaId, "message", roomId, seq),
    dropMessageMedia: (roomId: string, seq: number) => void s.dropMessageMedia.run(roomId, seq),
    setRoomPicture(roomId: string, mediaId: string | null): void {
      s.dropRoomPicture.run(roomId);
      if (mediaId) s.addMediaRef.run(mediaId, "room", roomId, null);
    },
    /**
     * Delete for everyone also removes what was said from the log: the message event and its
     * edits keep their place (seq) and structure, but their text, file and poll or event details
     * are gone, so a later sync does not hand them out again.
     */
    redactMessage(roomId: string, seq: number): void {
      const row = s.eventContent.get(roomId, seq) as { content: string } | undefined;
      if (!row) return;
      const c = JSON.parse(row.content) as { kind?: string; replyTo?: number; threadRoot?: number; withheld?: boolean };
      // A withheld event (a replica's, federation/withheld.ts) holds nothing to redact.
      if (c.withheld === true) return;
      const redacted: Record<string, unknown> = { kind: c.kind ?? "text", redacted: true };
      if (c.replyTo !== undefined) redacted.replyTo = c.replyTo;
      if (c.threadRoot !== undefined) redacted.threadRoot = c.threadRoot;
      s.setEventContent.run(JSON.stringify(redacted), roomId, seq);
      s.redactEdits.run(roomId, seq);
    },
    /** A replica begun from a join snapshot: its snapshot's seq and the lowest event it holds (undefined: held from seq 1). */
    replicaFloor: (roomId: string) => s.floor.get(roomId) as { snapshotSeq: number; lowSeq: number; lowPrev: string | null } | undefined,
    /** `groups`: a community's groups as its join snapshot listed them (kept: the log after it names only changes). */
    setReplicaFloor(roomId: string, snapshotSeq: number, lowSeq: number, lowPrev: string | null, acl: ServerAcl | null = null, groups: readonly string[] | null = null): void {
      s.putFloor.run(roomId, snapshotSeq, lowSeq, lowPrev, acl ? JSON.stringify(acl) : null, groups ? JSON.stringify(groups) : null);
    },
    /**
     * Held events after `afterSeq` that change the message at `target` (re-applied in order when
     * the message arrives later, by backfill: an older reaction or vote of the same page must not
     * stand over a newer one held before it).
     */
    eventsTargeting: (roomId: string, target: number, afterSeq: number) => (s.targeting.all(roomId, afterSeq, target) as EventRow[]).map(eventFromRow),
    recountReplies: (roomId: string, lo: number, hi: number) => void s.recountReplies.run(roomId, lo, hi),
    audit(scopeId: string, roomId: string, actor: string, action: string, target: string | null, details: unknown, at: number): void {
      s.audit.run(scopeId, roomId, actor, action, target, JSON.stringify(details ?? {}), at);
    },
  };
}

export type RoomStore = ReturnType<typeof createRoomStore>;
