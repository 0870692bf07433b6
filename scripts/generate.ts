/**
 * Derives files from the JSON Schemas in protocol/: the SDK's TypeScript types
 * (clients/sdk/protocol.gen.ts) and the reference part of docs/protocol.md. Run `npm run generate`
 * after changing a schema; test/protocol.test.ts fails when the committed files are stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";
import { loadProtocol, type SchemaDoc } from "../protocol/index.ts";
import { renderProtocolReference, spliceGenerated } from "./protocol-doc.ts";
import { renderFederationReference, spliceFederationReference } from "./federation-doc.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
export const typesFile = `${root}clients/sdk/protocol.gen.ts`;
export const docFile = `${root}docs/protocol.md`;
export const federationDocFile = `${root}docs/federation.md`;

/** Rewrites cross-file refs ("/schema/common#/$defs/X", "…/frames#/$defs/Y") to local "#/$defs/X". */
function localise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(localise);
  if (node && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out[k] = `#/$defs/${v.split("#/$defs/")[1]}`;
      else if (k === "examples" || k === "x-parley" || k === "$id") continue;
      else out[k] = localise(v);
    }
    return out;
  }
  return node;
}

const strip = (schema: unknown) => localise(schema) as Record<string, unknown>;

function pairType(doc: SchemaDoc, a: string, b: string, req: string[]) {
  const props: Record<string, unknown> = {};
  for (const key of [a, b]) if (doc.$defs?.[key]) props[key] = strip(doc.$defs[key]);
  return { type: "object", additionalProperties: false, required: req.filter((k) => props[k]), properties: props };
}

export async function generateTypes(): Promise<string> {
  const protocol = loadProtocol();
  const defs: Record<string, unknown> = {};
  for (const [name, doc] of protocol.docs) {
    if (name === "common" || name === "frames") for (const [k, v] of Object.entries(doc.$defs ?? {})) defs[k] = { ...strip(v), title: k };
  }
  const section = (map: Map<string, SchemaDoc>, make: (d: SchemaDoc) => unknown) => ({
    type: "object",
    additionalProperties: false,
    required: [...map.keys()],
    properties: Object.fromEntries([...map].map(([k, d]) => [k, make(d)])),
  });
  const combined = {
    title: "Protocol",
    description: "Every op, push and HTTP endpoint of the Parley protocol. Generated from protocol/ by scripts/generate.ts: do not edit.",
    type: "object",
    additionalProperties: false,
    required: ["ops", "pushes", "http", "events"],
    properties: {
      ops: section(protocol.ops, (d) => pairType(d, "params", "result", ["params", "result"])),
      pushes: section(protocol.pushes, (d) => {
        const { title: _t, description: _d, $defs: _x, ...rest } = d;
        return strip(rest);
      }),
      http: section(protocol.http, (d) => pairType(d, "request", "response", ["response"])),
      events: section(protocol.events, (d) => {
        const { title: _t, description: _d, $defs: _x, ...rest } = d;
        return strip(rest);
      }),
    },
    $defs: defs,
  };
  const ts = await compile(combined as never, "Protocol", {
    bannerComment: "/* Generated from protocol/ by scripts/generate.ts (npm run generate). Do not edit. */",
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    style: { singleQuote: false, printWidth: 120 },
  });
  return ts;
}

export async function generateDoc(): Promise<string> {
  return spliceGenerated(readFileSync(docFile, "utf8"), renderProtocolReference(loadProtocol()));
}

export async function generateFederationDoc(): Promise<string> {
  return spliceFederationReference(readFileSync(federationDocFile, "utf8"), renderFederationReference(loadProtocol()));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(typesFile, await generateTypes());
  writeFileSync(docFile, await generateDoc());
  writeFileSync(federationDocFile, await generateFederationDoc());
  console.log(`wrote ${typesFile}\nwrote ${docFile}\nwrote ${federationDocFile}`);
}
