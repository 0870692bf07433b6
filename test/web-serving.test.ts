/**
 * The server serves the built web client: index.html with a strict CSP and no inline script,
 * hashed assets cached as immutable, the client's routes answered with index.html but /api never,
 * the invite landing page linking into the app, and the size budgets of the build (initial
 * JavaScript <= 80 KB gzipped, CSS <= 25 KB, the admin panel in a chunk of its own).
 */
import t from "tap";
import { readFileSync, readdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import Fastify from "fastify";
import { startServer } from "./helpers.ts";
import { registerWebClient, webClientDir } from "../server/web/static.ts";

const indexHtml = readFileSync(join(webClientDir, "index.html"), "utf8");
const entryScripts = [...indexHtml.matchAll(/<script[^>]*src="\/assets\/([^"]+)"/g)].map((m) => m[1]);
const preloads = [...indexHtml.matchAll(/<link rel="modulepreload"[^>]*href="\/assets\/([^"]+)"/g)].map((m) => m[1]);
const stylesheets = [...indexHtml.matchAll(/<link rel="stylesheet"[^>]*href="\/assets\/([^"]+)"/g)].map((m) => m[1]);
const gz = (file: string) => gzipSync(readFileSync(join(webClientDir, "assets", file)), { level: 9 }).length;

t.test("the build stays within its budgets, with the admin panel loaded lazily", async (t) => {
  t.equal(entryScripts.length, 1, "one entry script");
  const initialJs = [...entryScripts, ...preloads].reduce((sum, f) => sum + gz(f), 0);
  t.ok(initialJs <= 80 * 1024, `initial JavaScript is ${initialJs} bytes gzipped (budget 81,920)`);
  const css = stylesheets.reduce((sum, f) => sum + gz(f), 0);
  t.ok(css > 0 && css <= 25 * 1024, `CSS is ${css} bytes gzipped (budget 25,600)`);
  const files = readdirSync(join(webClientDir, "assets"));
  const admin = files.filter((f) => /^Admin-.*\.js$/.test(f));
  t.equal(admin.length, 1, "the admin panel is a chunk of its own");
  t.notOk([...entryScripts, ...preloads].includes(admin[0]), "and not part of what the page loads first");
  const entry = readFileSync(join(webClientDir, "assets", entryScripts[0]), "utf8");
  t.ok(entry.includes(admin[0]), "the entry imports it dynamically");
  t.notOk(/<script(?![^>]*\bsrc=)[^>]*>/.test(indexHtml), "index.html has no inline script");
  t.notOk(/<style\b|\sstyle="/.test(indexHtml), "nor inline style");
});

t.test("the server serves the client at / and its routes, never /api", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const get = (path: string, init?: RequestInit) => fetch(`${server.baseUrl}${path}`, init);

  const root = await get("/");
  t.equal(root.status, 200);
  t.match(root.headers.get("content-type"), /^text\/html/);
  t.equal(root.headers.get("cache-control"), "no-cache", "index.html is revalidated on every load");
  const csp = root.headers.get("content-security-policy") ?? "";
  t.match(csp, /script-src 'self'(;|$)/, "scripts only from this origin");
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, "no inline script or eval allowed");
  t.match(csp, /frame-ancestors 'none'/);
  t.equal(await root.text(), indexHtml);

  for (const path of ["/r/!abc:school.test", "/c/x", "/admin/x", "/i/sometoken", "/me", "/new", "/u/@bob:school.test"]) {
    const res = await get(encodeURI(path));
    t.equal(res.status, 200, `${path} is an app route`);
    t.equal(await res.text(), indexHtml, `${path} answers with index.html`);
  }

  const asset = await get(`/assets/${entryScripts[0]}`);
  t.equal(asset.status, 200);
  t.match(asset.headers.get("content-type"), /javascript/);
  t.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable", "hashed files are immutable");
  t.equal(await asset.text(), readFileSync(join(webClientDir, "assets", entryScripts[0]), "utf8"));
  const css = await get(`/assets/${stylesheets[0]}`);
  t.match(css.headers.get("content-type"), /text\/css/);

  const sw = await get("/sw.js");
  t.equal(sw.status, 200, "the service worker is served at the root (its scope is the whole app)");
  t.match(sw.headers.get("content-type"), /javascript/);
  t.equal(sw.headers.get("cache-control"), "no-cache", "and revalidated, so a new one is picked up");
  t.match(await sw.text(), /addEventListener\("push"/);

  for (const path of ["/assets/nope-123.js", "/assets/../index.html", "/api/v1/nothing-here", "/api", "/unknown/page"]) {
    const res = await get(path);
    t.equal(res.status, 404, `${path}: 404`);
    t.same((await res.json()).error.code, "not_found", `${path}: the JSON not_found error, not the app`);
  }
  const post = await get("/r/x", { method: "POST" });
  t.equal(post.status, 404, "only GET is served");

  const health = await get("/healthz");
  t.same(await health.json(), { status: "ok" }, "API routes are untouched");
});

t.test("the invite landing page opens the app at the invite", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice");
  const school = await alice.request("community.create", { name: "Hillside School" });
  const link = await alice.request("link.create", { roomId: school.roomId });
  const page = await (await fetch(`${server.baseUrl}/join/${link.token}`)).text();
  t.match(page, `href="/i/${link.token}"`, "the landing page links to the app's invite route");
  const app = await fetch(`${server.baseUrl}/i/${link.token}`);
  t.equal(app.status, 200);
  t.equal(await app.text(), indexHtml);
});

t.test("a server whose client is not built says so at / and keeps /api", async (t) => {
  const empty = mkdtempSync(join(tmpdir(), "parley-noweb-"));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const app = Fastify();
  app.setNotFoundHandler((_r, reply) => reply.code(404).send({ error: { code: "not_found" } }));
  app.setErrorHandler((err: { status?: number; code?: string }, _r, reply) => reply.code(err.status ?? 500).send({ error: { code: err.code } }));
  await registerWebClient(app, empty);
  t.teardown(() => app.close());
  const root = await app.inject({ method: "GET", url: "/" });
  t.equal(root.statusCode, 503);
  t.match(root.body, /npm run build:web/);
  const api = await app.inject({ method: "GET", url: "/api/v1/x" });
  t.equal(api.statusCode, 404);
});
