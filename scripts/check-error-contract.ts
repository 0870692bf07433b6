/**
 * The error contract, checked after the test suite (`npm test`). While tap runs, every server the
 * tests start records each error it answers with (server/error-log.ts, one file per process in
 * the directory PARLEY_ERROR_LOG names). This compares those records with protocol/:
 *
 * - an op or endpoint answered with a code that neither its `x-parley.errors` nor the general
 *   errors of its transport (protocol/frames.json `x-parley.generalErrors`) declare: the document
 *   is wrong, or the server is. A server-to-server endpoint (recorded as `federation/<name>`,
 *   declared in protocol/federation/<name>.json) may also answer the HTTP general codes and the
 *   federation general ones (`generalErrors.federation`: the policy and signature checks every
 *   federation route runs);
 * - a code an op or endpoint declares that no test made it answer with: untested, or impossible;
 * - a general code that no request of any test was answered with (a federation general code:
 *   that no server-to-server request was answered with).
 *
 * A general code may also be declared by an op, to say what it means there; the op must then be
 * seen answering with it like any of its own codes.
 *
 *   node --import tsx scripts/check-error-contract.ts [DIR]     check (DIR defaults to .error-contract)
 *   node --import tsx scripts/check-error-contract.ts --reset   empty DIR before a run
 *
 * The last line is `# error contract: { total: N, pass: P, fail: F }`; .ci/run adds it to tap's
 * totals. Exits 1 when F > 0.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadProtocol, type Protocol } from "../protocol/index.ts";
import type { ErrorRecord } from "../server/error-log.ts";

export const defaultDir = fileURLToPath(new URL("../.error-contract/", import.meta.url));

export interface ContractReport {
  total: number;
  failures: string[];
}

type Seen = ErrorRecord & { source?: string };

/** Reads every record in `dir`. A torn last line (a process killed mid-write) is skipped. */
export function readRecords(dir: string): Seen[] {
  if (!existsSync(dir)) return [];
  const out: Seen[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort()) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as Seen);
      } catch {
        // only a torn line can fail to parse
      }
    }
  }
  return out;
}

/** Compares the recorded answers with the declarations; pure, so that a test can feed it. */
export function checkErrorContract(protocol: Protocol, records: Seen[]): ContractReport {
  const failures: string[] = [];
  let total = 0;
  const declared = new Map<string, Set<string>>();
  for (const [name, doc] of protocol.ops) declared.set(`ws ${name}`, new Set((doc["x-parley"]?.errors ?? []).map((e) => e.code)));
  for (const [name, doc] of protocol.http) declared.set(`http ${name}`, new Set((doc["x-parley"]?.errors ?? []).map((e) => e.code)));
  for (const [name, doc] of protocol.federation) declared.set(`http federation/${name}`, new Set((doc["x-parley"]?.errors ?? []).map((e) => e.code)));
  const general = { ws: new Set(protocol.generalErrors.ws.map((e) => e.code)), http: new Set(protocol.generalErrors.http.map((e) => e.code)) };
  const federationGeneral = new Set(protocol.generalErrors.federation.map((e) => e.code));
  const isFederation = (key: string) => key.startsWith("http federation/");

  // What was answered, per op or endpoint, with the test files that saw it.
  const answered = new Map<string, Map<string, Set<string>>>();
  const generalSeen = { ws: new Set<string>(), http: new Set<string>() };
  const federationGeneralSeen = new Set<string>();
  for (const r of records) {
    const key = r.name !== null && declared.has(`${r.via} ${r.name}`) ? `${r.via} ${r.name}` : `${r.via} (none)`;
    if (!answered.has(key)) answered.set(key, new Map());
    const codes = answered.get(key)!;
    if (!codes.has(r.code)) codes.set(r.code, new Set());
    if (r.source) codes.get(r.code)!.add(r.source);
    if (general[r.via]?.has(r.code)) generalSeen[r.via].add(r.code);
    if (isFederation(key) && federationGeneral.has(r.code)) federationGeneralSeen.add(r.code);
  }

  const label = (key: string) => (key.startsWith("ws ") ? `op ${key.slice(3)}` : key.endsWith("(none)") ? "a request naming no op or endpoint" : `endpoint ${key.slice(5)}`);
  for (const [key, codes] of [...answered].sort(([a], [b]) => a.localeCompare(b))) {
    const via = key.startsWith("ws ") ? "ws" : "http";
    for (const [code, sources] of [...codes].sort(([a], [b]) => a.localeCompare(b))) {
      total++;
      if (declared.get(key)?.has(code) || general[via].has(code) || (isFederation(key) && federationGeneral.has(code))) continue;
      failures.push(`${label(key)} answered ${code}, which it does not declare (seen in ${[...sources].sort().join(", ") || "an unnamed process"})`);
    }
  }
  for (const [key, codes] of [...declared].sort(([a], [b]) => a.localeCompare(b))) {
    for (const code of [...codes].sort()) {
      total++;
      if (!answered.get(key)?.has(code)) failures.push(`${label(key)} declares ${code}, but no test made it answer with it`);
    }
  }
  for (const via of ["ws", "http"] as const) {
    for (const code of [...general[via]].sort()) {
      total++;
      if (!generalSeen[via].has(code)) failures.push(`the general ${via === "ws" ? "WebSocket" : "HTTP"} error ${code} was never answered in any test`);
    }
  }
  for (const code of [...federationGeneral].sort()) {
    total++;
    if (!federationGeneralSeen.has(code)) failures.push(`the general federation error ${code} was never answered by a federation endpoint in any test`);
  }
  return { total, failures };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (args[0] === "--reset") {
    const dir = args[1] ?? defaultDir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  } else {
    const dir = args[0] ?? defaultDir;
    const records = readRecords(dir);
    let report: ContractReport;
    if (records.length === 0) {
      report = { total: 1, failures: [`no error was recorded in ${dir}: run the tests with PARLEY_ERROR_LOG=${dir} (npm test does)`] };
    } else {
      report = checkErrorContract(loadProtocol(), records);
    }
    for (const f of report.failures) console.log(`not ok - error contract: ${f}`);
    console.log(`# error contract: ${records.length} error answers recorded; every op's and endpoint's codes against protocol/`);
    console.log(`# error contract: { total: ${report.total}, pass: ${report.total - report.failures.length}, fail: ${report.failures.length} }`);
    process.exitCode = report.failures.length ? 1 : 0;
  }
}
