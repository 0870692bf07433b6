/**
 * The search index's cost on the send path, without the network: messages appended through the
 * room core itself (`core.transact` + `tx.append`, group commit, projection, the checkpointer
 * thread) into one group, `--per-turn` commands per event-loop turn, with the FTS5 index and with
 * a plain table in its place (either written in the store's batches behind the log, the last one
 * included); prints the process's CPU time per message for each, alternated.
 *
 *   node --import tsx bench/index-cost.ts [--messages 10000] [--per-turn 10,50] [--rounds 2]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStorage } from "../server/storage/database.ts";
import { createRoomStore } from "../server/rooms/store.ts";
import { createRoomCore } from "../server/rooms/core.ts";
import { defaultGroupSettings } from "../server/rooms/types.ts";
import type { Logger } from "../server/logger.ts";

const { values: args } = parseArgs({
  options: { messages: { type: "string", default: "10000" }, "per-turn": { type: "string", default: "10,50" }, rounds: { type: "string", default: "2" } },
});

const silent = { error() {}, warn() {}, info() {}, debug() {}, child() { return silent; } } as unknown as Logger;

async function cpuPerMessage(indexed: boolean, perTurn: number, n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "parley-index-cost-"));
  const storage = openStorage(dir, { backgroundCheckpoints: { onError: () => {} } });
  if (!indexed) storage.sqlite.exec("DROP TABLE messages_fts; CREATE TABLE messages_fts (rowid INTEGER PRIMARY KEY, body TEXT)");
  const store = createRoomStore(storage);
  const core = createRoomCore({
    store,
    serverName: "bench.test",
    log: silent,
    limits: { groupsPerCommunity: 10, membersPerGroup: 1000, membersPerCommunity: 1000, adminsPerCommunity: 10, messageChars: 4096, deleteWindowMs: 1000 },
  });
  const room = await core.transact((tx) => tx.createRoom({ kind: "group", name: "bench", settings: { ...defaultGroupSettings }, creator: "@user0:bench.test" }).id);
  const started = process.cpuUsage();
  for (let sent = 0; sent < n; ) {
    const turn: Promise<unknown>[] = [];
    for (let i = 0; i < perTurn; i++, sent++) {
      const id = sent;
      const body = `message ${id} from user${id % 10}, about the school trip on Friday`;
      turn.push(core.transact((tx) => tx.append({ roomId: room, type: "message", sender: "@user0:bench.test", content: { kind: "text", body }, txnId: `t${id}` })));
    }
    await Promise.all(turn);
  }
  // The index is written behind the log in batches (RoomStore.indexSearch): the last one counts too.
  store.indexSearch();
  const used = process.cpuUsage(started);
  core.close();
  storage.close();
  rmSync(dir, { recursive: true, force: true });
  return (used.user + used.system) / n;
}

for (const perTurn of args["per-turn"].split(",").map(Number)) {
  const withIndex: number[] = [];
  const without: number[] = [];
  for (let r = 0; r < Number(args.rounds); r++) {
    withIndex.push(await cpuPerMessage(true, perTurn, Number(args.messages)));
    without.push(await cpuPerMessage(false, perTurn, Number(args.messages)));
  }
  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
  console.log(`${perTurn} per turn: CPU µs per message with the index [${f(withIndex)}], without [${f(without)}]`);
}
