/**
 * Renders the reference part of docs/protocol.md from the JSON Schemas in protocol/: every HTTP
 * endpoint, WebSocket op and push with its fields, errors and examples, the shared types of
 * common.json, and the error catalogue. The output depends only on the schemas and the catalogue
 * and is sorted, so that regenerating an unchanged protocol changes nothing (a test compares it
 * with the committed file).
 */
import { STATUS_CODES } from "node:http";
import type { ErrorDecl, Protocol, SchemaDoc } from "../protocol/index.ts";
import { errorCatalogue } from "../server/errors.ts";

export const beginMarker = "<!-- BEGIN GENERATED REFERENCE (npm run generate) -->";
export const endMarker = "<!-- END GENERATED REFERENCE -->";

/** Replaces the text between the markers with `generated`. */
export function spliceGenerated(doc: string, generated: string): string {
  const start = doc.indexOf(beginMarker);
  const end = doc.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error("docs/protocol.md lacks the generated-reference markers");
  return `${doc.slice(0, start + beginMarker.length)}\n${generated}\n${doc.slice(end)}`;
}

export type Catalogue = Readonly<Record<string, { readonly status: number; readonly message: string }>>;

type Schema = Record<string, unknown>;

/** A schema together with the document it lives in, so that relative `$ref`s resolve. */
interface Located {
  schema: Schema;
  doc: SchemaDoc;
}

interface Row {
  name: string;
  type: string;
  required: boolean;
  notes: string;
}

const commonId = "https://parley.chat/schema/common";

/** Codes any request can get; docs/protocol.md explains them once, by hand. */
const generalCodes = new Set(["bad_request", "invalid_params", "invalid_frame", "invalid_json", "frame_too_large", "payload_too_large", "rate_limited", "unknown_op", "auth.required", "not_found", "internal"]);

/** Anchor ids: lower case, runs of anything else than letters and digits become one hyphen. */
export function anchorOf(kind: "http" | "op" | "push" | "event" | "type", name: string): string {
  return `${kind}-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
}

/** The group of an op, push or endpoint: its name up to the first dot (`device.revoke` -> `device`). */
export function groupOf(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function groupNames(names: Iterable<string>): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const name of [...names].sort(byName)) {
    const g = groupOf(name);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(name);
  }
  return [...groups].sort(([a], [b]) => byName(a, b));
}

/** Markdown table cells: no raw pipes or line breaks. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function code(text: string): string {
  return text.includes("`") ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function json(value: unknown, compactUpTo = 0): string {
  const compact = JSON.stringify(value);
  return compact.length <= compactUpTo ? compact : JSON.stringify(value, null, 2);
}

function jsonBlock(value: unknown, compactUpTo = 0): string {
  return ["```json", json(value, compactUpTo), "```"].join("\n");
}

class Renderer {
  private readonly byId = new Map<string, SchemaDoc>();
  private readonly fileOf = new Map<SchemaDoc, string>();

  constructor(
    private readonly protocol: Protocol,
    private readonly catalogue: Catalogue,
  ) {
    for (const [file, doc] of protocol.docs) {
      this.byId.set(doc.$id, doc);
      this.fileOf.set(doc, file);
    }
  }

  // ---- schema navigation ----

  /** Resolves a `$ref` (absolute, root-relative or local) against the document holding it. */
  private resolve(ref: string, from: SchemaDoc): Located {
    const [base, fragment = ""] = ref.split("#");
    const doc = base ? this.byId.get(new URL(base, from.$id).href) : from;
    if (!doc) throw new Error(`unresolvable $ref ${ref} in ${from.$id}`);
    let node: unknown = doc;
    for (const raw of fragment.split("/").slice(1)) {
      const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      node = (node as Record<string, unknown> | undefined)?.[key];
    }
    if (!node || typeof node !== "object") throw new Error(`unresolvable $ref ${ref} in ${from.$id}`);
    return { schema: node as Schema, doc };
  }

  /** Follows `$ref`s until a schema without one. */
  private deref(at: Located): Located {
    let cur = at;
    for (let i = 0; typeof cur.schema.$ref === "string" && i < 32; i++) cur = this.resolve(cur.schema.$ref, cur.doc);
    return cur;
  }

  /** The name of a referenced definition, linked when it is one of the common types. */
  private refName(ref: string, from: SchemaDoc): string {
    const target = this.resolve(ref, from);
    const name = ref.split("/").pop()!;
    return target.doc.$id === commonId && target.doc.$defs?.[name] === target.schema ? `[${name}](#${anchorOf("type", name)})` : code(name);
  }

  // ---- types and constraints ----

  private typeOf(s: Schema, doc: SchemaDoc): string {
    if (typeof s.$ref === "string") return this.refName(s.$ref, doc);
    if ("const" in s) return code(JSON.stringify(s.const));
    for (const k of ["oneOf", "anyOf"] as const) {
      if (Array.isArray(s[k])) return (s[k] as Schema[]).map((x) => this.typeOf(x, doc)).join(" or ");
    }
    if (Array.isArray(s.enum) && s.type === undefined) {
      const kinds = [...new Set((s.enum as unknown[]).map((v) => (v === null ? "null" : typeof v)))];
      return kinds.join(" or ");
    }
    const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === "string" ? [s.type] : [];
    if (types.length === 0) return "any";
    return types
      .map((t) => {
        if (t === "array") return s.items && typeof s.items === "object" ? `array of ${this.typeOf(s.items as Schema, doc)}` : "array";
        return t;
      })
      .join(" or ");
  }

  private constraints(s: Schema): string[] {
    const out: string[] = [];
    const range = (min: unknown, max: unknown, unit: string) => {
      const u = (n: number) => (unit ? ` ${unit}${n === 1 ? "" : "s"}` : "");
      if (typeof min === "number" && typeof max === "number") out.push(min === max ? `exactly ${min}${u(min)}` : `${min} to ${max}${u(max)}`);
      else if (typeof min === "number") out.push(`at least ${min}${u(min)}`);
      else if (typeof max === "number") out.push(`at most ${max}${u(max)}`);
    };
    if (Array.isArray(s.enum)) out.push(`one of ${(s.enum as unknown[]).map((v) => code(typeof v === "string" ? v : JSON.stringify(v))).join(", ")}`);
    if (typeof s.pattern === "string") out.push(`matches ${code(s.pattern)}`);
    if (typeof s.format === "string") out.push(`format ${code(s.format)}`);
    range(s.minLength, s.maxLength, "character");
    range(s.minimum, s.maximum, "");
    if (typeof s.exclusiveMinimum === "number") out.push(`greater than ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === "number") out.push(`less than ${s.exclusiveMaximum}`);
    range(s.minItems, s.maxItems, "item");
    if (s.uniqueItems === true) out.push("no duplicates");
    if ("default" in s) out.push(`default ${code(JSON.stringify(s.default))}`);
    return out;
  }

  private notes(s: Schema): string {
    // A field of a named type gets its own description only: the type's is one click away.
    const description = typeof s.description === "string" ? s.description.trim() : "";
    const limits = this.constraints(s).join("; ");
    const sentence = limits ? `${limits[0].toUpperCase()}${limits.slice(1)}.` : "";
    if (!description) return sentence;
    return sentence ? `${description}${/[.!?]$/.test(description) ? "" : "."} ${sentence}` : description;
  }

  // ---- field tables ----

  private collectRows(at: Located, prefix: string, rows: Row[]): void {
    const { schema, doc } = at;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const required = new Set((schema.required ?? []) as string[]);
    for (const [key, prop] of Object.entries(props)) {
      const name = `${prefix}${key}`;
      rows.push({ name, type: this.typeOf(prop, doc), required: required.has(key), notes: this.notes(prop) });
      if (typeof prop.$ref === "string") continue; // a named type, described in Types
      if (prop.properties) this.collectRows({ schema: prop, doc }, `${name}.`, rows);
      const items = prop.items as Schema | undefined;
      if (items && typeof items === "object" && !items.$ref && items.properties) this.collectRows({ schema: items, doc }, `${name}[].`, rows);
    }
  }

  /**
   * Describes one part (params, result, request, response, push data): a line naming its type when
   * it is a named one, then its fields as a table.
   */
  private fields(part: Located, opts: { empty: string; refusedUnknown?: string }): string {
    const out: string[] = [];
    let at = part;
    if (typeof part.schema.$ref === "string") {
      out.push(`A ${this.refName(part.schema.$ref, part.doc)} object:`);
      at = this.deref(part);
    }
    const { schema } = at;
    const isObject = schema.type === "object" || schema.properties !== undefined;
    if (!isObject) {
      const limits = this.constraints(schema).join("; ");
      out.push(`Type: ${this.typeOf(schema, at.doc)}${limits ? `; ${limits}` : ""}.`);
      return out.join("\n\n");
    }
    const rows: Row[] = [];
    this.collectRows(at, "", rows);
    if (rows.length === 0) {
      out.push(opts.empty);
      return out.join("\n\n");
    }
    const table = ["| Field | Type | Required | Description |", "| --- | --- | --- | --- |"];
    for (const r of rows) table.push(`| ${code(r.name)} | ${cell(r.type)} | ${r.required ? "yes" : "no"} | ${cell(r.notes)} |`);
    out.push(table.join("\n"));
    const after: string[] = [];
    if (typeof schema.minProperties === "number") {
      // Said in the client's terms: the fields to change, besides the required ones that name what changes.
      const required = ((schema.required ?? []) as string[]).filter((k) => rows.some((r) => r.name === k));
      const extra = schema.minProperties - required.length;
      const count = (n: number) => (n === 1 ? "one field to change" : `${n} fields to change`);
      if (required.length === 0) after.push(`Give at least ${count(schema.minProperties)}.`);
      else if (extra > 0) after.push(`Give at least ${count(extra)} besides ${required.map((k) => code(k)).join(" and ")}.`);
    }
    if (schema.additionalProperties === false && opts.refusedUnknown) after.push(opts.refusedUnknown);
    if (after.length) out.push(after.join(" "));
    return out.join("\n\n");
  }

  private examplesOf(part: Located): unknown[] {
    if (Array.isArray(part.schema.examples)) return part.schema.examples as unknown[];
    if (typeof part.schema.$ref === "string") return this.examplesOf(this.resolve(part.schema.$ref, part.doc));
    return [];
  }

  /** The refusals of one op or endpoint: code, when (from the schema), status over HTTP, message. */
  private errorTable(decls: ErrorDecl[], withStatus: boolean, none = "None beyond the general ones."): string {
    if (decls.length === 0) return none;
    const head = withStatus ? ["| Code | HTTP status | When | Message |", "| --- | --- | --- | --- |"] : ["| Code | When | Message |", "| --- | --- | --- |"];
    const rows = [...decls].sort((a, b) => byName(a.code, b.code)).map(({ code: c, when }) => {
      const entry = this.catalogue[c];
      const message = entry ? entry.message : "**not in the error catalogue**";
      const sentence = when ? `${when[0].toUpperCase()}${when.slice(1)}${/[.!?]$/.test(when) ? "" : "."}` : "";
      return withStatus ? `| ${code(c)} | ${entry ? entry.status : "?"} | ${cell(sentence)} | ${cell(message)} |` : `| ${code(c)} | ${cell(sentence)} | ${cell(message)} |`;
    });
    return [...head, ...rows].join("\n");
  }

  private schemaLink(doc: SchemaDoc): string {
    const file = `protocol/${this.fileOf.get(doc)}.json`;
    return `[${code(file)}](../${file})`;
  }

  private part(doc: SchemaDoc, name: string): Located | undefined {
    const schema = doc.$defs?.[name];
    return schema ? { schema, doc } : undefined;
  }

  // ---- sections ----

  private contents(): string {
    const line = (label: string, groups: [string, string[]][], kind: "http" | "op" | "push" | "event", label2: (n: string) => string) =>
      [
        `- ${label}`,
        ...groups.map(([g, names]) => `  - ${g}: ${names.map((n) => `[${code(label2(n))}](#${anchorOf(kind, n)})`).join(", ")}`),
      ].join("\n");
    const http = this.protocol.http;
    const httpLabel = (n: string) => {
      const x = http.get(n)!["x-parley"]!;
      return `${x.method} ${x.path}`;
    };
    const types = Object.keys(this.byId.get(commonId)?.$defs ?? {}).sort(byName);
    return [
      "Contents of the reference:",
      "",
      line("[HTTP endpoints](#reference-http)", groupNames(http.keys()), "http", httpLabel),
      line("[WebSocket ops](#reference-ops)", groupNames(this.protocol.ops.keys()), "op", (n) => n),
      line("[Pushes](#reference-pushes)", groupNames(this.protocol.pushes.keys()), "push", (n) => n),
      line("[Room events](#reference-events)", groupNames(this.protocol.events?.keys() ?? []), "event", (n) => n),
      `- [Types](#reference-types): ${types.map((t) => `[${t}](#${anchorOf("type", t)})`).join(", ")}`,
      "- [General errors](#reference-general-errors): [any HTTP request](#http-errors), [any WebSocket request](#ws-errors)",
      "- [Error catalogue](#reference-errors)",
    ].join("\n");
  }

  private httpEntry(name: string, doc: SchemaDoc): string {
    const x = doc["x-parley"]!;
    const method = x.method ?? "?";
    const path = x.path ?? "?";
    const auth = x.auth !== false;
    const status = x.status ?? 200;
    const request = this.part(doc, "request");
    const response = this.part(doc, "response");
    const out: string[] = [
      `<a id="${anchorOf("http", name)}"></a>`,
      `#### ${code(`${method} ${path}`)}`,
      doc.description,
      [
        `- Name: ${code(name)}`,
        `- Authentication: ${auth ? "`Authorization: Bearer <access token>`" : "none"}`,
        `- Success: ${code(String(status))} ${STATUS_CODES[status] ?? ""}`.trimEnd(),
        `- Schema: ${this.schemaLink(doc)}`,
      ].join("\n"),
      "**Request body**",
      request
        ? this.fields(request, { empty: "An empty JSON object.", refusedUnknown: "Other fields are refused with `bad_request`." })
        : x.body
          ? x.body
          : method === "GET" || method === "HEAD"
          ? "None."
          : "None: send no body (or `{}`); a `Content-Type: application/json` header with an empty body is refused with `bad_request`.",
      "**Response body**",
      response ? this.fields(response, { empty: "An empty JSON object." }) : "Not JSON: see the description for what it is.",
      "**Errors**",
      this.errorTable(x.errors ?? [], true),
    ];
    const requestExamples = request ? this.examplesOf(request) : [];
    const responseExamples = response ? this.examplesOf(response) : [];
    const authNote = auth ? " with `Authorization: Bearer <access token>`" : "";
    out.push("**Example**");
    if (requestExamples.length) for (const ex of requestExamples) out.push(`Request: ${code(`${method} ${path}`)}${authNote}`, jsonBlock(ex));
    else out.push(`Request: ${code(`${method} ${path}`)}${authNote}, no body.`);
    for (const ex of responseExamples) out.push(`Response ${code(String(status))}:`, jsonBlock(ex));
    return out.join("\n\n");
  }

  private opEntry(name: string, doc: SchemaDoc): string {
    const x = doc["x-parley"] ?? { kind: "op" as const };
    const auth = x.auth !== false;
    const params = this.part(doc, "params");
    const result = this.part(doc, "result");
    const out: string[] = [
      `<a id="${anchorOf("op", name)}"></a>`,
      `#### ${code(name)}`,
      doc.description,
      [
        `- Authentication: ${auth ? "required (send [`auth`](#op-auth) first)" : "not required"}`,
        `- Schema: ${this.schemaLink(doc)}`,
      ].join("\n"),
      "**Params**",
      params
        ? this.fields(params, { empty: "None: send `{}` or leave `params` out.", refusedUnknown: "Other fields are refused with `invalid_params`." })
        : "None: send `{}` or leave `params` out.",
      "**Result**",
      result ? this.fields(result, { empty: "An empty object." }) : "An empty object.",
      "**Errors**",
      this.errorTable(x.errors ?? [], false),
    ];
    const paramExamples = params ? this.examplesOf(params) : [];
    const resultExamples = result ? this.examplesOf(result) : [];
    const frames: string[] = [];
    const requests = paramExamples.length ? paramExamples : [{}];
    requests.forEach((p, i) => frames.push("Request:", jsonBlock({ id: i + 1, op: name, params: p }, 100)));
    resultExamples.forEach((r, i) => frames.push("Reply:", jsonBlock({ id: i + 1, ok: true, result: r }, 100)));
    // The first op-specific code the schema lists makes the most telling refusal example.
    const firstError = (x.errors ?? []).map((e) => e.code).find((c) => this.catalogue[c] && !generalCodes.has(c));
    if (firstError) {
      frames.push("A refusal:", jsonBlock({ id: 1, ok: false, error: { code: firstError, message: this.catalogue[firstError].message } }, 100));
    }
    out.push("**Example**", ...frames);
    return out.join("\n\n");
  }

  private pushEntry(name: string, doc: SchemaDoc): string {
    const data: Located = { schema: doc, doc };
    const out: string[] = [
      `<a id="${anchorOf("push", name)}"></a>`,
      `#### ${code(name)}`,
      doc.description,
      `- Schema: ${this.schemaLink(doc)}`,
      "**Data**",
      this.fields(data, { empty: "An empty object." }),
    ];
    const examples = this.examplesOf(data);
    if (examples.length) {
      out.push("**Example**", examples.map((ex) => jsonBlock({ push: name, data: ex }, 100)).join("\n\n"));
    }
    return out.join("\n\n");
  }

  private eventEntry(name: string, doc: SchemaDoc): string {
    const content: Located = { schema: doc, doc };
    const out: string[] = [
      `<a id="${anchorOf("event", name)}"></a>`,
      `#### ${code(name)}`,
      doc.description,
      `- Schema: ${this.schemaLink(doc)}`,
      "**Content**",
      this.fields(content, { empty: "An empty object." }),
    ];
    const examples = this.examplesOf(content);
    if (examples.length) out.push(`**Example${examples.length > 1 ? "s" : ""}**`, examples.map((ex) => jsonBlock(ex, 100)).join("\n\n"));
    return out.join("\n\n");
  }

  private typeEntry(name: string, common: SchemaDoc): string {
    const schema = common.$defs![name];
    const out: string[] = [`<a id="${anchorOf("type", name)}"></a>`, `### ${code(name)}`];
    if (typeof schema.description === "string") out.push(schema.description);
    out.push(this.fields({ schema, doc: common }, { empty: "An empty object: `{}`." }));
    const examples = Array.isArray(schema.examples) ? (schema.examples as unknown[]) : [];
    if (examples.length) out.push(`Example${examples.length > 1 ? "s" : ""}: ${examples.map((e) => code(JSON.stringify(e))).join(", ")}`);
    return out.join("\n\n");
  }

  private section(anchor: string, title: string, intro: string, names: Iterable<string>, entry: (name: string) => string): string {
    const out = [`<a id="${anchor}"></a>`, `## ${title}`, intro];
    for (const [group, members] of groupNames(names)) {
      out.push(`### ${group}`);
      for (const name of members) out.push(entry(name));
    }
    return out.join("\n\n");
  }

  render(): string {
    const { http, ops, pushes } = this.protocol;
    const events = this.protocol.events ?? new Map<string, SchemaDoc>();
    const common = this.byId.get(commonId);
    const catalogue = Object.entries(this.catalogue).sort(([a], [b]) => byName(a, b));
    const parts = [
      "<!-- This part is generated from protocol/ by scripts/generate.ts: edit the schemas, then run `npm run generate`. -->",
      contentsIntro,
      this.contents(),
      this.section(
        "reference-http",
        "HTTP endpoints",
        "Bodies are JSON (`Content-Type: application/json`). Every endpoint can also answer with the [general HTTP errors](#http-errors).",
        http.keys(),
        (n) => this.httpEntry(n, http.get(n)!),
      ),
      this.section(
        "reference-ops",
        "WebSocket ops",
        "Requests go over the socket at `/api/v1/ws` as `{\"id\", \"op\", \"params\"}`. Every op can also be refused with the [errors any op can return](#ws-errors).",
        ops.keys(),
        (n) => this.opEntry(n, ops.get(n)!),
      ),
      this.section("reference-pushes", "Pushes", "Frames the server sends on its own, as `{\"push\", \"data\"}`.", pushes.keys(), (n) => this.pushEntry(n, pushes.get(n)!)),
      this.section(
        "reference-events",
        "Room events",
        `Every event in a room's log has a \`type\`; its \`content\` follows the schema of that type${common?.$defs?.RoomEvent ? " (the event itself is a [RoomEvent](#type-roomevent))" : ""}.`,
        events.keys(),
        (n) => this.eventEntry(n, events.get(n)!),
      ),
      [
        `<a id="reference-types"></a>`,
        "## Types",
        "Definitions shared by many schemas, from [`protocol/common.json`](../protocol/common.json).",
        ...Object.keys(common?.$defs ?? {})
          .sort(byName)
          .map((name) => this.typeEntry(name, common!)),
      ].join("\n\n"),
      [
        `<a id="reference-general-errors"></a>`,
        "## General errors",
        "The codes any request can get, whatever its op or endpoint, declared once in [`protocol/frames.json`](../protocol/frames.json) (`x-parley.generalErrors`) rather than in each op. An op that gives one of them a meaning of its own lists it too, with that meaning.",
        `<a id="http-errors"></a>`,
        "### Any HTTP request",
        this.errorTable(this.protocol.generalErrors.http, true, "None."),
        `<a id="ws-errors"></a>`,
        "### Any WebSocket request",
        this.errorTable(this.protocol.generalErrors.ws, false, "None."),
      ].join("\n\n"),
      [
        `<a id="reference-errors"></a>`,
        "## Error catalogue",
        "Every code a client can see, over HTTP or WebSocket, from `server/errors.ts`. Over HTTP the status is the response's status; over the WebSocket it is only informative.",
        [
          "| Code | HTTP status | Message |",
          "| --- | --- | --- |",
          ...catalogue.map(([c, e]) => `| ${code(c)} | ${e.status} | ${cell(e.message)} |`),
        ].join("\n"),
      ].join("\n\n"),
    ];
    return parts.join("\n\n");
  }
}

const contentsIntro = [
  "## Reference",
  "",
  "Everything below is generated from the JSON Schemas in [`protocol/`](../protocol) and the error catalogue in `server/errors.ts`. Field tables flatten nested objects (`a.b`) and arrays of objects (`a[].b`); a type in a link is described under [Types](#reference-types).",
].join("\n");

/** Renders the whole generated reference: HTTP endpoints, ops, pushes, types, error catalogue. */
export function renderProtocolReference(protocol: Protocol, catalogue: Catalogue = errorCatalogue): string {
  return new Renderer(protocol, catalogue).render();
}
