/**
 * config.example.toml is the operator's documentation of every configuration key: it must parse,
 * be accepted as it stands, show each key of the schema (and nothing else) at its default, and
 * say what each key does.
 */
import t from "tap";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { configSchema } from "../server/config/schema.ts";
import { loadConfig, resolveConfig } from "../server/config/load.ts";

const examplePath = fileURLToPath(new URL("../config.example.toml", import.meta.url));
const text = readFileSync(examplePath, "utf8");

/**
 * Keys whose value in the example deliberately differs from the schema's default, each with the
 * reason; the example's comments must say so too. None today.
 */
const documentedExceptions: Record<string, string> = {};

type Node = { properties?: Record<string, Node>; default?: unknown };

/** "section.key" -> default, for every leaf of the schema. */
function schemaDefaults(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [section, node] of Object.entries((configSchema as unknown as Node).properties!)) {
    for (const [key, leaf] of Object.entries(node.properties ?? {})) out.set(`${section}.${key}`, leaf.default);
  }
  return out;
}

/** "section.key" -> value, for every leaf of the parsed example. */
function exampleValues(parsed: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [section, values] of Object.entries(parsed)) {
    if (values && typeof values === "object" && !Array.isArray(values)) {
      for (const [key, value] of Object.entries(values)) out.set(`${section}.${key}`, value);
    } else {
      out.set(section, values);
    }
  }
  return out;
}

t.test("the example configuration parses and is accepted as it stands", async (t) => {
  const parsed = parseToml(text) as Record<string, unknown>;
  t.doesNotThrow(() => resolveConfig(parsed, "config.example.toml"));
  // The same path an operator takes: --config with no environment overrides.
  const loaded = loadConfig({ path: examplePath, env: {} });
  t.same(loaded, resolveConfig({}), "it means exactly the defaults");
});

t.test("every key of the schema appears in the example, and nothing else", async (t) => {
  const defaults = schemaDefaults();
  const values = exampleValues(parseToml(text) as Record<string, unknown>);
  t.same([...values.keys()].sort(), [...defaults.keys()].sort());
});

t.test("every value in the example is the schema's default, except where documented", async (t) => {
  const defaults = schemaDefaults();
  for (const [key, value] of exampleValues(parseToml(text) as Record<string, unknown>)) {
    if (key in documentedExceptions) continue;
    t.same(value, defaults.get(key), `${key} = ${JSON.stringify(value)}`);
  }
});

t.test("every key in the example has a comment saying what it does", async (t) => {
  const lines = text.split("\n");
  let keys = 0;
  lines.forEach((line, i) => {
    const m = /^([a-z_]+)\s*=/.exec(line);
    if (!m) return;
    keys++;
    // The comment is right above, or above a run of related keys that share it.
    let j = i - 1;
    while (j >= 0 && /^[a-z_]+\s*=/.test(lines[j])) j--;
    t.ok(j >= 0 && lines[j].startsWith("#"), `${m[1]} (line ${i + 1}) has a comment above it`);
  });
  t.equal(keys, schemaDefaults().size, "one line per key");
});
