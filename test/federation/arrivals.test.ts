/**
 * federation/arrivals.ts on its own: where a reply to an op in a room hosted elsewhere finds this
 * server's copy of the event. The log is a stand-in that counts its lookups; the end-to-end
 * behaviour (the push before the reply, this server's pos in it) is in test/local-echo.test.ts.
 */
import t from "tap";
import { createArrivals } from "../../federation/arrivals.ts";
import type { Storage } from "../../server/storage/database.ts";
import type { Committed } from "../../server/rooms/core.ts";

function setup(waitMs = 5_000) {
  const stored = new Map<string, number>();
  const held = new Map<string, number>();
  let lookups = 0;
  const storage = {
    sqlite: {
      prepare: () => ({
        pluck: () => ({
          get: (eventId: string) => {
            lookups++;
            return stored.get(eventId);
          },
        }),
      }),
    },
  } as unknown as Storage;
  const arrivals = createArrivals(storage, () => 99, (roomId) => held.get(roomId) ?? 0, waitMs);
  /** The event committed here (as the inbox's commit publishes it). */
  const arrive = (eventId: string, roomId: string, seq: number, pos: number) => {
    stored.set(eventId, pos);
    held.set(roomId, seq);
    arrivals.onBatch([{ event: { eventId, roomId, seq, pos } } as unknown as Committed]);
  };
  return { arrivals, arrive, lookups: () => lookups };
}

t.test("an event the room's copy here does not reach yet is waited for without asking the log, and resolves when it is committed", async (t) => {
  const { arrivals, arrive, lookups } = setup();
  const waiting = arrivals.pos("$e5", "!r:a.test", 5);
  t.equal(lookups(), 0, "the copy holds the room up to seq 0: nothing to look up");
  arrive("$e5", "!r:a.test", 5, 41);
  t.equal(await waiting, 41, "this server's pos of its copy");
});

t.test("an event the copy already holds is looked up in the log and answered at once", async (t) => {
  const { arrivals, arrive, lookups } = setup();
  arrive("$e7", "!r:a.test", 7, 12);
  arrive("$e8", "!r:a.test", 8, 13);
  t.equal(await arrivals.pos("$e7", "!r:a.test", 7), 12);
  t.equal(lookups(), 1);
});

t.test("a copy past the event's seq that lacks it (a replica begun later) waits, and after the bound the reply goes without it", async (t) => {
  const { arrivals, arrive, lookups } = setup(30);
  arrive("$e9", "!r:a.test", 9, 20);
  // The wait's timer does not hold a process open (unref): this test does, meanwhile.
  const alive = setTimeout(() => undefined, 5_000);
  t.teardown(() => clearTimeout(alive));
  t.equal(await arrivals.pos("$e3", "!r:a.test", 3), null, "null after the wait: the caller replies with its stream position");
  t.equal(lookups(), 1);
});

t.test("two replies waiting for one event are both answered", async (t) => {
  const { arrivals, arrive } = setup();
  const one = arrivals.pos("$e2", "!r:a.test", 2);
  const two = arrivals.pos("$e2", "!r:a.test", 2);
  arrive("$e2", "!r:a.test", 2, 7);
  t.same(await Promise.all([one, two]), [7, 7]);
});
