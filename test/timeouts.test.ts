/**
 * A slow or silent client cannot hold the server's connections: raw sockets that stop sending
 * the headers, the body, an upload, or anything at all after a kept-alive answer are cut off
 * (config [timeouts]); a cut upload leaves no temporary file and gives its quota back.
 */
import t from "tap";
import { connect, type Socket } from "node:net";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, type TestServer } from "./helpers.ts";

/** Opens a raw TCP connection to the server, collecting what it answers. */
async function rawHttp(server: TestServer): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { port } = new URL(server.baseUrl);
  const socket = connect(Number(port), "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let text = "";
  socket.on("data", (d) => (text += d));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => text, closed };
}

/** Resolves once the condition holds (checked every 10 ms); tap's own timeout bounds the wait. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}

const quick = { headers_seconds: 1, request_seconds: 2, keep_alive_seconds: 1, upload_idle_seconds: 1 };

t.test("a client that never finishes its request headers is cut off with 408", async (t) => {
  const server = await startServer({ timeouts: quick });
  t.teardown(() => server.stop(true));
  const raw = await rawHttp(server);
  raw.socket.write("GET /healthz HTTP/1.1\r\nHost: school.test\r\nX-Slow: ");
  await raw.closed;
  t.match(raw.received(), /^HTTP\/1\.1 408 /, "the server answered 408 and closed");
  const res = await fetch(`${server.baseUrl}/healthz`);
  t.equal(res.status, 200, "and serves everyone else");
});

t.test("a request whose body stops arriving is cut off with 408", async (t) => {
  const server = await startServer({ timeouts: quick });
  t.teardown(() => server.stop(true));
  const raw = await rawHttp(server);
  const body = JSON.stringify({ username: "alice", password: "correct horse battery" });
  raw.socket.write(`POST /api/v1/auth/login HTTP/1.1\r\nHost: school.test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  await raw.closed;
  t.match(raw.received(), /^HTTP\/1\.1 408 /);
  t.same(server.logs.filter((l) => (l.level as number) >= 50), [], "no error is logged for a slow client");
});

t.test("an idle kept-alive connection is closed after keep_alive_seconds", async (t) => {
  const server = await startServer({ timeouts: quick });
  t.teardown(() => server.stop(true));
  const raw = await rawHttp(server);
  raw.socket.write("GET /healthz HTTP/1.1\r\nHost: school.test\r\nConnection: keep-alive\r\n\r\n");
  await raw.closed;
  const answers = raw.received().match(/^HTTP\/1\.1 \d+/gm) ?? [];
  t.same(answers, ["HTTP/1.1 200"], "it was answered once, then closed by the server");
  t.match(raw.received(), /keep-alive: timeout=1/i, "and told the client how long it would wait");
});

t.test("a stalled upload is cut, its temporary file removed and its quota reservation released", async (t) => {
  // The whole-request bound is long here, so that only the upload's idle bound can cut it.
  const server = await startServer({ timeouts: { ...quick, request_seconds: 600 }, media: { user_quota_bytes: 100_000 } });
  t.teardown(() => server.stop(true));
  const alice = await server.user("alice", { connect: false });
  const raw = await rawHttp(server);
  raw.socket.write(
    `POST /api/v1/media?name=video.mp4 HTTP/1.1\r\nHost: school.test\r\nAuthorization: Bearer ${alice.session.accessToken}\r\nContent-Type: application/octet-stream\r\nContent-Length: 90000\r\n\r\n`,
  );
  raw.socket.write(Buffer.alloc(60_000, 7));
  // Then nothing more: the server cuts the connection.
  await raw.closed;
  t.equal(raw.received(), "", "a silent client gets no answer, only the cut");
  // The server's side of the cut (the stream's failure, the file's removal) completes a few
  // turns after the client sees its socket close: wait for it rather than for a time.
  const tmp = join(server.dataDir, "media", "tmp");
  await until(() => server.app.parley.media.receivingBytes() === 0 && readdirSync(tmp).length === 0);
  t.pass("no bytes stay counted as in progress, and no temporary file is left");
  // 60,000 bytes still counted would make this one (90,000 of a 100,000 quota) over quota.
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=video.mp4`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream" },
    body: Buffer.alloc(90_000, 8),
  });
  t.equal(res.status, 201, "the quota is whole again: a full upload fits");
  t.same(readdirSync(tmp), [], "and it left nothing in the temporary folder either");
  t.same(server.logs.filter((l) => (l.level as number) >= 50), [], "no error is logged for the stalled upload");
  t.ok(server.logs.some((l) => l.msg === "upload stalled: connection cut"), "the cut is logged");
});

t.test("the headers timeout never exceeds the request timeout", async (t) => {
  const server = await startServer({ timeouts: { headers_seconds: 30, request_seconds: 5 } });
  t.teardown(() => server.stop(true));
  t.equal(server.app.server.headersTimeout, 5000);
  t.equal(server.app.server.requestTimeout, 5000);
  t.equal(server.app.server.keepAliveTimeout, 5000, "the keep-alive default is 5 seconds");
});
