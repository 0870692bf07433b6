/**
 * Finding peers and their keys. A peer is named by its server name; its federation base URL comes
 * from `[federation.peers]` in the config, else from its discovery document
 * (https://<name>/.well-known/parley, `endpoints.federation` and `endpoints.keys`). Published keys
 * are cached for `key_cache_seconds`; a key id the peer does not publish is remembered as unknown
 * for `unknown_key_cache_seconds`, so that a flood of requests under invented key ids costs one
 * fetch, not one per request.
 */
import type { Logger } from "../server/logger.ts";
import { isServerName, serverOf } from "../server/names.ts";
import { ParleyError } from "../server/errors.ts";
import { importPublishedKey, type PublishedKey } from "./keys.ts";
import type { KnownKey } from "./signatures.ts";

export const federationPrefix = "/_parley/federation/v1";

export interface PeerEndpoints {
  /** Base URL of the peer's federation API, e.g. https://school.example/_parley/federation/v1 */
  federation: string;
  keys: string;
}

export interface PeerDirectoryDeps {
  peers: Record<string, string>;
  allowPlainHttp: boolean;
  keyCacheMs: number;
  unknownKeyCacheMs: number;
  log: Logger;
  now: () => number;
  /** The HTTP client (tests may count requests). */
  fetch?: typeof fetch;
}

/** Server names are parsed in one place (server/names.ts): DNS names, IPv4 and bracketed IPv6 literals. */
export { isServerName, serverOf };

export function createPeerDirectory(deps: PeerDirectoryDeps) {
  const doFetch = deps.fetch ?? fetch;
  const endpoints = new Map<string, { value: PeerEndpoints; until: number }>();
  const keySets = new Map<string, { keys: Map<string, KnownKey>; until: number }>();
  const unknown = new Map<string, number>();
  /** One key fetch at a time per peer: concurrent requests share it. */
  const inflight = new Map<string, Promise<Map<string, KnownKey>>>();

  function checkUrl(url: string, what: string): string {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ParleyError("federation.unreachable", `${what}: not a URL`);
    }
    if (u.protocol === "https:" || (u.protocol === "http:" && deps.allowPlainHttp)) return url.replace(/\/+$/, "");
    throw new ParleyError("federation.unreachable", `${what}: plain HTTP is not allowed (federation.allow_plain_http)`);
  }

  async function getJson(url: string): Promise<any> {
    let res: Response;
    try {
      res = await doFetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      // A name that does not resolve, a refused connection, a timeout: the peer is unreachable.
      throw new ParleyError("federation.unreachable", `${url}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new ParleyError("federation.unreachable", `${url}: HTTP ${res.status}`);
    return res.json();
  }

  /** The peer's federation and keys URLs. */
  async function resolve(name: string): Promise<PeerEndpoints> {
    if (!isServerName(name)) throw new ParleyError("federation.unreachable", `"${name}" is not a server name`);
    const configured = deps.peers[name];
    if (configured) {
      const base = checkUrl(configured, name);
      return { federation: `${base}${federationPrefix}`, keys: `${base}/.well-known/parley/keys` };
    }
    const cached = endpoints.get(name);
    if (cached && cached.until > deps.now()) return cached.value;
    const doc = await getJson(`https://${name}/.well-known/parley`);
    if (doc?.server !== name || typeof doc?.endpoints?.federation !== "string" || typeof doc?.endpoints?.keys !== "string") {
      throw new ParleyError("federation.unreachable", `${name}: its discovery document names no federation endpoint`);
    }
    const value = { federation: checkUrl(doc.endpoints.federation, name), keys: checkUrl(doc.endpoints.keys, name) };
    endpoints.set(name, { value, until: deps.now() + deps.keyCacheMs });
    return value;
  }

  async function fetchKeys(name: string): Promise<Map<string, KnownKey>> {
    const { keys: url } = await resolve(name);
    const body = await getJson(url);
    if (body?.server !== name || !Array.isArray(body.keys)) throw new ParleyError("federation.unreachable", `${name}: its key document is not for ${name}`);
    const out = new Map<string, KnownKey>();
    for (const k of body.keys as PublishedKey[]) {
      if (k?.kty !== "OKP" || k.crv !== "Ed25519" || typeof k.x !== "string" || typeof k.kid !== "string") continue;
      try {
        out.set(k.kid, { key: importPublishedKey(k), validFrom: Number(k.validFrom) || 0, validUntil: typeof k.validUntil === "number" ? k.validUntil : null });
      } catch {
        deps.log.warn({ peer: name, keyId: k.kid }, "peer published a key that does not import");
      }
    }
    keySets.set(name, { keys: out, until: deps.now() + deps.keyCacheMs });
    return out;
  }

  function refreshKeys(name: string): Promise<Map<string, KnownKey>> {
    let p = inflight.get(name);
    if (!p) {
      p = fetchKeys(name).finally(() => inflight.delete(name));
      inflight.set(name, p);
    }
    return p;
  }

  return {
    resolve,
    /**
     * The origin's key by id: from the cache, else by fetching the origin's keys once (unless the
     * id is in the negative cache). Null when the origin does not publish it or cannot be reached.
     */
    async lookupKey(origin: string, keyId: string): Promise<KnownKey | null> {
      const at = deps.now();
      const set = keySets.get(origin);
      const hit = set?.keys.get(keyId);
      if (hit && set!.until > at) return hit;
      const negative = unknown.get(`${origin} ${keyId}`);
      if (negative !== undefined && negative > at) return null;
      try {
        const fresh = await refreshKeys(origin);
        const found = fresh.get(keyId);
        if (found) return found;
      } catch (err) {
        deps.log.warn({ peer: origin, err: (err as Error).message }, "could not fetch the peer's keys");
        // A key we held stays usable while its peer is briefly unreachable.
        if (hit) return hit;
      }
      if (unknown.size > 10_000) unknown.clear();
      unknown.set(`${origin} ${keyId}`, at + deps.unknownKeyCacheMs);
      return null;
    },
    /** Drops what is cached about a peer (its keys and endpoints). */
    forget(name: string): void {
      keySets.delete(name);
      endpoints.delete(name);
    },
  };
}

export type PeerDirectory = ReturnType<typeof createPeerDirectory>;
