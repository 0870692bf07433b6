import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.ts";
import { ParleyError } from "../errors.ts";
import type { Metrics } from "./index.ts";

export const metricsPath = "/metrics";
const loginRoute = "/api/v1/auth/login";

/** Splits "host:port" or "[v6]:port". */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(i + 1)) };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Exposes the metrics as the operator configured them (docs/admin.md, "Metrics"):
 * - `metrics.token`: GET /metrics on the public port, for `Authorization: Bearer <token>` only;
 * - `metrics.listen`: a listener of its own, serving only GET /metrics, without authentication
 *   (it is meant for loopback or a private network);
 * neither by default: server internals (connection counts, op mix, store size) are nobody's
 * business on a public port. Also counts HTTP requests and refused logins, whatever the exposure.
 * Returns the address of the separate listener once it listens (null when there is none).
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics, config: Config): { address(): string | null } {
  const { token, listen } = config.metrics;
  if (token || listen) metrics.collectProcessMetrics();

  app.addHook("onResponse", async (request, reply) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? "(none)", reply.statusCode);
  });
  app.addHook("onError", async (request, _reply, err) => {
    if (request.routeOptions.url === loginRoute) metrics.observeLoginFailure(err);
  });

  if (token) {
    const expected = digest(token);
    // route: GET /metrics
    app.get(metricsPath, async (request, reply) => {
      const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
      if (!m) throw new ParleyError("auth.required");
      // Compared as digests, in constant time: the time taken says nothing about the token.
      if (!timingSafeEqual(digest(m[1]), expected)) throw new ParleyError("auth.invalid_token");
      reply.header("content-type", metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  }

  let server: Server | undefined;
  if (listen) {
    const { host, port } = parseListen(listen);
    server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== metricsPath) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (err) => {
          app.log.error({ err }, "metrics collection failed");
          res.writeHead(500).end();
        },
      );
    });
    // A silent scraper cannot hold the listener: the same header timeout as the public port.
    server.headersTimeout = config.timeouts.headers_seconds * 1000;
    server.requestTimeout = config.timeouts.request_seconds * 1000;
    // Listens when the app is ready, before the public port, so that a taken metrics port stops
    // start-up like a taken public port does.
    app.addHook("onReady", () =>
      new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(port, host, () => {
          server!.off("error", reject);
          app.log.info({ metrics: `http://${listen.replace(/:\d+$/, `:${(server!.address() as AddressInfo).port}`)}${metricsPath}` }, "metrics listening");
          resolve();
        });
      }),
    );
    app.addHook("onClose", () => new Promise<void>((resolve) => (server!.listening ? server!.close(() => resolve()) : resolve())));
  }
  return {
    address() {
      const a = server?.listening ? (server.address() as AddressInfo) : null;
      if (!a) return null;
      return `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    },
  };
}
