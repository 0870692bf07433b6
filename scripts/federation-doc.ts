/**
 * Renders the reference part of docs/federation.md from protocol/federation/*.json: each
 * server-to-server endpoint with its method and path, description, errors, schemas and examples.
 * Sorted and dependent only on the schemas and the error catalogue, so that a test can compare
 * it with the committed file.
 */
import type { Protocol } from "../protocol/index.ts";
import { errorCatalogue } from "../server/errors.ts";

export const beginMarker = "<!-- BEGIN GENERATED FEDERATION REFERENCE (npm run generate) -->";
export const endMarker = "<!-- END GENERATED FEDERATION REFERENCE -->";

export function spliceFederationReference(doc: string, generated: string): string {
  const start = doc.indexOf(beginMarker);
  const end = doc.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error("docs/federation.md lacks the generated-reference markers");
  return `${doc.slice(0, start + beginMarker.length)}\n${generated}\n${doc.slice(end)}`;
}

/** Drops `examples` and `description` noise from a schema shown in the reference. */
function shape(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(shape);
  if (schema && typeof schema === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) if (k !== "examples") out[k] = shape(v);
    return out;
  }
  return schema;
}

export function renderFederationReference(protocol: Protocol): string {
  const out: string[] = ["## Reference: endpoints", "", "Generated from `protocol/federation/` by `npm run generate`; do not edit by hand.", ""];
  const line = ({ code, when }: { code: string; when: string }) => {
    const entry = (errorCatalogue as Record<string, { status: number; message: string }>)[code];
    return `- \`${code}\` (${entry?.status ?? "?"}): ${when[0].toUpperCase()}${when.slice(1)}. ${entry?.message ?? "not in the catalogue"}`;
  };
  out.push(
    "### General errors",
    "",
    "Every endpoint below checks the request before its handler runs: federation on, the origin permitted, the RFC 9421 signature. Their refusals are declared once, in [`protocol/frames.json`](../protocol/frames.json) (`x-parley.generalErrors.federation`), rather than in each endpoint; so are the HTTP general codes (`bad_request` for a body that does not match the endpoint's schema, `payload_too_large`, `internal`), listed in [the protocol reference](protocol.md). The errors listed at each endpoint are its own.",
    "",
    ...protocol.generalErrors.federation.map(line),
    "",
  );
  for (const name of [...protocol.federation.keys()].sort()) {
    const doc = protocol.federation.get(name)!;
    const x = doc["x-parley"]!;
    out.push(`### ${name}`, "", `\`${x.method} ${x.path}\` → ${x.status}`, "", doc.description, "");
    for (const part of ["request", "response"] as const) {
      const schema = doc.$defs?.[part];
      if (!schema) continue;
      out.push(`**${part[0].toUpperCase()}${part.slice(1)}** (\`protocol/federation/${name}.json#/$defs/${part}\`):`, "", "```json", JSON.stringify(shape(schema), null, 2), "```", "");
      const examples = (schema as { examples?: unknown[] }).examples ?? [];
      for (const e of examples) out.push("Example:", "", "```json", JSON.stringify(e, null, 2), "```", "");
    }
    out.push("**Errors:**", "");
    if (!x.errors?.length) out.push("Only the general ones.");
    for (const e of x.errors ?? []) out.push(line(e));
    out.push("");
  }
  return out.join("\n").trimEnd();
}
