/**
 * The federation layer's composition: the peer directory and key cache, the nonce cache (in
 * SQLite), the server policy, the signed HTTP client for outgoing requests and the verification
 * of incoming ones. Routes are in routes.ts.
 */
import type { Config } from "../server/config/load.ts";
import type { Logger } from "../server/logger.ts";
import type { Storage } from "../server/storage/database.ts";
import { errorCatalogue, ParleyError, type ErrorCode } from "../server/errors.ts";
import type { ServerKeys } from "./keys.ts";
import { createPeerDirectory, federationPrefix } from "./peers.ts";
import { createServerPolicy } from "./policy.ts";
import { signRequest, verifyRequest, type IncomingRequest } from "./signatures.ts";
import { createProposer, JsonText } from "./proposer.ts";
import { createHttpClient } from "./http.ts";

export interface FederationDeps {
  config: Config;
  storage: Storage;
  keys: ServerKeys;
  log: Logger;
  now?: () => number;
  fetch?: typeof fetch;
}

export interface PeerResponse {
  status: number;
  body: any;
  /** Seconds from Retry-After, when the peer sent one. */
  retryAfter: number | null;
}

/**
 * What a client is told when a home refused a proposal made on its behalf: the home's own coded
 * refusal (with its details) when it is one a client can meet, or federation.unreachable naming
 * the answer (a failure of the home, or a refusal of this server rather than of the op).
 */
export function refusalOf(home: string, res: { status: number; body: any }): ParleyError {
  const error = res.body?.error as { code?: unknown; message?: unknown; details?: unknown } | undefined;
  const code = typeof error?.code === "string" ? error.code : undefined;
  if (code && Object.hasOwn(errorCatalogue, code) && !code.startsWith("federation.")) {
    const details = error!.details && typeof error!.details === "object" ? (error!.details as Record<string, unknown>) : undefined;
    return new ParleyError(code as ErrorCode, typeof error!.message === "string" ? error!.message : undefined, details);
  }
  return new ParleyError("federation.unreachable", `${home} answered ${res.status}${code ? ` (${code})` : ""}.`);
}

export function createFederation(deps: FederationDeps) {
  const { config, keys, log } = deps;
  const fc = config.federation;
  const now = deps.now ?? Date.now;
  const self = config.server.name;
  const doFetch = deps.fetch ?? fetch;
  /** Keep-alive connections to peers, shared by every signed request. */
  const httpClient = createHttpClient();
  const peers = createPeerDirectory({
    peers: fc.peers,
    allowPlainHttp: fc.allow_plain_http,
    keyCacheMs: fc.key_cache_seconds * 1000,
    unknownKeyCacheMs: fc.unknown_key_cache_seconds * 1000,
    log,
    now,
    fetch: deps.fetch,
  });
  const policy = createServerPolicy(deps.storage, fc);

  /**
   * Nonces seen. Checked in memory (a map of live nonces, loaded from the table at start), and
   * written to SQLite (`federation_nonces`) along with the next write transaction (storage.defer:
   * the request's own commit, usually) rather than in one of their own, so that a restart does
   * not forget them. A crash can lose the nonces of the last
   * turn's requests; a replay of one of those is harmless, as every endpoint is idempotent for a
   * repeated authentic request (events by seq and hash, sends by txnId, kept ops by proposalId).
   */
  const db = deps.storage.sqlite;
  const recordNonce = db.prepare(
    "INSERT INTO federation_nonces (origin, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (origin, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE federation_nonces.expires_at <= excluded.expires_at",
  );
  const forgetNonces = db.prepare("DELETE FROM federation_nonces WHERE expires_at <= ?");
  // The live nonces recorded before this start: from now on the map knows every live nonce.
  const liveNonces = new Map<string, number>();
  for (const r of db.prepare("SELECT origin, nonce, expires_at AS until FROM federation_nonces WHERE expires_at > ?").iterate(now()) as Iterable<{ origin: string; nonce: string; until: number }>) {
    liveNonces.set(`${r.origin} ${r.nonce}`, r.until);
  }
  function useNonce(origin: string, nonce: string, until: number): boolean {
    const key = `${origin} ${nonce}`;
    const at = now();
    const seen = liveNonces.get(key);
    if (seen !== undefined && seen > at) return false;
    liveNonces.set(key, until);
    deps.storage.defer(() => recordNonce.run(origin, nonce, until));
    return true;
  }
  // A CLI rotation reaches the running server within seconds.
  const keyPoll = setInterval(() => {
    keys.reload().then(
      (changed) => changed && log.info({ keyId: keys.current().keyId }, "signing key changed"),
      (err) => log.error({ err }, "reloading signing keys failed"),
    );
    try {
      const at = now();
      for (const [key, until] of liveNonces) if (until <= at) liveNonces.delete(key);
      forgetNonces.run(at);
    } catch (err) {
      log.error({ err }, "forgetting expired nonces failed");
    }
  }, 5000);
  keyPoll.unref();

  /**
   * Sends a signed request to a peer's federation API (`path` below /_parley/federation/v1).
   * Throws federation.unreachable when the peer cannot be reached or is not permitted.
   */
  async function request(destination: string, method: "GET" | "POST", path: string, body?: unknown): Promise<PeerResponse> {
    if (!fc.enabled) throw new ParleyError("federation.disabled");
    if (!policy.permits(destination)) throw new ParleyError("federation.server_denied", `${destination} is not permitted by this server's policy.`);
    const { federation } = await peers.resolve(destination);
    const url = `${federation}${path}`;
    const bytes = Buffer.from(body === undefined ? "" : body instanceof JsonText ? body.text : JSON.stringify(body));
    const headers = await signRequest({ method, url, body: bytes, origin: self, destination }, keys.current(), now());
    let status: number;
    let text: string;
    let ra: string | null;
    try {
      if (deps.fetch) {
        const res = await deps.fetch(url, { method, headers, body: method === "GET" ? undefined : bytes, signal: AbortSignal.timeout(30_000) });
        [status, text, ra] = [res.status, await res.text(), res.headers.get("retry-after")];
      } else {
        // Node's http client rather than fetch (federation/http.ts).
        const res = await httpClient.send(url, { method, headers, body: method === "GET" ? undefined : bytes, timeoutMs: 30_000 });
        [status, text, ra] = [res.status, res.text, res.retryAfter];
      }
    } catch (err) {
      throw new ParleyError("federation.unreachable", `${destination}: ${(err as Error).message}`);
    }
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const retryAfter = ra === null ? null : /^\d+$/.test(ra) ? Number(ra) : Math.max(0, Math.ceil((Date.parse(ra) - now()) / 1000)) || null;
    return { status, body: parsed, retryAfter };
  }
  const proposer = createProposer(request, now);

  return {
    enabled: fc.enabled,
    self,
    peers,
    policy,
    /** Verifies an incoming request; throws a coded ParleyError. */
    verify(req: IncomingRequest) {
      return verifyRequest(req, { self, now: now(), skewSeconds: fc.clock_skew_seconds, lookupKey: peers.lookupKey, useNonce });
    },
    /** Refuses a user id that is not of the origin server: a server speaks only for its own users. */
    requireOwnUser(origin: string, userId: string): void {
      if (!userId.startsWith("@") || userId.slice(userId.indexOf(":") + 1) !== origin) {
        throw new ParleyError("federation.sender_not_of_origin", `${userId} is not a user of ${origin}.`);
      }
    },
    request,
    /**
     * Proposes a command of a local user to the room's home (federation/proposer.ts): batched, one
     * request in flight per home, in order; answers as a single `propose` would.
     */
    propose: proposer.propose,
    /**
     * A signed GET of bytes from a peer's federation API (a file: `media`), at most `maxBytes`
     * read. Throws federation.unreachable when the peer cannot be reached, is not permitted, or
     * sends more than `maxBytes`; answers other than 200 come back with their parsed JSON body.
     */
    async requestBytes(destination: string, path: string, maxBytes: number): Promise<{ status: number; bytes: Buffer; body: any }> {
      if (!fc.enabled) throw new ParleyError("federation.disabled");
      if (!policy.permits(destination)) throw new ParleyError("federation.server_denied", `${destination} is not permitted by this server's policy.`);
      const { federation } = await peers.resolve(destination);
      const url = `${federation}${path}`;
      const headers = await signRequest({ method: "GET", url, body: Buffer.alloc(0), origin: self, destination }, keys.current(), now());
      try {
        const res = await doFetch(url, { method: "GET", headers, signal: AbortSignal.timeout(120_000) });
        const declared = Number(res.headers.get("content-length") ?? "0");
        if (declared > maxBytes) {
          await res.body?.cancel();
          throw new ParleyError("federation.unreachable", `${destination} sent a file larger than this server accepts.`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        if (res.body) {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            size += chunk.length;
            if (size > maxBytes) throw new ParleyError("federation.unreachable", `${destination} sent a file larger than this server accepts.`);
            chunks.push(Buffer.from(chunk));
          }
        }
        const bytes = Buffer.concat(chunks);
        let body: any = null;
        if (res.status !== 200) {
          try {
            body = JSON.parse(bytes.toString("utf8"));
          } catch {
            body = null;
          }
        }
        return { status: res.status, bytes, body };
      } catch (err) {
        if (err instanceof ParleyError) throw err;
        throw new ParleyError("federation.unreachable", `${destination}: ${(err as Error).message}`);
      }
    },
    close(): void {
      clearInterval(keyPoll);
      httpClient.close();
    },
    prefix: federationPrefix,
  };
}

export type Federation = ReturnType<typeof createFederation>;
