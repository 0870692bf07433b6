/**
 * Server-to-server request signatures: RFC 9421 HTTP Message Signatures with Ed25519, over the
 * method, path, query, an RFC 9530 Content-Digest of the raw body and Parley's origin and
 * destination headers. The signature base and the Signature/Signature-Input fields are made here
 * for these fixed components, byte for byte as `http-message-signatures` makes them (the tests
 * check that library against RFC 9421's own Ed25519 vector, then Parley's signatures and bases
 * against that library), so that a request costs one parse of its fields and no more; the fields
 * are parsed and serialised with `structured-headers`. The
 * checks Parley adds (required components and parameters, destination, time window, nonce,
 * digest, key validity) are here, each with its own error code.
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { parseDictionary, serializeList, isInnerList, type Dictionary, type InnerList } from "structured-headers";
import { ParleyError } from "../server/errors.ts";
import { randomToken } from "../server/random.ts";

/** The label of Parley's signature in Signature-Input and Signature. */
export const signatureLabel = "parley";
/** The `tag` parameter: names the application profile (RFC 9421 §2.3). */
export const signatureTag = "parley-federation-v1";
/** The components every request signature covers, in this order. */
export const coveredComponents = ["@method", "@path", "@query", "content-digest", "parley-origin", "parley-destination"] as const;
const requiredParams = ["created", "expires", "nonce", "keyid", "tag"] as const;
/** How long a signature is valid for after `created`, in seconds. */
export const signatureLifetimeSeconds = 300;

/** RFC 9530 Content-Digest of a body: `sha-256=:<base64>:`. */
export function contentDigest(body: Buffer | string): string {
  return `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
}

/** Whether a Content-Digest field names the SHA-256 of these bytes (other algorithms are ignored). */
export function digestMatches(field: string | undefined, body: Buffer): boolean {
  if (!field) return false;
  let dict: Dictionary;
  try {
    dict = parseDictionary(field);
  } catch {
    return false;
  }
  const entry = dict.get("sha-256");
  if (!entry || !(entry[0] instanceof ArrayBuffer)) return false;
  return Buffer.from(entry[0]).equals(createHash("sha256").update(body).digest());
}

export interface OutgoingRequest {
  method: string;
  /** Absolute URL of the destination endpoint. */
  url: string;
  body: Buffer;
  origin: string;
  destination: string;
}

/**
 * Signs a server-to-server request; returns every header to send (content-type included). The
 * signature base is made here (the components are fixed), byte for byte what
 * `http-message-signatures` makes: test/federation/signatures.test.ts verifies these signatures
 * with the library.
 */
export async function signRequest(req: OutgoingRequest, key: { keyId: string; privateKey: KeyObject }, at: number = Date.now()): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-digest": contentDigest(req.body),
    "parley-origin": req.origin,
    "parley-destination": req.destination,
  };
  const params = new Map<string, string | number>([
    ["created", Math.floor(at / 1000)],
    ["expires", Math.floor((at + signatureLifetimeSeconds * 1000) / 1000)],
    ["nonce", randomToken(16)],
    ["keyid", key.keyId],
    ["alg", "ed25519"],
    ["tag", signatureTag],
  ]);
  const signatureParams = serializeList([[coveredComponents.map((c) => [c, new Map()]), params] as InnerList]);
  const base = baseOf(req.method, new URL(req.url), headers, signatureParams)!;
  headers["signature-input"] = `${signatureLabel}=${signatureParams}`;
  headers.signature = `${signatureLabel}=:${edSign(null, Buffer.from(base), key.privateKey).toString("base64")}:`;
  return headers;
}

/** A key of the origin as the verifier knows it. */
export interface KnownKey {
  key: KeyObject;
  validFrom: number;
  validUntil: number | null;
}

export interface IncomingRequest {
  method: string;
  /** Path and query as received, e.g. "/_parley/federation/v1/send?x=1". */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface VerifyDeps {
  /** This server's name: requests must be addressed to it. */
  self: string;
  now: number;
  skewSeconds: number;
  /** Finds the origin's key by id (fetching it when needed); null when the origin publishes no such key. */
  lookupKey(origin: string, keyId: string): Promise<KnownKey | null>;
  /** Records a nonce; false when it was already seen within the window. */
  useNonce(origin: string, nonce: string, until: number): boolean;
}

function header(h: IncomingRequest["headers"], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** A header's value as a signature base holds it (RFC 9421 §2.1): each line trimmed, joined by ", "; null when absent. */
function baseValue(h: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = h[name];
  if (v === undefined) return null;
  return (Array.isArray(v) ? v : [v]).map((x) => x.trim().replace(/\n\s*/gm, " ")).join(", ");
}

/**
 * The signature base (RFC 9421 §2.5) over `coveredComponents` with the serialised signature
 * parameters; null when a covered header is absent (no signature can cover it).
 */
function baseOf(method: string, url: URL, headers: Record<string, string | string[] | undefined>, signatureParams: string): string | null {
  const lines = [`"@method": ${method.toUpperCase()}`, `"@path": ${url.pathname || "/"}`, `"@query": ${url.search || "?"}`];
  for (const name of coveredComponents.slice(3)) {
    const value = baseValue(headers, name);
    if (value === null) return null;
    lines.push(`"${name}": ${value}`);
  }
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join("\n");
}

/** The signature base of a received request, with its received signature parameters `input`; null when a covered header is absent. */
export function signatureBase(req: IncomingRequest, self: string, input: InnerList): string | null {
  return baseOf(req.method, new URL(`http://${self}${req.url}`), req.headers, serializeList([input]));
}

/**
 * Verifies a signed server-to-server request. Resolves with the origin and the key id, or
 * throws a ParleyError naming the first check that failed. Changes nothing but the nonce cache,
 * and that only once the signature has verified.
 */
export async function verifyRequest(req: IncomingRequest, deps: VerifyDeps): Promise<{ origin: string; keyId: string }> {
  const inputField = header(req.headers, "signature-input");
  const sigField = header(req.headers, "signature");
  if (!inputField || !sigField) throw new ParleyError("federation.signature_missing");
  let input: InnerList | undefined;
  let signature: Buffer | undefined;
  try {
    const inputs = parseDictionary(inputField);
    const sigs = parseDictionary(sigField);
    const i = inputs.get(signatureLabel);
    const s = sigs.get(signatureLabel);
    if (i && isInnerList(i)) input = i;
    if (s && s[0] instanceof ArrayBuffer) signature = Buffer.from(s[0]);
  } catch {
    throw new ParleyError("federation.signature_malformed", "Signature-Input or Signature is not a valid structured field.");
  }
  if (!input || !signature) throw new ParleyError("federation.signature_missing");
  const [items, params] = input;
  const covered = items.map(([name, p]) => (p.size ? null : name));
  if (covered.length !== coveredComponents.length || coveredComponents.some((c, k) => covered[k] !== c)) {
    throw new ParleyError("federation.signature_malformed", `The signature must cover exactly ${coveredComponents.join(" ")}.`);
  }
  for (const p of requiredParams) if (!params.has(p)) throw new ParleyError("federation.signature_malformed", `The signature lacks the "${p}" parameter.`);
  const created = params.get("created");
  const expires = params.get("expires");
  const nonce = params.get("nonce");
  const keyId = params.get("keyid");
  const alg = params.get("alg");
  if (typeof created !== "number" || typeof expires !== "number" || typeof nonce !== "string" || typeof keyId !== "string" || nonce.length < 8 || nonce.length > 128) {
    throw new ParleyError("federation.signature_malformed", "created/expires must be integers, nonce and keyid strings.");
  }
  if (params.get("tag") !== signatureTag) throw new ParleyError("federation.signature_malformed", `The tag must be "${signatureTag}".`);
  if (alg !== undefined && alg !== "ed25519") throw new ParleyError("federation.signature_malformed", 'The only algorithm is "ed25519".');

  const origin = header(req.headers, "parley-origin");
  const destination = header(req.headers, "parley-destination");
  if (!origin) throw new ParleyError("federation.signature_malformed", "parley-origin is missing.");
  if (destination !== deps.self) throw new ParleyError("federation.wrong_destination", `This is ${deps.self}, not ${destination ?? "(none)"}.`);

  const nowS = Math.floor(deps.now / 1000);
  if (Math.abs(nowS - created) > deps.skewSeconds) throw new ParleyError("federation.stale", "created is outside the allowed window.");
  if (expires <= nowS || expires <= created || expires - created > deps.skewSeconds * 2) throw new ParleyError("federation.stale", "The signature has expired (or expires too far ahead).");

  const known = await deps.lookupKey(origin, keyId);
  if (!known) throw new ParleyError("federation.unknown_key", `${origin} publishes no key ${keyId}.`);
  if (known.validUntil !== null && known.validUntil <= deps.now) throw new ParleyError("federation.key_retired");

  // The signature base (RFC 9421 §2.5) of the components checked above, which are fixed: made here
  // from the fields already parsed, rather than by the library's verifier (which would parse
  // Signature-Input and Signature a second time on every request); the same lines the library
  // signs (test/federation/signatures.test.ts checks both against each other).
  let ok = false;
  try {
    const base = signatureBase(req, deps.self, input);
    ok = base !== null && edVerify(null, Buffer.from(base), known.key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new ParleyError("federation.signature_invalid");
  if (!digestMatches(header(req.headers, "content-digest"), req.body)) throw new ParleyError("federation.digest_mismatch");
  if (!deps.useNonce(origin, nonce, (expires + deps.skewSeconds) * 1000)) throw new ParleyError("federation.replayed");
  return { origin, keyId };
}
