/**
 * Unpaired UTF-16 surrogates. JSON can carry one (`"\ud800"`), and JSON.parse hands it over as a
 * JavaScript string, but it is not Unicode text: SQLite stores it as invalid UTF-8 and reads back
 * something else (U+FFFD) than what was acknowledged. Every request is therefore checked, before
 * any op or route sees it, and one with such a string is refused (invalid_params over the
 * WebSocket, bad_request over HTTP), so that what is stored is what was sent.
 */

const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A cheap test on the raw JSON text: a lone surrogate can only arrive as a `\uD800`-style escape. */
export function mayHoldSurrogates(json: string): boolean {
  return /\\u[dD][89a-fA-F]/.test(json);
}

/** The JSON pointer of the first string (value or key) with an unpaired surrogate, or null. */
export function findIllFormedText(value: unknown, path = ""): string | null {
  if (typeof value === "string") return lone.test(value) ? path || "/" : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findIllFormedText(value[i], `${path}/${i}`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (lone.test(k)) return `${path}/${k}`;
      const found = findIllFormedText(v, `${path}/${k}`);
      if (found) return found;
    }
  }
  return null;
}

export const illFormedReason = "has an unpaired UTF-16 surrogate: text must be well-formed Unicode";
