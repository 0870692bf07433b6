/**
 * What other servers learn of this server's accounts: profile changes, told to the servers that
 * share a room with the user (`profile-update`), so that their users see a new name or avatar at
 * once instead of at the next fetch; and the end of an account (a purge), so that they drop its
 * profile, with its leave proposed to the home of each room hosted elsewhere it is in.
 *
 * - The leaves are durable (`federation_departures`, written in the purge's own transaction, also
 *   by the command line with the server stopped): proposed to each home in order, at once on a
 *   running server, else at the next start; a home that cannot be reached is tried again with the
 *   outbox's backoff and on its `wake`. A row goes once the home answered anything but a failure
 *   (5xx, 429, a refused signature, no answer). Where the account owns the room there, its server first hands the
 *   ownership on, as a purge does at home (`member.role` to the first admin, else the first
 *   member, in join order), then leaves; alone in the room, it stays (there is no one to hand it to).
 *
 * - Who is told: the servers of every member of every room the user is in, and the homes of those
 *   rooms (a replica's home keeps the profile of a member it hosts). This server and servers its
 *   policy does not federate with are not.
 * - Best effort, in memory: per destination the newest state of each user waits, at most one
 *   request is in flight per destination (up to 100 users each), and what a destination could not
 *   be given is tried again with the outbox's backoff and on its `wake`. A notice lost (a restart
 *   of this server meanwhile) only delays the change: the
 *   receiver refreshes a stored profile when it is read and older than a minute
 *   (federation/profiles.ts). *Why not durable like block notices:* a block that does not arrive
 *   lets someone write who must not; a name that arrives late is only a name.
 */
import type { Logger } from "../server/logger.ts";
import type { Storage } from "../server/storage/database.ts";
import type { Profile } from "../server/accounts/service.ts";
import type { Federation } from "./service.ts";
import { createRetryLoop, type Outcome } from "./retry.ts";
import { originOf } from "../server/rooms/hash.ts";
import type { RoomState } from "../server/rooms/types.ts";

/**
 * A local account ends (a purge): keeps its leave of each room hosted elsewhere (`rooms`), to be
 * proposed to their homes (createAccountNotices' departures: at once on a running server, else at
 * its next start). Runs on the caller's transaction when there is one.
 */
export function keepDepartures(storage: Storage, userId: string, rooms: readonly string[], at: number): void {
  const keep = storage.sqlite.prepare("INSERT INTO federation_departures (user_id, room_id, home, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, room_id) DO NOTHING");
  for (const roomId of rooms) keep.run(userId, roomId, originOf(roomId), at);
}

/** Who takes a room over from an owner who leaves: its first admin, else its first member (join order), not the owner. */
export function successorOf(state: RoomState, owner: string): string | null {
  const others = [...state.members].filter(([u]) => u !== owner);
  return (others.find(([, role]) => role === "admin") ?? others[0])?.[0] ?? null;
}

/** The most users one `profile-update` request names (the endpoint's own bound, per list). */
const perRequest = 100;

/** What a destination is to be told of a user: their profile now, or null (the account ended). */
type Notice = { profile: Profile } | { gone: true };

export function createAccountNotices(deps: { federation: Federation; storage: Storage; log: Logger; now?: () => number; state?: (roomId: string) => RoomState | undefined }) {
  const { federation, log } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  // Server names from ids: a user id is `@name:server`, a room id `!id:server`, and neither the
  // name nor the id holds a colon, so the server is everything after the first one.
  const s = {
    sharing: db.prepare(
      `SELECT DISTINCT substr(b.user_id, instr(b.user_id, ':') + 1) AS server FROM room_members a JOIN room_members b ON b.room_id = a.room_id WHERE a.user_id = ?
       UNION SELECT DISTINCT substr(room_id, instr(room_id, ':') + 1) FROM room_members WHERE user_id = ?`,
    ),
    holding: db.prepare(
      `SELECT DISTINCT substr(user_id, instr(user_id, ':') + 1) AS server FROM room_members WHERE room_id = ?
       UNION SELECT substr(?, instr(?, ':') + 1)`,
    ),
  };
  const d = {
    forHome: db.prepare("SELECT id, user_id AS userId, room_id AS roomId FROM federation_departures WHERE home = ? ORDER BY id LIMIT 100"),
    homes: db.prepare("SELECT DISTINCT home FROM federation_departures"),
    users: db.prepare("SELECT user_id AS userId, json_group_array(room_id) AS rooms FROM federation_departures GROUP BY user_id"),
    drop: db.prepare("DELETE FROM federation_departures WHERE id = ?"),
  };
  /** Per destination, the newest notice of each user not yet given to it. */
  const waiting = new Map<string, Map<string, Notice>>();
  const retry = createRetryLoop(tell);
  const departures = createRetryLoop(depart);

  /**
   * Whether a home's answer to a proposal is a failure to try again (it may pass later), rather
   * than its word on the op: its failures and rate limits, and its refusals of the request's
   * signature (401: a clock out of step, a key rotation not yet seen), which say nothing of the op.
   */
  const failed = (status: number) => status >= 500 || status === 429 || status === 401;

  /**
   * Proposes the kept leaves of purged accounts to `home`, oldest first; stops at the first the
   * home does not answer. An owner hands the room on first (its server speaks for it, as a purge
   * at home does); the leave's answer decides whether the row goes.
   */
  async function depart(home: string): Promise<Outcome> {
    for (;;) {
      const rows = d.forHome.all(home) as { id: number; userId: string; roomId: string }[];
      if (!rows.length) return "done";
      for (const r of rows) {
        const state = deps.state?.(r.roomId);
        // Out already (its leave applied and replicated, or an admin removed it there).
        if (state && !state.members.has(r.userId)) {
          d.drop.run(r.id);
          continue;
        }
        try {
          if (state?.members.get(r.userId) === "owner") {
            const successor = successorOf(state, r.userId);
            if (successor) {
              const handed = await federation.propose(home, { sender: r.userId, op: "member.role", params: { roomId: r.roomId, userId: successor, role: "owner" }, proposedAt: now() });
              if (failed(handed.status)) return "later";
              log.info({ userId: r.userId, room: r.roomId, successor, status: handed.status }, "purged account's room handed on");
            }
          }
          const res = await federation.propose(home, { sender: r.userId, op: "room.leave", params: { roomId: r.roomId }, proposedAt: now() });
          if (failed(res.status)) return "later";
          if (res.status === 200) log.info({ userId: r.userId, room: r.roomId }, "purged account left a room hosted elsewhere");
          // A refusal retrying cannot change (the home has no such member or room; an owner alone
          // in the room, with no one to hand it to): the home's word, kept in the log.
          else log.warn({ userId: r.userId, room: r.roomId, status: res.status, code: res.body?.error?.code }, "purged account's leave refused by the home");
        } catch (err) {
          log.info({ userId: r.userId, room: r.roomId, err: (err as Error).message }, "purged account's leave waits: the home is unreachable");
          return "later";
        }
        if (departures.stopped) return "later";
        d.drop.run(r.id);
      }
    }
  }

  function queue(destinations: Iterable<string>, userId: string, notice: Notice): void {
    if (retry.stopped || !federation.enabled) return;
    for (const destination of destinations) {
      if (destination === federation.self || !federation.policy.permits(destination)) continue;
      let m = waiting.get(destination);
      if (!m) waiting.set(destination, (m = new Map()));
      m.set(userId, notice);
      void retry.flush(destination);
    }
  }

  /** Gives `destination` what waits for it, a request at a time; stops at the first failure. */
  async function tell(destination: string): Promise<Outcome> {
    for (;;) {
      const m = waiting.get(destination);
      if (!m?.size) {
        waiting.delete(destination);
        return "done";
      }
      const sent = [...m].slice(0, perRequest);
      const body = {
        profiles: sent.flatMap(([, n]) => ("profile" in n ? [n.profile] : [])),
        gone: sent.flatMap(([id, n]) => ("gone" in n ? [id] : [])),
      };
      let status: number;
      try {
        status = (await federation.request(destination, "POST", "/profile-update", body)).status;
      } catch (err) {
        log.info({ peer: destination, err: (err as Error).message }, "profile changes wait: the server is unreachable");
        return "later";
      }
      if (retry.stopped) return "later";
      // 200 delivered; 400 or 404 (a server from before this endpoint) never will be: dropped
      // either way. Anything else (its policy, a failure, 429) is tried again later.
      if (status !== 200 && status !== 400 && status !== 404) {
        log.info({ peer: destination, status }, "profile changes wait: the server refused them for now");
        return "later";
      }
      // A newer state of a user that came meanwhile stays to be told.
      for (const [id, n] of sent) if (m.get(id) === n) m.delete(id);
    }
  }

  /** Tells the servers of `rooms` (their members' and their homes) to drop `userId`'s profile. */
  function tellGone(userId: string, rooms: readonly string[]): void {
    const servers = new Set<string>();
    for (const roomId of rooms) for (const r of s.holding.all(roomId, roomId, roomId) as { server: string }[]) servers.add(r.server);
    queue(servers, userId, { gone: true });
  }

  return {
    /** A local user's profile changed: tell every server sharing a room with them. */
    tellChanged(profile: Profile): void {
      const servers = (s.sharing.all(profile.userId, profile.userId) as { server: string }[]).map((r) => r.server);
      queue(servers, profile.userId, { profile });
    },
    /**
     * A local account ended (purged; `rooms`: those hosted here it was removed from, `elsewhere`:
     * those hosted on other servers it is still in, whose leaves the purge kept). The servers of
     * all of them (their members' and their homes) are told to drop its profile, and the kept
     * leaves are proposed to their homes now.
     */
    tellPurged(userId: string, rooms: readonly string[], elsewhere: readonly string[]): void {
      if (retry.stopped || !federation.enabled) return;
      tellGone(userId, [...rooms, ...elsewhere]);
      for (const home of new Set(elsewhere.map(originOf))) void departures.flush(home);
    },
    /**
     * At start: the leaves kept by purges not yet answered (a purge at the command line with the
     * server stopped, a home that was down) are proposed, and the servers of those rooms told
     * again to drop the accounts' profiles (they were not, with the server stopped).
     */
    start(): void {
      if (departures.stopped || !federation.enabled) return;
      for (const { userId, rooms } of d.users.all() as { userId: string; rooms: string }[]) tellGone(userId, JSON.parse(rooms) as string[]);
      for (const { home } of d.homes.all() as { home: string }[]) void departures.flush(home);
    },
    /** The peer is back (its wake): give it what waits. */
    kick(destination: string): void {
      retry.kick(destination);
      departures.kick(destination);
    },
    stop(): void {
      retry.stop();
      departures.stop();
      waiting.clear();
    },
  };
}

export type AccountNotices = ReturnType<typeof createAccountNotices>;
