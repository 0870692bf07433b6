/**
 * The HTTP client of signed server-to-server requests (federation/http.ts), against plain Node
 * servers whose behaviour the test controls: a kept-alive connection the peer drops is retried
 * once on a new one, an answer over the size bound and an answer too slow are failures.
 */
import t from "tap";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpClient, maxResponseBytes } from "../../federation/http.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function serve(t: Test, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/_parley/federation/v1/send`;
}

t.test("a request on a kept-alive connection that the peer drops is sent again once, on a new connection, and answered", async (t) => {
  const client = createHttpClient();
  t.teardown(() => client.close());
  const seen = new Map<unknown, number>();
  let answered = 0;
  const url = await serve(t, (req, res) => {
    const n = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, n);
    // The second request on a connection meets a peer that has just closed it.
    if (n === 2) return void req.socket.destroy();
    req.resume();
    req.on("end", () => {
      answered++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ results: [], n: answered }));
    });
  });
  const opts = { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.from("{}"), timeoutMs: 5_000 };
  const first = await client.send(url, opts);
  t.same([first.status, JSON.parse(first.text).n], [200, 1]);
  const second = await client.send(url, opts);
  t.same([second.status, JSON.parse(second.text).n], [200, 2], "answered on a new connection");
  t.equal(seen.size, 2, "two connections: the dropped one and the new one");
});

t.test("an answer larger than the bound is a failure, not read to its end", async (t) => {
  const client = createHttpClient();
  t.teardown(() => client.close());
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const url = await serve(t, (req, res) => {
    req.resume();
    res.setHeader("content-type", "application/json");
    let sent = 0;
    const more = () => {
      while (sent <= maxResponseBytes + chunk.length) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      res.end();
    };
    more();
  });
  await t.rejects(client.send(url, { method: "POST", headers: {}, body: Buffer.from("{}"), timeoutMs: 10_000 }), /larger than/);
});

t.test("an answer that does not come within the timeout is a failure", async (t) => {
  const client = createHttpClient();
  t.teardown(() => client.close());
  const url = await serve(t, (req) => void req.resume());
  await t.rejects(client.send(url, { method: "POST", headers: {}, body: Buffer.from("{}"), timeoutMs: 200 }), /no answer within 200 ms/);
});

t.test("a Retry-After header comes back with the answer", async (t) => {
  const client = createHttpClient();
  t.teardown(() => client.close());
  const url = await serve(t, (req, res) => {
    req.resume();
    res.statusCode = 503;
    res.setHeader("retry-after", "120");
    res.end('{"error":{"code":"unavailable","message":"busy"}}');
  });
  const res = await client.send(url, { method: "GET", headers: {}, timeoutMs: 5_000 });
  t.same([res.status, res.retryAfter, JSON.parse(res.text).error.code], [503, "120", "unavailable"]);
});
