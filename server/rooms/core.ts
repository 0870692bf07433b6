import { randomBytes } from "node:crypto";
import { createEventIds } from "./ids.ts";
import { isDatabaseBusy, ParleyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { authorize, type AuthContext } from "./authorize.ts";
import { isRestricted, projectEvent } from "./project.ts";
import { contentHashOf, eventHashOf, originOf } from "./hash.ts";
import type { RoomStore } from "./store.ts";
import { isAdminRole, type Proposal, type Role, type RoomEvent, type RoomKind, type RoomLimits, type RoomSettings, type RoomState, type ServerAcl } from "./types.ts";

/**
 * A room's state as its home sends it to a server that begins a replica of it (the join snapshot,
 * federation/outbox.ts): what the replica's projections need to answer every read of the room.
 * `members` are in join order, each with `since`, the seq from which they read the room.
 */
export interface SnapshotState {
  kind: RoomKind;
  name: string;
  description: string;
  picture: string | null;
  rules: string;
  communityId: string | null;
  groups: string[];
  settings: RoomSettings;
  members: { userId: string; role: Role; since: number }[];
  bans: string[];
  invites: string[];
  requests: string[];
  pinned: number[];
  deactivated: boolean;
  createdBy: string;
  createdAt: number;
  serverAcl: ServerAcl | null;
}

/**
 * An event sequenced by the home, as a replica stores it (hashes verified by the caller).
 * `withheld`: the home sent its skeleton without its content, because this server had no member
 * of the room then (federation/withheld.ts); its content is `withheldContent`.
 */
export type ReplicaEvent = Omit<RoomEvent, "pos"> & { contentHash: string; hash: string; prev: string | null; withheld?: boolean };

/**
 * What a replica stores as the content of a withheld event: it keeps the event's place in the log
 * (seq, hashes) and nothing it said. Such an event is projected into nothing, published to no one
 * and never in the sync stream (it is stored as history), and nothing targets it.
 */
export const withheldContent: Record<string, unknown> = Object.freeze({ withheld: true }) as Record<string, unknown>;

/** An event as it leaves the core: sequenced, persisted, with its serialized push frame. */
export interface Committed {
  event: RoomEvent;
  /** The push frame, serialized once and shared by every recipient. */
  frame: Buffer;
  /** Who may see it: null means every member (and the subject); otherwise exactly these users. */
  audience: Set<string> | null;
  /**
   * The room's members when the event was appended, kept only when a later event of the same
   * batch changed the membership: a member who left right after a message still gets it, and
   * one who joined right after does not. Null: the room's current members.
   */
  members: ReadonlySet<string> | null;
  subject: string | null;
  /** Its place in the room's hash chain (rooms/hash.ts): what federation sends with it, known at commit. */
  chain?: { contentHash: string; hash: string; prev: string | null };
  /**
   * The txnId of the op that made it (a send's, for instance), when its sender gave one: told to
   * the sender's own sessions with the push (publish.ts ownFrame), and to the sender's server when the room
   * is replicated there, so that a client matches the event to what it is still showing as sending.
   */
  txnId?: string;
}

/** Event types that change who is in a room. */
const membershipTypes = new Set(["member.join", "member.leave", "member.remove", "member.ban"]);

/** What a command can do inside the group-commit transaction. */
export interface Tx {
  readonly now: number;
  /** The room's current state, or undefined when there is no such room. */
  state(roomId: string): RoomState | undefined;
  /** Authorizes, sequences, persists and projects one event. Throws ParleyError when refused. */
  append(p: Proposal, ctx?: Partial<AuthContext>): RoomEvent;
  /** Authorizes without appending (for a change recorded outside the log, as anonymous votes). */
  check(p: Proposal, ctx?: Partial<AuthContext>): RoomState;
  /** Appends an event the server itself says (sender: the server's system user), unauthorized. */
  appendSystem(roomId: string, type: Proposal["type"], content: Record<string, unknown>): RoomEvent;
  /**
   * Stores an event sequenced by the room's home server (the federation inbox, after verifying its
   * hash chain): with the home's seq, id, time and hashes, projected and published like any other.
   */
  appendReplica(e: Omit<RoomEvent, "pos">, chain: { contentHash: string; hash: string; withheld?: boolean; txnId?: string }): RoomEvent;
  /**
   * Begins a replica from its home's join snapshot: the room's state as of `seq` (hash `hash`),
   * and `tail`, the snapshot's last events (seqs up to `seq`, verified by the caller), stored and
   * projected as history (the state already includes them) and published to the local members
   * who may read them. The replica then goes on with `appendReplica` from `seq + 1`.
   */
  installSnapshot(roomId: string, seq: number, hash: string, snap: SnapshotState, tail: ReplicaEvent[], at: number): RoomState;
  /**
   * Stores a page of a replica's history fetched from the home (backfill on demand): events just
   * below the lowest one held (verified by the caller to link to it), kept out of the sync
   * stream, projected as history; later events that change these messages are applied again.
   */
  appendHistory(roomId: string, events: ReplicaEvent[]): void;
  /** Creates a room with its `room.create` event and the creator as owner. */
  createRoom(init: { kind: RoomKind; name: string; description?: string; picture?: string | null; rules?: string; settings: RoomSettings; creator: string; creatorRole?: Role }): RoomState;
  /** The stored event of an earlier send with the same transaction id, if any. */
  findByTxn(roomId: string, sender: string, txnId: string): RoomEvent | undefined;
  store: RoomStore;
}

type Listener = (batch: Committed[]) => void;

/**
 * What every command queued inside `core.within(hook, start)` also does inside its own
 * transaction (its savepoint in a group commit), so that it commits or rolls back with the
 * command's events. `step` counts the commands `start` queued, from 0. Used by the federation's
 * proposal log (federation/proposals.ts): the answer to a proposal named by its server is written
 * in the transaction of the op's events, so a home killed between the two cannot apply it twice.
 */
export interface CommandHook {
  /** Before the command runs: its value as recorded by an earlier run, which it then returns without running; undefined to run it. */
  recorded(step: number): { value: unknown } | undefined;
  /** After the command ran and returned `value`, still in its transaction. */
  record(step: number, value: unknown): void;
}

interface Replica {
  eventId: string;
  ts: number;
  contentHash: string;
  hash: string;
  withheld?: boolean;
  /** The txnId the home sent with an event of one of this server's users (Committed.txnId). */
  txnId?: string;
}

interface Job {
  fn: (tx: Tx) => unknown;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
}

/** A room's state before its first event: no members, no groups, seq 0 (a new room, or a replica's). */
function emptyRoom(
  id: string,
  init: { kind: RoomKind; name: string; description?: string; picture?: string | null; rules?: string; settings: RoomSettings },
  creator: string,
  at: number,
): RoomState {
  return {
    id,
    kind: init.kind,
    name: init.name,
    description: init.description ?? "",
    picture: init.picture ?? null,
    rules: init.rules ?? "",
    communityId: null,
    groups: new Set(),
    settings: init.settings,
    members: new Map(),
    bans: new Set(),
    requests: new Set(),
    invites: new Set(),
    seq: 0,
    deactivated: false,
    createdBy: creator,
    createdAt: at,
    adminCount: 0,
    pinned: [],
    head: null,
    serverAcl: null,
    replacedBy: null,
  };
}

/**
 * The room core: the one write path. Commands queue with `transact`; all commands that arrive in
 * one event-loop turn run in one SQLite transaction (group commit), each in its own savepoint so
 * that a refused command leaves no trace while the others commit (a lone command needs no
 * savepoint: its refusal rolls the transaction back). After the commit, listeners
 * (server/core/publish.ts: the WebSocket fan-out, the reminder scheduler, the federation outbox)
 * receive the batch in order.
 */
export function createRoomCore(deps: {
  store: RoomStore;
  serverName: string;
  limits: RoomLimits;
  log: Logger;
  now?: () => number;
  /** Checks each event's content against its protocol schema (tests turn this on). */
  checkContent?: (type: string, content: unknown) => string | null;
  /** Called once per group commit (never per event), for the metrics: commands, events, milliseconds. */
  observeCommit?: (commands: number, events: number, ms: number) => void;
}) {
  const { store, serverName, limits, log, observeCommit } = deps;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, RoomState>();
  /** The sender of events the server itself makes; "parley" is a reserved username. */
  const systemUser = `@parley:${serverName}`;
  const listeners: Listener[] = [];
  let queue: Job[] = [];
  let scheduled = false;
  let closed = false;
  /** The hook of the `within` call running now (synchronously), and how many commands it queued. */
  let scope: { hook: CommandHook; steps: number } | null = null;

  function loadState(roomId: string): RoomState | undefined {
    let st = cache.get(roomId);
    if (!st) {
      st = store.loadState(roomId, originOf(roomId) !== serverName);
      if (st) cache.set(roomId, st);
    }
    return st;
  }

  const newEventId = createEventIds();

  function blockBetween(state: RoomState, sender: string): "by_sender" | "by_other" | null {
    for (const other of state.members.keys()) {
      if (other === sender) continue;
      if (store.isBlocked(sender, other)) return "by_sender";
      if (store.isBlocked(other, sender)) return "by_other";
    }
    return null;
  }

  /**
   * The commands' view of one group commit. Made once per commit, not per command (each is a
   * dozen closures: per command that was a measurable share of a busy home's time); `retarget`
   * points it at the next command's own set of touched rooms.
   */
  function makeTx(at: number, out: Committed[], touchedFirst: Set<string>): Tx & { retarget(touched: Set<string>): void } {
    let touched = touchedFirst;
    /** `replica`: an event sequenced by the room's home server, stored as it is (federation inbox). */
    function commit(state: RoomState, p: Proposal, replica?: Replica): RoomEvent {
      if (deps.checkContent && !replica) {
        const problem = deps.checkContent(p.type, p.content);
        if (problem) throw new Error(`event ${p.type} does not match its schema: ${problem}`);
      }
      const seq = state.seq + 1;
      const base = { roomId: state.id, seq, eventId: replica?.eventId ?? newEventId(), type: p.type, sender: p.sender, ts: replica?.ts ?? at, content: p.content };
      const subject = typeof p.content.userId === "string" ? p.content.userId : null;
      const restricted = isRestricted(state, p.type);
      // The hash chain (rooms/hash.ts): the skeleton's hash, with `prev` the room's last hash. A
      // replica keeps the home's hashes (the inbox verified them before).
      const contentHash = replica?.contentHash ?? contentHashOf(p.content);
      const hash = replica?.hash ?? eventHashOf({ roomId: state.id, seq, eventId: base.eventId, type: p.type, sender: p.sender, origin: originOf(p.sender), ts: at, contentHash, prev: state.head });
      if (replica?.withheld) return storeWithheld(state, base, contentHash, hash);
      const txnId = p.txnId ?? replica?.txnId;
      const pos = store.insertEvent(base, subject, restricted, txnId ?? null, { contentHash, hash });
      const prev = state.head;
      state.head = hash;
      const event: RoomEvent = { ...base, pos };
      touched.add(state.id);
      if (membershipTypes.has(p.type)) {
        // Freeze the recipients of this room's earlier events in the batch before they change.
        let snapshot: ReadonlySet<string> | undefined;
        for (let i = out.length - 1; i >= 0; i--) {
          const c = out[i];
          if (c.event.roomId !== state.id || c.audience) continue;
          if (c.members) break;
          c.members = snapshot ??= new Set(state.members.keys());
        }
      }
      projectEvent(store, state, event);
      let audience: Set<string> | null = null;
      // room.create precedes its creator's join: it goes to the creator alone.
      if (p.type === "room.create") audience = new Set([p.sender]);
      else if (restricted) {
        audience = new Set([p.sender]);
        if (subject) audience.add(subject);
        for (const [user, role] of state.members) if (isAdminRole(role)) audience.add(user);
      }
      out.push({ event, frame: Buffer.from(JSON.stringify({ push: "room.event", data: event })), audience, members: null, subject, chain: { contentHash, hash, prev }, txnId });
      return event;
    }

    /**
     * A withheld event of a replica (ReplicaEvent): stored in the log as history, with no content,
     * projected into nothing and published to no one. The room's seq and head move on.
     */
    function storeWithheld(state: RoomState, base: Omit<RoomEvent, "pos">, contentHash: string, hash: string): RoomEvent {
      const pos = store.insertEvent({ ...base, content: withheldContent }, null, false, null, { contentHash, hash }, true);
      state.head = hash;
      state.seq = base.seq;
      touched.add(state.id);
      return { ...base, content: withheldContent, pos };
    }

    /**
     * A pair's direct room changed from `before` to `after` on this server (a replica's join of the
     * pair's other room, which sorts first: store.insertDirect). When `before` is a room hosted
     * here, it is the pair's second room: closed now, in the same transaction, with a
     * room.tombstone naming the pair's room, which every copy of its log then holds.
     */
    function closeSecondDirect(before: string | undefined, after: string | undefined): void {
      if (!before || !after || before === after || originOf(before) !== serverName) return;
      const loser = loadState(before);
      if (!loser || loser.replacedBy) return;
      commit(loser, { roomId: before, type: "room.tombstone", sender: systemUser, content: { replacement: after } });
    }
    /** The pair named by a direct room's `member.join` (via "direct"), or null. */
    function directPairOf(type: string, sender: string, content: Record<string, unknown>): [string, string] | null {
      return type === "member.join" && content.via === "direct" && typeof content.userId === "string" ? [sender, content.userId] : null;
    }

    return {
      now: at,
      store,
      state: loadState,
      findByTxn: (roomId, sender, txnId) => store.findEventByTxn(roomId, sender, txnId),
      append(p, ctx = {}) {
        return commit(this.check(p, ctx), p);
      },
      check(p, ctx = {}) {
        const state = loadState(p.roomId);
        if (!state) throw new ParleyError("room.not_found");
        // Only a room's home server sequences it; a replica changes only through appendReplica.
        if (originOf(state.id) !== serverName) throw new ParleyError("room.remote_home");
        // A block between the two people of a direct chat is a fact from outside the room that
        // every event there is checked against, whichever area proposes it.
        const blocked = state.kind === "direct" && ctx.blocked === undefined ? blockBetween(state, p.sender) : ctx.blocked;
        // A linked group answers to its community's server access list.
        const serverAcl = state.kind === "community" ? state.serverAcl : state.communityId ? loadState(state.communityId)?.serverAcl : null;
        const decision = authorize(state, p, { limits, now: at, ...ctx, blocked, serverAcl });
        // A replaced room names its replacement, so that a client can go on there.
        if (!decision.ok) throw new ParleyError(decision.code, undefined, decision.code === "room.replaced" ? { replacement: state.replacedBy } : undefined);
        return state;
      },
      retarget(next: Set<string>) {
        touched = next;
      },
      appendSystem(roomId, type, content) {
        const state = loadState(roomId);
        if (!state) throw new ParleyError("room.not_found");
        if (originOf(state.id) !== serverName) throw new ParleyError("room.remote_home");
        return commit(state, { roomId, type, sender: systemUser, content });
      },
      appendReplica(e, chain) {
        let state = loadState(e.roomId);
        if (!state) {
          if (e.type !== "room.create" || e.seq !== 1) throw new ParleyError("room.not_found", "A replica starts with the room's room.create.");
          const c = e.content as { kind: RoomKind; name: string; description?: string; picture?: string | null; rules?: string; settings: RoomSettings };
          state = emptyRoom(e.roomId, c, e.sender, e.ts);
          store.insertRoom(state);
          cache.set(e.roomId, state);
        }
        if (e.seq !== state.seq + 1) throw new ParleyError("internal", `replica of ${e.roomId} expects seq ${state.seq + 1}, not ${e.seq}`);
        const pair = chain.withheld ? null : directPairOf(e.type, e.sender, e.content);
        const before = pair && store.findDirect(...pair);
        const event = commit(state, { roomId: e.roomId, type: e.type, sender: e.sender, content: e.content }, { eventId: e.eventId, ts: e.ts, ...chain });
        if (pair) closeSecondDirect(before ?? undefined, store.findDirect(...pair));
        return event;
      },
      installSnapshot(roomId, seq, hash, snap, tail, ts) {
        if (originOf(roomId) === serverName || loadState(roomId)) throw new ParleyError("internal", `no snapshot for ${roomId}: held here already`);
        const state = emptyRoom(roomId, snap, snap.createdBy, snap.createdAt);
        state.communityId = snap.communityId;
        store.insertRoom(state);
        if (snap.picture) store.setRoomPicture(roomId, snap.picture);
        if (snap.deactivated) {
          state.deactivated = true;
          store.deactivate(roomId);
        }
        const posOf = new Map<number, number>();
        const tailEvents: RoomEvent[] = [];
        let firstPos = Number.MAX_SAFE_INTEGER;
        for (const e of tail) {
          const { contentHash, hash: h, prev: _prev, withheld, ...base } = e;
          const subject = !withheld && typeof base.content.userId === "string" ? base.content.userId : null;
          // A withheld event keeps its place and is history: projected into nothing, pushed to no one.
          const pos = withheld
            ? store.insertEvent({ ...base, content: withheldContent }, null, false, null, { contentHash, hash: h }, true)
            : store.insertEvent(base, subject, isRestricted(state, base.type), null, { contentHash, hash: h });
          posOf.set(e.seq, pos);
          firstPos = Math.min(firstPos, pos);
          if (withheld) continue;
          const event: RoomEvent = { ...base, pos };
          projectEvent(store, state, event, true);
          tailEvents.push(event);
        }
        // A replaced room's tombstone among the last events (the tail is projected as history only).
        for (const e of tail) if (e.type === "room.tombstone") state.replacedBy = (e.content as { replacement: string }).replacement;
        // The home's system user stands for who banned, invited or pinned (the snapshot says what, not who).
        const home = `@parley:${originOf(roomId)}`;
        for (const m of snap.members) {
          // Sync shows a member the snapshot's events from the one where their reading begins.
          store.addMember(roomId, m.userId, m.role, ts, posOf.get(m.since) ?? firstPos, m.since);
          state.members.set(m.userId, m.role);
          if (isAdminRole(m.role)) state.adminCount++;
        }
        // A direct chat's pair has one room: recorded as its member.join via "direct" would (of
        // two, the one whose id sorts first; a second one hosted here is closed).
        if (snap.kind === "direct" && snap.members.length === 2) {
          const pair: [string, string] = [snap.members[0].userId, snap.members[1].userId];
          const before = store.findDirect(...pair);
          store.insertDirect(...pair, roomId, ts);
          closeSecondDirect(before, store.findDirect(...pair));
        }
        for (const u of snap.bans) store.addBan(roomId, u, home, ts);
        for (const u of snap.invites) store.addInvite(roomId, u, home, ts);
        for (const u of snap.requests) store.addRequest(roomId, u, ts);
        for (const p of snap.pinned) store.pinMessage(roomId, p, home, ts);
        state.bans = new Set(snap.bans);
        state.invites = new Set(snap.invites);
        state.requests = new Set(snap.requests);
        state.pinned = [...snap.pinned];
        state.groups = new Set(snap.groups);
        state.serverAcl = snap.serverAcl;
        state.seq = seq;
        state.head = hash;
        store.setReplicaFloor(roomId, seq, tail[0]?.seq ?? seq + 1, tail.length ? tail[0].prev : hash, snap.kind === "community" ? snap.serverAcl : null, snap.kind === "community" ? snap.groups : null);
        cache.set(roomId, state);
        touched.add(roomId);
        // The snapshot's events go to the local members who may read them (those whose reading
        // began at or before each one), restricted events only to their sender, subject and admins.
        const since = new Map(snap.members.filter((m) => originOf(m.userId) === serverName).map((m) => [m.userId, m.since]));
        for (const event of tailEvents) {
          const subject = typeof event.content.userId === "string" ? event.content.userId : null;
          const restricted = isRestricted(state, event.type);
          const audience = new Set<string>();
          for (const [u, from] of since) if (from <= event.seq && (!restricted || u === event.sender || u === subject || isAdminRole(state.members.get(u)))) audience.add(u);
          if (subject && originOf(subject) === serverName) audience.add(subject);
          out.push({ event, frame: Buffer.from(JSON.stringify({ push: "room.event", data: event })), audience, members: null, subject });
        }
        return state;
      },
      appendHistory(roomId, events) {
        const state = loadState(roomId);
        if (!state || originOf(roomId) === serverName) throw new ParleyError("room.not_found");
        const floor = store.replicaFloor(roomId);
        if (!floor || !events.length) return;
        const sorted = [...events].sort((x, y) => x.seq - y.seq);
        const top = sorted[sorted.length - 1].seq;
        if (top !== floor.lowSeq - 1) throw new ParleyError("internal", `history of ${roomId} must end at seq ${floor.lowSeq - 1}`);
        for (const e of sorted) {
          const { contentHash, hash: h, prev: _prev, withheld, ...base } = e;
          if (withheld) {
            store.insertEvent({ ...base, content: withheldContent }, null, false, null, { contentHash, hash: h }, true);
            continue;
          }
          const subject = typeof base.content.userId === "string" ? base.content.userId : null;
          const pos = store.insertEvent(base, subject, isRestricted(state, base.type), null, { contentHash, hash: h }, true);
          projectEvent(store, state, { ...base, pos }, true);
        }
        // What was held before this page and changes its messages (an edit, a deletion, a poll's
        // close) came first but found nothing to change, and a newer reaction, vote or answer must
        // stand over an older one of the page: applied again, in order, now.
        for (const e of sorted) {
          if (e.type !== "message" || e.withheld) continue;
          for (const later of store.eventsTargeting(roomId, e.seq, top)) projectEvent(store, state, later, true);
        }
        store.recountReplies(roomId, sorted[0].seq, top);
        store.setReplicaFloor(roomId, floor.snapshotSeq, sorted[0].seq, sorted[0].prev);
      },
      createRoom(init) {
        const id = `!${randomBytes(9).toString("base64url")}:${serverName}`;
        const state = emptyRoom(id, init, init.creator, at);
        store.insertRoom(state);
        cache.set(id, state);
        touched.add(id);
        const content = { kind: state.kind, name: state.name, description: state.description, picture: state.picture, rules: state.rules, settings: state.settings };
        commit(state, { roomId: id, type: "room.create", sender: init.creator, content });
        commit(state, { roomId: id, type: "member.join", sender: init.creator, content: { userId: init.creator, role: init.creatorRole ?? "owner", via: "create" } });
        return state;
      },
    };
  }

  function flush(): void {
    scheduled = false;
    // Nothing queued (drain() already ran it), or the store is closed: nothing to commit.
    if (queue.length === 0 || closed) return;
    const jobs = queue;
    queue = [];
    const started = observeCommit ? performance.now() : 0;
    const at = now();
    const committed: Committed[] = [];
    const touched = new Set<string>();
    const results: { ok: boolean; value: unknown }[] = [];
    if (jobs.length === 1) {
      // One command: the transaction is its own savepoint; a refusal rolls the whole of it back.
      try {
        results.push({ ok: true, value: store.transaction(() => jobs[0].fn(makeTx(at, committed, touched))) });
      } catch (err) {
        committed.length = 0;
        for (const r of touched) cache.delete(r);
        observeCommit?.(1, 0, performance.now() - started);
        jobs[0].reject(err);
        return;
      }
    } else {
      try {
        store.transaction(() => {
          const tx = makeTx(at, committed, touched);
          for (const job of jobs) {
            const mark = committed.length;
            const jobTouched = new Set<string>();
            tx.retarget(jobTouched);
            try {
              const value = store.transaction(() => job.fn(tx));
              for (const r of jobTouched) touched.add(r);
              results.push({ ok: true, value });
            } catch (err) {
              // The savepoint rolled the tables back; drop the cached state this job may have
              // changed so that it reloads from the (rolled back) tables.
              committed.length = mark;
              for (const r of jobTouched) cache.delete(r);
              results.push({ ok: false, value: err });
            }
          }
        });
      } catch (err) {
        log.error({ err }, "group commit failed");
        for (const r of touched) cache.delete(r);
        // A database locked past the busy timeout changed nothing: the commands may be repeated.
        for (const job of jobs) job.reject(isDatabaseBusy(err) ? new ParleyError("unavailable", "The server is busy; retry in a moment.") : new ParleyError("internal"));
        return;
      }
    }
    observeCommit?.(jobs.length, committed.length, performance.now() - started);
    if (committed.length) {
      for (const l of listeners) {
        try {
          l(committed);
        } catch (err) {
          log.error({ err }, "room listener failed");
        }
      }
    }
    jobs.forEach((job, i) => (results[i].ok ? job.resolve(results[i].value) : job.reject(results[i].value)));
  }

  return {
    limits,
    /** The core's clock (injectable for tests), for rules outside the log that expire, as invite links. */
    now,
    /** Queues a command for the next group commit; resolves with its return value after commit. */
    transact<T>(fn: (tx: Tx) => T): Promise<T> {
      if (closed) return Promise.reject(new ParleyError("unavailable", "The server is shutting down."));
      // One null check on the hot path; only a command queued inside `within` pays for the hook.
      if (scope) {
        const { hook } = scope;
        const step = scope.steps++;
        const command = fn;
        fn = (tx) => {
          const earlier = hook.recorded(step);
          if (earlier) return earlier.value as T;
          const value = command(tx);
          hook.record(step, value);
          return value;
        };
      }
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /**
     * Calls `start` (synchronously) so that every command it queues before returning also runs
     * `hook` in the command's own transaction (CommandHook). Commands queued after `start`
     * returned (after an await) are not hooked: `commands` says how many were.
     */
    within<T>(hook: CommandHook, start: () => T): { value: T; commands: number } {
      const outer = scope;
      scope = { hook, steps: 0 };
      const mine = scope;
      try {
        return { value: start(), commands: mine.steps };
      } finally {
        scope = outer;
      }
    },
    /** Reads a room's state outside a transaction (for queries). */
    state: loadState,
    /** The store, for reads outside a transaction. */
    storeView: () => ({ store }),
    /** Subscribes to committed batches. */
    onCommit(listener: Listener): void {
      listeners.push(listener);
    },
    /** Runs any queued commands now; used on shutdown so no accepted write is lost. */
    drain(): void {
      if (queue.length) flush();
    },
    /** Commits what is queued, then refuses new commands (shutdown, before the database closes). */
    close(): void {
      if (queue.length) flush();
      closed = true;
    },
    pending: () => queue.length,
  };
}

export type RoomCore = ReturnType<typeof createRoomCore>;
