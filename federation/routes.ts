/**
 * The server-to-server endpoints under /_parley/federation/v1. Every route in this scope:
 *   onRequest   federation on? the origin named and permitted by the server's policy? (before
 *               the body is read: a denied server cannot make this server read its bytes)
 *   body        read raw (a Buffer), so that the Content-Digest is checked over the bytes received
 *   preHandler  the RFC 9421 signature (federation/signatures.ts); then the JSON is parsed and
 *               validated against protocol/federation/<name>.json
 * A refusal is a coded error and changes nothing.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ParleyError } from "../server/errors.ts";
import type { Protocol } from "../protocol/index.ts";
import type { AccountService, Profile } from "../server/accounts/service.ts";
import type { Federation } from "./service.ts";
import { federationPrefix, isServerName } from "./peers.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified origin server of a federation request. */
    peer?: string;
    federationBody?: unknown;
  }
}

/** Largest body a peer may send in one request (a batch of events). */
export const federationBodyLimit = 8 * 1024 * 1024;

export async function registerFederationRoutes(app: FastifyInstance, deps: { federation: Federation; protocol: Protocol; accounts: AccountService }): Promise<void> {
  const { federation, protocol, accounts } = deps;

  function body<T>(request: FastifyRequest, name: string): T {
    const raw = request.body as Buffer | undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw && raw.length ? raw.toString("utf8") : "null");
    } catch {
      throw new ParleyError("bad_request", "The body is not valid JSON.");
    }
    const validate = protocol.validator(`federation/${name}#/$defs/request`);
    if (!validate(parsed)) {
      const v = validate.errors![0];
      throw new ParleyError("bad_request", `body${v.instancePath} ${v.message}`, { path: v.instancePath || "/", reason: v.message });
    }
    return parsed as T;
  }

  await app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: federationBodyLimit }, (_req, payload, done) => done(null, payload));
      scope.addHook("onRequest", async (request) => {
        if (!federation.enabled) throw new ParleyError("federation.disabled");
        const origin = request.headers["parley-origin"];
        if (typeof origin !== "string" || !isServerName(origin)) throw new ParleyError("federation.signature_missing", "The request names no origin server (parley-origin).");
        if (!federation.policy.permits(origin)) {
          request.log.info({ peer: origin }, "federation request from a server not permitted");
          throw new ParleyError("federation.server_denied");
        }
      });
      scope.addHook("preHandler", async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const { origin } = await federation.verify({ method: request.method, url: request.url, headers: request.headers, body: raw });
        request.peer = origin;
      });

      // federation: profile
      scope.post("/profile", async (request) => {
        const { requester, userIds } = body<{ requester: string; userIds: string[] }>(request, "profile");
        federation.requireOwnUser(request.peer!, requester);
        const profiles: Profile[] = [];
        for (const id of userIds) {
          try {
            profiles.push(accounts.getProfile(id));
          } catch (err) {
            if (!(err instanceof ParleyError && err.code === "user.not_found")) throw err;
          }
        }
        return { profiles };
      });
    },
    { prefix: federationPrefix },
  );
}
