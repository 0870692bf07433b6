/**
 * RFC 9421 signatures and RFC 9530 digests, checked against the RFCs' own vectors before Parley
 * trusts the libraries that make them, then Parley's request profile on its own.
 */
import t from "tap";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { httpbis } from "http-message-signatures";
import { contentDigest, coveredComponents, digestMatches, signatureBase, signRequest, verifyRequest, type VerifyDeps } from "../../federation/signatures.ts";
import { parseDictionary, serializeList, type InnerList } from "structured-headers";
import { ParleyError } from "../../server/errors.ts";

// RFC 9421 appendix B.1.4, test-key-ed25519.
const rfcPrivate = createPrivateKey("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n");
const rfcPublic = createPublicKey("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n");
// RFC 9421 appendix B.2, the test request.
const rfcRequest = {
  method: "POST",
  url: "https://example.com/foo?param=Value&Pet=dog",
  headers: {
    host: "example.com",
    date: "Tue, 20 Apr 2021 02:07:55 GMT",
    "content-type": "application/json",
    "content-digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "content-length": "18",
  },
};
const rfcSignature = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";
const rfcInput = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';

t.test("http-message-signatures reproduces RFC 9421 B.2.6 (Ed25519) byte for byte", async (t) => {
  const { sign } = await import("node:crypto");
  const signed = await httpbis.signMessage(
    {
      key: { id: "test-key-ed25519", alg: "ed25519", sign: async (d: Buffer) => sign(null, d, rfcPrivate) },
      name: "sig-b26",
      params: ["created", "keyid"],
      fields: ["date", "@method", "@path", "@authority", "content-type", "content-length"],
      paramValues: { created: new Date(1618884473000) },
    },
    structuredClone(rfcRequest),
  );
  const out = signed.headers as Record<string, string>;
  t.equal(out["Signature-Input"], rfcInput, "the Signature-Input of the RFC");
  t.equal(out.Signature, rfcSignature, "the signature of the RFC (Ed25519 is deterministic)");
});

t.test("http-message-signatures verifies RFC 9421 B.2.6 and refuses it once the request changes", async (t) => {
  const { verify } = await import("node:crypto");
  const config = {
    keyLookup: async () => ({ id: "test-key-ed25519", algs: ["ed25519"], verify: async (d: Buffer, s: Buffer) => verify(null, d, rfcPublic, s) }),
    tolerance: Number.MAX_SAFE_INTEGER,
    notAfter: Number.MAX_SAFE_INTEGER,
  };
  const headers = { ...rfcRequest.headers, "signature-input": rfcInput, signature: rfcSignature };
  t.equal(await httpbis.verifyMessage(config, { ...rfcRequest, headers }), true);
  t.equal(await httpbis.verifyMessage(config, { ...rfcRequest, method: "PUT", headers }), false, "another method");
  t.equal(await httpbis.verifyMessage(config, { ...rfcRequest, headers: { ...headers, "content-length": "19" } }), false, "another covered header");
});

t.test("@query is derived as RFC 9421 section 2.2.7 says, '?' alone when there is none", async (t) => {
  const none = new Map();
  t.same(httpbis.deriveComponent("@query", none, { method: "GET", url: "https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman", headers: {} }), ["?param=value&foo=bar&baz=bat%2Dman"]);
  t.same(httpbis.deriveComponent("@query", none, { method: "GET", url: "https://www.example.com/path", headers: {} }), ["?"]);
});

t.test("Content-Digest is RFC 9530's sha-256 of the raw bytes", async (t) => {
  // RFC 9530 section 2: {"hello": "world"} with sha-256.
  t.equal(contentDigest('{"hello": "world"}'), "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  t.ok(digestMatches("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", Buffer.from('{"hello": "world"}')));
  t.ok(digestMatches("sha-512=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", Buffer.from('{"hello": "world"}')), "other algorithms beside it are ignored");
  t.notOk(digestMatches("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", Buffer.from('{"hello":"world"}')), "one byte of whitespace differs");
  t.notOk(digestMatches("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:", Buffer.from('{"hello": "world"}')), "sha-256 is required");
  t.notOk(digestMatches("not a dictionary ((", Buffer.from("")));
  t.notOk(digestMatches(undefined, Buffer.from("")));
});

// ---- Parley's profile: sign with signRequest, verify with verifyRequest ----

const origin = "branch.test";
const self = "school.test";
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const key = { keyId: "ed25519:k1", privateKey };
const at = 1_800_000_000_000;

function deps(over: Partial<VerifyDeps> = {}): VerifyDeps {
  const seen = new Set<string>();
  return {
    self,
    now: at,
    skewSeconds: 300,
    lookupKey: async (o, id) => (o === origin && id === "ed25519:k1" ? { key: publicKey, validFrom: 0, validUntil: null } : null),
    useNonce: (o, n) => (seen.has(`${o} ${n}`) ? false : (seen.add(`${o} ${n}`), true)),
    ...over,
  };
}

async function signed(o: { url?: string; body?: string; destination?: string; at?: number } = {}) {
  const body = Buffer.from(o.body ?? '{"x":1}');
  const url = o.url ?? "/_parley/federation/v1/send?since=4";
  const headers = await signRequest({ method: "POST", url: `https://${self}${url}`, body, origin, destination: o.destination ?? self }, key, o.at ?? at);
  return { method: "POST", url, headers: headers as Record<string, string | undefined>, body };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "(accepted)";
  } catch (err) {
    return err instanceof ParleyError ? err.code : `thrown: ${(err as Error).message}`;
  }
}

t.test("a request signed by Parley's profile verifies and names its origin and key", async (t) => {
  const req = await signed();
  t.match(req.headers["signature-input"], /^parley=\("@method" "@path" "@query" "content-digest" "parley-origin" "parley-destination"\);created=\d+;expires=\d+;nonce="[^"]+";keyid="ed25519:k1";alg="ed25519";tag="parley-federation-v1"$/);
  t.same(await verifyRequest(req, deps()), { origin, keyId: "ed25519:k1" });
});

t.test("Parley's signatures verify with http-message-signatures, and not once the request changes", async (t) => {
  for (const url of ["/_parley/federation/v1/send?since=4", "/_parley/federation/v1/propose-batch"]) {
    const req = await signed({ url });
    const verify = (r: typeof req) =>
      httpbis.verifyMessage(
        { keyLookup: async () => ({ id: "ed25519:k1", algs: ["ed25519"], verify: async (d: Buffer, sig: Buffer) => (await import("node:crypto")).verify(null, d, publicKey, sig) }), tolerance: Number.MAX_SAFE_INTEGER, notAfter: Number.MAX_SAFE_INTEGER },
        { method: r.method, url: `https://${self}${r.url}`, headers: r.headers as Record<string, string> },
      );
    t.equal(await verify(req), true, url);
    t.equal(await verify({ ...req, headers: { ...req.headers, "parley-origin": "evil.test" } }), false, `${url}, another origin`);
  }
});

t.test("the verifier's own signature base is the library's, line for line, with and without a query", async (t) => {
  for (const url of ["/_parley/federation/v1/send?since=4", "/_parley/federation/v1/propose-batch"]) {
    const req = await signed({ url });
    const input = parseDictionary(req.headers["signature-input"]!).get("parley") as InnerList;
    const library = httpbis.createSignatureBase({ fields: [...coveredComponents].map((c) => `"${c}"`) }, { method: req.method, url: `http://${self}${url}`, headers: req.headers as Record<string, string> });
    library.push(['"@signature-params"', [serializeList([input])]]);
    t.equal(signatureBase(req, self, input), httpbis.formatSignatureBase(library), url);
  }
  const req = await signed();
  const { "content-digest": _gone, ...headers } = req.headers;
  t.equal(signatureBase({ ...req, headers }, self, parseDictionary(req.headers["signature-input"]!).get("parley") as InnerList), null, "no base without a covered header");
});

t.test("each tampering is refused with the code naming what failed", async (t) => {
  const d = deps();
  const cases: [string, () => Promise<unknown>, string][] = [
    ["no signature", async () => verifyRequest({ ...(await signed()), headers: { "parley-origin": origin, "parley-destination": self } }, d), "federation.signature_missing"],
    ["another path", async () => verifyRequest({ ...(await signed()), url: "/_parley/federation/v1/join?since=4" }, d), "federation.signature_invalid"],
    ["another query", async () => verifyRequest({ ...(await signed()), url: "/_parley/federation/v1/send?since=5" }, d), "federation.signature_invalid"],
    ["another method", async () => verifyRequest({ ...(await signed()), method: "PUT" }, d), "federation.signature_invalid"],
    ["a claimed origin that did not sign", async () => {
      const r = await signed();
      return verifyRequest({ ...r, headers: { ...r.headers, "parley-origin": "other.test" } }, d);
    }, "federation.unknown_key"],
    ["another body under the signed digest", async () => verifyRequest({ ...(await signed()), body: Buffer.from('{"x":2}') }, d), "federation.digest_mismatch"],
    ["a rewritten digest", async () => {
      const r = await signed();
      return verifyRequest({ ...r, body: Buffer.from('{"x":2}'), headers: { ...r.headers, "content-digest": contentDigest('{"x":2}') } }, d);
    }, "federation.signature_invalid"],
    ["addressed to another server", async () => verifyRequest(await signed({ destination: "elsewhere.test" }), d), "federation.wrong_destination"],
    ["created 6 minutes ago", async () => verifyRequest(await signed({ at: at - 360_000 }), d), "federation.stale"],
    ["created 6 minutes ahead", async () => verifyRequest(await signed({ at: at + 360_000 }), d), "federation.stale"],
    ["expired (created 4 minutes ago, 5-minute lifetime, checked 2 minutes later)", async () => verifyRequest(await signed({ at: at - 240_000 }), { ...d, now: at + 120_000 }), "federation.stale"],
    ["a key the origin does not publish", async () => verifyRequest(await signed(), { ...d, lookupKey: async () => null }), "federation.unknown_key"],
    ["a retired key", async () => verifyRequest(await signed(), { ...d, lookupKey: async () => ({ key: publicKey, validFrom: 0, validUntil: at - 1 }) }), "federation.key_retired"],
    ["a signature that covers less", async () => {
      const r = await signed();
      return verifyRequest({ ...r, headers: { ...r.headers, "signature-input": r.headers["signature-input"]!.replace(' "parley-destination"', "") } }, d);
    }, "federation.signature_malformed"],
    ["another tag", async () => {
      const r = await signed();
      return verifyRequest({ ...r, headers: { ...r.headers, "signature-input": r.headers["signature-input"]!.replace("parley-federation-v1", "other") } }, d);
    }, "federation.signature_malformed"],
    ["garbage in Signature-Input", async () => {
      const r = await signed();
      return verifyRequest({ ...r, headers: { ...r.headers, "signature-input": "parley=((((" } }, d);
    }, "federation.signature_malformed"],
  ];
  for (const [name, run, code] of cases) t.equal(await codeOf(run()), code, name);
});

t.test("a nonce is accepted once: the same signed request again is a replay", async (t) => {
  const d = deps();
  const req = await signed();
  t.equal(await codeOf(verifyRequest(req, d)), "(accepted)");
  t.equal(await codeOf(verifyRequest(req, d)), "federation.replayed");
});

t.test("a request that fails verification does not use up its nonce", async (t) => {
  const d = deps();
  const req = await signed();
  t.equal(await codeOf(verifyRequest({ ...req, body: Buffer.from("forged") }, d)), "federation.digest_mismatch");
  t.equal(await codeOf(verifyRequest(req, d)), "(accepted)", "the genuine request still goes through");
});
