import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import { directSettings, type RoomEvent } from "../rooms/types.ts";
import type { MessageService } from "../messages/service.ts";
import type { DirectQueries, Person } from "./queries.ts";

export interface OpenInput {
  userId: string;
  /** Reply privately: the message (of a room the actor may read) that the first message quotes. */
  replyTo?: { roomId: string; seq: number };
  body?: string;
  txnId?: string;
}

export interface OpenResult {
  roomId: string;
  peer: Person;
  created: boolean;
  event?: RoomEvent;
  duplicate?: boolean;
}

/**
 * Direct chats: one room of kind `direct` per pair of people, through the room core like every
 * other room. Its home is the server of the person who opened it (the core names the room after
 * this server, and only local users open chats here); the pair's row in `direct_chats` is a
 * projection of the second member's join, so its primary key makes a second room for the same
 * pair impossible, even when both open at once. Blocks are kept here, outside every log, because
 * they are private to the blocker.
 */
export function createDirectService(deps: { core: RoomCore; queries: DirectQueries; messages: MessageService; openTo: "community" | "server"; serverName: string; now?: () => number }) {
  const { core, queries, messages } = deps;
  const now = deps.now ?? Date.now;
  const store = () => core.storeView().store;
  const isLocal = (userId: string) => userId.endsWith(`:${deps.serverName}`);

  /** May `actor` start a new chat with `other`? Sharing a community (or group), or the server's policy. */
  function mayStart(actor: string, other: string): boolean {
    if (queries.share(actor, other)) return true;
    return deps.openTo === "server" && isLocal(actor) && isLocal(other);
  }

  return {
    /** direct.open: opens (or reopens) the pair's room; with `replyTo`, also sends the quoting message. */
    async open(actor: string, input: OpenInput): Promise<OpenResult> {
      if (input.userId === actor) throw new ParleyError("user.self");
      const peer = queries.person(input.userId);
      if (!peer) throw new ParleyError("user.not_found");
      let quote: Record<string, unknown> | undefined;
      if (input.replyTo) {
        // The quoted message must be one the actor may read now; its snapshot travels with the
        // reply, so the other person sees it without being in that room.
        const m = messages.get(actor, input.replyTo.roomId, input.replyTo.seq);
        if (m.deleted) throw new ParleyError("message.not_found");
        quote = { roomId: m.roomId, seq: m.seq, sender: m.sender, kind: m.kind, body: m.body, ts: m.ts };
      }
      return core.transact((tx) => {
        let roomId = tx.store.findDirect(actor, input.userId);
        let created = false;
        // A block by the other person answers exactly like a person one may not write to, so
        // that it is not revealed; one's own block is said as such.
        if (tx.store.isBlocked(input.userId, actor)) throw new ParleyError("direct.not_allowed");
        if (!roomId) {
          if (tx.store.isBlocked(actor, input.userId)) throw new ParleyError("user.blocked");
          if (!mayStart(actor, input.userId)) throw new ParleyError("direct.not_allowed");
          const st = tx.createRoom({ kind: "direct", name: "", settings: { ...directSettings }, creator: actor, creatorRole: "member" });
          tx.append({ roomId: st.id, type: "member.join", sender: actor, content: { userId: input.userId, via: "direct" } });
          roomId = st.id;
          created = true;
        }
        const result: OpenResult = { roomId, peer, created };
        if (quote) {
          const earlier = tx.findByTxn(roomId, actor, input.txnId!);
          if (earlier) return { ...result, event: earlier, duplicate: true };
          result.event = tx.append({ roomId, type: "message", sender: actor, content: { kind: "text", body: input.body!, quote }, txnId: input.txnId });
          result.duplicate = false;
        }
        return result;
      });
    },

    /** user.block: private to the blocker; the blocked person is told nothing. */
    block(actor: string, userId: string): { userId: string; blocked: true } {
      if (userId === actor) throw new ParleyError("user.self");
      // Users of other servers become known with federation; until then only this server's.
      if (!queries.person(userId)) throw new ParleyError("user.not_found");
      queries.block(actor, userId, now());
      return { userId, blocked: true };
    },

    unblock(actor: string, userId: string): { userId: string; blocked: false } {
      queries.unblock(actor, userId);
      return { userId, blocked: false };
    },

    blocks(actor: string, after: string | undefined, limit: number): { blocks: { userId: string; at: number }[]; next: string | null } {
      const rows = queries.blocks(actor, after ?? "", limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      return { blocks: rows, next: more ? rows[rows.length - 1].userId : null };
    },

    /** Whether `a` shares a community with `b`, or the policy lets them find each other anyway. */
    mayFind: mayStart,
  };
}

export type DirectService = ReturnType<typeof createDirectService>;
