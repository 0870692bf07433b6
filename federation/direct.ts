/**
 * Direct chats and blocks across servers: what server/direct needs from federation.
 *
 * - Who a user of another server is: their profile as federation/profiles.ts keeps it (fetched
 *   from their server's `profile` endpoint as this server, `@parley:<self>`, fresh for a minute;
 *   null: that server has no such user).
 * - Blocks: a block (or its end) of a user of another server is told to that user's server with a
 *   signed `block` notice, so that it refuses them as it would refuse a local blocked person:
 *   where it hosts the pair's chat (their sends there) and where they would open one. The notice
 *   is kept (`federation_block_notices`, the newest state of each pair) until that server
 *   acknowledges it (or refuses it for good: no such user), and retried with the outbox's backoff,
 *   on the peer's `wake` and at start.
 * - An account that ends (a purge) withdraws its blocks: unblock notices, kept and sent as above.
 * - A private reply in the pair's chat hosted on the other server: proposed there as
 *   `direct.open`, with the quote as this server holds it (the quoted room may not be held there).
 */
import type { Logger } from "../server/logger.ts";
import type { Storage } from "../server/storage/database.ts";
import { ParleyError } from "../server/errors.ts";
import { originOf } from "../server/rooms/hash.ts";
import type { OpenInput, OpenResult, Quote, RemotePeople } from "../server/direct/service.ts";
import type { Person } from "../server/direct/queries.ts";
import { refusalOf, type Federation } from "./service.ts";
import type { RemoteProfiles } from "./profiles.ts";
import { createRetryLoop, type Outcome } from "./retry.ts";
import type { OpRegistry } from "../server/ws/ops.ts";

/** Keeps the newest state of a pair's block for the blocked person's server, until it acknowledges it. */
const keepNotice = `INSERT INTO federation_block_notices (blocker, blocked, destination, "on", at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (blocker, blocked) DO UPDATE SET "on" = excluded."on", at = excluded.at`;

/**
 * An account of this server ends (a purge): its blocks end with it, here and where they were told.
 * Deletes the blocks it made and keeps an unblock notice for each blocked user of another server,
 * sent like any block notice (durably, retried until acknowledged: `createRemotePeople`'s flush,
 * at once on a running server, else at its start). Runs on the caller's transaction when there is
 * one. Returns the servers to tell.
 */
export function withdrawBlocks(storage: Storage, blocker: string, self: string, at: number): string[] {
  const db = storage.sqlite;
  const blocked = db.prepare("SELECT blocked FROM user_blocks WHERE blocker = ?").all(blocker) as { blocked: string }[];
  const keep = db.prepare(keepNotice);
  const servers = new Set<string>();
  for (const { blocked: userId } of blocked) {
    const server = originOf(userId);
    if (server === self) continue;
    keep.run(blocker, userId, server, 0, at);
    servers.add(server);
  }
  db.prepare("DELETE FROM user_blocks WHERE blocker = ?").run(blocker);
  return [...servers];
}

export function createRemotePeople(deps: { federation: Federation; storage: Storage; profiles: RemoteProfiles; log: Logger; now?: () => number }) {
  const { federation, log, profiles } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    keep: db.prepare(keepNotice),
    forDestination: db.prepare(`SELECT blocker, blocked, "on", at FROM federation_block_notices WHERE destination = ? ORDER BY at LIMIT 100`),
    destinations: db.prepare("SELECT DISTINCT destination FROM federation_block_notices"),
    // Only the state that was sent: a newer one (an unblock meanwhile) stays to be told.
    drop: db.prepare("DELETE FROM federation_block_notices WHERE blocker = ? AND blocked = ? AND \"on\" = ? AND at = ?"),
  };
  const retry = createRetryLoop(tell);

  /** Tells `destination` the blocks it has not acknowledged, oldest first. */
  async function tell(destination: string): Promise<Outcome> {
    for (;;) {
      const rows = s.forDestination.all(destination) as { blocker: string; blocked: string; on: number; at: number }[];
      if (!rows.length) return "done";
      for (const r of rows) {
        let status: number;
        try {
          status = (await federation.request(destination, "POST", "/block", { blocker: r.blocker, userId: r.blocked, blocked: r.on === 1, at: r.at })).status;
        } catch (err) {
          log.info({ peer: destination, err: (err as Error).message }, "block notice waits: the server is unreachable");
          return "later";
        }
        // Delivered, or refused for good (no such user there, a notice it cannot read): either
        // way nothing to retry. Anything else (a refused signature, its policy, a failure) may
        // pass later: kept and tried again.
        if (retry.stopped || (status !== 200 && status !== 404 && status !== 400)) return "later";
        s.drop.run(r.blocker, r.blocked, r.on, r.at);
      }
    }
  }

  const remote: RemotePeople = {
    async person(userId: string): Promise<Person | null> {
      // A server this one's policy does not federate with is, for its users, out of reach (even
      // with their profile still cached from before the policy changed).
      if (!federation.policy.permits(originOf(userId))) throw new ParleyError("federation.unreachable", `${originOf(userId)} is not permitted by this server's policy.`);
      const p = await profiles.person(userId);
      return p ? { userId, displayName: p.displayName, avatar: p.avatar } : null;
    },

    tellBlock(blocker: string, blocked: string, on: boolean, at: number): void {
      const destination = originOf(blocked);
      s.keep.run(blocker, blocked, destination, on ? 1 : 0, at);
      void retry.flush(destination);
    },

    async openAt(home: string, actor: string, input: OpenInput, quote: Quote): Promise<OpenResult> {
      const res = await federation.request(home, "POST", "/propose", { sender: actor, op: "direct.open", params: input, proposedAt: now(), quote });
      if (res.status === 200) return res.body?.result as OpenResult;
      throw refusalOf(home, res);
    },
  };

  return {
    remote,
    /** The peer is back (its wake): tell it now. */
    kick: retry.kick,
    start(): void {
      for (const { destination } of s.destinations.all() as { destination: string }[]) void retry.flush(destination);
    },
    stop: retry.stop,
  };
}

export type RemotePeopleService = ReturnType<typeof createRemotePeople>;

/**
 * room.list names a direct chat after the other person; one of another server has no account
 * here, so their stored profile (federation/profiles.ts `names`) gives the name and picture. The list does not wait more
 * than a moment for a server that is slow to answer: the chat is then shown by the person's id.
 */
export function nameRemotePeers(ops: OpRegistry, self: string, names: (ids: string[]) => Promise<Map<string, { displayName: string; avatar: string | null }>>): void {
  const def = ops.get("room.list");
  if (!def) return;
  const local = def.handler;
  def.handler = async (ctx, params) => {
    const result = (await local(ctx, params)) as { rooms: { kind: string; name: string; picture: string | null; peer?: { userId: string; displayName: string; avatar: string | null } | null }[] };
    const remote = result.rooms.filter((r) => r.kind === "direct" && r.peer && originOf(r.peer.userId) !== self && r.peer.displayName === r.peer.userId);
    if (!remote.length) return result;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Map<string, { displayName: string; avatar: string | null }>>((resolve) => (timer = setTimeout(() => resolve(new Map()), 1500)));
    const got = await Promise.race([names(remote.map((r) => r.peer!.userId)), late]);
    clearTimeout(timer);
    for (const r of remote) {
      const p = got.get(r.peer!.userId);
      if (p) {
        r.peer!.displayName = p.displayName;
        r.name = p.displayName;
        // The avatar their profile claims: downloadable once their server proves it (federation/media.ts).
        r.peer!.avatar = p.avatar;
        r.picture = p.avatar;
      }
    }
    return result;
  };
}
