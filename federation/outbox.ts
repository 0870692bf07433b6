/**
 * The outbox. The room log is the outbox: a cursor per (destination, room) records the last seq
 * the destination acknowledged, and nothing is copied per destination. It subscribes to the
 * publish step to learn which servers have members in this server's rooms (cheaply: a room's set
 * of remote servers is recomputed only on membership events) and to wake the delivery loop.
 *
 * Delivery: one request in flight per destination; a batch holds up to `batchEvents` events
 * (bounded in bytes too), in seq order per room, with one home-signed checkpoint per room; the
 * answer has a result per event and each room's cursor moves over what was accepted. Failures
 * back off from 2 s, doubling, with full jitter, capped at an hour, and nothing is ever dropped;
 * 429/503 with Retry-After are honoured and are not failures; only a successful send resets the
 * failure count; a destination failing for 72 h is dormant and probed hourly.
 */
import type { Logger } from "../server/logger.ts";
import type { Storage } from "../server/storage/database.ts";
import type { RoomCore, Committed } from "../server/rooms/core.ts";
import { originOf } from "../server/rooms/hash.ts";
import { aclDenies } from "../server/rooms/types.ts";
import type { ServerKeys } from "./keys.ts";
import { signCheckpoint, signSnapshot, type Checkpoint, type Snapshot } from "./events.ts";
import type { SnapshotState } from "../server/rooms/core.ts";
import type { Federation } from "./service.ts";
import { JsonText } from "./proposer.ts";
import { createWithholding } from "./withheld.ts";

export const backoff = {
  initialMs: 2_000,
  capMs: 3_600_000,
  dormantAfterMs: 72 * 3_600_000,
  dormantProbeMs: 3_600_000,
};

/** The wait before the next attempt after `failures` consecutive failures: full jitter over 2 s × 2^(n−1), capped. */
export function retryDelay(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.capMs, backoff.initialMs * 2 ** Math.min(failures - 1, 30));
  return Math.floor(random() * ceiling);
}

export interface PeerStatus {
  server: string;
  /** Rooms with a cursor for this peer. */
  rooms: number;
  /** Events it has not acknowledged yet. */
  backlog: number;
  failures: number;
  nextAttemptAt: number | null;
  lastSuccessAt: number | null;
  dormant: boolean;
  lastError: string | null;
}

/** Every destination with its backlog and delivery state (the running server and the CLI read it alike). */
export function federationStatus(storage: Storage, at: number = Date.now()): PeerStatus[] {
  const rows = storage.sqlite
    .prepare(
      `SELECT c.destination AS server, count(*) AS rooms,
        sum(max(0, coalesce(c.until_seq, (SELECT max(seq) FROM room_events e WHERE e.room_id = c.room_id)) - c.acked_seq)) AS backlog,
        p.failures, p.next_attempt_at, p.last_success_at, p.failing_since, p.last_error
      FROM federation_cursors c LEFT JOIN federation_peers p ON p.server = c.destination
      GROUP BY c.destination ORDER BY c.destination`,
    )
    .all() as { server: string; rooms: number; backlog: number | null; failures: number | null; next_attempt_at: number | null; last_success_at: number | null; failing_since: number | null; last_error: string | null }[];
  return rows.map((r) => ({
    server: r.server,
    rooms: r.rooms,
    backlog: r.backlog ?? 0,
    failures: r.failures ?? 0,
    nextAttemptAt: r.next_attempt_at || null,
    lastSuccessAt: r.last_success_at ?? null,
    dormant: r.failing_since !== null && at - r.failing_since >= backoff.dormantAfterMs,
    lastError: r.last_error ?? null,
  }));
}

/** Typing and receipts between servers: never stored in a log; losing them in a crash is acceptable. */
export interface EphemeralEntry {
  kind: "typing" | "read" | "delivered";
  roomId: string;
  userId: string;
  seq?: number;
  typing?: boolean;
}

export interface WireEvent {
  roomId: string;
  seq: number;
  eventId: string;
  type: string;
  sender: string;
  origin: string;
  ts: number;
  /** Absent when the event is withheld (federation/withheld.ts). */
  content?: Record<string, unknown>;
  /** The skeleton without its content: the destination had no member of the room at this event. */
  withheld?: true;
  contentHash: string;
  prev: string | null;
  hash: string;
  /**
   * The txnId of the op that made it, sent only to the sender's own server (which tells the
   * sender's sessions, Committed.txnId); not covered by the hash, a hint for clients only.
   */
  txnId?: string;
}

/**
 * Join snapshots: a destination that begins a room (its cursor at 0) whose log is longer than
 * `tailEvents` gets the room's current state, signed, and the last `tailEvents` events, instead
 * of the whole log; it fetches older history from the home when a reader pages back to it.
 */
export const joinSnapshot = { tailEvents: 50 };

const batchEvents = 500;
const batchBytes = 4 * 1024 * 1024;
/**
 * The wire form of recent events of this server's rooms that other servers replicate, made once
 * when they are committed and shared by every destination (instead of each batch reading them
 * back from SQLite and serialising them again per destination). Bounded; a miss reads the log.
 */
const wireCacheEntries = 20_000;

/** An event as a `send` batch carries it: its JSON, and what the outbox needs to know of it. */
interface WireEntry {
  roomId: string;
  seq: number;
  eventId: string;
  hash: string;
  json: string;
  /** The sender's server and the op's txnId: added to `json` for that destination only (withTxnId). */
  origin?: string;
  txnId?: string;
}

/** An event's wire JSON with its txnId as the last field (spliced: the JSON ends with the event's `}`). */
function withTxnId(json: string, txnId: string): string {
  return `${json.slice(0, -1)},"txnId":${JSON.stringify(txnId)}}`;
}

export function createOutbox(deps: { storage: Storage; rooms: RoomCore; federation: Federation; keys: ServerKeys; log: Logger; now?: () => number }) {
  const { rooms, federation, keys, log } = deps;
  const now = deps.now ?? Date.now;
  const self = federation.self;
  const db = deps.storage.sqlite;
  const s = {
    openCursor: db.prepare("INSERT INTO federation_cursors (destination, room_id, acked_seq, until_seq) VALUES (?, ?, 0, NULL) ON CONFLICT(destination, room_id) DO UPDATE SET until_seq = NULL"),
    stopCursor: db.prepare("UPDATE federation_cursors SET until_seq = ? WHERE destination = ? AND room_id = ? AND until_seq IS NULL"),
    backlog: db.prepare(`
      SELECT c.room_id, c.acked_seq, c.until_seq FROM federation_cursors c
      WHERE c.destination = ? AND c.acked_seq < coalesce(c.until_seq, (SELECT max(seq) FROM room_events e WHERE e.room_id = c.room_id))`),
    events: db.prepare("SELECT room_id, seq, event_id, type, sender, ts, content, content_hash, hash, txn_id FROM room_events WHERE room_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"),
    hashAt: db.prepare("SELECT hash FROM room_events WHERE room_id = ? AND seq = ?"),
    // Where each current member reads from: the seq of the join that began their membership.
    since: db.prepare(
      "SELECT s.user_id AS userId, coalesce(s.from_seq, e.seq) AS since FROM member_spans s LEFT JOIN room_events e ON e.pos = s.from_pos WHERE s.room_id = ? AND s.to_pos IS NULL",
    ),
    ack: db.prepare("UPDATE federation_cursors SET acked_seq = max(acked_seq, ?) WHERE destination = ? AND room_id = ?"),
    destinations: db.prepare("SELECT DISTINCT destination FROM federation_cursors"),
    peer: db.prepare("SELECT * FROM federation_peers WHERE server = ?"),
    upsertPeer: db.prepare(`
      INSERT INTO federation_peers (server, failures, next_attempt_at, last_success_at, failing_since, last_error) VALUES (@server, @failures, @next, @success, @since, @error)
      ON CONFLICT(server) DO UPDATE SET failures = @failures, next_attempt_at = @next, last_success_at = coalesce(@success, last_success_at), failing_since = @since, last_error = @error`),
    touchSuccess: db.prepare("UPDATE federation_peers SET last_success_at = max(coalesce(last_success_at, 0), ?) WHERE server = ? AND failures = 0"),

  };

  /** Ephemeral entries (typing, receipts) waiting per destination: in memory only, bounded. */
  const ephemeral = new Map<string, EphemeralEntry[]>();
  /** roomId -> the other servers with members in it (recomputed on membership events). */
  const remoteServers = new Map<string, Set<string>>();
  const inflight = new Set<string>();
  /** `${destination} ${roomId}` -> acknowledged seq not yet written (deferred with the next commit). */
  const acked = new Map<string, number>();
  /** `${roomId} ${seq}` -> the event's wire form (see wireCacheEntries). */
  const wireCache = new Map<string, WireEntry>();
  const wireKey = (roomId: string, seq: number) => `${roomId} ${seq}`;
  const wireOrder: (string | undefined)[] = new Array(wireCacheEntries);
  let wireNext = 0;
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  /** Which events each destination gets withheld: outside its members' spans (withheld.ts). */
  const withholding = createWithholding(deps.storage);

  function serversOf(roomId: string): Set<string> {
    const st = rooms.state(roomId);
    const out = new Set<string>();
    if (!st) return out;
    // A community's server access list (its own, or a linked group's community's) ends the
    // replication to the servers it denies, whatever members the room may still list.
    const acl = st.kind === "community" ? st.serverAcl : st.communityId ? rooms.state(st.communityId)?.serverAcl : null;
    for (const u of st.members.keys()) if (originOf(u) !== self && !aclDenies(acl, originOf(u))) out.add(originOf(u));
    return out;
  }

  /**
   * The signed snapshot of a room's current state (as of its last event), for a destination that
   * begins a replica of it. Made from the cached state, in one synchronous step with reading the
   * events that follow it, so no commit can come between.
   */
  function snapshotOf(roomId: string): Snapshot | null {
    const st = rooms.state(roomId);
    if (!st || !st.head) return null;
    const since = new Map((s.since.all(roomId) as { userId: string; since: number | null }[]).map((r) => [r.userId, r.since ?? st.seq]));
    const state: SnapshotState = {
      kind: st.kind,
      name: st.name,
      description: st.description,
      picture: st.picture,
      rules: st.rules,
      communityId: st.communityId,
      groups: [...st.groups],
      settings: st.settings,
      members: [...st.members].map(([userId, role]) => ({ userId, role, since: since.get(userId) ?? st.seq })),
      bans: [...st.bans],
      invites: [...st.invites],
      requests: [...st.requests],
      pinned: [...st.pinned],
      deactivated: st.deactivated,
      createdBy: st.createdBy,
      createdAt: st.createdAt,
      serverAcl: st.serverAcl ?? null,
    };
    return signSnapshot({ server: self, roomId, seq: st.seq, hash: st.head, ts: now(), state }, keys.current());
  }

  /**
   * The home's signed checkpoint of an event: the same for every destination whose batch ends
   * there (signed once, reused for a minute while the key is current), an Ed25519 signature fewer
   * per batch when the destinations keep up.
   */
  const signedCheckpoints = new Map<string, Checkpoint>();
  function checkpointAt(e: { roomId: string; seq: number; hash: string }): Checkpoint {
    const key = keys.current();
    const at = now();
    const made = signedCheckpoints.get(e.roomId);
    if (made && made.seq === e.seq && made.hash === e.hash && made.keyId === key.keyId && at - made.ts < 60_000) return made;
    const cp = signCheckpoint({ server: self, roomId: e.roomId, seq: e.seq, hash: e.hash, ts: at }, key);
    signedCheckpoints.set(e.roomId, cp);
    return cp;
  }

  /** The publish subscriber: opens cursors for new destinations and wakes delivery. */
  function onBatch(batch: readonly Committed[]): void {
    let touched: Set<string> | undefined;
    for (let i = 0; i < batch.length; i++) {
      const { event, subject } = batch[i];
      if (originOf(event.roomId) !== self) continue;
      let servers = remoteServers.get(event.roomId);
      const membership = event.type.startsWith("member.") || event.type === "room.create" || event.type === "room.server_acl";
      if (!servers || membership) {
        const before = servers ?? new Set<string>();
        if (subject) withholding.forget(event.roomId, originOf(subject));
        servers = serversOf(event.roomId);
        remoteServers.set(event.roomId, servers);
        for (const d of servers) if (!before.has(d)) s.openCursor.run(d, event.roomId);
        // A server whose last member left still gets the event that says so, then nothing more.
        for (const d of before) if (!servers.has(d)) s.stopCursor.run(event.seq, d, event.roomId);
        // The subject of an event (an invitee, a removed user) of another server hears of it too.
        if (subject && originOf(subject) !== self && !servers.has(originOf(subject))) {
          s.openCursor.run(originOf(subject), event.roomId);
          s.stopCursor.run(event.seq, originOf(subject), event.roomId);
        }
      }
      if (event.type === "message.delete") {
        // A deletion for everyone redacts the stored content of its target and the target's
        // edits: cached wire forms of them would carry what was deleted. Rare; start over.
        wireCache.clear();
      } else if (servers.size && batch[i].chain) {
        const { contentHash, hash, prev } = batch[i].chain!;
        const wire: WireEvent = { roomId: event.roomId, seq: event.seq, eventId: event.eventId, type: event.type, sender: event.sender, origin: originOf(event.sender), ts: event.ts, content: event.content, contentHash, prev, hash };
        const key = wireKey(event.roomId, event.seq);
        const txnId = batch[i].txnId;
        wireCache.set(key, { roomId: event.roomId, seq: event.seq, eventId: event.eventId, hash, json: JSON.stringify(wire), ...(txnId === undefined ? {} : { origin: wire.origin, txnId }) });
        // The oldest entry goes (a ring of keys: deleting a Map's first key again and again makes
        // V8 skip ever more deleted slots to find the next one).
        const old = wireOrder[wireNext];
        if (old !== undefined) wireCache.delete(old);
        wireOrder[wireNext] = key;
        wireNext = (wireNext + 1) % wireCacheEntries;
      }
      if (servers.size || (subject && originOf(subject) !== self)) {
        touched ??= new Set();
        for (const d of servers) touched.add(d);
        if (subject && originOf(subject) !== self) touched.add(originOf(subject));
      }
    }
    if (touched) for (const d of touched) schedule(d, 0);
  }

  function schedule(destination: string, delayMs: number): void {
    if (stopped) return;
    const existing = timers.get(destination);
    if (existing && delayMs > 0) return;
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      timers.delete(destination);
      void deliver(destination);
    }, delayMs);
    t.unref();
    timers.set(destination, t);
  }

  type PeerRow = { failures: number; next_attempt_at: number; last_success_at: number | null; failing_since: number | null; last_error: string | null };
  /** federation_peers as this outbox (its only writer) last wrote or read it: read on every delivery. */
  const peerRows = new Map<string, PeerRow | null>();
  function peerRow(server: string): PeerRow | undefined {
    let row = peerRows.get(server);
    if (row === undefined) peerRows.set(server, (row = (s.peer.get(server) as PeerRow | undefined) ?? null));
    return row ?? undefined;
  }
  function upsertPeer(p: { server: string; failures: number; next: number; success: number | null; since: number | null; error: string | null }): void {
    s.upsertPeer.run(p);
    const before = peerRow(p.server);
    peerRows.set(p.server, { failures: p.failures, next_attempt_at: p.next, last_success_at: p.success ?? before?.last_success_at ?? null, failing_since: p.since, last_error: p.error });
  }


  function fail(destination: string, error: string): void {
    const row = peerRow(destination);
    const failures = (row?.failures ?? 0) + 1;
    const at = now();
    const since = row?.failing_since ?? at;
    const dormant = at - since >= backoff.dormantAfterMs;
    const delay = dormant ? backoff.dormantProbeMs : retryDelay(failures);
    upsertPeer({ server: destination, failures, next: at + delay, success: null, since, error });
    log.warn({ peer: destination, failures, retryInMs: delay, dormant, err: error }, "federation send failed");
    schedule(destination, delay);
  }

  /** A batch for a destination: what it lacks, as the body of a `send`. */
  interface Prepared {
    events: WireEntry[];
    /** The ephemeral entries it carries (taken off the queue; `requeue` puts them back). */
    entries: EphemeralEntry[];
    /** The body of the `send` request. */
    body: string;
  }

  /** Takes the next batch for `destination` off its cursors and queue; null when it lacks nothing. */
  function prepare(destination: string): Prepared | null {
    const cursors = s.backlog.all(destination) as { room_id: string; acked_seq: number; until_seq: number | null }[];
    for (const c of cursors) {
      const key = `${destination} ${c.room_id}`;
      const mem = acked.get(key);
      if (mem === undefined) continue;
      // Written since: forgotten here; not yet: the cursor is where the peer acknowledged.
      if (mem <= c.acked_seq) acked.delete(key);
      else c.acked_seq = mem;
    }
    const entries = ephemeral.get(destination) ?? [];
    if (!cursors.length && !entries.length) return null;
    ephemeral.delete(destination);
    const events: WireEntry[] = [];
    const checkpoints: Checkpoint[] = [];
    const snapshots: Snapshot[] = [];
    let bytes = 0;
    for (const c of cursors) {
      if (events.length >= batchEvents || bytes >= batchBytes) break;
      // A destination beginning a long room gets a snapshot and the last events, not the whole log
      // (not when its cursor stops before the room's end: the snapshot would say what follows).
      const head = rooms.state(c.room_id)?.seq ?? 0;
      const beginsLong = c.acked_seq === 0 && head > joinSnapshot.tailEvents && (c.until_seq === null || c.until_seq >= head);
      // The snapshot and its events travel together, or wait for the next batch.
      if (beginsLong && (batchEvents - events.length <= joinSnapshot.tailEvents || bytes >= batchBytes / 2)) continue;
      const snapshot = beginsLong ? snapshotOf(c.room_id) : null;
      const start = snapshot ? snapshot.seq - joinSnapshot.tailEvents : c.acked_seq;
      // Nothing past the room's last event (a replica's head: the cursor stops there anyway).
      const until = Math.min(c.until_seq ?? Number.MAX_SAFE_INTEGER, head);
      const mark = events.length;
      let last: WireEntry | undefined;
      // Recent events from the cache, in order, while it has them; the rest from the log.
      let seq = start + 1;
      for (; seq <= until && events.length < batchEvents && bytes < batchBytes; seq++) {
        const w = wireCache.get(wireKey(c.room_id, seq));
        if (!w) break;
        events.push(w);
        bytes += w.json.length;
        last = w;
      }
      if (seq <= until && events.length < batchEvents && bytes < batchBytes) {
        const rows = s.events.all(c.room_id, seq - 1, until, batchEvents - events.length) as {
          room_id: string; seq: number; event_id: string; type: string; sender: string; ts: number; content: string; content_hash: string; hash: string; txn_id: string | null;
        }[];
        let prev = last ? last.hash : seq > 1 ? ((s.hashAt.get(c.room_id, seq - 1) as { hash: string | null } | undefined)?.hash ?? null) : null;
        for (const r of rows) {
          if (bytes >= batchBytes) break;
          // The stored content is JSON already: spliced in as it is, not parsed and serialised again.
          const json = `{"roomId":${JSON.stringify(r.room_id)},"seq":${r.seq},"eventId":${JSON.stringify(r.event_id)},"type":${JSON.stringify(r.type)},"sender":${JSON.stringify(r.sender)},"origin":${JSON.stringify(originOf(r.sender))},"ts":${r.ts},"content":${r.content},"contentHash":${JSON.stringify(r.content_hash)},"prev":${JSON.stringify(prev)},"hash":${JSON.stringify(r.hash)}}`;
          const w: WireEntry = { roomId: r.room_id, seq: r.seq, eventId: r.event_id, hash: r.hash, json, ...(r.txn_id === null ? {} : { origin: originOf(r.sender), txnId: r.txn_id }) };
          events.push(w);
          bytes += json.length;
          prev = r.hash;
          last = w;
        }
      }
      // Content only from times the destination had a member of the room.
      withholding.apply(destination, c.room_id, events, mark);
      if (snapshot) {
        if (!last || last.seq < snapshot.seq) {
          events.length = mark;
          continue;
        }
        snapshots.push(snapshot);
      }
      // One signature per room per batch: the chain proves every event before it.
      if (last) checkpoints.push(checkpointAt(last));
    }
    if (!events.length && !entries.length) return null;
    const body = `{"events":[${events.map((w) => (w.txnId !== undefined && w.origin === destination ? withTxnId(w.json, w.txnId) : w.json)).join(",")}],"checkpoints":${JSON.stringify(checkpoints)},"ephemeral":${JSON.stringify(entries)}${snapshots.length ? `,"snapshots":${JSON.stringify(snapshots)}` : ""}}`;
    return { events, entries, body };
  }

  /** Entries not delivered go back to the front of the queue (bounded: the newest 1,000 kept). */
  function requeue(destination: string, entries: EphemeralEntry[]): void {
    if (!entries.length) return;
    const merged = [...entries, ...(ephemeral.get(destination) ?? [])];
    ephemeral.set(destination, merged.slice(-1000));
  }

  /**
   * A destination's answer to a batch (a result per event): each room's cursor moves over the
   * leading run of accepted events; the next batch is scheduled while there is more.
   */
  function settle(destination: string, events: WireEntry[], results: { eventId: string; status: string; code?: string }[]): void {
    const row = peerRow(destination);
    const byId = new Map(results.map((r) => [r.eventId, r]));
    const advanced = new Map<string, number>();
    const blocked = new Set<string>();
    for (const e of events) {
      if (blocked.has(e.roomId)) continue;
      const r = byId.get(e.eventId);
      if (r && (r.status === "ok" || r.status === "duplicate")) advanced.set(e.roomId, e.seq);
      else {
        blocked.add(e.roomId);
        log.warn({ peer: destination, room: e.roomId, seq: e.seq, result: r?.status ?? "missing", code: r?.code }, "peer did not accept an event");
      }
    }
    const at = now();
    if (row && row.failures === 0 && row.next_attempt_at === 0 && row.failing_since === null) {
      // A healthy peer: the cursors and the time of success ride along with the next commit
      // (storage.defer), one transaction fewer per batch. Until then `acked` holds them; a
      // crash before loses only acknowledgements (the events are sent again, answered
      // `duplicate`), and the conditional update cannot undo a failure recorded meanwhile.
      for (const [roomId, seq] of advanced) acked.set(`${destination} ${roomId}`, Math.max(seq, acked.get(`${destination} ${roomId}`) ?? 0));
      deps.storage.defer(() => {
        for (const [roomId, seq] of advanced) s.ack.run(seq, destination, roomId);
        s.touchSuccess.run(at, destination);
      });
      row.last_success_at = at;
    } else {
      db.transaction(() => {
        for (const [roomId, seq] of advanced) s.ack.run(seq, destination, roomId);
        upsertPeer({ server: destination, failures: 0, next: 0, success: at, since: null, error: null });
      })();
    }
    log.debug({ peer: destination, events: events.length, rooms: advanced.size }, "federation batch delivered");
    // More to send: go on at once (unless everything was refused, which waits like a failure).
    if (advanced.size || ephemeral.has(destination)) schedule(destination, 0);
    else if (blocked.size) fail(destination, "every event of the batch was refused");
  }

  /** One request to `destination` with what it lacks; then again while there is more. */
  async function deliver(destination: string): Promise<void> {
    if (stopped || inflight.has(destination)) return;
    const row = peerRow(destination);
    if (row && row.next_attempt_at > now()) {
      schedule(destination, row.next_attempt_at - now());
      return;
    }
    inflight.add(destination);
    try {
      const batch = prepare(destination);
      if (!batch) return;
      let res;
      try {
        res = await federation.request(destination, "POST", "/send", new JsonText(batch.body));
      } catch (err) {
        if (!stopped) {
          requeue(destination, batch.entries);
          fail(destination, (err as Error).message);
        }
        return;
      }
      // The server may have begun closing while the request was out: the database is closing.
      if (stopped) return;
      if (res.status !== 200) requeue(destination, batch.entries);
      if ((res.status === 429 || res.status === 503) && res.retryAfter !== null) {
        // Honoured, and not a failure: the peer asked for time.
        const at = now();
        upsertPeer({ server: destination, failures: row?.failures ?? 0, next: at + res.retryAfter * 1000, success: null, since: row?.failing_since ?? null, error: `retry-after ${res.retryAfter}s` });
        log.info({ peer: destination, retryAfterS: res.retryAfter }, "peer asked to retry later");
        schedule(destination, res.retryAfter * 1000);
        return;
      }
      if (res.status !== 200 || !Array.isArray(res.body?.results)) {
        fail(destination, `HTTP ${res.status}${res.body?.error?.code ? ` ${res.body.error.code}` : ""}`);
        return;
      }
      settle(destination, batch.events, res.body.results);
    } catch (err) {
      if (stopped) return;
      log.error({ peer: destination, err }, "federation delivery failed");
      try {
        fail(destination, (err as Error).message);
      } catch (inner) {
        log.error({ peer: destination, err: inner }, "recording a federation failure failed");
      }
    } finally {
      inflight.delete(destination);
    }
  }

  return {
    onBatch,
    /** Starts: every destination with a backlog is woken and sent to (and told we are back). */
    start(): void {
      for (const { destination } of s.destinations.all() as { destination: string }[]) {
        schedule(destination, 0);
        federation.request(destination, "POST", "/wake", {}).then(
          () => undefined,
          (err) => log.info({ peer: destination, err: (err as Error).message }, "wake not delivered"),
        );
      }
    },
    /** Queues typing or a receipt for every other server with a member in the room. */
    relayEphemeral(entry: EphemeralEntry): void {
      const st = rooms.state(entry.roomId);
      if (!st) return;
      const servers = new Set<string>();
      for (const u of st.members.keys()) if (originOf(u) !== self) servers.add(originOf(u));
      for (const d of servers) {
        const q = ephemeral.get(d) ?? [];
        q.push(entry);
        if (q.length > 1000) q.shift();
        ephemeral.set(d, q);
        schedule(d, 0);
      }
    },
    /** A peer says it is back (`wake`) or reached us: probe it now. Its failure count is kept. */
    probe(destination: string): void {
      const row = peerRow(destination);
      // A peer in good standing has nothing to bring forward (what there is to send is scheduled
      // already): no work on every request it sends us.
      if (!row || (row.next_attempt_at <= now() && row.failures === 0)) return;
      if (row.next_attempt_at > now()) upsertPeer({ server: destination, failures: row.failures, next: 0, success: null, since: row.failing_since, error: null });
      schedule(destination, 0);
    },
    status: () => federationStatus(deps.storage, now()),
    /** Resolves when nothing is in flight (tests, shutdown). */
    idle: () => inflight.size === 0,
    stop(): void {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
