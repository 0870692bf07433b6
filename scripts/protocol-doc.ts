import type { Protocol } from "../protocol/index.ts";

export const beginMarker = "<!-- BEGIN GENERATED REFERENCE (npm run generate) -->";
export const endMarker = "<!-- END GENERATED REFERENCE -->";

/** Replaces the text between the markers with `generated`. */
export function spliceGenerated(doc: string, generated: string): string {
  const start = doc.indexOf(beginMarker);
  const end = doc.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error("docs/protocol.md lacks the generated-reference markers");
  return `${doc.slice(0, start + beginMarker.length)}\n${generated}\n${doc.slice(end)}`;
}

/** Placeholder renderer; replaced by the full reference renderer. */
export function renderProtocolReference(protocol: Protocol): string {
  return [...protocol.ops.keys()].map((k) => `- \`${k}\``).join("\n");
}
