/**
 * The protocol registry: loads every JSON Schema in this folder into one Ajv instance. The server
 * validates with it, scripts/generate.ts derives the SDK's types and the reference part of
 * docs/protocol.md from it, and test/protocol.test.ts checks every example against it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

export const schemaBase = "https://parley.chat/schema/";
export const protocolDir = dirname(fileURLToPath(import.meta.url));

export type SchemaKind = "op" | "push" | "http" | "event" | "federation";

export interface ParleyAnnotation {
  kind: SchemaKind;
  auth?: boolean;
  errors?: string[];
  method?: string;
  path?: string;
  status?: number;
}

export interface SchemaDoc {
  $id: string;
  title: string;
  description: string;
  "x-parley"?: ParleyAnnotation;
  $defs?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

export interface Protocol {
  ajv: Ajv;
  /** Every schema document, keyed by its path below protocol/ without ".json" (e.g. "ops/ping"). */
  docs: Map<string, SchemaDoc>;
  ops: Map<string, SchemaDoc>;
  pushes: Map<string, SchemaDoc>;
  http: Map<string, SchemaDoc>;
  /** Room event types: the schema of each type's `content`. */
  events: Map<string, SchemaDoc>;
  federation: Map<string, SchemaDoc>;
  /** A compiled validator for a schema reference such as "op/ping#/$defs/params". */
  validator(ref: string): ValidateFunction;
}

function listJson(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...listJson(join(dir, entry.name), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith(".json")) out.push(`${prefix}${entry.name}`);
  }
  return out.sort();
}

/** A fresh Ajv with Parley's vocabulary, so that strict mode accepts our annotations. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: false, coerceTypes: false, useDefaults: false });
  addFormats.default(ajv);
  ajv.addVocabulary(["x-parley"]);
  return ajv;
}

let cached: Protocol | undefined;

/** Loads (once per process) and returns the protocol registry. */
export function loadProtocol(): Protocol {
  if (cached) return cached;
  const ajv = createAjv();
  const docs = new Map<string, SchemaDoc>();
  const byKind: Record<SchemaKind, Map<string, SchemaDoc>> = {
    op: new Map(),
    push: new Map(),
    http: new Map(),
    event: new Map(),
    federation: new Map(),
  };
  for (const file of listJson(protocolDir)) {
    const doc = JSON.parse(readFileSync(join(protocolDir, file), "utf8")) as SchemaDoc;
    ajv.addSchema(doc);
    docs.set(file.replace(/\.json$/, ""), doc);
    const kind = doc["x-parley"]?.kind;
    if (kind) byKind[kind].set(doc.title, doc);
  }
  const validators = new Map<string, ValidateFunction>();
  cached = {
    ajv,
    docs,
    ops: byKind.op,
    pushes: byKind.push,
    http: byKind.http,
    events: byKind.event,
    federation: byKind.federation,
    validator(ref: string) {
      let v = validators.get(ref);
      if (!v) {
        const full = ref.startsWith("https://") ? ref : schemaBase + ref;
        const found = ajv.getSchema(full);
        if (!found) throw new Error(`no schema at ${full}`);
        v = found;
        validators.set(ref, v);
      }
      return v;
    },
  };
  return cached;
}
