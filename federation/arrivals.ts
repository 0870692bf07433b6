/**
 * This server's copy of an event sequenced elsewhere. The home's answer to a local user's op in
 * a room hosted there carries the home's event, whose `pos` is the home's stream position; the
 * user's client resumes its sync stream from positions of this server. So the op's reply waits
 * for this server's copy (replication brings it, usually within milliseconds of the answer, often
 * before it) and carries that copy's `pos`, and the push of the event comes before the reply, as
 * in a room hosted here.
 *
 * Whether the copy is here is first asked of the room's state in memory: a replica that holds
 * the room only up to a seq before the event's has not received it, and the reply waits without
 * asking SQLite (the usual case: the answer comes before the `send` that carries the event).
 */
import type { Storage } from "../server/storage/database.ts";
import type { Committed } from "../server/rooms/core.ts";

/** How long a reply waits for the replicated event before it goes without it. */
export const arrivalWaitMs = 5_000;

/**
 * `head`: this server's stream position now, as the sync stream gives it (server/rooms/sync.ts);
 * `heldSeq`: the last seq of a room this server holds (0 for a room it does not hold).
 */
export function createArrivals(storage: Storage, head: () => number, heldSeq: (roomId: string) => number, waitMs = arrivalWaitMs) {
  const posOf = storage.sqlite.prepare("SELECT pos FROM room_events WHERE event_id = ?").pluck();
  /** eventId -> the replies waiting for it. */
  const waiting = new Map<string, Set<(pos: number) => void>>();

  return {
    /** The publish subscriber: resolves the waits for what was just committed. */
    onBatch(batch: readonly Committed[]): void {
      if (!waiting.size) return;
      for (const { event } of batch) {
        const w = waiting.get(event.eventId);
        if (!w) continue;
        waiting.delete(event.eventId);
        for (const resolve of w) resolve(event.pos);
      }
    },
    /** The position this server gave the event, if it holds it now. */
    held(eventId: string): number | undefined {
      return posOf.get(eventId) as number | undefined;
    },
    /** The position this server gave the event (of `roomId`, at `seq` there) once it holds it; null after `waitMs`. */
    pos(eventId: string, roomId: string, seq: number): Promise<number | null> {
      if (heldSeq(roomId) >= seq) {
        const now = posOf.get(eventId) as number | undefined;
        if (now !== undefined) return Promise.resolve(now);
      }
      return new Promise((resolve) => {
        let set = waiting.get(eventId);
        if (!set) waiting.set(eventId, (set = new Set()));
        const waiters = set;
        const done = (pos: number) => {
          clearTimeout(timer);
          resolve(pos);
        };
        const timer = setTimeout(() => {
          waiters.delete(done);
          if (!waiters.size) waiting.delete(eventId);
          resolve(null);
        }, waitMs);
        timer.unref();
        waiters.add(done);
      });
    },
    /** This server's stream position now (the last event it stored, in any room). */
    head,
  };
}

export type Arrivals = ReturnType<typeof createArrivals>;
