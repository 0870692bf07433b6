/**
 * Pending ops. When a local user's content op (`keptWhenDown`: a send, an edit, a reaction, a
 * vote...) goes to a room whose home cannot be reached, it is kept durably (federation_pending),
 * the user is answered `message.pending` with its id and op, and it is proposed again, in order
 * per home, when the home wakes this server (its `wake` on start), when a retry timer fires (the
 * outbox's backoff), and at this server's start. The home then authorizes it against the room's
 * state at that time; either way the user is told the outcome with a `message.outcome` push that
 * names the op (kept for them until they connect, if they are offline).
 */
import type { Logger } from "../server/logger.ts";
import type { Storage } from "../server/storage/database.ts";
import type { Hub } from "../server/ws/transport.ts";
import { ParleyError } from "../server/errors.ts";
import type { Federation } from "./service.ts";
import { createRetryLoop, type Outcome } from "./retry.ts";
import type { Arrivals } from "./arrivals.ts";

/**
 * The ops kept when the home cannot be reached: what a person writes in a room (posts and their
 * edits, deletions, reactions, votes, answers). Membership and admin ops, and ops whose effect
 * depends on the moment they apply (closing a poll, changing or cancelling a calendar event), fail
 * at once with `federation.unreachable` (docs/federation.md, "Pending ops").
 */
export const keptWhenDown: ReadonlySet<string> = new Set([
  "message.send",
  "message.edit",
  "message.delete",
  "message.react",
  "poll.create",
  "poll.vote",
  "event.create",
  "event.rsvp",
]);

/** What a kept op is, in the words of the `message.pending` answer. */
const keptWords: Record<string, string> = {
  "message.send": "message",
  "message.edit": "edit",
  "message.delete": "deletion",
  "message.react": "reaction",
  "poll.create": "poll",
  "poll.vote": "vote",
  "event.create": "calendar event",
  "event.rsvp": "answer",
};

/** How long a pending op is kept and how old a proposal the home accepts (7 days). */
export const pendingMaxAgeMs = 7 * 86_400_000;

/** The kept ops of one home server, as `parley federation status` and the admin API show them. */
export interface KeptStatus {
  /** The home server the ops wait for. */
  server: string;
  /** How many ops are kept for it. */
  ops: number;
  /** When the oldest of them was kept (ms). */
  oldestAt: number;
}

/**
 * The kept ops (federation_pending) per home server, oldest first: what waits for a home that
 * cannot be reached. Read from the database, so the command line shows it whether or not the
 * server runs.
 */
export function keptStatus(storage: Storage): KeptStatus[] {
  const rows = storage.sqlite
    .prepare("SELECT home, count(*) AS ops, min(created_at) AS oldest FROM federation_pending GROUP BY home ORDER BY oldest, home")
    .all() as { home: string; ops: number; oldest: number }[];
  return rows.map((r) => ({ server: r.home, ops: r.ops, oldestAt: r.oldest }));
}

/**
 * An account of this server ends (a purge): what it wrote while a home could not be reached is
 * not proposed any more (a purged spammer's kept sends would otherwise arrive after the purge).
 * Runs on the caller's transaction when there is one. Returns how many ops were dropped.
 */
export function dropKeptOps(storage: Storage, sender: string): number {
  return storage.sqlite.prepare("DELETE FROM federation_pending WHERE sender = ?").run(sender).changes;
}

export function createPendingSends(deps: {
  storage: Storage;
  federation: Federation;
  hub: () => Hub;
  log: Logger;
  now?: () => number;
  /** The proposal's `file` for a send with a file this server holds (forward.ts proposedFile). */
  fileOf?: (sender: string, op: string, params: Record<string, unknown>) => unknown;
  /** This server's copies of events sequenced elsewhere (an outcome's event is told as held here). */
  arrivals: Arrivals;
}) {
  const { federation, log } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    add: db.prepare("INSERT INTO federation_pending (home, sender, op, params, created_at, proposal_id) VALUES (?, ?, ?, ?, ?, ?)"),
    any: db.prepare("SELECT 1 FROM federation_pending WHERE home = ? LIMIT 1"),
    anyOf: db.prepare("SELECT 1 FROM federation_pending WHERE home = ? AND sender = ? LIMIT 1"),
    forHome: db.prepare("SELECT id, sender, op, params, created_at, proposal_id FROM federation_pending WHERE home = ? ORDER BY id LIMIT 100"),
    homes: db.prepare("SELECT DISTINCT home FROM federation_pending"),
    drop: db.prepare("DELETE FROM federation_pending WHERE id = ?"),
    keep: db.prepare("INSERT INTO pending_pushes (user_id, frame, expires_at, created_at) VALUES (?, ?, ?, ?)"),
  };
  // How many ops are kept per home: asked on every op to a remote room (must it queue?), so held
  // in memory; this module alone adds and drops rows.
  const kept = new Map<string, number>();
  for (const r of db.prepare("SELECT home, count(*) AS n FROM federation_pending GROUP BY home").all() as { home: string; n: number }[]) kept.set(r.home, r.n);
  const retry = createRetryLoop(propose);

  /**
   * An accepted op's event as this server holds it (its own stream position, not the home's), or
   * null when replication has not brought it yet: it follows as a `room.event` push.
   */
  function localCopy(event: { eventId?: unknown } | null | undefined): Record<string, unknown> | null {
    if (!event || typeof event.eventId !== "string") return null;
    const pos = deps.arrivals.held(event.eventId);
    return pos === undefined ? null : { ...event, pos };
  }

  function tell(userId: string, data: Record<string, unknown>): void {
    const frame = JSON.stringify({ push: "message.outcome", data });
    const hub = deps.hub();
    if (hub.connectionsOf(userId)?.size) hub.sendToUsers([userId], frame);
    else s.keep.run(userId, frame, now() + pendingMaxAgeMs, now());
  }

  /** Proposes the home's pending ops in order; stops at the first that cannot be delivered. */
  async function propose(home: string): Promise<Outcome> {
    for (;;) {
      const rows = s.forHome.all(home) as { id: number; sender: string; op: string; params: string; created_at: number; proposal_id: string | null }[];
      if (!rows.length) return "done";
      for (const r of rows) {
        const params = JSON.parse(r.params) as Record<string, unknown>;
        let res;
        try {
          // A file gone meanwhile: proposed without it, the home refuses it (media.not_found).
          let file: unknown;
          try {
            file = deps.fileOf?.(r.sender, r.op, params);
          } catch {
            file = undefined;
          }
          res = await federation.propose(home, {
            sender: r.sender,
            op: r.op,
            params,
            proposedAt: r.created_at,
            // The home answers a proposal it already applied with its first answer (proposals.ts).
            ...(r.proposal_id ? { proposalId: r.proposal_id } : {}),
            ...(file ? { file } : {}),
          });
        } catch (err) {
          log.info({ peer: home, err: (err as Error).message }, "pending ops wait: the home is unreachable");
          return "later";
        }
        if (retry.stopped || res.status >= 500 || res.status === 429) return "later";
        if (s.drop.run(r.id).changes) kept.set(home, (kept.get(home) ?? 1) - 1);
        const base = { pendingId: r.id, op: r.op, roomId: params.roomId, ...(typeof params.txnId === "string" ? { txnId: params.txnId } : {}), ...(typeof params.seq === "number" ? { seq: params.seq } : {}) };
        if (res.status === 200) tell(r.sender, { ...base, status: "accepted", event: localCopy(res.body?.result?.event) });
        else {
          const code = typeof res.body?.error?.code === "string" ? res.body.error.code : "federation.unreachable";
          tell(r.sender, { ...base, status: "refused", error: { code, message: res.body?.error?.message ?? "The home server refused it." } });
        }
        log.info({ peer: home, room: params.roomId, pendingId: r.id, status: res.status }, "pending op delivered");
      }
    }
  }

  return {
    /** Whether ops to `home` must queue behind earlier pending ones (order per home). */
    hasPending(home: string): boolean {
      // The count answers the usual case (nothing kept) without a query; a positive one is
      // checked against the table, which a purge (dropKeptOps) may have emptied meanwhile.
      if ((kept.get(home) ?? 0) <= 0) return false;
      if (s.any.get(home) !== undefined) return true;
      kept.delete(home);
      return false;
    },
    /** Keeps an op and answers the client `message.pending` (thrown). */
    keep(home: string, sender: string, op: string, params: Record<string, unknown>, proposalId?: string): never {
      const id = Number(s.add.run(home, sender, op, JSON.stringify(params), now(), proposalId ?? null).lastInsertRowid);
      kept.set(home, (kept.get(home) ?? 0) + 1);
      retry.later(home);
      throw new ParleyError("message.pending", `${home} cannot be reached; your ${keptWords[op] ?? op} is kept and sent when it returns.`, {
        pendingId: id,
        op,
        roomId: params.roomId,
        ...(typeof params.txnId === "string" ? { txnId: params.txnId } : {}),
        ...(typeof params.seq === "number" ? { seq: params.seq } : {}),
      });
    },
    /**
     * Before an op that is not kept (a leave, an admin act) goes to `home`: the sender's kept ops
     * for it go first, so that the leave never overtakes the message written before it. Proposes
     * them now (the home answered, or is about to be asked) and waits, at most `withinMs`, until
     * none of the sender's is left; false when some still wait (the home is still unreachable).
     */
    async settle(home: string, sender: string, withinMs = 10_000): Promise<boolean> {
      if (!this.hasPending(home) || s.anyOf.get(home, sender) === undefined) return true;
      this.kick(home);
      const until = Date.now() + withinMs;
      while (s.anyOf.get(home, sender) !== undefined) {
        if (Date.now() >= until || retry.stopped) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    },
    /** The home is back (its wake) or may be: try now. */
    kick: retry.kick,
    start(): void {
      for (const { home } of s.homes.all() as { home: string }[]) void retry.flush(home);
    },
    stop: retry.stop,
  };
}

export type PendingSends = ReturnType<typeof createPendingSends>;

