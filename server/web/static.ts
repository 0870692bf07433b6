import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";
import { ParleyError } from "../errors.ts";

/** Where `npm install` (the `prepare` script) builds the web client. */
export const webClientDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "clients", "web", "dist");

/**
 * The app's Content-Security-Policy: scripts and styles only from files this server serves (no
 * inline script or style element), pictures from here and from object URLs of fetched files,
 * connections to this origin (HTTP and its WebSocket), nothing framed, no plugins.
 */
export const webClientCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

/** The first path segments that belong to the app (answered with index.html). */
const appRoutes = new Set(["r", "c", "admin", "i", "u", "me", "new"]);

function sendIndex(reply: FastifyReply, html: string) {
  return reply
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-cache")
    .header("content-security-policy", webClientCsp)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "same-origin")
    .send(html);
}

/**
 * Serves the built web client at `/` through one route, `GET /*` (below every other route, which
 * wins over it): hashed files under /assets/ cached for a year as immutable, index.html with
 * `no-cache` (revalidated on every load, so a new build reaches everyone), the client's own
 * routes answered with index.html (it routes itself), `/sw.js` (the service worker, revalidated
 * on every load), and everything else, /api included, the usual JSON 404. When the client has not been built, `/` says how to build it.
 */
export async function registerWebClient(app: FastifyInstance, dir = webClientDir): Promise<void> {
  const indexFile = join(dir, "index.html");
  const built = existsSync(indexFile);
  if (!built) app.log.warn({ dir }, "the web client is not built (npm run build:web): / answers with a notice");
  const html = built ? readFileSync(indexFile, "utf8") : "";
  const assets = join(dir, "assets");
  // Only reply.sendFile (ranges, ETags, no path traversal); the routing is ours.
  if (built) await app.register(fastifyStatic, { root: assets, serve: false, maxAge: "365d", immutable: true, lastModified: false });

  // route: GET /* — the web client
  app.get<{ Params: { "*": string } }>("/*", async (request, reply) => {
    const path = request.params["*"];
    const first = path.split("/")[0];
    if (path === "" || appRoutes.has(first)) {
      if (!built) {
        return reply
          .code(503)
          .type("text/plain; charset=utf-8")
          .send("Parley is running, but its web client is not built. Run `npm run build:web` (npm install does it) and restart.\n");
      }
      return sendIndex(reply, html);
    }
    if (path === "sw.js" && built) {
      // The service worker: at the root so that its scope is the whole app; always revalidated.
      return reply
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", webClientCsp)
        .sendFile("sw.js", dir, { maxAge: 0, immutable: false, cacheControl: false } as never);
    }
    if (first === "assets" && built && /^assets\/[A-Za-z0-9._-]+$/.test(path)) {
      reply.header("x-content-type-options", "nosniff");
      return reply.sendFile(path.slice("assets/".length));
    }
    throw new ParleyError("not_found");
  });
}
