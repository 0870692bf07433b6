/**
 * The publish step: committed batches leave the room core through one publisher that the
 * WebSocket fan-out, the reminder scheduler and the federation outbox subscribe to.
 */
import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { openStorage } from "../server/storage/database.ts";
import { createRoomStore } from "../server/rooms/store.ts";
import { createRoomCore, type Committed } from "../server/rooms/core.ts";
import { createLogger } from "../server/logger.ts";
import { createPublisher, fanOutToSockets } from "../server/core/publish.ts";
import { defaultGroupSettings } from "../server/rooms/types.ts";
import type { Hub } from "../server/ws/transport.ts";
import { startServer } from "./helpers.ts";

const alice = "@alice:school.test";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

function openCore(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), "parley-publish-"));
  const storage = openStorage(dir);
  t.teardown(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("info", new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const core = createRoomCore({
    store: createRoomStore(storage),
    serverName: "school.test",
    log,
    limits: { groupsPerCommunity: 10, membersPerGroup: 10, membersPerCommunity: 10, adminsPerCommunity: 3, messageChars: 100, deleteWindowMs: 1000 },
  });
  return { core, log, lines };
}

t.test("every subscriber receives each committed batch in order, even after one of them throws", async (t) => {
  const { core, log, lines } = openCore(t);
  const publisher = createPublisher(core, log);
  const seen: string[] = [];
  publisher.subscribe("first", (batch) => seen.push(`first:${batch.map((c) => c.event.type).join(",")}`));
  publisher.subscribe("broken", () => {
    throw new Error("boom");
  });
  publisher.subscribe("last", (batch) => seen.push(`last:${batch.length}`));
  await core.transact((tx) => tx.createRoom({ kind: "group", name: "Maths", settings: { ...defaultGroupSettings }, creator: alice }));
  t.same(seen, ["first:room.create,member.join", "last:2"]);
  t.same(publisher.names(), ["first", "broken", "last"]);
  t.ok(lines.some((l) => l.subscriber === "broken" && l.msg === "publish subscriber failed"), "the failure is logged with the subscriber's name");
});

t.test("the WebSocket fan-out sends the core's pre-serialized frame to the room's members", async (t) => {
  const { core, log } = openCore(t);
  const publisher = createPublisher(core, log);
  const sent: { users: string[]; frame: Buffer | string }[] = [];
  const hub = {
    sendToUsers: (users: Iterable<string>, frame: Buffer | string) => sent.push({ users: [...users], frame }),
    sendToMembers: (members: { keys(): Iterable<string> }, frame: Buffer | string) => sent.push({ users: [...members.keys()], frame }),
    connectionsOf: () => undefined,
  } as unknown as Hub;
  let batch: readonly Committed[] = [];
  publisher.subscribe("capture", (b) => (batch = b));
  publisher.subscribe("websocket", fanOutToSockets(hub, core));
  await core.transact((tx) => tx.createRoom({ kind: "group", name: "Maths", settings: { ...defaultGroupSettings }, creator: alice }));
  t.equal(sent.length, 2);
  t.equal(sent[0].frame, batch[0].frame, "the very bytes the core serialized, not a copy");
  t.same(sent.map((s) => s.users), [[alice], [alice]]);
});

t.test("a server subscribes its reminders and its WebSocket fan-out to the publisher", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  t.same(server.app.parley.publisher.names().slice(0, 2), ["reminders", "websocket"]);
});
