/**
 * Profiles of users of other servers: the one place this server learns, keeps and refreshes them.
 *
 * - Fetched from the user's server with the `profile` endpoint, batched per server (at most 100
 *   users a request), stored in `remote_profiles` (display name, about, the avatar the profile
 *   claims, when it was fetched): it survives a restart.
 * - Fresh for a minute. `profile.get` (someone looks at the profile) asks the user's server
 *   unless it did within the last minute (`asked_at`); lists (room.list's naming of direct peers,
 *   the results of people search) take the stored profile at once, fetch those never fetched, and
 *   fetch again in the background those older than a minute (`fetched_at`). When the user's server
 *   does not answer, the stored profile is served as it is: nothing on the wire says it may be
 *   stale (it is the last thing their server said; a client could do nothing else with it).
 * - Of two requests for one user under way, only the answer to the newer is stored.
 * - Fetched ahead, asynchronously: when a remote user's `member.join` is projected here (in a room
 *   this server hosts or replicates), so that people search can match them by display name
 *   without asking any server while it runs.
 * - Only a server's own users: an answer naming a user of another server, or one not asked
 *   about, is ignored (a server cannot set the profiles of another server's users).
 * - Pushed: the user's server tells of a change (`profile-update`, federation/accounts.ts)
 *   for users whose profile is kept here; the change is stored as if fetched, and the local users
 *   who share a room with that user get the `profile.updated` push. An account ended at its server
 *   (`gone`) is dropped.
 * - Pruned: a user who no longer shares a room with any local user is dropped when their (or the
 *   last local user's) membership ends, and an hourly sweep drops the others not fetched within
 *   the hour (someone looked at a stranger's profile, an invitation): each is fetched again when
 *   next needed.
 * - The avatar: stored as a claim. federation/media.ts records it as the user's avatar (and so
 *   serves it) only after the user's server has sent bytes with that hash; a profile naming
 *   another avatar drops the recorded one at once.
 */
import { ParleyError } from "../server/errors.ts";
import type { Logger } from "../server/logger.ts";
import type { MediaService } from "../server/media/service.ts";
import type { Storage } from "../server/storage/database.ts";
import type { Committed } from "../server/rooms/core.ts";
import { originOf } from "../server/rooms/hash.ts";
import type { Federation } from "./service.ts";
import type { Hub } from "../server/ws/transport.ts";

/** How long a fetched profile is taken as current. */
export const profileFreshMs = 60_000;
/** The most users one `profile` request names (the endpoint's own bound). */
const perRequest = 100;
/** How often stored profiles of users sharing no room with a local user are swept, and how long they are kept. */
export const profileSweepMs = 3_600_000;

export interface RemoteProfile {
  userId: string;
  displayName: string;
  about: string;
  avatar: string | null;
}

interface Row {
  user_id: string;
  display_name: string;
  about: string;
  avatar: string | null;
  fetched_at: number;
  asked_at: number | null;
}

const toProfile = (r: Row): RemoteProfile => ({ userId: r.user_id, displayName: r.display_name, about: r.about, avatar: r.avatar });

export function createRemoteProfiles(deps: { federation: Federation; media: MediaService; storage: Storage; log: Logger; now?: () => number; hub?: () => Hub }) {
  const { federation, media, log } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    get: db.prepare("SELECT user_id, display_name, about, avatar, fetched_at, asked_at FROM remote_profiles WHERE user_id = ?"),
    put: db.prepare(`INSERT INTO remote_profiles (user_id, display_name, about, avatar, fetched_at, asked_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, about = excluded.about, avatar = excluded.avatar,
        fetched_at = excluded.fetched_at, asked_at = coalesce(excluded.asked_at, remote_profiles.asked_at)`),
    drop: db.prepare("DELETE FROM remote_profiles WHERE user_id = ?"),
    avatarOf: db.prepare("SELECT media_id FROM media_refs WHERE kind = 'avatar' AND user_id = ?"),
    all: db.prepare("SELECT user_id FROM remote_profiles"),
    roomsOf: db.prepare("SELECT room_id FROM room_members WHERE user_id = ?"),
    membersOf: db.prepare("SELECT user_id FROM room_members WHERE room_id = ?"),
    hasLocal: db.prepare("SELECT 1 FROM room_members WHERE room_id = ? AND substr(user_id, -?) = ? LIMIT 1"),
    // The local users who share a room with a user: who sees a change of their profile.
    sharers: db.prepare("SELECT DISTINCT b.user_id FROM room_members a JOIN room_members b ON b.room_id = a.room_id WHERE a.user_id = ? AND substr(b.user_id, -?) = ?"),
  };
  const localSuffix = `:${federation.self}`;
  /**
   * Fetches under way, by user, for `profile.get` (asked) and for lists and ahead: a second fetch
   * of the same kind waits for the first. An ask never waits for a list's fetch, which may have
   * left before the change the asker wants to see.
   */
  const inflight = { asked: new Map<string, Promise<RemoteProfile | null>>(), listed: new Map<string, Promise<RemoteProfile | null>>() };
  /** The newest request sent for each user whose answer is still to come: only its answer is kept. */
  const latest = new Map<string, number>();
  let requests = 0;
  /** Users to fetch ahead (their membership was projected here), by server. */
  const wanted = new Map<string, Set<string>>();
  let flushTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const stored = (userId: string) => s.get.get(userId) as Row | undefined;
  const fresh = (r: Row | undefined) => r !== undefined && now() - r.fetched_at < profileFreshMs;
  const freshlyAsked = (r: Row | undefined) => r?.asked_at != null && now() - r.asked_at < profileFreshMs;

  /** Keeps what the user's server answered; a claimed avatar replacing the recorded one drops it. */
  function keep(userId: string, p: { displayName: string; about?: string; avatar?: string | null }, asked: boolean): RemoteProfile {
    let avatar = p.avatar ?? null;
    if (avatar !== null && !/^[0-9a-f]{64}$/.test(avatar)) avatar = null;
    const recorded = (s.avatarOf.get(userId) as { media_id: string } | undefined)?.media_id ?? null;
    if (recorded !== null && recorded !== avatar) media.setAvatar(userId, null);
    // Within this server's own bounds (profile.update's), whatever another server sends.
    const displayName = [...p.displayName].slice(0, 64).join("") || userId;
    const about = typeof p.about === "string" ? [...p.about].slice(0, 500).join("") : "";
    s.put.run(userId, displayName, about, avatar, now(), asked ? now() : null);
    return { userId, displayName, about, avatar };
  }

  /** Drops a stored profile, and the avatar recorded for it (then collected like any unreferenced file). */
  function forget(userId: string): void {
    if (s.avatarOf.get(userId)) media.setAvatar(userId, null);
    s.drop.run(userId);
  }

  /** Whether a room has a member of this server (memoized for one pass in `memo`). */
  function heldByLocal(roomId: string, memo: Map<string, boolean>): boolean {
    let has = memo.get(roomId);
    if (has === undefined) memo.set(roomId, (has = s.hasLocal.get(roomId, localSuffix.length, localSuffix) !== undefined));
    return has;
  }

  /**
   * Drops the stored profiles of those of `userIds` who share no room with a local user any more
   * (and, with `fetchedBefore`, were not fetched since). Returns who was dropped.
   */
  function prune(userIds: Iterable<string>, fetchedBefore?: number): string[] {
    const memo = new Map<string, boolean>();
    const dropped: string[] = [];
    db.transaction(() => {
      for (const id of userIds) {
        const row = stored(id);
        if (!row || (fetchedBefore !== undefined && row.fetched_at >= fetchedBefore)) continue;
        if ((s.roomsOf.all(id) as { room_id: string }[]).some((r) => heldByLocal(r.room_id, memo))) continue;
        forget(id);
        dropped.push(id);
      }
    })();
    if (dropped.length) log.info({ users: dropped.length }, "profiles of remote users sharing no room dropped");
    return dropped;
  }

  /** Drops the stored profiles of users sharing no room with a local user, not fetched within the last `profileSweepMs`. */
  function sweep(): string[] {
    return prune((s.all.all() as { user_id: string }[]).map((r) => r.user_id), now() - profileSweepMs);
  }

  /** Tells the local users who share a room with `profile`'s user of its change (the push a local change gives). */
  function announce(profile: RemoteProfile): void {
    const hub = deps.hub?.();
    if (!hub) return;
    const users = (s.sharers.all(profile.userId, localSuffix.length, localSuffix) as { user_id: string }[]).map((r) => r.user_id);
    if (users.length) hub.sendToUsers(users, JSON.stringify({ push: "profile.updated", data: profile }));
  }

  /**
   * One `profile` request to `server` for `ids` (its users, at most 100), as `requester`. Stores
   * the answer: a user left out is one the server does not have (their stored profile is dropped).
   * Throws federation.unreachable (or the policy's refusal) when the server does not answer.
   */
  async function ask(server: string, ids: string[], requester: string, asked: boolean): Promise<Map<string, RemoteProfile | null>> {
    const n = ++requests;
    for (const id of ids) latest.set(id, n);
    const superseded = new Set<string>();
    let res;
    try {
      res = await federation.request(server, "POST", "/profile", { requester, userIds: ids });
    } finally {
      // The answer to a request older than the newest one sent for a user is not kept for them.
      for (const id of ids) {
        if (latest.get(id) === n) latest.delete(id);
        else superseded.add(id);
      }
    }
    if (res.status !== 200 || !Array.isArray(res.body?.profiles)) throw new ParleyError("federation.unreachable", `${server} answered ${res.status}.`);
    if (stopped) throw new ParleyError("federation.unreachable", "The server is stopping.");
    const named = new Set(ids);
    const got = new Map<string, { displayName: string; about?: string; avatar?: string | null }>();
    for (const p of res.body.profiles as { userId?: unknown; displayName?: unknown }[]) {
      // Only the users asked about, of the server answering, with a name.
      if (typeof p?.userId !== "string" || !named.has(p.userId) || originOf(p.userId) !== server || typeof p.displayName !== "string") continue;
      got.set(p.userId, p as { displayName: string });
    }
    const out = new Map<string, RemoteProfile | null>();
    db.transaction(() => {
      for (const id of ids) {
        const p = got.get(id);
        if (superseded.has(id)) out.set(id, p ? { userId: id, displayName: p.displayName, about: p.about ?? "", avatar: p.avatar ?? null } : null);
        else if (p) out.set(id, keep(id, p, asked));
        else {
          forget(id);
          out.set(id, null);
        }
      }
    })();
    return out;
  }

  /**
   * Fetches `ids` (users of other servers), batched per server, each fetch shared with any under
   * way for the same user. Resolves per user: the profile, null (no such user), or the error.
   */
  function fetchMany(ids: string[], requester: string, asked: boolean): Map<string, Promise<RemoteProfile | null>> {
    const out = new Map<string, Promise<RemoteProfile | null>>();
    const running = asked ? inflight.asked : inflight.listed;
    const byServer = new Map<string, string[]>();
    for (const id of ids) {
      const under = running.get(id);
      if (under) out.set(id, under);
      else {
        const server = originOf(id);
        byServer.set(server, [...(byServer.get(server) ?? []), id]);
      }
    }
    for (const [server, all] of byServer) {
      for (let i = 0; i < all.length; i += perRequest) {
        const chunk = all.slice(i, i + perRequest);
        const batch = ask(server, chunk, requester, asked);
        batch.catch(() => undefined);
        for (const id of chunk) {
          const one = batch.then((m) => m.get(id) ?? null).finally(() => running.delete(id));
          one.catch(() => undefined);
          running.set(id, one);
          out.set(id, one);
        }
      }
    }
    return out;
  }

  const serverRequester = () => `@parley:${federation.self}`;

  async function flushWanted(): Promise<void> {
    flushTimer = undefined;
    if (stopped) return;
    const ids: string[] = [];
    for (const [, users] of wanted) for (const id of users) if (!fresh(stored(id))) ids.push(id);
    wanted.clear();
    if (!ids.length) return;
    const results = fetchMany(ids, serverRequester(), false);
    const failed = new Set<string>();
    await Promise.all(
      [...results].map(([id, p]) =>
        p.catch((err) => {
          const server = originOf(id);
          if (!failed.has(server)) log.info({ peer: server, err: (err as Error).message }, "profiles of remote members not fetched");
          failed.add(server);
        }),
      ),
    );
  }

  /** Fetches these users' profiles ahead, soon, in batches per server (unknown or stale ones only). */
  function want(userIds: Iterable<string>): void {
    if (stopped || !federation.enabled) return;
    for (const id of userIds) {
      const server = originOf(id);
      if (server === federation.self || !federation.policy.permits(server)) continue;
      if (!wanted.has(server)) wanted.set(server, new Set());
      wanted.get(server)!.add(id);
    }
    if (wanted.size && !flushTimer) {
      flushTimer = setTimeout(() => void flushWanted().catch((err) => log.error({ err }, "fetching remote profiles failed")), 0);
      flushTimer.unref();
    }
  }

  /**
   * profile.get of a remote user, asked on behalf of `requester`: the stored profile while
   * fresh, else their server's answer; the stored one when their server does not answer.
   * Throws user.not_found (their server has no such user), or federation.unreachable (it does
   * not answer and nothing is stored), or the policy's refusal.
   */
  async function get(userId: string, requester: string): Promise<RemoteProfile> {
    const server = originOf(userId);
    if (!federation.policy.permits(server)) throw new ParleyError("federation.server_denied", `${server} is not permitted by this server's policy.`);
    const row = stored(userId);
    if (row && freshlyAsked(row)) return toProfile(row);
    try {
      const p = await (fetchMany([userId], requester, true).get(userId) as Promise<RemoteProfile | null>);
      if (!p) throw new ParleyError("user.not_found");
      return p;
    } catch (err) {
      if (err instanceof ParleyError && err.code === "user.not_found") throw err;
      if (row) return toProfile(row);
      throw err;
    }
  }

  return {
    get,

    /**
     * Whether a user of another server exists, as their server says now (inviting them to a room
     * here): their profile, fetched and stored, or null. Throws when their server does not answer
     * (federation.unreachable) or is not permitted (federation.server_denied): nothing stored
     * stands in for it.
     */
    confirm: (userId: string): Promise<RemoteProfile | null> => fetchMany([userId], serverRequester(), false).get(userId)!,

    /**
     * Who a user of another server is, asked as this server (direct chats): like `get`, null when
     * their server has no such user.
     */
    async person(userId: string): Promise<RemoteProfile | null> {
      try {
        return await get(userId, serverRequester());
      } catch (err) {
        if (err instanceof ParleyError && err.code === "user.not_found") return null;
        throw err;
      }
    },

    /**
     * Names for a list (people search results, room.list's direct peers): stored profiles at once
     * (stale ones fetched again in the background); users never fetched are fetched now, one
     * request per server. A user whose server does not answer is left out (the caller shows the id).
     */
    async names(userIds: string[]): Promise<Map<string, RemoteProfile>> {
      const out = new Map<string, RemoteProfile>();
      const unknown: string[] = [];
      const stale: string[] = [];
      for (const id of new Set(userIds)) {
        if (originOf(id) === federation.self || !federation.policy.permits(originOf(id))) continue;
        const row = stored(id);
        if (!row) unknown.push(id);
        else {
          out.set(id, toProfile(row));
          if (!fresh(row)) stale.push(id);
        }
      }
      if (stale.length) want(stale);
      const results = fetchMany(unknown, serverRequester(), false);
      await Promise.all(
        [...results].map(async ([id, p]) => {
          try {
            const got = await p;
            if (got) out.set(id, got);
          } catch (err) {
            log.info({ peer: originOf(id), err: (err as Error).message }, "names of remote users not fetched");
          }
        }),
      );
      return out;
    },

    /**
     * Profile changes told by `peer` (`profile-update`; the route checked that every user named is
     * of `peer`): only profiles kept here are updated (or, for `gone`, dropped); the others are
     * ignored, so that a peer cannot fill this table with users nobody here looks at. A fetch
     * under way for a changed user left before the change: its answer is not kept. The local
     * users sharing a room with a changed user get `profile.updated`.
     */
    applyNotice(profiles: readonly RemoteProfile[], gone: readonly string[]): { updated: string[]; dropped: string[] } {
      const changed: RemoteProfile[] = [];
      const dropped: string[] = [];
      db.transaction(() => {
        for (const p of profiles) {
          const row = stored(p.userId);
          if (!row) continue;
          if (latest.has(p.userId)) latest.set(p.userId, -1);
          const kept = keep(p.userId, p, true);
          if (kept.displayName !== row.display_name || kept.about !== row.about || kept.avatar !== row.avatar) changed.push(kept);
        }
        for (const id of gone) {
          if (!stored(id)) continue;
          if (latest.has(id)) latest.set(id, -1);
          forget(id);
          dropped.push(id);
        }
      })();
      for (const p of changed) announce(p);
      return { updated: changed.map((p) => p.userId), dropped };
    },

    sweep,

    /**
     * The publisher's subscriber: a remote user joining a room held here is fetched ahead; one
     * whose membership ends, or the members of a room the last local member left, are dropped
     * if they share no other room with a local user.
     */
    onBatch(batch: readonly Committed[]): void {
      const joined: string[] = [];
      const ended: { roomId: string; userId: string }[] = [];
      for (const c of batch) {
        const userId = (c.event.content as { userId?: unknown }).userId;
        if (typeof userId !== "string") continue;
        if (c.event.type === "member.join" && originOf(userId) !== federation.self) joined.push(userId);
        else if (c.event.type === "member.leave" || c.event.type === "member.remove" || c.event.type === "member.ban") ended.push({ roomId: c.event.roomId, userId });
      }
      if (joined.length) want(joined);
      if (!ended.length || stopped) return;
      // After the fan-out of this batch: the candidates of a big room cost a query each.
      setImmediate(() => {
        if (stopped) return;
        try {
          const memo = new Map<string, boolean>();
          const candidates = new Set<string>();
          for (const { roomId, userId } of ended) {
            if (originOf(userId) !== federation.self) candidates.add(userId);
            else if (!heldByLocal(roomId, memo)) {
              for (const r of s.membersOf.all(roomId) as { user_id: string }[]) if (originOf(r.user_id) !== federation.self) candidates.add(r.user_id);
            }
          }
          prune(candidates);
        } catch (err) {
          log.error({ err }, "pruning remote profiles failed");
        }
      });
    },

    /** Starts the hourly sweep. */
    start(): void {
      if (stopped || sweepTimer) return;
      sweepTimer = setInterval(() => {
        try {
          sweep();
        } catch (err) {
          log.error({ err }, "sweeping remote profiles failed");
        }
      }, profileSweepMs);
      sweepTimer.unref();
    },

    stop(): void {
      stopped = true;
      if (flushTimer) clearTimeout(flushTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      wanted.clear();
    },
  };
}

export type RemoteProfiles = ReturnType<typeof createRemoteProfiles>;
