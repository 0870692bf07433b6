/**
 * Several federating servers in one test: each a real server on loopback with its own data
 * directory and server name, `[federation.peers]` pointing at the others, plain HTTP allowed on
 * loopback by config.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { startServer, until, type TestServer } from "../helpers.ts";
import type { ConfigOverrides } from "../../server/config/load.ts";

/** Whether a loopback port can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** The lowest port of the OS's ephemeral range: outgoing connections and `listen(0)` take theirs from it. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback port for a server that its peers must know before it starts. Picked at random
 * below the OS's ephemeral range, not by `listen(0)`: a port from that range, released until the
 * server takes it (or until a stopped server starts again on it), could meanwhile become the
 * local port of any outgoing connection of the tests running in parallel (EADDRINUSE, seen once
 * in a full `npm test` in test/federation/media.test.ts).
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = ephemeralLow() - 1;
  for (let i = 0; high - low >= 1000 && i < 100; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `opts.now`: one clock for every server of the cluster (signatures are checked against it too). */
export async function startCluster(names: string[], overrides: (name: string) => ConfigOverrides = () => ({}), opts: { now?: () => number } = {}): Promise<Record<string, TestServer>> {
  const ports = await Promise.all(names.map(() => freePort()));
  const peers = Object.fromEntries(names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}`]));
  const out: Record<string, TestServer> = {};
  for (const [i, name] of names.entries()) {
    const o = overrides(name);
    out[name] = await startServer({
      ...o,
      server: { name, ...o.server },
      listen: { port: ports[i], ...o.listen },
      federation: { allow_plain_http: true, ...o.federation, peers: { ...peers, ...o.federation?.peers } },
    }, { now: opts.now });
  }
  return out;
}

type Test = Parameters<typeof until>[0];

/** startCluster, with every server stopped (and its data removed) when the test ends. */
export async function startClusterFor(t: Test, names: string[], overrides?: (name: string) => ConfigOverrides, opts?: { now?: () => number }): Promise<Record<string, TestServer>> {
  const servers = await startCluster(names, overrides, opts);
  t.teardown(async () => {
    for (const s of Object.values(servers)) await s.stop(true).catch(() => undefined);
  });
  return servers;
}

/**
 * Three servers, a.test, b.test and c.test, stopped with the test: alice (of a) owns the group
 * Maths and has made its invite link; bob (of b) and carol (of c) are signed in, not joined.
 */
export async function mathsOnThree(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test", "c.test"]);
  const { "a.test": a, "b.test": b, "c.test": c } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const carol = await c.user("carol");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  return { servers, a, b, c, alice, bob, carol, roomId, token };
}

/**
 * Two servers, a.test and b.test, stopped with the test: alice (of a) owns the group Maths, and
 * bob (of b) has joined it by its link through his own server, which has caught up with a's log.
 */
export async function mathsWithBob(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const { roomId } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId });
  await bob.request("link.join", { token, server: "a.test" });
  /** Waits until b holds a's log of the room up to its last event. */
  const caughtUp = () => until(t, "b caught up", () => b.app.parley.rooms.state(roomId)?.seq === a.app.parley.rooms.state(roomId)!.seq, 60_000);
  await caughtUp();
  return { servers, a, b, alice, bob, roomId, token, caughtUp };
}
