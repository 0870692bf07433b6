/**
 * What other servers learn of this server's accounts: profile changes, told to the servers that
 * share a room with the user (`profile-update`), so that their users see a new name or avatar at
 * once instead of at the next fetch; and the end of an account (a purge), so that they drop its
 * profile, with its leave proposed to the home of each room hosted elsewhere it is in.
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

/** The most users one `profile-update` request names (the endpoint's own bound, per list). */
const perRequest = 100;

/** What a destination is to be told of a user: their profile now, or null (the account ended). */
type Notice = { profile: Profile } | { gone: true };

export function createAccountNotices(deps: { federation: Federation; storage: Storage; log: Logger; now?: () => number }) {
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
  /** Per destination, the newest notice of each user not yet given to it. */
  const waiting = new Map<string, Map<string, Notice>>();
  const retry = createRetryLoop(tell);

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

  return {
    /** A local user's profile changed: tell every server sharing a room with them. */
    tellChanged(profile: Profile): void {
      const servers = (s.sharing.all(profile.userId, profile.userId) as { server: string }[]).map((r) => r.server);
      queue(servers, profile.userId, { profile });
    },
    /**
     * A local account ended (purged; `rooms`: those hosted here it was removed from, `elsewhere`:
     * those hosted on other servers it is still in). The servers of all of them (their members'
     * and their homes) are told to drop its profile, and its `room.leave` is proposed to the home
     * of each room elsewhere, once (a leave is not a kept op: a home that cannot be reached, or
     * that refuses it, keeps the account as a member).
     */
    tellPurged(userId: string, rooms: readonly string[], elsewhere: readonly string[]): void {
      if (retry.stopped || !federation.enabled) return;
      const servers = new Set<string>();
      for (const roomId of [...rooms, ...elsewhere]) for (const r of s.holding.all(roomId, roomId, roomId) as { server: string }[]) servers.add(r.server);
      queue(servers, userId, { gone: true });
      for (const roomId of elsewhere) {
        federation.propose(originOf(roomId), { sender: userId, op: "room.leave", params: { roomId }, proposedAt: now() }).then(
          (res) => log.info({ userId, room: roomId, status: res.status }, "purged account's leave proposed"),
          (err) => log.warn({ userId, room: roomId, err: (err as Error).message }, "purged account's leave not proposed"),
        );
      }
    },
    /** The peer is back (its wake): give it what waits. */
    kick: retry.kick,
    stop(): void {
      retry.stop();
      waiting.clear();
    },
  };
}

export type AccountNotices = ReturnType<typeof createAccountNotices>;
