/**
 * History on demand. A replica begun from a join snapshot holds the room's events from a little
 * before the snapshot on (its floor, `replica_floors`). When a local reader pages back
 * (`message.history`, `message.get`, `message.thread`) below the floor into what they may read,
 * this server asks the home's `backfill` on the reader's behalf (the home applies the same
 * visibility: nothing before their join), checks that the page is a chain ending at the `prev` of
 * the lowest event held (so the home's signed checkpoints already held prove it), stores it
 * through the room core (`appendHistory`: the next reader does not fetch it again) and answers.
 * A home that cannot be reached, or a page that does not link, leaves what is held: `message.history`
 * answers it with `incomplete: true`, `message.get` of an event not held with `federation.unreachable`.
 *
 * Reads the replica's copy cannot answer are asked of the home on the reader's behalf (a
 * `propose` of the read, run there by the op's own handler with the reader as the actor):
 * `audit.list` on a replica begun from a snapshot (its audit log here starts there; with the home
 * away, what is held, `incomplete: true`), `message.reactions` and `receipt.get` of a message
 * older than what is held and that the reader may read (with the home away,
 * `federation.unreachable`, as `message.get`), `message.search` in one such room while some of
 * what the reader may read is not held (with the home away, what is held, `incomplete: true`),
 * and `community.groups`.
 */
import { ParleyError } from "../server/errors.ts";
import type { Logger } from "../server/logger.ts";
import type { OpRegistry } from "../server/ws/ops.ts";
import type { RoomCore, ReplicaEvent } from "../server/rooms/core.ts";
import type { MessageQueries } from "../server/messages/queries.ts";
import { eventHashOf, originOf } from "../server/rooms/hash.ts";
import { refusalOf, type Federation } from "./service.ts";
import type { WireEvent } from "./outbox.ts";
import type { Storage } from "../server/storage/database.ts";
import { contentRefusal, replicaEventOf } from "./withheld.ts";

/** Events asked per backfill request, and requests at most per read. */
const pageEvents = 200;
const maxPagesPerRead = 10;

/** Whether `page` is a chain of the room's events ending just below `lowSeq`, at the hash `lowPrev`. */
export function linksBelow(roomId: string, page: WireEvent[], lowSeq: number, lowPrev: string | null): boolean {
  if (!page.length || lowPrev === null) return false;
  for (let i = 0; i < page.length; i++) {
    const e = page[i];
    if (e.roomId !== roomId || e.origin !== originOf(e.sender) || e.seq !== lowSeq - page.length + i) return false;
    if (i > 0 && e.prev !== page[i - 1].hash) return false;
    const hash = eventHashOf({ roomId, seq: e.seq, eventId: e.eventId, type: e.type, sender: e.sender, origin: e.origin, ts: e.ts, contentHash: e.contentHash, prev: e.prev });
    if (hash !== e.hash) return false;
    // Its content matches its hash (or is a redaction), or it is well-formed withheld.
    if (contentRefusal(e) !== null) return false;
  }
  return page[page.length - 1].hash === lowPrev;
}

export function fetchHistoryOnDemand(deps: { ops: OpRegistry; federation: Federation; rooms: RoomCore; queries: MessageQueries; storage: Storage; log: Logger }): void {
  const { ops, federation, rooms, queries, log } = deps;
  const store = () => rooms.storeView().store;
  /** One fetch at a time per room: concurrent readers wait for the same page. */
  const inflight = new Map<string, Promise<"ok" | "end" | "failed">>();

  /**
   * Fetches the page just below the floor, on `reader`'s behalf: "ok" when stored, "end" when the
   * home has nothing there the reader may read, "failed" when it could not be had.
   */
  function fetchPage(roomId: string, reader: string, downTo: number): Promise<"ok" | "end" | "failed"> {
    const running = inflight.get(roomId);
    if (running) return running;
    const p = (async () => {
      const floor = store().replicaFloor(roomId);
      if (!floor || floor.lowSeq <= downTo) return "end";
      const to = floor.lowSeq - 1;
      const from = Math.max(downTo, to - pageEvents + 1);
      let res;
      try {
        res = await federation.request(originOf(roomId), "POST", "/backfill", { roomId, from, to, requester: reader });
      } catch (err) {
        log.info({ room: roomId, err: (err as Error).message }, "history not fetched: home unreachable");
        return "failed";
      }
      const events = res.body?.events as WireEvent[] | undefined;
      if (res.status !== 200 || !Array.isArray(events)) {
        log.info({ room: roomId, status: res.status }, "history not fetched: home refused");
        return "failed";
      }
      // Nothing the reader may read there: the home cut the range at their join.
      if (events.length === 0) return "end";
      if (!linksBelow(roomId, events, floor.lowSeq, floor.lowPrev)) {
        log.warn({ room: roomId, from, to }, "history refused: the page does not link to the events held");
        return "failed";
      }
      const page: ReplicaEvent[] = events.map((e) => replicaEventOf(roomId, e));
      await rooms.transact((tx) => tx.appendHistory(roomId, page));
      return "ok";
    })().finally(() => inflight.delete(roomId));
    inflight.set(roomId, p);
    return p;
  }

  /**
   * Makes the replica hold what `reader` may read down to `downTo` (at most a few pages per read).
   * True when it does (or nothing is missing); false when the home could not give it.
   */
  async function holdDownTo(roomId: string, reader: string, downTo: number): Promise<boolean> {
    const target = Math.max(downTo, queries.visibleFrom(roomId, reader));
    for (let i = 0; i < maxPagesPerRead; i++) {
      const floor = store().replicaFloor(roomId);
      if (!floor || floor.lowSeq <= target) return true;
      const got = await fetchPage(roomId, reader, target);
      if (got !== "ok") return got === "end";
    }
    return (store().replicaFloor(roomId)?.lowSeq ?? 0) <= target;
  }

  /** A replica begun from a snapshot, with history below its floor that `reader` may read. */
  function missing(roomId: string, reader: string): { lowSeq: number; from: number } | null {
    if (typeof roomId !== "string" || originOf(roomId) === federation.self) return null;
    const st = rooms.state(roomId);
    if (!st || !st.members.has(reader)) return null;
    const floor = store().replicaFloor(roomId);
    if (!floor || floor.lowSeq <= 1) return null;
    const from = queries.visibleFrom(roomId, reader);
    return from < floor.lowSeq ? { lowSeq: floor.lowSeq, from } : null;
  }

  const history = ops.get("message.history");
  if (history) {
    const local = history.handler;
    history.handler = async (ctx, params: { roomId: string; before?: number; after?: number; limit?: number }) => {
      const reader = ctx.actor.userId;
      const gap = missing(params.roomId, reader);
      if (!gap) return local(ctx, params);
      let complete = true;
      if (params.after !== undefined) {
        // Paging forward from below the floor: what follows `after` must be held first.
        if (params.after + 1 < gap.lowSeq) complete = await holdDownTo(params.roomId, reader, params.after + 1);
        const page = (await local(ctx, params)) as { messages: unknown[]; more: boolean };
        return complete ? page : { ...page, incomplete: true };
      }
      // Paging back: fetch below the floor while the page is not full and more may be read.
      let page = (await local(ctx, params)) as { messages: { seq: number }[]; more: boolean };
      for (let i = 0; i < maxPagesPerRead && !page.more; i++) {
        const floor = store().replicaFloor(params.roomId);
        if (!floor || floor.lowSeq <= gap.from) break;
        const got = await fetchPage(params.roomId, reader, gap.from);
        if (got !== "ok") {
          complete = got === "end";
          break;
        }
        page = (await local(ctx, params)) as typeof page;
      }
      return complete ? page : { ...page, incomplete: true };
    };
  }

  for (const name of ["message.get", "message.thread"]) {
    const def = ops.get(name);
    if (!def) continue;
    const local = def.handler;
    def.handler = async (ctx, params: { roomId: string; seq?: number; root?: number }) => {
      const reader = ctx.actor.userId;
      const seq = params.seq ?? params.root;
      const gap = missing(params.roomId, reader);
      if (gap && seq !== undefined && seq < gap.lowSeq && seq >= gap.from) {
        if (!(await holdDownTo(params.roomId, reader, seq))) throw new ParleyError("federation.unreachable", "The room's home server could not give this older message now.");
      }
      return local(ctx, params);
    };
  }

  /**
   * Asks the room's home to run the read `op` on `reader`'s behalf (a `propose` of a read: the
   * home runs the op's own handler with the reader as the actor, so its rules and the reader's
   * reading span apply there). The home's result, or its coded refusal; null when it could not
   * answer (unreachable, a failure, a refusal of this server rather than of the read).
   */
  async function askHome(roomId: string, reader: string, op: string, params: Record<string, unknown>): Promise<unknown | null> {
    let res;
    try {
      res = await federation.request(originOf(roomId), "POST", "/propose", { sender: reader, op, params });
    } catch (err) {
      log.info({ room: roomId, op, err: (err as Error).message }, "read answered from what is held: home unreachable");
      return null;
    }
    if (res.status === 200 && res.body?.result) return res.body.result;
    const refusal = refusalOf(originOf(roomId), res);
    if (refusal.code === "federation.unreachable") {
      log.info({ room: roomId, op, status: res.status }, "read answered from what is held: the home did not answer it");
      return null;
    }
    throw refusal;
  }

  // The reactions and receipts of a message older than what a replica begun from a snapshot holds:
  // the home holds the message, every reaction to it and the read markers of every server's users.
  for (const name of ["message.reactions", "receipt.get"]) {
    const def = ops.get(name);
    if (!def) continue;
    const local = def.handler;
    def.handler = async (ctx, params: { roomId: string; seq: number }) => {
      const reader = ctx.actor.userId;
      const gap = missing(params.roomId, reader);
      // Held here, or before what the reader may read (refused here as at home): answered here.
      if (!gap || params.seq >= store().replicaFloor(params.roomId)!.lowSeq || params.seq < gap.from) return local(ctx, params);
      const answer = await askHome(params.roomId, reader, name, params);
      if (answer === null) throw new ParleyError("federation.unreachable", "The room's home server could not be asked about this older message now.");
      return answer;
    };
  }

  // A search in one room hosted elsewhere, part of whose history the reader may read is not held
  // here: the home holds all of it and searches it on the reader's behalf (their reading span
  // applied there). Its answer, and its `next`, are the home's; messages the reader hid here
  // (delete for me) are left out, as a local search leaves them. With the home away, what is
  // held here, marked incomplete. A search across rooms stays local.
  const search = ops.get("message.search");
  if (search) {
    const local = search.handler;
    search.handler = async (ctx, params: { query: string; roomId?: string; before?: number; limit?: number }) => {
      const reader = ctx.actor.userId;
      if (typeof params.roomId !== "string" || !missing(params.roomId, reader)) return local(ctx, params);
      // The local search checks the query and the reader's membership, and is the answer if the home cannot give one.
      const held = (await local(ctx, params)) as { results: unknown[]; next: number | null };
      const answer = (await askHome(params.roomId, reader, "message.search", params)) as { results: { roomId: string; seq: number }[]; next: number | null } | null;
      if (answer === null) return { ...held, incomplete: true };
      return { ...answer, results: answer.results.filter((r) => !queries.isHidden(reader, r.roomId, r.seq)) };
    };
  }

  // The audit log of a replica begun from a snapshot starts at the snapshot: the home's holds
  // every entry. Asked after the local handler has authorized the reader (a member, an admin);
  // with the home away, the entries held here, marked incomplete.
  const audit = ops.get("audit.list");
  if (audit) {
    const local = audit.handler;
    audit.handler = async (ctx, params: { roomId: string; before?: number; limit?: number }) => {
      const held = (await local(ctx, params)) as { scopeId: string };
      if (originOf(params.roomId) === federation.self || (!store().replicaFloor(params.roomId) && !store().replicaFloor(held.scopeId))) return held;
      return (await askHome(params.roomId, ctx.actor.userId, "audit.list", params)) ?? { ...held, incomplete: true };
    };
  }

  // A community's groups list on a replica: the home knows every group, also those this server
  // replicates none of; asked on the reader's behalf. Its answer is kept (remote_groups), so that
  // with the home away the list still shows those groups (as the home last described them, if the
  // replicated log still names them), beside the groups held here, also after a restart.
  const db = deps.storage.sqlite;
  const g = {
    forget: db.prepare("DELETE FROM remote_groups WHERE community_id = ?"),
    keep: db.prepare("INSERT INTO remote_groups (community_id, group_id, name, description, picture, member_count, join_approval, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
    kept: db.prepare("SELECT group_id AS roomId, name, description, picture, member_count AS memberCount, join_approval AS joinApproval FROM remote_groups WHERE community_id = ?"),
  };
  type GroupRow = { roomId: string; name: string; description: string; picture: string | null; memberCount: number; joined: boolean; joinApproval: boolean; requested: boolean };
  const keepGroups = db.transaction((communityId: string, list: GroupRow[], at: number) => {
    g.forget.run(communityId);
    for (const r of list) g.keep.run(communityId, r.roomId, r.name, r.description ?? "", r.picture ?? null, r.memberCount, r.joinApproval ? 1 : 0, at);
  });
  const groups = ops.get("community.groups");
  if (groups) {
    const local = groups.handler;
    groups.handler = async (ctx, params: { roomId: string }) => {
      const st = typeof params.roomId === "string" && originOf(params.roomId) !== federation.self ? rooms.state(params.roomId) : undefined;
      if (!st || !st.members.has(ctx.actor.userId)) return local(ctx, params);
      try {
        const res = await federation.request(originOf(params.roomId), "POST", "/propose", { sender: ctx.actor.userId, op: "community.groups", params });
        if (res.status === 200 && res.body?.result) {
          const answer = res.body.result as { groups: GroupRow[] };
          try {
            if (Array.isArray(answer.groups)) keepGroups(params.roomId, answer.groups, Date.now());
          } catch (err) {
            log.warn({ room: params.roomId, err: (err as Error).message }, "the home's groups list was not kept");
          }
          return answer;
        }
      } catch (err) {
        log.info({ room: params.roomId, err: (err as Error).message }, "groups list from what is held: home unreachable");
      }
      // The groups held here (as they are now), then those the home last described that the
      // community's log still names; a reader is in none of those (this server would hold it).
      const held = (await local(ctx, params)) as { communityId: string; groups: GroupRow[] };
      const shown = new Set(held.groups.map((r) => r.roomId));
      const named = rooms.state(params.roomId)?.groups ?? new Set<string>();
      const kept = (g.kept.all(params.roomId) as (Omit<GroupRow, "joined" | "requested" | "joinApproval"> & { joinApproval: number })[])
        .filter((r) => named.has(r.roomId) && !shown.has(r.roomId))
        .map((r) => ({ ...r, joinApproval: r.joinApproval === 1, joined: false, requested: false }));
      if (!kept.length) return held;
      return { ...held, groups: [...held.groups, ...kept].sort((x, y) => x.name.localeCompare(y.name)) };
    };
  }
}
