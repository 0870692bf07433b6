/**
 * The protocol's schemas are the single source of truth for the wire: this checks that they are
 * well formed, that their examples are right, that the server registers exactly what they
 * describe and answers in their shapes, and that the files generated from them are current.
 */
import t from "tap";
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import WebSocket from "ws";
import { checkErrorDecls, loadProtocol, schemaBase, type Protocol, type SchemaDoc } from "../protocol/index.ts";
import { errorCatalogue } from "../server/errors.ts";
import { websocketPath } from "../server/ws/transport.ts";
import { docFile, federationDocFile, generateDoc, generateFederationDoc, generateTypes, typesFile } from "../scripts/generate.ts";
import { anchorOf, groupOf, renderProtocolReference, spliceGenerated, beginMarker, endMarker } from "../scripts/protocol-doc.ts";
import { startServer, post, password, type TestServer } from "./helpers.ts";

const protocol = loadProtocol();
const files = [...protocol.docs.keys()].sort();
type Schema = Record<string, unknown>;

// ---- walking schemas ----

/** Keywords whose value is a map of schemas, an array of schemas, or one schema (JSON Schema 2020-12 and draft-07). */
const schemaMaps = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
const schemaLists = ["allOf", "anyOf", "oneOf", "prefixItems"];
const schemaSingles = ["items", "additionalItems", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties"];

function pointerSegment(key: string): string {
  return encodeURIComponent(key.replace(/~/g, "~0").replace(/\//g, "~1")).replace(/%24/g, "$");
}

/** Every subschema of a document with its JSON pointer, visiting only schema positions. */
function* subschemas(node: unknown, pointer = ""): Generator<[string, Schema]> {
  if (!node || typeof node !== "object" || Array.isArray(node)) return;
  const schema = node as Schema;
  yield [pointer, schema];
  for (const k of schemaMaps) {
    const map = schema[k];
    if (map && typeof map === "object") for (const [name, sub] of Object.entries(map)) yield* subschemas(sub, `${pointer}/${k}/${pointerSegment(name)}`);
  }
  for (const k of schemaLists) {
    const list = schema[k];
    if (Array.isArray(list)) for (let i = 0; i < list.length; i++) yield* subschemas(list[i], `${pointer}/${k}/${i}`);
  }
  for (const k of schemaSingles) {
    const sub = schema[k];
    if (Array.isArray(sub)) for (let i = 0; i < sub.length; i++) yield* subschemas(sub[i], `${pointer}/${k}/${i}`);
    else yield* subschemas(sub, `${pointer}/${k}`);
  }
}

/** Counts every `examples` array anywhere in a JSON value, schema position or not. */
function countExampleArrays(node: unknown): number {
  if (!node || typeof node !== "object") return 0;
  if (Array.isArray(node)) return node.reduce((n: number, x) => n + countExampleArrays(x), 0);
  let n = 0;
  for (const [k, v] of Object.entries(node)) n += (k === "examples" && Array.isArray(v) ? 1 : 0) + countExampleArrays(v);
  return n;
}

function kindDir(kind: string): string {
  return { op: "ops", push: "pushes", http: "http", event: "events", federation: "federation" }[kind] ?? kind;
}

/** The examples of one part of a schema: its own, or those of the type it refers to. */
function examplesOf(schema: Schema | undefined, doc: SchemaDoc): unknown[] {
  if (!schema) return [];
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples;
  if (typeof schema.$ref === "string") {
    const target = protocol.ajv.getSchema(new URL(schema.$ref, doc.$id).href)?.schema as Schema | undefined;
    if (target) return examplesOf(target, doc);
  }
  return [];
}

// ---- the schemas themselves ----

t.test("every example in every schema validates against the schema that holds it", async (t) => {
  let checked = 0;
  for (const file of files) {
    const doc = protocol.docs.get(file)!;
    let found = 0;
    for (const [pointer, schema] of subschemas(doc)) {
      if (!Array.isArray(schema.examples)) continue;
      found++;
      const ref = pointer ? `${doc.$id}#${pointer}` : doc.$id;
      const validate = protocol.ajv.getSchema(ref);
      if (!validate) {
        t.fail(`ajv cannot find ${ref}`);
        continue;
      }
      schema.examples.forEach((example, i) => {
        const ok = validate(example);
        t.ok(ok, `${file}.json#${pointer} example ${i + 1}${ok ? "" : `: ${protocol.ajv.errorsText(validate.errors)}`}`);
        checked++;
      });
    }
    // A schema keyword this walker does not know would hide its examples from the check.
    t.equal(found, countExampleArrays(doc), `${file}.json: every examples array sits where the walker looks`);
  }
  t.ok(checked > 20, `checked ${checked} examples`);
});

t.test("the example check is not vacuous: a wrong value fails the same validators", async (t) => {
  const params = protocol.ajv.getSchema(`${schemaBase}op/auth#/$defs/params`)!;
  t.notOk(params({}), "auth params without a token");
  const keys = protocol.ajv.getSchema(`${schemaBase}http/keys#/$defs/response/properties/keys/items`)!;
  t.notOk(keys({ kty: "RSA" }), "a nested definition is checked too");
});

t.test("every schema has an $id, a title and a description", async (t) => {
  const ids = new Set<string>();
  for (const file of files) {
    const doc = protocol.docs.get(file)!;
    t.ok(typeof doc.$id === "string" && doc.$id.startsWith(schemaBase), `${file}: $id under ${schemaBase}`);
    t.notOk(ids.has(doc.$id), `${file}: $id is unique`);
    ids.add(doc.$id);
    t.ok(typeof doc.title === "string" && doc.title.length > 0, `${file}: title`);
    t.ok(typeof doc.description === "string" && doc.description.trim().length > 0, `${file}: description`);
  }
});

t.test("every op, push and endpoint is named after its file and has an example of each part", async (t) => {
  let kinds = 0;
  for (const file of files) {
    const doc = protocol.docs.get(file)!;
    const x = doc["x-parley"];
    if (!x?.kind) continue;
    kinds++;
    t.equal(dirname(file), kindDir(x.kind), `${file}: a ${x.kind} lives in protocol/${kindDir(x.kind)}`);
    t.equal(doc.title, basename(file), `${file}: title is the file name`);
    t.equal(doc.$id, `${schemaBase}${x.kind}/${doc.title}`, `${file}: $id`);
    if (x.kind === "op") {
      for (const part of ["params", "result"]) {
        t.ok(doc.$defs?.[part], `${file}: has $defs.${part}`);
        t.ok(examplesOf(doc.$defs?.[part], doc).length > 0, `${file}: $defs.${part} has an example`);
      }
    }
    if (x.kind === "push" || x.kind === "event") t.ok(examplesOf(doc, doc).length > 0, `${file}: has an example`);
    if (x.kind === "http") {
      t.match(x.method, /^(GET|POST|PUT|PATCH|DELETE)$/, `${file}: method`);
      t.match(x.path, /^\//, `${file}: path`);
      t.type(x.status, "number", `${file}: success status`);
      // An endpoint that answers with something else than JSON (an image, a page) has no response schema.
      if (doc.$defs?.response) t.ok(examplesOf(doc.$defs.response, doc).length > 0, `${file}: $defs.response has an example`);
      if (doc.$defs?.request) t.ok(examplesOf(doc.$defs.request, doc).length > 0, `${file}: $defs.request has an example`);
    }
  }
  // loadProtocol keys each kind by title: two files with one title would silently drop one.
  t.equal(protocol.ops.size + protocol.pushes.size + protocol.http.size + protocol.events.size + protocol.federation.size, kinds, "titles are unique per kind");
});

t.test("every error code a schema names is in the error catalogue", async (t) => {
  for (const file of files) {
    for (const { code } of protocol.docs.get(file)!["x-parley"]?.errors ?? []) {
      t.ok(Object.hasOwn(errorCatalogue, code), `${file}: ${code} is in server/errors.ts`);
    }
  }
  for (const { code } of [...protocol.generalErrors.ws, ...protocol.generalErrors.http, ...protocol.generalErrors.federation]) {
    t.ok(Object.hasOwn(errorCatalogue, code), `general: ${code} is in server/errors.ts`);
  }
  t.ok(protocol.generalErrors.ws.length > 0 && protocol.generalErrors.http.length > 0, "frames.json declares the general errors of both transports");
  t.ok(protocol.generalErrors.federation.length > 0, "and those of the federation endpoints");
});

t.test("error declarations in the old format (plain code strings) are refused with a message that shows the new one", async (t) => {
  t.throws(() => checkErrorDecls("ops/x", "x-parley.errors", ["room.not_found"]), /plain string "room.not_found".*\{ "code": "room.not_found", "when": /);
  t.throws(() => checkErrorDecls("ops/x", "x-parley.errors", [{ code: "room.not_found" }]), /must be exactly/);
  t.throws(() => checkErrorDecls("ops/x", "x-parley.errors", [{ code: "a", when: "x" }, { code: "a", when: "y" }]), /declares a twice/);
  t.throws(() => checkErrorDecls("ops/x", "x-parley.errors", "room.not_found"), /must be a list/);
  t.same(checkErrorDecls("ops/x", "x-parley.errors", [{ code: "room.not_found", when: "no such room" }]), [{ code: "room.not_found", when: "no such room" }]);
});

// ---- the schemas against the running server ----

/** Route lines of Fastify's printRoutes tree, joined back into full paths. */
function routesOf(server: TestServer): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of server.app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    // The catch-all "/*" (the web client) prints as a top-level "*".
    const path = stack.join("") === "*" ? "/*" : stack.join("");
    for (const method of m[3]?.split(",").map((s) => s.trim()) ?? []) routes.push({ method, path });
  }
  return routes;
}

t.test("the server against the schemas", async (t) => {
  // With a metrics token, so that GET /metrics (a route only then) is among the routes checked.
  const server = await startServer({ metrics: { token: "scrape-me-0123456789-abcdefghij" } });
  t.teardown(() => server.stop(true));

  t.test("the ops in protocol/ops are exactly the ops the server registers", async (t) => {
    t.same(server.app.parley.ops.names(), [...protocol.ops.keys()].sort());
  });

  t.test("every HTTP schema names a real route, and every route has a schema", async (t) => {
    // Schemas write path parameters as {name}, Fastify as :name.
    const documented = new Set<string>();
    for (const [name, doc] of [...protocol.http, ...protocol.federation]) {
      const { method, path } = doc["x-parley"]!;
      const url = path!.replace(/\{([^}]+)\}/g, ":$1");
      documented.add(`${method} ${url}`);
      t.ok(server.app.hasRoute({ method: method as "GET", url }), `${name}: ${method} ${path} is a route`);
    }
    const routes = routesOf(server).filter((r) => r.method !== "HEAD" && !(r.method === "GET" && r.path === websocketPath));
    t.ok(routes.length >= protocol.http.size, "the route listing was read");
    for (const r of routes) t.ok(documented.has(`${r.method} ${r.path}`), `${r.method} ${r.path} has a schema in protocol/http or protocol/federation`);
  });

  t.test("the server's HTTP answers have the documented status and shape", async (t) => {
    const check = (name: string, res: { status: number; body: unknown }) => {
      const doc = protocol.http.get(name)!;
      t.equal(res.status, doc["x-parley"]!.status, `${name}: status`);
      const validate = protocol.validator(`http/${name}#/$defs/response`);
      t.ok(validate(res.body), `${name}: body matches its schema ${protocol.ajv.errorsText(validate.errors)}`);
    };
    for (const name of ["discovery", "keys", "healthz", "readyz"]) {
      const res = await fetch(`${server.baseUrl}${protocol.http.get(name)!["x-parley"]!.path}`);
      check(name, { status: res.status, body: await res.json() });
    }
    const example = (name: string) => examplesOf(protocol.http.get(name)!.$defs!.request, protocol.http.get(name)!)[0] as Record<string, unknown>;
    const registered = await post(server, "/api/v1/auth/register", example("auth.register"));
    check("auth.register", registered);
    const login = await post(server, "/api/v1/auth/login", example("auth.login"));
    check("auth.login", login);
    const refreshed = await post(server, "/api/v1/auth/refresh", { refreshToken: login.body.refreshToken });
    check("auth.refresh", refreshed);
    const changed = await post(server, "/api/v1/auth/password", example("auth.password"), refreshed.body.accessToken);
    check("auth.password", changed);
    const out = await post(server, "/api/v1/auth/logout", {}, refreshed.body.accessToken);
    check("auth.logout", out);
  });

  t.test("the account ops' replies and pushes have the documented shapes", async (t) => {
    const reply = protocol.validator("frames#/$defs/Reply");
    const push = protocol.validator("frames#/$defs/Push");
    const open = async (accessToken: string) => {
      const ws = new WebSocket(`${server.baseUrl.replace("http", "ws")}${websocketPath}`);
      const frames: any[] = [];
      const waiters: (() => void)[] = [];
      ws.on("message", (data) => {
        frames.push(JSON.parse(String(data)));
        waiters.splice(0).forEach((w) => w());
      });
      await new Promise((resolve) => ws.once("open", resolve));
      const next = async (match: (f: any) => boolean) => {
        for (;;) {
          const i = frames.findIndex(match);
          if (i >= 0) return frames.splice(i, 1)[0];
          await new Promise<void>((resolve) => waiters.push(resolve));
        }
      };
      let id = 0;
      const request = async (op: string, params: unknown) => {
        const my = ++id;
        ws.send(JSON.stringify({ id: my, op, params }));
        const frame = await next((f) => f.id === my);
        t.ok(reply(frame), `${op}: the reply is a Reply frame`);
        t.equal(frame.ok, true, `${op}: succeeded ${JSON.stringify(frame.error ?? "")}`);
        const validate = protocol.validator(`op/${op}#/$defs/result`);
        t.ok(validate(frame.result), `${op}: the result matches its schema ${protocol.ajv.errorsText(validate.errors)}`);
        return frame.result;
      };
      const nextPush = async (name: string) => {
        const frame = await next((f) => f.push === name);
        t.ok(push(frame), `${name}: a Push frame`);
        const validate = protocol.ajv.getSchema(`${schemaBase}push/${name}`)!;
        t.ok(validate(frame.data), `${name}: the data matches its schema ${protocol.ajv.errorsText(validate.errors)}`);
        return frame.data;
      };
      await request("auth", { token: accessToken });
      return { ws, request, nextPush };
    };

    const laptop = await post(server, "/api/v1/auth/register", { username: "carol", password, deviceName: "Carol's laptop" });
    const phone = await post(server, "/api/v1/auth/login", { username: "carol", password, deviceName: "Carol's phone" });
    const a = await open(laptop.body.accessToken);
    const b = await open(phone.body.accessToken);
    t.teardown(() => {
      a.ws.close();
      b.ws.close();
    });
    await a.request("ping", {});
    await a.request("session.info", {});
    await a.request("device.list", {});
    await a.request("profile.get", {});
    await a.request("profile.update", { displayName: "Carol", about: "Head of maths" });
    await b.nextPush("profile.updated");
    await a.request("device.revoke", { deviceId: phone.body.deviceId });
    await b.nextPush("session.revoked");
  });
});

// ---- the generated files ----

t.test("the generated SDK types and docs/protocol.md are current (run npm run generate)", async (t) => {
  t.equal(await generateTypes(), readFileSync(typesFile, "utf8"), "clients/sdk/protocol.gen.ts");
  t.equal(await generateDoc(), readFileSync(docFile, "utf8"), "docs/protocol.md");
  t.equal(await generateFederationDoc(), readFileSync(federationDocFile, "utf8"), "docs/federation.md");
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

t.test("every link inside docs/protocol.md has a target", async (t) => {
  const doc = readFileSync(docFile, "utf8");
  const targets = headingAnchors(doc);
  for (const m of doc.matchAll(/<a id="([^"]+)"><\/a>/g)) {
    t.notOk(targets.has(m[1]), `anchor ${m[1]} is unique`);
    targets.add(m[1]);
  }
  const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  t.ok(links.length > 10, "the document links within itself");
  for (const link of new Set(links)) t.ok(targets.has(link), `#${link} exists`);
});

// ---- the renderer on its own ----

/** A small protocol of made-up schemas, to exercise what the real one does not use yet. */
function fakeProtocol(): Protocol {
  const common: SchemaDoc = {
    $id: `${schemaBase}common`,
    title: "Common definitions",
    description: "Shared types.",
    $defs: { RoomId: { description: "A room.", type: "string", pattern: "^!a|b$", examples: ["!a"] } },
  };
  const op = (name: string, params: Schema, errors: string[] = []): SchemaDoc => ({
    $id: `${schemaBase}op/${name}`,
    title: name,
    description: `The ${name} op.`,
    "x-parley": { kind: "op", errors: errors.map((code) => ({ code, when: `when ${code} | happens` })) },
    $defs: { params, result: { type: "object", properties: {}, examples: [{}] } },
  });
  const ops = new Map<string, SchemaDoc>([
    ["message.send", op("message.send", {
      type: "object",
      additionalProperties: false,
      required: ["room", "body"],
      minProperties: 3,
      properties: {
        room: { $ref: "/schema/common#/$defs/RoomId" },
        body: { type: "object", properties: { text: { type: "string", maxLength: 10, pattern: "^x|y$" }, parts: { type: "array", items: { type: "object", properties: { n: { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 9 } } } } } },
        kind: { enum: ["text", 1, null] },
        tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3, uniqueItems: true },
        at: { type: "string", format: "date-time", default: "now" },
        either: { oneOf: [{ type: "string" }, { const: 3 }] },
        anything: {},
        count: { type: "integer", minimum: 2, maximum: 2 },
      },
      examples: [{ room: "!a", body: { text: "hi" } }],
    }, ["message.too_long", "rate_limited", "no.such_code"])],
    ["community.create", op("community.create", { type: "string", minLength: 1 })],
    ["community.leave", op("community.leave", { type: "object", properties: {} })],
  ]);
  const docs = new Map<string, SchemaDoc>([["common", common], ...[...ops].map(([k, v]) => [`ops/${k}`, v] as [string, SchemaDoc])]);
  return { ...protocol, docs, ops, pushes: new Map(), http: new Map(), events: new Map(), federation: new Map() };
}

t.test("the reference groups ops by the prefix before the first dot, in order, the same every time", async (t) => {
  const fake = fakeProtocol();
  const catalogue = { "message.too_long": { status: 400, message: "Too | long." }, rate_limited: { status: 429, message: "Slow down." } };
  const text = renderProtocolReference(fake, catalogue);
  t.equal(renderProtocolReference(fake, catalogue), text, "deterministic");
  t.equal(groupOf("group.settings.update"), "group");
  t.equal(groupOf("ping"), "ping");
  t.equal(anchorOf("op", "group.settings.update"), "op-group-settings-update");
  t.ok(text.indexOf("### community") < text.indexOf("### message"), "groups are sorted");
  t.ok(text.indexOf("`community.create`") < text.indexOf("`community.leave`"), "ops are sorted within a group");
  t.match(text, "| `room` | [RoomId](#type-roomid) | yes |", "a $ref links to its type");
  t.match(text, "Matches `^x\\|y$`; at most 10 characters.", "pipes are escaped in tables");
  t.match(text, "Type: string; matches `^!a|b$`.", "and only there");
  t.match(text, "| `body.parts[].n` | integer | no | Greater than 0; less than 9. |", "nested objects and arrays are flattened");
  t.match(text, "| `kind` | string or number or null | no | One of `text`, `1`, `null`. |");
  t.match(text, "| `tags` | array of string | no | 1 to 3 items; no duplicates. |");
  t.match(text, "Format `date-time`; default `\"now\"`.");
  t.match(text, "| `either` | string or `3` | no |");
  t.match(text, "| `anything` | any | no |");
  t.match(text, "Exactly 2.");
  t.match(text, "Give at least one field to change besides `room` and `body`. Other fields are refused with `invalid_params`.", "a count in the client's terms, not one that includes the required fields");
  t.match(text, "Type: string; at least 1 character.");
  t.match(text, "| `no.such_code` | When no.such_code \\| happens. | **not in the error catalogue** |", "an unknown code is flagged");
  t.match(text, "| `message.too_long` | When message.too_long \\| happens. | Too \\| long. |", "each code with its when and message, pipes escaped");
  t.match(text, '{"id":1,"ok":false,"error":{"code":"message.too_long","message":"Too | long."}}', "the refusal example uses an op-specific code");
  t.match(text, '{"id":1,"op":"community.leave","params":{}}');
});

t.test("the generated reference replaces only the text between its markers", async (t) => {
  const doc = `intro\n${beginMarker}\nold\n${endMarker}\noutro\n`;
  t.equal(spliceGenerated(doc, "new"), `intro\n${beginMarker}\nnew\n${endMarker}\noutro\n`);
  t.throws(() => spliceGenerated("no markers", "x"), /markers/);
});
