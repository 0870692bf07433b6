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

/**
 * One refusal an op or endpoint can answer with: the code (from the error catalogue,
 * server/errors.ts) and when, in the client's terms. `x-parley.errors` is a list of these;
 * test/error-contract.test.ts and scripts/check-error-contract.ts hold the server to it.
 */
export interface ErrorDecl {
  code: string;
  when: string;
}

/** The codes any request can get, declared once (protocol/frames.json `x-parley.generalErrors`). */
export interface GeneralErrors {
  /** Any WebSocket request, whatever its op. */
  ws: ErrorDecl[];
  /** Any HTTP request, whatever its endpoint. */
  http: ErrorDecl[];
  /**
   * Any server-to-server request (protocol/federation/), besides the HTTP ones: the refusals of
   * the checks every federation route runs before its handler (policy, RFC 9421 signature).
   */
  federation: ErrorDecl[];
}

export interface ParleyAnnotation {
  /** What the document describes; only frames.json, which holds the general errors, has none. */
  kind?: SchemaKind;
  auth?: boolean;
  errors?: ErrorDecl[];
  generalErrors?: GeneralErrors;
  method?: string;
  /** An HTTP endpoint whose request body is not JSON (an upload): what to send, in words. */
  body?: string;
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
  /** The codes any request can get, from protocol/frames.json. */
  generalErrors: GeneralErrors;
  /** A compiled validator for a schema reference such as "op/ping#/$defs/params". */
  validator(ref: string): ValidateFunction;
}

/**
 * Checks the shape of a document's error declarations, so that a mistake stops every user of the
 * protocol at once with a message that says what to write (a plain code string is the old format:
 * each entry now says when it happens).
 */
export function checkErrorDecls(file: string, where: string, list: unknown): ErrorDecl[] {
  if (!Array.isArray(list)) throw new Error(`protocol/${file}.json: ${where} must be a list of { "code", "when" } objects`);
  const seen = new Set<string>();
  list.forEach((entry, i) => {
    if (typeof entry === "string") {
      throw new Error(
        `protocol/${file}.json: ${where}[${i}] is the plain string "${entry}"; each entry must be an object ` +
          `{ "code": "${entry}", "when": "<when the server answers with it, in the client's terms>" } ` +
          `(node --import tsx scripts/errors-format.ts converts plain strings, with a default "when" to edit)`,
      );
    }
    const e = entry as Partial<ErrorDecl> | null;
    const keys = e && typeof e === "object" ? Object.keys(e).sort().join(",") : "";
    if (keys !== "code,when" || typeof e!.code !== "string" || typeof e!.when !== "string" || !e!.code || !e!.when.trim()) {
      throw new Error(`protocol/${file}.json: ${where}[${i}] must be exactly { "code": "<catalogue code>", "when": "<non-empty text>" }, got ${JSON.stringify(entry)}`);
    }
    if (seen.has(e!.code)) throw new Error(`protocol/${file}.json: ${where} declares ${e!.code} twice`);
    seen.add(e!.code);
  });
  return list as ErrorDecl[];
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
  let generalErrors: GeneralErrors = { ws: [], http: [], federation: [] };
  for (const file of listJson(protocolDir)) {
    const doc = JSON.parse(readFileSync(join(protocolDir, file), "utf8")) as SchemaDoc;
    const name = file.replace(/\.json$/, "");
    const x = doc["x-parley"];
    if (x?.errors !== undefined) checkErrorDecls(name, "x-parley.errors", x.errors);
    if (x?.generalErrors) {
      generalErrors = {
        ws: checkErrorDecls(name, "x-parley.generalErrors.ws", x.generalErrors.ws),
        http: checkErrorDecls(name, "x-parley.generalErrors.http", x.generalErrors.http),
        federation: checkErrorDecls(name, "x-parley.generalErrors.federation", x.generalErrors.federation),
      };
    }
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
    generalErrors,
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
