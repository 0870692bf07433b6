/**
 * The summary of bench/federation.sh's session: reads a1-base-raw.jsonl, a1-head-raw.jsonl,
 * f1.jsonl, f2.jsonl and f3.jsonl (and, with STEADY=1, a1-steady-raw.jsonl and f1-steady.jsonl)
 * from --dir (missing files count as no runs) and writes Markdown (bench/lib/federation-report.ts),
 * with the session's env.txt at the end, to --md and to stdout.
 *
 *   node --import tsx bench/federation-summary.ts --dir /tmp/parley-federation/<run> [--md summary.md]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { renderSummary } from "./lib/federation-report.ts";

const { values } = parseArgs({ options: { dir: { type: "string" }, md: { type: "string" } } });
if (!values.dir) throw new Error("--dir is required");
const read = (name: string) => {
  const f = join(values.dir!, name);
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
};
const env = join(values.dir, "env.txt");
const session = existsSync(env) ? `\n## Session\n\n\`\`\`\n${readFileSync(env, "utf8").trim()}\n\`\`\`\n` : "";
const md =
  renderSummary({
    a1Base: read("a1-base-raw.jsonl"),
    a1Head: read("a1-head-raw.jsonl"),
    f1: read("f1.jsonl"),
    f2: read("f2.jsonl"),
    f3: read("f3.jsonl"),
    a1Steady: read("a1-steady-raw.jsonl"),
    f1Steady: read("f1-steady.jsonl"),
  }) + session;
if (values.md) writeFileSync(values.md, md);
process.stdout.write(md);
