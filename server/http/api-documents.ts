/**
 * The documents integrators expect, derived at start-up from the schemas in protocol/ (the one
 * source of truth), so they cannot drift from what the server validates:
 * - an OpenAPI 3.1 document of the HTTP API (protocol/http), served at /api/v1/openapi.json;
 * - an AsyncAPI 3.0 document of the WebSocket protocol (protocol/ops, protocol/pushes, the
 *   frames), served at /api/v1/asyncapi.json.
 * Both lift every schema they use into `components.schemas`, with cross-file references
 * rewritten to point there. test/api-documents.test.ts validates them with the official parsers.
 */
import type { FastifyInstance } from "fastify";
import { errorCatalogue } from "../errors.ts";
import { schemaBase, type ErrorDecl, type Protocol, type SchemaDoc } from "../../protocol/index.ts";
import { websocketPath } from "../ws/transport.ts";
import { version } from "../version.ts";

export const openApiPath = "/api/v1/openapi.json";
export const asyncApiPath = "/api/v1/asyncapi.json";

type Json = Record<string, unknown>;

/** A document's `x-parley.errors`: `{code, when}` entries (protocol/index.ts refuses any other form). */
export function errorEntriesOf(doc: SchemaDoc): ErrorDecl[] {
  return doc["x-parley"]?.errors ?? [];
}

/** The component name of each schema document's root, by $id. Common and frame defs keep their own names. */
function prefixOf(doc: SchemaDoc): string | null {
  const id = doc.$id.slice(schemaBase.length);
  if (id === "common" || id === "frames") return null;
  return id.replace("/", ".");
}

/**
 * Collects the schemas a document uses into components, on demand: each `$ref` met on the way
 * ("/schema/common#/$defs/UserId", "#/$defs/Timestamp" inside common.json) is resolved against
 * its document's $id, given a component name, and rewritten to "#/components/schemas/<name>".
 */
class Components {
  readonly schemas: Record<string, Json> = {};
  private readonly byId = new Map<string, SchemaDoc>();

  constructor(protocol: Protocol) {
    for (const doc of protocol.docs.values()) this.byId.set(doc.$id, doc);
  }

  /** The component for a definition (`pointer` "/$defs/name", or "" for a document's root). */
  ref(docId: string, pointer: string): { $ref: string } {
    const doc = this.byId.get(docId);
    if (!doc) throw new Error(`no schema document ${docId}`);
    const m = /^\/\$defs\/([^/]+)$/.exec(pointer);
    if (pointer !== "" && !m) throw new Error(`unsupported reference ${docId}#${pointer}`);
    const prefix = prefixOf(doc);
    if (prefix === null && !m) throw new Error(`${docId} has no root schema`);
    const name = prefix === null ? m![1] : m ? `${prefix}.${m[1]}` : prefix;
    if (!(name in this.schemas)) {
      this.schemas[name] = {}; // reserved first: a schema may refer to itself
      const source = m ? doc.$defs?.[m[1]] : doc;
      if (!source) throw new Error(`no definition ${docId}#${pointer}`);
      const { $id: _id, $defs: _defs, "x-parley": _x, ...schema } = source as Json;
      this.schemas[name] = this.rewrite(schema, doc.$id) as Json;
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  /** A copy of a schema with every reference pointing into the components. */
  rewrite(node: unknown, baseId: string): unknown {
    if (Array.isArray(node)) return node.map((n) => this.rewrite(n, baseId));
    if (!node || typeof node !== "object") return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") {
        const url = new URL(v, baseId);
        const hash = decodeURIComponent(url.hash.slice(1));
        url.hash = "";
        Object.assign(out, this.ref(url.href, hash));
      } else if (k === "examples" || k === "const" || k === "enum" || k === "default") {
        out[k] = v; // values, not schemas: a "$ref" in an example is data
      } else out[k] = this.rewrite(v, baseId);
    }
    return out;
  }
}

const tagOf = (title: string) => (["healthz", "readyz", "discovery", "keys", "metrics"].includes(title) ? "server" : title.split(".")[0]);

/** The error answer's schema for some codes: the wire's `{error: {code, message, details}}`. */
function errorResponse(components: Components, codes: string[]): Json {
  return {
    type: "object",
    additionalProperties: false,
    required: ["error"],
    properties: {
      error: { allOf: [components.ref(`${schemaBase}common`, "/$defs/ErrorBody"), { properties: { code: { enum: codes } } }] },
    },
  };
}

/** The OpenAPI 3.1 document of the HTTP API, from protocol/http. */
export function buildOpenApi(protocol: Protocol, opts: { serverUrl?: string } = {}): Json {
  const components = new Components(protocol);
  const paths: Record<string, Record<string, Json>> = {};
  for (const [title, doc] of [...protocol.http].sort(([a], [b]) => a.localeCompare(b))) {
    const x = doc["x-parley"]!;
    const defs = doc.$defs ?? {};
    // Path parameters, with their schemas from $defs.params when the endpoint has them.
    const pathSchemas = (defs.params as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
    const parameters: Json[] = [...x.path!.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      schema: pathSchemas[name] ? components.rewrite(pathSchemas[name], doc.$id) : { type: "string" },
    }));
    const operation: Json = {
      operationId: title,
      summary: title,
      description: doc.description,
      tags: [tagOf(title)],
    };
    // Query parameters, when the endpoint takes any: one parameter per property of $defs.query.
    const query = defs.query as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    for (const [name, schema] of Object.entries(query?.properties ?? {})) {
      parameters.push({ name, in: "query", required: query!.required?.includes(name) ?? false, schema: components.rewrite(schema, doc.$id) });
    }
    if (parameters.length) operation.parameters = parameters;
    if (defs.request) {
      operation.requestBody = { required: true, content: { "application/json": { schema: components.ref(doc.$id, "/$defs/request") } } };
    } else if (title === "media.upload") {
      // The one body that is not JSON: the file's own bytes, streamed.
      operation.requestBody = { required: true, content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } } } };
    }
    const responses: Record<string, Json> = {};
    responses[String(x.status)] = defs.response
      ? { description: "Success.", content: { "application/json": { schema: components.ref(doc.$id, "/$defs/response") } } }
      : { description: "Success: the body is not JSON (a page, an image or a file; see the operation's description)." };
    // Errors by HTTP status, each status listing its codes with when they happen.
    const byStatus = new Map<number, ErrorDecl[]>();
    for (const e of errorEntriesOf(doc)) {
      const status = errorCatalogue[e.code as keyof typeof errorCatalogue]?.status;
      if (status === undefined) throw new Error(`${title}: error code ${e.code} is not in the catalogue`);
      byStatus.set(status, [...(byStatus.get(status) ?? []), e]);
    }
    for (const [status, entries] of [...byStatus].sort(([a], [b]) => a - b)) {
      responses[String(status)] = {
        description: entries.map((e) => `\`${e.code}\`: ${e.when}`).join("\n"),
        content: { "application/json": { schema: errorResponse(components, entries.map((e) => e.code)) } },
      };
    }
    operation.responses = responses;
    if (x.auth) operation.security = [{ bearer: [] }];
    (paths[x.path!] ??= {})[x.method!.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Parley HTTP API",
      version,
      description:
        "The HTTP part of the Parley client protocol: accounts, discovery, invite links and files. Everything live happens over one WebSocket per device, described by the AsyncAPI document at " +
        `${asyncApiPath}. Generated from the JSON Schemas in protocol/.`,
      license: { name: "AGPL-3.0-or-later", identifier: "AGPL-3.0-or-later" },
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    paths,
    components: {
      schemas: components.schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token from auth.login, auth.register or auth.refresh." } },
    },
  };
}

/** Message keys may hold letters, digits, '.', '-' and '_' only. */
const key = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, "_");

/** The AsyncAPI 3.0 document of the WebSocket protocol, from protocol/ops, protocol/pushes and frames. */
export function buildAsyncApi(protocol: Protocol, opts: { serverUrl?: string } = {}): Json {
  const components = new Components(protocol);
  const frames = protocol.docs.get("frames")!;
  const requestId = components.rewrite((frames.$defs!.Request.properties as Json).id, frames.$id);
  const messages: Record<string, Json> = {};
  const operations: Record<string, Json> = {};
  const channelRef = { $ref: "#/channels/socket" };
  const messageRef = (k: string) => ({ $ref: `#/channels/socket/messages/${k}` });

  messages.error = {
    name: "error",
    title: "Refusal",
    summary: "The answer to a request that was refused: `ok: false` with a coded error. A frame the server could not read at all is answered with `id: null`.",
    payload: {
      type: "object",
      additionalProperties: false,
      required: ["id", "ok", "error"],
      properties: { id: { anyOf: [requestId, { type: "null" }] }, ok: { const: false }, error: components.ref(`${schemaBase}common`, "/$defs/ErrorBody") },
    },
  };

  for (const [name, doc] of [...protocol.ops].sort(([a], [b]) => a.localeCompare(b))) {
    const params = components.ref(doc.$id, "/$defs/params");
    const result = components.ref(doc.$id, "/$defs/result");
    const paramExamples = ((doc.$defs!.params as Json).examples as unknown[] | undefined) ?? [];
    const resultExamples = ((doc.$defs!.result as Json).examples as unknown[] | undefined) ?? [];
    messages[key(`${name}.request`)] = {
      name: `${name}.request`,
      title: `${name} request`,
      summary: doc.description,
      payload: {
        type: "object",
        additionalProperties: false,
        required: ["id", "op"],
        properties: { id: requestId, op: { const: name }, params },
      },
      examples: paramExamples.map((p, i) => ({ name: `example${i + 1}`, payload: { id: i + 1, op: name, params: p } })),
    };
    messages[key(`${name}.reply`)] = {
      name: `${name}.reply`,
      title: `${name} reply`,
      summary: `The answer to ${name}: \`ok: true\` with its result.`,
      payload: { type: "object", additionalProperties: false, required: ["id", "ok", "result"], properties: { id: requestId, ok: { const: true }, result } },
      examples: resultExamples.map((r, i) => ({ name: `example${i + 1}`, payload: { id: i + 1, ok: true, result: r } })),
    };
    const errors = errorEntriesOf(doc);
    operations[key(name)] = {
      action: "receive",
      channel: channelRef,
      title: name,
      summary: doc.description,
      description: errors.length
        ? `Refused with: ${errors.map((e) => `\`${e.code}\` (${e.when})`).join(", ")}.`
        : "Refused only by the checks every request passes (framing, rate, authentication).",
      messages: [messageRef(key(`${name}.request`))],
      reply: { channel: channelRef, messages: [messageRef(key(`${name}.reply`)), messageRef("error")] },
      "x-parley-auth": doc["x-parley"]?.auth !== false,
      "x-parley-errors": errors,
    };
  }

  for (const [name, doc] of [...protocol.pushes].sort(([a], [b]) => a.localeCompare(b))) {
    const k = key(`push.${name}`);
    messages[k] = {
      name,
      title: `${name} push`,
      summary: doc.description,
      payload: { type: "object", additionalProperties: false, required: ["push", "data"], properties: { push: { const: name }, data: components.ref(doc.$id, "") } },
      examples: ((doc.examples as unknown[] | undefined) ?? []).map((d, i) => ({ name: `example${i + 1}`, payload: { push: name, data: d } })),
    };
    operations[k] = { action: "send", channel: channelRef, title: name, summary: doc.description, messages: [messageRef(k)] };
  }

  const url = new URL(opts.serverUrl ?? "http://127.0.0.1:8080");
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Parley WebSocket protocol",
      version,
      description:
        "One WebSocket per device carries every live exchange: the client sends requests `{id, op, params}`, the server answers each with a reply carrying the same `id`, and pushes events on its own. " +
        "The first request is `auth` with an access token from the HTTP API (see the OpenAPI document at " +
        `${openApiPath}). Generated from the JSON Schemas in protocol/. This document describes the server: ` +
        "it receives requests and sends replies and pushes.",
      license: { name: "AGPL-3.0-or-later", url: "https://www.gnu.org/licenses/agpl-3.0.html" },
    },
    defaultContentType: "application/json",
    servers: {
      parley: {
        host: url.host,
        protocol: url.protocol === "https:" ? "wss" : "ws",
        pathname: websocketPath,
        description: "This server's WebSocket endpoint.",
      },
    },
    channels: {
      socket: {
        address: websocketPath,
        title: "The device's socket",
        description: "Requests, replies and pushes are JSON text frames on one socket.",
        servers: [{ $ref: "#/servers/parley" }],
        messages,
      },
    },
    operations,
    components: { schemas: components.schemas },
  };
}

/** Serves both documents, built once (the schemas do not change while the server runs). */
export function registerApiDocumentRoutes(app: FastifyInstance, protocol: Protocol, publicUrl: string): void {
  let openApi: string | undefined;
  let asyncApi: string | undefined;
  // As discovery does: a public URL derived from `listen.port = 0` names the port chosen at listen.
  const base = () => {
    const url = new URL(publicUrl);
    const address = app.server.address();
    if (url.port === "0" && address && typeof address !== "string") url.port = String(address.port);
    return url.toString().replace(/\/+$/, "");
  };
  // route: GET /api/v1/openapi.json
  app.get(openApiPath, async (_request, reply) => {
    openApi ??= JSON.stringify(buildOpenApi(protocol, { serverUrl: base() }));
    return reply.type("application/json").send(openApi);
  });
  // route: GET /api/v1/asyncapi.json
  app.get(asyncApiPath, async (_request, reply) => {
    asyncApi ??= JSON.stringify(buildAsyncApi(protocol, { serverUrl: base() }));
    return reply.type("application/json").send(asyncApi);
  });
}
