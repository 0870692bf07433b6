import { ParleyError } from "../errors.ts";
import { originOf } from "../rooms/hash.ts";
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

/** The snapshot of a quoted message that a private reply carries (`quote` in its content). */
export interface Quote {
  roomId: string;
  seq: number;
  sender: string;
  kind: string;
  body: string | null;
  ts: number;
}

/**
 * What direct chats need from federation (federation/direct.ts), absent when it is off: users of
 * other servers are then unknown, as before.
 */
export interface RemotePeople {
  /** A user of another server as their server answers (`profile`); null when it has no such user. Throws federation.unreachable. */
  person(userId: string): Promise<Person | null>;
  /** Tells the blocked person's server of a block or its end (kept and retried until delivered). */
  tellBlock(blocker: string, blocked: string, on: boolean, at: number): void;
  /**
   * A private reply in the pair's chat hosted on the other person's server: proposed to that
   * home as `direct.open`, with the quote as this server holds it.
   */
  openAt(home: string, actor: string, input: OpenInput, quote: Quote): Promise<OpenResult>;
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
 * this server; a user of another server opens chats on their own server, and proposes here only a
 * private reply in a chat hosted here). The pair's row in `direct_chats` is a projection of the
 * second member's join, on replicas too, so a chat opened from the other server is found here;
 * its primary key makes a second room for the same pair impossible on one server, even when both
 * open at once (of two rooms made at once on two servers, the one whose id sorts first is kept).
 * Blocks are kept here, outside every log, because they are private to the blocker; a block of a
 * user of another server is also told to their server, which enforces it there.
 */
export function createDirectService(deps: { core: RoomCore; queries: DirectQueries; messages: MessageService; openTo: "community" | "server"; serverName: string; now?: () => number }) {
  const { core, queries, messages } = deps;
  const now = deps.now ?? Date.now;
  const isLocal = (userId: string) => originOf(userId) === deps.serverName;
  let remote: RemotePeople | null = null;
  /** Quotes vouched for by the server of a remote actor's proposal, by `sender txnId`. */
  const vouched = new Map<string, Quote>();

  /**
   * May `actor` start a new chat with `other`? Sharing a community or group (wherever it is
   * hosted: a replica's members count), or the server's policy, which speaks for its own users
   * only: `open_to = "server"` never opens a chat with a user of another server.
   */
  function mayStart(actor: string, other: string): boolean {
    if (queries.share(actor, other)) return true;
    return deps.openTo === "server" && isLocal(actor) && isLocal(other);
  }

  /** The other person as this server can tell: an account here, or what their server answers. */
  async function personOf(userId: string, required: boolean): Promise<Person | null> {
    if (isLocal(userId)) return queries.person(userId) ?? null;
    if (!remote) return null;
    try {
      return await remote.person(userId);
    } catch (err) {
      // An existing chat still opens while the other server is away, showing the bare id.
      if (required) throw err;
      return { userId, displayName: userId, avatar: null };
    }
  }

  return {
    /** Federation's part, set when it is on (app.ts). */
    useRemote(r: RemotePeople): void {
      remote = r;
    },

    /**
     * Lets a proposed `direct.open` (a private reply from the other server) use the quote its
     * server vouched for: the quoted room may not be held here. Returns the forgetting.
     */
    vouchQuote(sender: string, txnId: string, quote: Quote): () => void {
      const key = `${sender} ${txnId}`;
      vouched.set(key, quote);
      return () => vouched.delete(key);
    },

    /** direct.open: opens (or reopens) the pair's room; with `replyTo`, also sends the quoting message. */
    async open(actor: string, input: OpenInput): Promise<OpenResult> {
      if (input.userId === actor) throw new ParleyError("user.self");
      const proposed = !isLocal(actor);
      let quote: Quote | undefined;
      if (proposed) {
        // From the other person's server: only a private reply in the pair's chat hosted here
        // (a chat is hosted by its opener's server: a remote opener's server makes its own).
        quote = input.txnId ? vouched.get(`${actor} ${input.txnId}`) : undefined;
        const chat = core.storeView().store.findDirect(actor, input.userId);
        if (!quote || !isLocal(input.userId) || !chat || originOf(chat) !== deps.serverName) throw new ParleyError("direct.not_allowed");
      } else if (input.replyTo) {
        // The quoted message must be one the actor may read now; its snapshot travels with the
        // reply, so the other person sees it without being in that room.
        const m = messages.get(actor, input.replyTo.roomId, input.replyTo.seq);
        if (m.deleted) throw new ParleyError("message.not_found");
        quote = { roomId: m.roomId, seq: m.seq, sender: m.sender, kind: m.kind, body: m.body, ts: m.ts };
      }
      const existing = core.storeView().store.findDirect(actor, input.userId);
      const peer = await personOf(input.userId, existing === undefined);
      if (!peer) throw new ParleyError("user.not_found");
      const home = existing ? originOf(existing) : deps.serverName;
      if (home !== deps.serverName) {
        // The pair's chat is hosted by the other person's server (they opened it first). The
        // blocks this server knows answer as they would there; a private reply goes to the home.
        const store = core.storeView().store;
        if (store.isBlocked(input.userId, actor)) throw new ParleyError("direct.not_allowed");
        if (!quote) return { roomId: existing!, peer, created: false };
        if (store.isBlocked(actor, input.userId)) throw new ParleyError("user.blocked");
        if (!remote) throw new ParleyError("federation.unreachable");
        const res = await remote.openAt(home, actor, input, quote);
        return { ...res, peer };
      }
      return core.transact((tx) => {
        let roomId = tx.store.findDirect(actor, input.userId);
        let created = false;
        // The other server's room for the pair arrived (and sorts first) since the check above:
        // a private reply must go there; the client's retry (same txnId) will take that path.
        if (roomId && originOf(roomId) !== deps.serverName && quote) throw new ParleyError("federation.unreachable", "The chat moved to the other server's room; try again.");
        // A block by the other person answers exactly like a person one may not write to, so
        // that it is not revealed; one's own block is said as such. A user of another server's
        // block reaches this server as a notice from theirs (federation/direct.ts).
        if (tx.store.isBlocked(input.userId, actor)) throw new ParleyError("direct.not_allowed");
        if (!roomId) {
          if (tx.store.isBlocked(actor, input.userId)) throw new ParleyError("user.blocked");
          if (!mayStart(actor, input.userId)) throw new ParleyError("direct.not_allowed");
          // The join names the other person: a user of another server receives the room from
          // here by replication (the outbox counts the subject's server in), as an invitation.
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

    /**
     * user.block: private to the blocker; the blocked person is told nothing. A user of another
     * server may be blocked once this server knows them (from a room it holds, or from their
     * server's answer); their server is told, so that it refuses them too where it hosts the
     * pair's chat or where they would open one.
     */
    async block(actor: string, userId: string): Promise<{ userId: string; blocked: true }> {
      if (userId === actor) throw new ParleyError("user.self");
      if (isLocal(userId)) {
        if (!queries.person(userId)) throw new ParleyError("user.not_found");
      } else if (!queries.known(userId) && !(remote && (await remote.person(userId)))) {
        throw new ParleyError("user.not_found");
      }
      const at = now();
      queries.block(actor, userId, at);
      if (!isLocal(userId)) remote?.tellBlock(actor, userId, true, at);
      return { userId, blocked: true };
    },

    unblock(actor: string, userId: string): { userId: string; blocked: false } {
      queries.unblock(actor, userId);
      if (!isLocal(userId)) remote?.tellBlock(actor, userId, false, now());
      return { userId, blocked: false };
    },

    /** A block (or its end) by a user of another server, as their server tells it. */
    applyRemoteBlock(blocker: string, blocked: string, on: boolean, at: number): void {
      if (on) queries.block(blocker, blocked, at);
      else queries.unblock(blocker, blocked);
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
