import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import type { RoomEvent } from "../rooms/types.ts";
import type { Storage } from "../storage/database.ts";
import type { OpRegistry } from "../ws/ops.ts";
import { memberState } from "../communities/service.ts";
import type { MessageQueries, MessageView } from "./queries.ts";
import type { MessageService } from "./service.ts";
import { readingStartSql } from "../rooms/reading.ts";

type Target = { roomId: string; seq: number };

/**
 * Pinned messages (room state, chosen by the room's admins), saved messages (private to each
 * person, kept beside the log) and forwarding. Pins go through the room core like every room
 * change; a forward is an ordinary send into the target room, marked `forwarded`.
 */
export function createKeepService(deps: { storage: Storage; core: RoomCore; messages: MessageService; queries: MessageQueries; now?: () => number }) {
  const { core, messages, queries } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    save: db.prepare("INSERT OR IGNORE INTO saved_messages (user_id, room_id, seq, at) VALUES (?, ?, ?, ?)"),
    unsave: db.prepare("DELETE FROM saved_messages WHERE user_id = ? AND room_id = ? AND seq = ?"),
    // Only what the person may still read: a room they are in, from where their current
    // membership began, not deleted for everyone, not hidden with "delete for me".
    saved: db.prepare(`
      SELECT sm.rowid AS id, sm.room_id AS roomId, sm.seq, sm.at FROM saved_messages sm
      JOIN room_members rm ON rm.room_id = sm.room_id AND rm.user_id = sm.user_id
      JOIN messages x ON x.room_id = sm.room_id AND x.seq = sm.seq
      WHERE sm.user_id = ? AND sm.rowid < ? AND x.deleted_at IS NULL
        AND sm.seq >= ${readingStartSql("sm.room_id", "sm.user_id")}
        AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = sm.user_id AND h.room_id = sm.room_id AND h.seq = sm.seq)
      ORDER BY sm.rowid DESC LIMIT ?`),
    content: db.prepare("SELECT content FROM room_events WHERE room_id = ? AND seq = ? AND type = 'message'"),
  };

  function targetOf(roomId: string, seq: number) {
    const m = queries.findMessage(roomId, seq);
    return m ? { sender: m.sender, ts: m.ts, deleted: m.deleted_at !== null, threadRoot: m.thread_root, kind: m.kind } : null;
  }

  return {
    /**
     * message.pin: an admin pins a message for every member (at most three per room); only one
     * they can read (from their current membership's join on), as `message.get` would show it.
     */
    pin(actor: string, roomId: string, seq: number): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        const target = seq < queries.visibleFrom(roomId, actor) ? null : targetOf(roomId, seq);
        return tx.append({ roomId, type: "message.pin", sender: actor, content: { target: seq } }, { target });
      });
    },

    unpin(actor: string, roomId: string, seq: number): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        return tx.append({ roomId, type: "message.unpin", sender: actor, content: { target: seq } });
      });
    },

    /** message.save: only a message the person may read now; saving twice keeps the first time. */
    save(actor: string, roomId: string, seq: number): { roomId: string; seq: number; saved: boolean } {
      const view = messages.get(actor, roomId, seq);
      if (view.deleted) throw new ParleyError("message.not_found");
      s.save.run(actor, roomId, seq, now());
      return { roomId, seq, saved: true };
    },

    unsave(actor: string, roomId: string, seq: number): { roomId: string; seq: number; saved: boolean } {
      s.unsave.run(actor, roomId, seq);
      return { roomId, seq, saved: false };
    },

    /** The person's saved messages, most recently saved first, paged by an opaque cursor. */
    saved(actor: string, before: number | undefined, limit: number): { saved: { savedAt: number; message: MessageView }[]; next: number | null } {
      const rows = s.saved.all(actor, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as { id: number; roomId: string; seq: number; at: number }[];
      const more = rows.length > limit;
      if (more) rows.pop();
      return {
        saved: rows.map((r) => ({ savedAt: r.at, message: queries.view(r.roomId, actor, queries.findMessage(r.roomId, r.seq)!) })),
        next: more ? rows[rows.length - 1].id : null,
      };
    },

    /**
     * message.forward: posts a copy of a message the actor can read into a room they can post in,
     * marked `forwarded` (without saying where from: the source room may be private to its
     * members). A file is carried over by reference: the new message makes the file readable to
     * the target room's members, as any file message does.
     */
    forward(actor: string, from: Target, to: string, txnId: string): Promise<{ event: RoomEvent; duplicate: boolean }> {
      const view = messages.get(actor, from.roomId, from.seq);
      if (view.deleted) throw new ParleyError("message.not_found");
      if (view.kind !== "text" && view.kind !== "file") throw new ParleyError("message.not_forwardable");
      const row = queries.findMessage(from.roomId, from.seq)!;
      if (view.kind === "text") return messages.post(actor, { roomId: to, txnId }, { kind: "text", body: row.body ?? "", forwarded: true });
      const original = JSON.parse((s.content.get(from.roomId, from.seq) as { content: string }).content) as { body?: string; file: Record<string, unknown> };
      const caption = row.edited_at !== null ? row.body : original.body;
      const body: Record<string, unknown> = { kind: "file", file: original.file, forwarded: true };
      if (caption) body.body = caption;
      return messages.post(actor, { roomId: to, txnId }, body);
    },
  };
}

export type KeepService = ReturnType<typeof createKeepService>;

/** WebSocket ops of pinned, saved and forwarded messages. */
export function defineKeepOps(ops: OpRegistry, keep: KeepService): void {
  // op: message.pin
  ops.define<Target>("message.pin", async ({ actor }, p) => ({ event: await keep.pin(actor.userId, p.roomId, p.seq) }));
  // op: message.unpin
  ops.define<Target>("message.unpin", async ({ actor }, p) => ({ event: await keep.unpin(actor.userId, p.roomId, p.seq) }));
  // op: message.save
  ops.define<Target>("message.save", ({ actor }, p) => keep.save(actor.userId, p.roomId, p.seq));
  // op: message.unsave
  ops.define<Target>("message.unsave", ({ actor }, p) => keep.unsave(actor.userId, p.roomId, p.seq));
  // op: message.saved
  ops.define<{ before?: number; limit?: number }>("message.saved", ({ actor }, p) => keep.saved(actor.userId, p.before, p.limit ?? 50));
  // op: message.forward
  ops.define<{ from: Target; to: string; txnId: string }>("message.forward", ({ actor }, p) => keep.forward(actor.userId, p.from, p.to, p.txnId));
}
