import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.ts";
import type { ServerKeys } from "../../federation/keys.ts";
import type { Storage } from "../storage/database.ts";
import { websocketPath } from "../ws/transport.ts";
import { version } from "../version.ts";

/** Discovery, keys and health: what a client, a peer or a load balancer asks first. */
export function registerDiscoveryRoutes(app: FastifyInstance, deps: { config: Config; keys: ServerKeys; storage: Storage }): void {
  const { config, keys, storage } = deps;

  // A public URL derived from `listen.port = 0` ("any free port", as tests and PARLEY_PORT=0 ask)
  // names port 0, which nobody can reach: advertise the port the OS chose once listening.
  function publicBase(): string {
    const url = new URL(config.server.public_url);
    const address = app.server.address();
    if (url.port !== "0" || !address || typeof address === "string") return config.server.public_url;
    url.port = String(address.port);
    return url.toString().replace(/\/+$/, "");
  }

  // route: GET /.well-known/parley
  app.get("/.well-known/parley", { config: { rateLimit: false } }, async () => {
    const base = publicBase();
    const wsBase = base.replace(/^http/, "ws");
    return {
      server: config.server.name,
      software: { name: "parley", version },
      versions: ["v1"],
      endpoints: {
        client: `${base}/api/v1`,
        websocket: `${wsBase}${websocketPath}`,
        keys: `${base}/.well-known/parley/keys`,
        ...(config.federation.enabled ? { federation: `${base}/_parley/federation/v1` } : {}),
      },
      registration: config.registration.policy,
      limits: {
        frameBytes: config.limits.frame_bytes,
        messageChars: config.limits.message_chars,
        uploadBytes: config.limits.upload_bytes,
        wsOpsPerSecond: config.limits.ws_ops_per_second,
        wsOpsBurst: config.limits.ws_ops_burst,
        httpRequestsPerMinute: config.limits.http_requests_per_minute,
        registrationsPerMinute: config.limits.registrations_per_minute,
        adminsPerCommunity: config.rooms.admins_per_community,
      },
    };
  });

  // route: GET /.well-known/parley/keys
  app.get("/.well-known/parley/keys", { config: { rateLimit: false } }, async () => ({ server: config.server.name, keys: keys.published() }));

  // route: GET /healthz
  app.get("/healthz", { config: { rateLimit: false } }, async () => ({ status: "ok" }));

  // route: GET /readyz
  app.get("/readyz", { config: { rateLimit: false } }, async (_request, reply) =>
    storage.isReady() ? { status: "ready" } : reply.code(503).send({ status: "unavailable" }),
  );
}
