/**
 * The inbox: batches of events from the home servers of rooms this server replicates. Each event
 * is answered on its own (`ok`, `duplicate`, `refused` with a code). An event is stored only when
 * the batch comes from the room's home, its hash is its skeleton's, its content matches its
 * content hash (or was redacted by a deletion for everyone; or it is a well-formed withheld event,
 * without content: withheld.ts), it follows the replica's last event
 * (`prev` and `seq`), and the room's checkpoint in the batch is signed by the home with a key that
 * was current when it signed. Receipt is idempotent by seq and hash.
 */
import { withheldContent, type RoomCore } from "../server/rooms/core.ts";
import type { Storage } from "../server/storage/database.ts";
import type { Logger } from "../server/logger.ts";
import { eventHashOf, originOf } from "../server/rooms/hash.ts";
import { ParleyError } from "../server/errors.ts";
import { verifyCheckpoint, verifySnapshot, type Checkpoint, type Snapshot } from "./events.ts";
import type { EphemeralEntry, WireEvent } from "./outbox.ts";
import type { MessageService } from "../server/messages/service.ts";
import type { PeerDirectory } from "./peers.ts";
import { contentRefusal, replicaEventOf } from "./withheld.ts";

export interface EventResult {
  eventId: string;
  status: "ok" | "duplicate" | "refused";
  code?: string;
}

export function createInbox(deps: { rooms: RoomCore; storage: Storage; peers: PeerDirectory; log: Logger; messages: MessageService; self: string }) {
  const { rooms, peers, log } = deps;
  const hashAt = deps.storage.sqlite.prepare("SELECT hash FROM room_events WHERE room_id = ? AND seq = ?");
  const expected = deps.storage.sqlite.prepare("SELECT 1 FROM federation_rooms WHERE room_id = ?");
  const self = deps.self;

  const floorOf = deps.storage.sqlite.prepare("SELECT low_seq AS lowSeq FROM replica_floors WHERE room_id = ?");

  async function receive(origin: string, events: WireEvent[], checkpoints: Checkpoint[], snapshots: Snapshot[] = []): Promise<EventResult[]> {
    const results = new Map<string, EventResult>();
    const byRoom = new Map<string, WireEvent[]>();
    for (const e of events) {
      const list = byRoom.get(e.roomId) ?? [];
      list.push(e);
      byRoom.set(e.roomId, list);
    }
    for (const [roomId, run] of byRoom) {
      run.sort((a, b) => a.seq - b.seq);
      const refuseAll = (code: string, from = 0) => {
        for (const e of run.slice(from)) results.set(e.eventId, { eventId: e.eventId, status: "refused", code });
      };
      if (originOf(roomId) !== origin) {
        refuseAll("federation.not_home");
        continue;
      }
      const cp = checkpoints.find((c) => c.roomId === roomId);
      const key = cp && cp.server === origin ? await peers.lookupKey(origin, cp.keyId) : null;
      if (!cp || !key || !verifyCheckpoint(cp, key)) {
        log.warn({ peer: origin, room: roomId }, "batch without a valid checkpoint for the room");
        refuseAll("federation.bad_checkpoint");
        continue;
      }
      // The checkpoint names an event of this run: its hash must be that event's.
      const atCheckpoint = run.find((e) => e.seq === cp.seq);
      if (!atCheckpoint || atCheckpoint.hash !== cp.hash) {
        refuseAll("federation.bad_checkpoint");
        continue;
      }
      const state = rooms.state(roomId);
      // A replica starts only for a room one of our users acted in, or whose batch names one.
      const ours = (u: unknown) => typeof u === "string" && originOf(u) === self;
      const inSnapshot = () => snapshots.some((x) => x.roomId === roomId && (x.state.members.some((m) => ours(m.userId)) || x.state.invites.some(ours)));
      if (!state && !expected.get(roomId) && !run.some((e) => ours(e.sender) || ours(e.content?.userId)) && !inSnapshot()) {
        refuseAll("federation.not_subscribed");
        continue;
      }
      // A join snapshot begins a replica this server does not hold yet: signed by the home, and
      // naming an event of this run by its hash, which the run's chain ties to the checkpoint.
      // Held already, the snapshot is ignored and the run is checked against what is held.
      const snap = state ? undefined : snapshots.find((x) => x.roomId === roomId);
      if (snap) {
        const snapKey = snap.server === origin ? await peers.lookupKey(origin, snap.keyId) : null;
        const anchor = run.find((e) => e.seq === snap.seq);
        if (!snapKey || !verifySnapshot(snap, snapKey) || !anchor || anchor.hash !== snap.hash || run[0].seq > snap.seq) {
          log.warn({ peer: origin, room: roomId }, "join snapshot refused");
          refuseAll("federation.bad_checkpoint");
          continue;
        }
      }
      const floor = state ? (floorOf.get(roomId) as { lowSeq: number } | undefined) : undefined;
      let seq = state?.seq ?? (snap ? run[0].seq - 1 : 0);
      let head = state?.head ?? (snap ? run[0].prev : null);
      const accepted: WireEvent[] = [];
      for (let i = 0; i < run.length; i++) {
        const e = run[i];
        const ownHash = eventHashOf({ roomId, seq: e.seq, eventId: e.eventId, type: e.type, sender: e.sender, origin: originOf(e.sender), ts: e.ts, contentHash: e.contentHash, prev: e.prev });
        if (ownHash !== e.hash || e.origin !== originOf(e.sender)) {
          results.set(e.eventId, { eventId: e.eventId, status: "refused", code: "federation.event_forged" });
          refuseAll("federation.chain_broken", i + 1);
          break;
        }
        if (e.seq <= seq) {
          const stored = (hashAt.get(roomId, e.seq) as { hash: string | null } | undefined)?.hash;
          // Below a snapshot replica's floor: history it has not fetched (a snapshot sent again).
          const unheld = stored === undefined && floor !== undefined && e.seq < floor.lowSeq;
          results.set(e.eventId, stored === e.hash || unheld ? { eventId: e.eventId, status: "duplicate" } : { eventId: e.eventId, status: "refused", code: "federation.conflict" });
          continue;
        }
        if (e.seq !== seq + 1) {
          refuseAll("federation.gap", i);
          break;
        }
        if (e.prev !== head) {
          refuseAll("federation.chain_broken", i);
          break;
        }
        // Its content matches its hash (or is a redaction), or it is well-formed withheld (withheld.ts).
        const refusal = contentRefusal(e);
        if (refusal) {
          results.set(e.eventId, { eventId: e.eventId, status: "refused", code: refusal });
          refuseAll("federation.chain_broken", i + 1);
          break;
        }
        accepted.push(e);
        seq = e.seq;
        head = e.hash;
      }
      if (snap && !accepted.some((e) => e.seq === snap.seq)) {
        // The chain broke before the snapshot's event: nothing of it can be stored.
        for (const e of accepted) results.set(e.eventId, { eventId: e.eventId, status: "refused", code: "federation.chain_broken" });
        continue;
      }
      if (!accepted.length) continue;
      try {
        await rooms.transact((tx) => {
          if (snap) {
            const tail = accepted.filter((e) => e.seq <= snap.seq);
            tx.installSnapshot(roomId, snap.seq, snap.hash, snap.state, tail.map((e) => replicaEventOf(roomId, e)), tx.now);
          }
          for (const e of snap ? accepted.filter((x) => x.seq > snap.seq) : accepted) {
            // A txnId is taken only for our own users' events (the sender's sessions are told it).
            const txnId = typeof e.txnId === "string" && !e.withheld && originOf(e.sender) === self ? e.txnId : undefined;
            tx.appendReplica({ roomId, seq: e.seq, eventId: e.eventId, type: e.type as never, sender: e.sender, ts: e.ts, content: e.content ?? withheldContent }, { contentHash: e.contentHash, hash: e.hash, withheld: e.withheld === true, txnId });
          }
        });
        for (const e of accepted) results.set(e.eventId, { eventId: e.eventId, status: "ok" });
      } catch (err) {
        log.error({ peer: origin, room: roomId, err }, "storing replicated events failed");
        for (const e of accepted) results.set(e.eventId, { eventId: e.eventId, status: "refused", code: err instanceof ParleyError ? err.code : "internal" });
      }
    }
    return events.map((e) => results.get(e.eventId) ?? { eventId: e.eventId, status: "refused", code: "internal" });
  }

  /**
   * Typing and receipts of users of the origin (a server speaks only for its own users) in rooms
   * this server holds, through the same service calls as a local user's: the room's local members
   * get the pushes, and read markers count remote readers in "seen by N of M". Returns how many
   * were applied; the others (not the origin's user, not a member here) are ignored.
   */
  function receiveEphemeral(origin: string, entries: EphemeralEntry[]): number {
    let applied = 0;
    for (const e of entries) {
      if (typeof e?.userId !== "string" || originOf(e.userId) !== origin || typeof e.roomId !== "string") continue;
      try {
        if (e.kind === "typing" && typeof e.typing === "boolean") deps.messages.typing(e.userId, e.roomId, e.typing);
        else if ((e.kind === "read" || e.kind === "delivered") && Number.isInteger(e.seq)) deps.messages.markReceipt(e.userId, e.roomId, e.seq!, e.kind);
        else continue;
        applied++;
      } catch {
        // Not a member here (or no such room): ignored, as a local user's would be refused.
      }
    }
    return applied;
  }

  return { receive, receiveEphemeral };
}

export type Inbox = ReturnType<typeof createInbox>;
