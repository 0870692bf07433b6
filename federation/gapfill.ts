/**
 * Gap fill. A `send` batch whose run for a room begins past the replica's next seq is refused with
 * `federation.gap` (the inbox): the home's cursor for this server is ahead of what this server
 * holds, as after this server was restored from a backup. Waiting would not help: the home sends
 * from its cursor, again and again. So this server asks the home for the range it misses
 * (`backfill` as the server itself, no `requester`: a replica holds the whole log after its floor),
 * runs each page through the inbox exactly as a `send` batch from the home (checkpoint, hashes,
 * chain, content: nothing is trusted because it was asked for), and, the gap closed, sends the home
 * `wake`, so that it sends the rest at once instead of after its backoff.
 */
import type { Logger } from "../server/logger.ts";
import type { RoomCore } from "../server/rooms/core.ts";
import type { Checkpoint } from "./events.ts";
import type { Inbox } from "./inbox.ts";
import type { WireEvent } from "./outbox.ts";
import type { Federation } from "./service.ts";

/** Events per backfill page (the home answers at most 500). */
const page = 500;

export function createGapFill(deps: { federation: Federation; inbox: Inbox; rooms: RoomCore; log: Logger }) {
  const { federation, inbox, rooms, log } = deps;
  /** Rooms being filled: one fill per room at a time (the home resends while one runs). */
  const filling = new Set<string>();

  /** Fetches and stores the events of `roomId` after the replica's last one, up to the home's head. */
  async function fill(home: string, roomId: string): Promise<void> {
    if (filling.has(roomId)) return;
    filling.add(roomId);
    try {
      for (;;) {
        const held = rooms.state(roomId)?.seq;
        if (held === undefined) return; // no replica to extend: a snapshot begins one, not a gap fill
        const res = await federation.request(home, "POST", "/backfill", { roomId, from: held + 1, to: held + page });
        if (res.status !== 200) {
          log.warn({ peer: home, room: roomId, status: res.status }, "gap fill: the home refused the range");
          return;
        }
        const { events, checkpoint } = res.body as { events: WireEvent[]; checkpoint: Checkpoint | null };
        if (!events.length || !checkpoint) break;
        const results = await inbox.receive(home, events, [checkpoint]);
        const refused = results.find((r) => r.status === "refused");
        if (refused) {
          log.warn({ peer: home, room: roomId, code: refused.code }, "gap fill: a backfilled event was refused");
          return;
        }
        if (events.length < page) break;
      }
      log.info({ peer: home, room: roomId, seq: rooms.state(roomId)?.seq }, "gap filled");
      await federation.request(home, "POST", "/wake", {});
    } catch (err) {
      log.info({ peer: home, room: roomId, err: (err as Error).message }, "gap fill: the home is unreachable; its next send retries it");
    } finally {
      filling.delete(roomId);
    }
  }

  return {
    fill,
    /** After a `send` batch: fills the rooms whose runs were refused for a gap (in the background). */
    afterBatch(home: string, events: WireEvent[], results: { eventId: string; status: string; code?: string }[]): void {
      const gapped = new Set(results.filter((r) => r.code === "federation.gap").map((r) => r.eventId));
      if (!gapped.size) return;
      const roomIds = new Set(events.filter((e) => gapped.has(e.eventId)).map((e) => e.roomId));
      for (const roomId of roomIds) void fill(home, roomId);
    },
    /** Resolves when no fill runs (tests, shutdown). */
    get busy(): boolean {
      return filling.size > 0;
    },
  };
}

export type GapFill = ReturnType<typeof createGapFill>;
