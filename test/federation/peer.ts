/**
 * A fake federation peer for tests: an HTTP server on loopback that publishes its own Ed25519
 * keys at /.well-known/parley/keys under its own server name, and signs its own requests, so that
 * a test can send hostile ones: forged, replayed, misaddressed, stale, with a lying digest.
 */
import { createServer, type Server } from "node:http";
import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { signRequest } from "../../federation/signatures.ts";
import { federationPrefix } from "../../federation/peers.ts";

export interface FakeKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  validFrom: number;
  validUntil: number | null;
}

export interface FakePeer {
  name: string;
  baseUrl: string;
  keys: FakeKey[];
  /** How many times the keys document was fetched. */
  keyFetches: number;
  /** Requests received on the peer's federation API (path, parsed body), in order. */
  received: { path: string; body: any }[];
  /** How the peer answers its federation API; default 404. */
  respond?: (path: string, body: any) => { status: number; headers?: Record<string, string>; body?: unknown };
  newKey(): FakeKey;
  /** Signs `body` as this peer and returns the headers (tests then tamper with them). */
  sign(o: { method?: string; url: string; body?: unknown; destination: string; key?: FakeKey; at?: number; origin?: string }): Promise<{ headers: Record<string, string>; bytes: Buffer }>;
  /** Sends raw bytes with the given headers to a real server's federation endpoint. */
  send(target: string, path: string, headers: Record<string, string>, bytes: Buffer, method?: string): Promise<{ status: number; body: any }>;
  /** Signs and sends in one go. */
  call(target: { baseUrl: string; name: string }, path: string, body: unknown, o?: { key?: FakeKey; at?: number }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export function makeKey(at = Date.now()): FakeKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { keyId: `ed25519:${randomBytes(6).toString("base64url")}`, privateKey, publicKey, validFrom: at, validUntil: null };
}

export async function startFakePeer(name = "evil.test"): Promise<FakePeer> {
  const peer: FakePeer = {
    name,
    baseUrl: "",
    keys: [makeKey()],
    keyFetches: 0,
    received: [],
    newKey() {
      const k = makeKey();
      peer.keys.push(k);
      return k;
    },
    async sign(o) {
      const bytes = Buffer.from(o.body === undefined ? "" : JSON.stringify(o.body));
      const key = o.key ?? peer.keys[0];
      const headers = await signRequest({ method: o.method ?? "POST", url: o.url, body: bytes, origin: o.origin ?? name, destination: o.destination }, key, o.at ?? Date.now());
      return { headers, bytes };
    },
    async send(target, path, headers, bytes, method = "POST") {
      const res = await fetch(`${target}${federationPrefix}${path}`, { method, headers, body: method === "GET" ? undefined : new Uint8Array(bytes) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async call(target, path, body, o = {}) {
      const { headers, bytes } = await peer.sign({ url: `${target.baseUrl}${federationPrefix}${path}`, body, destination: target.name, ...o });
      return peer.send(target.baseUrl, path, headers, bytes);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    if (req.url === "/.well-known/parley/keys") {
      peer.keyFetches++;
      const keys = peer.keys.map((k) => ({ ...k.publicKey.export({ format: "jwk" }), kid: k.keyId, alg: "EdDSA", use: "sig", validFrom: k.validFrom, validUntil: k.validUntil }));
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ server: name, keys }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: any = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      const path = (req.url ?? "").replace(federationPrefix, "");
      peer.received.push({ path, body });
      const answer = peer.respond?.(path, body) ?? { status: 404 };
      res.statusCode = answer.status;
      for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
      res.setHeader("content-type", "application/json");
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  peer.baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return peer;
}
