/**
 * The search benchmark: one million messages in 1,000 rooms, written through the room store's own
 * insertEvent + insertMessage (the projection step's code, which also feeds the FTS5 index) in
 * large transactions for speed, then message search (the search area's own queries) timed for
 * common and rare words, Latin and Chinese, for a member of 50 rooms and a member of all 1,000;
 * and the cost per message of indexing, measured by writing the same messages with and without
 * the index.
 *
 *   node --import tsx bench/search.ts [--messages 1000000] [--rooms 1000] [--runs 40] [--dir DIR] [--keep]
 *
 * Prints a Markdown summary (the figures in docs/benchmarks.md). The data directory is removed
 * at the end unless --keep (or --dir with an existing database, which is then reused).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStorage, type Storage } from "../server/storage/database.ts";
import { createRoomStore } from "../server/rooms/store.ts";
import { createSearchQueries } from "../server/search/queries.ts";
import { fallbackWindow, markMatches, parseQuery } from "../server/search/service.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    rooms: { type: "string", default: "1000" },
    runs: { type: "string", default: "40" },
    "index-sample": { type: "string", default: "100000" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const totalMessages = Number(args.messages);
const roomCount = Number(args.rooms);
const runs = Number(args.runs);
const indexSample = Number(args["index-sample"]);

// A deterministic generator, so that every run writes the same text.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];

// Latin vocabulary: 5,000 made-up words, drawn with a Zipf-like skew (a few are common, most rare).
const syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "pel", "dun", "sar", "qui", "bex", "tor", "nal", "fi", "gra", "zu", "hom", "wey"];
const latin = Array.from({ length: 5000 }, (_, i) => {
  let w = "";
  let n = i + 7;
  do {
    w += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length);
  } while (n > 0);
  return w;
});
// Chinese: 600 common characters; words of 2 to 4 characters made from them.
const hanzi = [..."的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴级板案具哪群阿注试球错"];
const chineseWord = () => Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick(hanzi)).join("");
const zipf = (n: number) => Math.floor(n * Math.pow(random(), 3));

function makeBody(): string {
  if (random() < 0.3) {
    // Three messages in ten are Chinese: 3 to 6 words without spaces, as written.
    return Array.from({ length: 3 + Math.floor(random() * 4) }, chineseWord).join("") + (random() < 0.1 ? "博物馆参观" : "");
  }
  return Array.from({ length: 5 + Math.floor(random() * 8) }, () => latin[zipf(latin.length)]).join(" ");
}

function roomOf(i: number): string {
  return `!room${i % roomCount}:bench.test`;
}

/**
 * Writes `count` messages round-robin over the rooms through the store, `batch` per transaction;
 * returns the wall time and the process's CPU time (user + system), in ms. On a shared machine
 * the CPU time is the steadier measure of cost: it does not count the time other processes had
 * the cores.
 */
function fill(storage: Storage, count: number, batch = 20000): { wall: number; cpu: number } {
  const store = createRoomStore(storage);
  const seqs = new Map<string, number>();
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let done = 0; done < count; ) {
    const n = Math.min(batch, count - done);
    store.transaction(() => {
      for (let k = 0; k < n; k++, done++) {
        const roomId = roomOf(done);
        const seq = (seqs.get(roomId) ?? 0) + 1;
        seqs.set(roomId, seq);
        const base = { roomId, seq, eventId: `$b${done}`, type: "message" as const, sender: `@user${done % 997}:bench.test`, ts: 1_795_000_000_000 + done, content: { kind: "text", body: makeBody() } };
        store.insertMessage({ ...base, pos: store.insertEvent(base, null, false, null) });
      }
    });
    // The index is written behind the log, in batches of its own: as the server does past
    // 5,000 waiting messages, here after each transaction.
    store.indexSearch();
    if (count >= 200_000 && done % 200_000 === 0) process.stderr.write(`  ${done} messages\n`);
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: Number(process.hrtime.bigint() - started) / 1e6, cpu: (cpu.user + cpu.system) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function main(): void {
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), "parley-search-bench-"));
  const reuse = args.dir !== undefined && existsSync(join(dir, "parley.db"));
  const storage = openStorage(dir);
  const db = storage.sqlite;
  const out: string[] = [];
  out.push(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}, SQLite ${(db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v}`);

  if (!reuse) {
    process.stderr.write(`writing ${totalMessages} messages in ${roomCount} rooms...\n`);
    const { wall: ms, cpu } = fill(storage, totalMessages);
    out.push(`setup: ${totalMessages.toLocaleString("en")} messages in ${roomCount.toLocaleString("en")} rooms written in ${(ms / 1000).toFixed(1)} s (${((ms * 1000) / totalMessages).toFixed(1)} µs per message wall, ${((cpu * 1000) / totalMessages).toFixed(1)} µs CPU, index included)`);
    // Members: user0 in 50 rooms (every 20th), user1 in all of them; their spans start at pos 0.
    const store = createRoomStore(storage);
    store.transaction(() => {
      for (let r = 0; r < roomCount; r++) {
        if (r % 20 === 0) store.addMember(`!room${r}:bench.test`, "@user0:bench.test", "member", 0, 0);
        store.addMember(`!room${r}:bench.test`, "@user1:bench.test", "member", 0, 0);
      }
    });
    db.pragma("wal_checkpoint(TRUNCATE)");
  }
  out.push(`database: ${(statSync(join(dir, "parley.db")).size / 2 ** 20).toFixed(0)} MiB`);

  // Words by frequency: common ones are among the first of the Zipf draw, rare ones at its tail.
  const frequency = db.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?");
  const count = (w: string) => (frequency.get(`"${w}"`) as { n: number }).n;
  const commonLatin = latin.slice(0, 200).filter((w) => w.length >= 3).slice(0, 10);
  const rareLatin = latin.slice(4000, 5000).filter((w) => w.length >= 3).slice(0, 10);
  const commonChinese = ["博物馆参观"];
  // Rare Chinese: three-character strings of common characters that occur a handful of times.
  const rareChinese: string[] = [];
  seed = 7;
  for (let tries = 0; rareChinese.length < 10 && tries < 2000; tries++) {
    const w = pick(hanzi) + pick(hanzi) + pick(hanzi);
    const n = count(w);
    if (n >= 1 && n <= 50) rareChinese.push(w);
  }
  // Two-character words that occur: taken from Chinese messages of a room both searchers are in.
  const shortChinese = (db.prepare("SELECT body FROM messages WHERE room_id = '!room0:bench.test' ORDER BY seq DESC LIMIT 400").all() as { body: string }[])
    .map((r) => r.body)
    .filter((b) => /^[\u4e00-\u9fff]/.test(b))
    .slice(0, 10)
    .map((b) => b.slice(3, 5));

  const queries = createSearchQueries(storage);
  const classes: [string, string[]][] = [
    ["common Latin word", commonLatin],
    ["rare Latin word", rareLatin],
    ["common Chinese (5 characters)", commonChinese],
    ["rare Chinese (3 characters)", rareChinese],
    ["two common Latin words", commonLatin.slice(0, 5).map((w, i) => `${w} ${commonLatin[i + 5]}`)],
    ["two-character Chinese (fallback scan)", shortChinese],
  ];
  out.push("");
  out.push("| query | messages holding it (mean) | member of | p50 ms | p95 ms | CPU ms p50 / p95 | results per page |");
  out.push("|---|---|---|---|---|---|---|");
  for (const [label, words] of classes) {
    const holding = words.map((q) => (q.split(" ").length === 1 && [...q].length >= 3 ? count(q) : NaN));
    const meanHolding = holding.every(Number.isNaN) ? "–" : Math.round(holding.filter((n) => !Number.isNaN(n)).reduce((a, b) => a + b, 0) / holding.filter((n) => !Number.isNaN(n)).length).toLocaleString("en");
    for (const [user, rooms] of [["@user0:bench.test", Math.ceil(roomCount / 20)], ["@user1:bench.test", roomCount]] as const) {
      const times: number[] = [];
      const cpuTimes: number[] = [];
      let results = 0;
      for (let r = 0; r < runs; r++) {
        const q = words[r % words.length];
        const { long, short } = parseQuery(q);
        const t0 = process.hrtime.bigint();
        const c0 = process.cpuUsage();
        // As the service does: a search of short words only scans a window of positions.
        const before = queries.head() + 1;
        const hits = queries.messages({ userId: user, long, short, before, floor: long.length ? undefined : Math.max(0, before - fallbackWindow), limit: 21 });
        for (const h of hits) markMatches(h.body, [...long, ...short]);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const c = process.cpuUsage(c0);
        cpuTimes.push((c.user + c.system) / 1000);
        results += Math.min(hits.length, 20);
      }
      times.sort((a, b) => a - b);
      cpuTimes.sort((a, b) => a - b);
      out.push(`| ${label} | ${meanHolding} | ${rooms} rooms | ${percentile(times, 50).toFixed(2)} | ${percentile(times, 95).toFixed(2)} | ${percentile(cpuTimes, 50).toFixed(2)} / ${percentile(cpuTimes, 95).toFixed(2)} | ${(results / runs).toFixed(1)} |`);
    }
  }
  storage.close();
  if (!args.keep && args.dir === undefined) rmSync(dir, { recursive: true, force: true });

  // Indexing cost: the same messages written with the index and with a plain table in its place
  // (same statements, no tokenizing), alternated three times each.
  const withIndex: number[] = [];
  const without: number[] = [];
  const withIndexCpu: number[] = [];
  const withoutCpu: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    for (const indexed of [true, false]) {
      const d = mkdtempSync(join(tmpdir(), "parley-index-bench-"));
      const s = openStorage(d);
      if (!indexed) s.sqlite.exec("DROP TABLE messages_fts; CREATE TABLE messages_fts (rowid INTEGER PRIMARY KEY, body TEXT)");
      seed = 42;
      const { wall, cpu } = fill(s, indexSample, 1000);
      (indexed ? withIndex : without).push((wall * 1000) / indexSample);
      (indexed ? withIndexCpu : withoutCpu).push((cpu * 1000) / indexSample);
      s.close();
      rmSync(d, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
  out.push("");
  out.push(`indexing: ${indexSample.toLocaleString("en")} messages in transactions of 1,000, three runs each: ${median(withIndex).toFixed(1)} µs per message with the index [${withIndex.map((x) => x.toFixed(1)).join(", ")}], ${median(without).toFixed(1)} µs without [${without.map((x) => x.toFixed(1)).join(", ")}]: the index costs ${(median(withIndex) - median(without)).toFixed(1)} µs per message`);
  out.push(`indexing, CPU time: ${median(withIndexCpu).toFixed(1)} µs per message with the index [${withIndexCpu.map((x) => x.toFixed(1)).join(", ")}], ${median(withoutCpu).toFixed(1)} µs without [${withoutCpu.map((x) => x.toFixed(1)).join(", ")}]: the index costs ${(median(withIndexCpu) - median(withoutCpu)).toFixed(1)} µs of CPU per message`);
  console.log(out.join("\n"));
}

main();
