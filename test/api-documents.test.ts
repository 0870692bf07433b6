/**
 * The documents integrators expect: the OpenAPI 3.1 document of the HTTP API and the AsyncAPI 3
 * document of the WebSocket protocol, served by a real server, are valid for their official
 * parsers and say exactly what protocol/ says: every endpoint, op and push, with schemas that
 * accept the protocol's own examples and with every error code.
 */
import t from "tap";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Parser } from "@asyncapi/parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { loadProtocol, type Protocol, type SchemaDoc } from "../protocol/index.ts";
import { asyncApiPath, buildAsyncApi, buildOpenApi, errorEntriesOf, openApiPath } from "../server/http/api-documents.ts";
import { errorCatalogue } from "../server/errors.ts";
import { startServer } from "./helpers.ts";

const protocol = loadProtocol();
type Json = Record<string, any>;

const examplesOf = (schema: unknown): unknown[] => ((schema as Json | undefined)?.examples as unknown[] | undefined) ?? [];

/** A validator for "#/components/schemas/<name>" of a document, with the given JSON Schema dialect. */
function componentValidator(doc: Json, dialect: "2020-12" | "draft-07") {
  const ajv = dialect === "2020-12" ? new Ajv2020({ strict: false, allErrors: false }) : new Ajv({ strict: false, allErrors: false });
  addFormats.default(ajv as never);
  ajv.addSchema({ $id: "https://document.test/doc", components: doc.components, channels: doc.channels });
  return (pointer: string, value: unknown) => {
    const ref = `https://document.test/doc#${pointer.replace(/^#/, "")}`;
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    return validate(value) ? "" : ajv.errorsText(validate.errors);
  };
}

t.test("the documents are served by the server, as generated from protocol/", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const openApi = await (await fetch(`${server.baseUrl}${openApiPath}`)).json();
  const asyncApi = await (await fetch(`${server.baseUrl}${asyncApiPath}`)).json();
  t.same(openApi, buildOpenApi(protocol, { serverUrl: server.baseUrl }), "the OpenAPI document");
  t.same(asyncApi, buildAsyncApi(protocol, { serverUrl: server.baseUrl }), "the AsyncAPI document");
  t.same(openApi.servers, [{ url: server.baseUrl }], "naming the port the server listens on");
  t.equal(asyncApi.servers.parley.host, new URL(server.baseUrl).host);
});

t.test("the OpenAPI document is valid OpenAPI 3.1 for swagger-parser", async (t) => {
  const doc = buildOpenApi(protocol, { serverUrl: "http://127.0.0.1:8080" });
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never));
  t.equal(doc.openapi, "3.1.0");
});

t.test("the OpenAPI document has exactly the endpoints of protocol/http, with their schemas and errors", async (t) => {
  const doc = buildOpenApi(protocol) as Json;
  const check = componentValidator(doc, "2020-12");
  const documented: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Json)) for (const method of Object.keys(methods)) documented.push(`${method.toUpperCase()} ${path}`);
  t.same(documented.sort(), [...protocol.http.values()].map((d) => `${d["x-parley"]!.method} ${d["x-parley"]!.path}`).sort(), "one operation per endpoint, no more");
  for (const [title, schema] of protocol.http) {
    const x = schema["x-parley"]!;
    const op = doc.paths[x.path!][x.method!.toLowerCase()];
    t.equal(op.operationId, title, `${title}: operationId`);
    t.equal(op.description, schema.description, `${title}: description`);
    t.same(!!op.security, !!x.auth, `${title}: bearer authentication when the endpoint needs it`);
    const pathParams = [...x.path!.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const param of (op.parameters ?? []).filter((p: Json) => p.in === "path")) {
      const source = ((schema.$defs?.params as Json | undefined)?.properties ?? {})[param.name];
      if (!source) continue;
      t.ok(param.schema.$ref || param.schema.pattern, `${title}: the ${param.name} parameter has the protocol's schema`);
      for (const example of examplesOf(schema.$defs!.params)) {
        const pointer = param.schema.$ref ?? `/paths/${encodePointer(x.path!)}/${x.method!.toLowerCase()}/parameters/${op.parameters.indexOf(param)}/schema`;
        t.equal(checkInline(doc, pointer.replace(/^#/, ""), (example as Json)[param.name]), "", `${title}: the ${param.name} parameter accepts the protocol's example`);
        t.not(checkInline(doc, pointer.replace(/^#/, ""), "not a valid id!"), "", `${title}: and refuses a malformed one`);
      }
    }
    const queryParams = Object.keys((schema.$defs?.query as Json | undefined)?.properties ?? {});
    t.same((op.parameters ?? []).map((p: Json) => `${p.in} ${p.name}`), [...pathParams.map((n) => `path ${n}`), ...queryParams.map((n) => `query ${n}`)], `${title}: path and query parameters`);
    if (schema.$defs?.request) {
      const ref = op.requestBody.content["application/json"].schema.$ref.slice(1);
      for (const example of examplesOf(schema.$defs.request)) t.equal(check(ref, example), "", `${title}: the request schema accepts the protocol's example`);
      t.not(check(ref, { unexpected: true }), "", `${title}: and refuses what the protocol refuses`);
    }
    const success = op.responses[String(x.status)];
    t.ok(success, `${title}: answers ${x.status}`);
    if (schema.$defs?.response) {
      const ref = success.content["application/json"].schema.$ref.slice(1);
      for (const example of examplesOf(schema.$defs.response)) t.equal(check(ref, example), "", `${title}: the response schema accepts the protocol's example`);
    }
    for (const { code } of errorEntriesOf(schema)) {
      const status = String(errorCatalogue[code as keyof typeof errorCatalogue].status);
      const answer = op.responses[status];
      t.match(answer?.description, `\`${code}\``, `${title}: ${code} is documented under ${status}`);
      const errorBody = { error: { code, message: "..." } };
      const pointer = `/paths/${encodePointer(x.path!)}/${x.method!.toLowerCase()}/responses/${status}/content/application~1json/schema`;
      t.equal(checkInline(doc, pointer, errorBody), "", `${title}: the ${status} schema accepts ${code}`);
    }
    const statuses = new Set([String(x.status), ...errorEntriesOf(schema).map(({ code }) => String(errorCatalogue[code as keyof typeof errorCatalogue].status))]);
    t.same(Object.keys(op.responses).sort(), [...statuses].sort(), `${title}: no answer that protocol/ does not name`);
  }
});

const encodePointer = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** Validates a value against a schema inside the document (not a component) by its JSON pointer. */
function checkInline(doc: Json, pointer: string, value: unknown): string {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ $id: "https://document.test/doc", components: doc.components, paths: doc.paths });
  const validate = ajv.compile({ $ref: `https://document.test/doc#${pointer}` });
  return validate(value) ? "" : ajv.errorsText(validate.errors);
}

t.test("the AsyncAPI document is valid AsyncAPI 3 for @asyncapi/parser", async (t) => {
  const doc = buildAsyncApi(protocol);
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  t.same(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`), [], "no errors");
  t.same(diagnostics.filter((d) => d.severity === 1).map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`), [], "no warnings");
  t.ok(document, "it parses into a document");
  t.equal(document!.version(), "3.0.0");
  t.equal(document!.operations().length, protocol.ops.size + protocol.pushes.size, "an operation per op and per push");
  const ping = document!.operations().get("ping")!;
  t.ok(ping.isReceive(), "the server receives requests");
  t.same(ping.reply()!.messages().all().map((m) => m.id()), ["ping.reply", "error"], "and answers with a reply or a refusal");
  t.ok(document!.operations().get("push.room.event")!.isSend(), "and sends pushes");
});

t.test("the AsyncAPI document has exactly the ops and pushes of protocol/, with their schemas and errors", async (t) => {
  const doc = buildAsyncApi(protocol) as Json;
  const check = componentValidator(doc, "draft-07");
  const messages = doc.channels.socket.messages as Json;
  t.same(
    Object.keys(doc.operations).sort(),
    [...[...protocol.ops.keys()], ...[...protocol.pushes.keys()].map((p) => `push.${p}`)].sort(),
    "one operation per op and per push, no more",
  );
  for (const [name, schema] of protocol.ops) {
    const op = doc.operations[name];
    t.equal(op.action, "receive", `${name}: received`);
    t.same(op["x-parley-errors"], errorEntriesOf(schema), `${name}: its error codes`);
    const request = `#/channels/socket/messages/${name}.request/payload`;
    for (const params of examplesOf(schema.$defs!.params)) t.equal(check(request, { id: 1, op: name, params }), "", `${name}: the request accepts the protocol's example`);
    t.not(check(request, { id: 1, op: `${name}.other`, params: {} }), "", `${name}: and only this op`);
    for (const result of examplesOf(schema.$defs!.result)) t.equal(check(`#/channels/socket/messages/${name}.reply/payload`, { id: 1, ok: true, result }), "", `${name}: the reply accepts the protocol's example`);
    t.ok(messages[`${name}.request`] && messages[`${name}.reply`], `${name}: request and reply messages`);
  }
  for (const [name, schema] of protocol.pushes) {
    t.equal(doc.operations[`push.${name}`].action, "send", `${name}: sent`);
    for (const data of examplesOf(schema)) t.equal(check(`#/channels/socket/messages/push.${name}/payload`, { push: name, data }), "", `${name}: the push accepts the protocol's example`);
  }
  t.equal(check("#/channels/socket/messages/error/payload", { id: null, ok: false, error: { code: "invalid_json", message: "The frame is not valid JSON." } }), "", "a refusal of an unreadable frame");
});

t.test("a document that drifts from its references is rejected by both parsers", async (t) => {
  const openApi = buildOpenApi(protocol) as Json;
  delete openApi.components.schemas.UserId;
  await t.rejects(SwaggerParser.validate(openApi as never), "OpenAPI: a reference to a schema that is gone");
  // The AsyncAPI parser is slow on the whole protocol (seconds per parse): one op and one push
  // show the same thing.
  const small: Protocol = { ...protocol, ops: new Map([["ping", protocol.ops.get("ping")!]]), pushes: new Map([["session.revoked", protocol.pushes.get("session.revoked")!]]) };
  const asyncApi = buildAsyncApi(small) as Json;
  t.same((await new Parser().parse(JSON.stringify(asyncApi))).diagnostics.filter((d) => d.severity === 0), [], "AsyncAPI: the small document is valid as it stands");
  delete asyncApi.channels.socket.messages["ping.reply"];
  const { diagnostics } = await new Parser().parse(JSON.stringify(asyncApi));
  t.ok(diagnostics.some((d) => d.severity === 0), "AsyncAPI: a reply message that is gone");
});

t.test("every refusal is documented with its code and when it happens, as protocol/ declares it", async (t) => {
  const openApi = buildOpenApi(protocol) as Json;
  for (const [title, schema] of protocol.http) {
    const x = schema["x-parley"]!;
    const op = openApi.paths[x.path!][x.method!.toLowerCase()];
    for (const { code, when } of errorEntriesOf(schema)) {
      t.type(when, "string", `${title}: ${code} says when`);
      const status = String(errorCatalogue[code as keyof typeof errorCatalogue].status);
      t.ok((op.responses[status].description as string).split("\n").includes(`\`${code}\`: ${when}`), `${title}: ${code} under ${status} with its when`);
    }
  }
  t.match(openApi.paths["/api/v1/auth/login"].post.responses["401"].description, "`auth.invalid_credentials`: ");
  const asyncApi = buildAsyncApi(protocol) as Json;
  for (const [name, schema] of protocol.ops) {
    for (const { code, when } of errorEntriesOf(schema)) {
      t.type(when, "string", `${name}: ${code} says when`);
      t.ok((asyncApi.operations[name].description as string).includes(`\`${code}\` (${when})`), `${name}: ${code} with its when`);
    }
  }
});
