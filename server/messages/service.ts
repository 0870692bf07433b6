import { ParleyError } from "../errors.ts";
import type { RoomCore, Tx } from "../rooms/core.ts";
import { isAdminRole, type RoomEvent } from "../rooms/types.ts";
import { memberState } from "../communities/service.ts";
import type { Hub } from "../ws/transport.ts";
import type { MessageQueries, MessageView } from "./queries.ts";
import type { MediaService } from "../media/service.ts";
import { resolveMentions } from "../notify/mentions.ts";

function targetOf(tx: Tx, roomId: string, seq: number | undefined | null) {
  if (seq === undefined || seq === null) return null;
  const m = tx.store.findMessage(roomId, seq);
  return m ? { sender: m.sender, ts: m.ts, deleted: m.deleted_at !== null, threadRoot: m.thread_root, kind: m.kind } : null;
}

/**
 * The message an act of `actor` points at (a reply, a quote, a thread's root, an edit, a
 * reaction), as they may see it: none when it is from before the join that began their current
 * membership, which they cannot read (`message.get` refuses it), so that acting on it is refused
 * as on a message that does not exist. At the home, for local members and remote ones alike.
 */
function visibleTarget(tx: Tx, queries: MessageQueries, actor: string, roomId: string, seq: number | undefined | null) {
  if (seq === undefined || seq === null || seq < queries.visibleFrom(roomId, actor)) return null;
  return targetOf(tx, roomId, seq);
}

/**
 * Messages: sends, replies, announcement threads, reactions, edits, deletions, history, receipts
 * and typing. Writes go through the room core; receipts and typing are not room events (they
 * are not room state and need no ordering), so they are kept and pushed here.
 */
export interface PostInput {
  roomId: string;
  txnId: string;
  replyTo?: number;
  threadRoot?: number;
  /** User ids the client resolved for its @mentions (see notify/mentions.ts). */
  mentions?: string[];
  /** An admin's @all. */
  mentionAll?: boolean;
}

export function createMessageService(core: RoomCore, queries: MessageQueries, hub: () => Hub, media: MediaService, now: () => number = Date.now) {
  /**
   * Posts any kind of message (text, file, poll, calendar event) through the one write path.
   * Idempotent by (room, sender, txnId): a retried post returns the stored event.
   */
  function post(actor: string, input: PostInput, body: Record<string, unknown>): Promise<{ event: RoomEvent; duplicate: boolean }> {
    return core.transact((tx) => {
      memberState(tx, input.roomId, actor);
      const earlier = tx.findByTxn(input.roomId, actor, input.txnId);
      if (earlier) return { event: earlier, duplicate: true };
      const content: Record<string, unknown> = { ...body };
      if ((body.kind === "text" || body.kind === "file") && body.forwarded !== true) {
        // Mentions are resolved against the room's members at the time of the send.
        const st = tx.state(input.roomId)!;
        const serverName = actor.slice(actor.indexOf(":") + 1);
        const { mentions, mentionAll } = resolveMentions({ state: st, sender: actor, serverName, body: body.body as string | undefined, requested: input.mentions, requestAll: input.mentionAll });
        if (mentions.length) content.mentions = mentions;
        if (mentionAll) content.mentionAll = true;
      }
      if (input.replyTo !== undefined) content.replyTo = input.replyTo;
      if (input.threadRoot !== undefined) content.threadRoot = input.threadRoot;
      const target = visibleTarget(tx, queries, actor, input.roomId, input.threadRoot ?? input.replyTo);
      if (input.threadRoot !== undefined && input.replyTo !== undefined && input.replyTo !== input.threadRoot) {
        // Authorization sees only the thread's root; a quote inside a thread must also exist and
        // belong to the same thread, or clients would render a quote of nothing.
        const quoted = visibleTarget(tx, queries, actor, input.roomId, input.replyTo);
        if (!quoted || quoted.deleted || quoted.threadRoot !== input.threadRoot) throw new ParleyError("message.not_found");
      }
      const event = tx.append({ roomId: input.roomId, type: "message", sender: actor, content, txnId: input.txnId }, { target });
      return { event, duplicate: false };
    });
  }

  return {
    post,

    /** message.send: text, or a file (uploaded first) with an optional caption. */
    send(actor: string, input: PostInput & { body?: string; file?: { mediaId: string; name: string } }): Promise<{ event: RoomEvent; duplicate: boolean }> {
      if (input.file) {
        const info = media.requireUsable(actor, input.file.mediaId);
        const file = { mediaId: info.mediaId, name: input.file.name, size: info.size, mime: info.mime, width: info.width, height: info.height, hasPreview: info.hasPreview, ...(info.origin ? { origin: info.origin } : {}) };
        return post(actor, input, input.body ? { kind: "file", file, body: input.body } : { kind: "file", file });
      }
      return post(actor, input, { kind: "text", body: input.body ?? "" });
    },

    edit(actor: string, roomId: string, seq: number, body: string): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        return tx.append({ roomId, type: "message.edit", sender: actor, content: { target: seq, body } }, { target: visibleTarget(tx, queries, actor, roomId, seq) });
      });
    },

    /**
     * Delete for everyone: the sender within the window, admins at any time; leaves a marker. An
     * admin may delete a message from before their join (moderation: a report shows it to them,
     * and `report.resolve` deletes it likewise); a sender may not delete one of their own from an
     * earlier membership, which they no longer see.
     */
    deleteForEveryone(actor: string, roomId: string, seq: number): Promise<RoomEvent> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        const target = isAdminRole(st.members.get(actor)) ? targetOf(tx, roomId, seq) : visibleTarget(tx, queries, actor, roomId, seq);
        return tx.append({ roomId, type: "message.delete", sender: actor, content: { target: seq, bySender: target?.sender === actor } }, { target });
      });
    },

    /**
     * Delete for me: hides the message from the actor's own history only. Only one they can read:
     * one from before their current membership is refused as one that does not exist (else the
     * answer would tell which seqs before their join are messages).
     */
    deleteForMe(actor: string, roomId: string, seq: number): { roomId: string; seq: number } {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      if (seq < queries.visibleFrom(roomId, actor) || !queries.findMessage(roomId, seq)) throw new ParleyError("message.not_found");
      queries.hide(actor, roomId, seq);
      return { roomId, seq };
    },

    /** One reaction per user per message: a new emoji replaces the old one, null removes it. */
    react(actor: string, roomId: string, seq: number, emoji: string | null): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        return tx.append({ roomId, type: "reaction", sender: actor, content: { target: seq, emoji } }, { target: visibleTarget(tx, queries, actor, roomId, seq) });
      });
    },

    history(actor: string, roomId: string, opts: { before?: number; after?: number; limit: number }): { messages: MessageView[]; more: boolean } {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const dir = opts.after !== undefined ? "after" : "before";
      const from = opts.after ?? opts.before ?? Number.MAX_SAFE_INTEGER;
      // Members read what was said since they joined, not before (as in WhatsApp).
      const rows = queries.history(roomId, actor, dir, from, queries.visibleFrom(roomId, actor), opts.limit + 1);
      const more = rows.length > opts.limit;
      if (more) {
        if (dir === "before") rows.shift();
        else rows.pop();
      }
      return { messages: rows, more };
    },

    /** The seq from which `actor` reads the room: the join that began their current membership. */
    readsFrom(actor: string, roomId: string): number {
      return queries.visibleFrom(roomId, actor);
    },

    get(actor: string, roomId: string, seq: number): MessageView {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const row = queries.findMessage(roomId, seq);
      if (!row || seq < queries.visibleFrom(roomId, actor) || queries.isHidden(actor, roomId, seq)) throw new ParleyError("message.not_found");
      return queries.view(roomId, actor, row);
    },

    thread(actor: string, roomId: string, root: number, after: number, limit: number): { root: MessageView; replies: MessageView[]; more: boolean } {
      const rootView = this.get(actor, roomId, root);
      const replies = queries.thread(roomId, actor, root, after, queries.visibleFrom(roomId, actor), limit + 1);
      const more = replies.length > limit;
      if (more) replies.pop();
      return { root: rootView, replies, more };
    },

    /** Who reacted with what; in the announcement group only admins may know (its members are private). */
    reactions(actor: string, roomId: string, seq: number) {
      this.get(actor, roomId, seq);
      const st = core.state(roomId)!;
      if (st.kind === "community" && !isAdminRole(st.members.get(actor))) throw new ParleyError("room.forbidden");
      return { roomId, seq, reactions: queries.reactors(roomId, seq) };
    },

    /**
     * Moves the actor's read (or delivery) marker and tells the room. Reading implies delivery.
     * In the announcement group only admins learn who got or read what (members would
     * otherwise learn the member list from receipts).
     */
    markReceipt(actor: string, roomId: string, seq: number, type: "read" | "delivered"): { roomId: string; seq: number } {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const upTo = Math.min(seq, st.seq);
      const at = now();
      const moved = type === "read" ? queries.markRead(roomId, actor, upTo, at) : queries.markDelivered(roomId, actor, upTo, at);
      if (type === "read") queries.markDelivered(roomId, actor, upTo, at);
      if (moved) {
        const frame = JSON.stringify({ push: "room.receipt", data: { roomId, userId: actor, seq: upTo, type } });
        let recipients: Iterable<string> = st.kind === "community" ? [...st.members].filter(([, r]) => isAdminRole(r)).map(([u]) => u) : st.members.keys();
        // In a direct chat, someone who is blocked is not shown reading (they are not told).
        if (st.kind === "direct") recipients = [...recipients].filter((u) => u === actor || !core.storeView().store.isBlocked(u, actor));
        hub().sendToUsers(recipients, frame);
        return { roomId, seq: upTo };
      }
      // The marker did not move (it never goes back): report where it actually is.
      return { roomId, seq: type === "read" ? queries.readMarker(roomId, actor) : queries.deliveryMarker(roomId, actor) };
    },

    /**
     * For one message: how many of the other members it reached and how many read it ("seen by
     * N of M"), and who read it where the role allows.
     */
    receipts(actor: string, roomId: string, seq: number) {
      const row = this.get(actor, roomId, seq) && queries.findMessage(roomId, seq)!;
      const st = core.state(roomId)!;
      const readBy = queries.readCount(roomId, seq, row.sender);
      const seeNames = st.kind !== "community" || isAdminRole(st.members.get(actor));
      return {
        roomId,
        seq,
        deliveredTo: Math.max(readBy, queries.deliveredCount(roomId, seq, row.sender)),
        readBy,
        of: Math.max(0, st.members.size - (st.members.has(row.sender) ? 1 : 0)),
        readers: seeNames ? queries.readers(roomId, seq, row.sender) : null,
      };
    },

    /** Typing indicators are ephemeral: pushed to the room's other members, never stored. */
    typing(actor: string, roomId: string, typing: boolean): { roomId: string } {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      // In the announcement group only admins post, so only their typing is shown.
      if (st.kind === "community" && !isAdminRole(st.members.get(actor))) return { roomId };
      const frame = JSON.stringify({ push: "room.typing", data: { roomId, userId: actor, typing } });
      const others = [...st.members.keys()].filter((u) => u !== actor);
      // In a direct chat, someone who is blocked is not shown typing (they are not told).
      if (st.kind === "direct" && others.some((u) => core.storeView().store.isBlocked(u, actor))) return { roomId };
      hub().sendToUsers(others, frame);
      return { roomId };
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;
