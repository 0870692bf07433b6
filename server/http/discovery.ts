import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.ts";
import type { ServerKeys } from "../../federation/keys.ts";
import type { Storage } from "../storage/database.ts";
import { websocketPath } from "../ws/transport.ts";
import { version } from "../version.ts";

/** Discovery, keys and health: what a client, a peer or a load balancer asks first. */
export function registerDiscoveryRoutes(app: FastifyInstance, deps: { config: Config; keys: ServerKeys; storage: Storage }): void {
  const { config, keys, storage } = deps;
  const base = config.server.public_url;
  const wsBase = base.replace(/^http/, "ws");

  // route: GET /.well-known/parley
  app.get("/.well-known/parley", { config: { rateLimit: false } }, async () => ({
    server: config.server.name,
    software: { name: "parley", version },
    versions: ["v1"],
    endpoints: { client: `${base}/api/v1`, websocket: `${wsBase}${websocketPath}`, keys: `${base}/.well-known/parley/keys` },
    registration: config.registration.policy,
    limits: {
      frameBytes: config.limits.frame_bytes,
      messageChars: config.limits.message_chars,
      uploadBytes: config.limits.upload_bytes,
      wsOpsPerSecond: config.limits.ws_ops_per_second,
      wsOpsBurst: config.limits.ws_ops_burst,
      httpRequestsPerMinute: config.limits.http_requests_per_minute,
    },
  }));

  // route: GET /.well-known/parley/keys
  app.get("/.well-known/parley/keys", { config: { rateLimit: false } }, async () => ({ server: config.server.name, keys: keys.published() }));

  // route: GET /healthz
  app.get("/healthz", { config: { rateLimit: false } }, async () => ({ status: "ok" }));

  // route: GET /readyz
  app.get("/readyz", { config: { rateLimit: false } }, async (_request, reply) =>
    storage.isReady() ? { status: "ready" } : reply.code(503).send({ status: "unavailable" }),
  );
}
