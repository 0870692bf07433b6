/**
 * Two direct rooms for one pair, made deterministically: alice (of a) and bob (of b) share the
 * group Maths; each opens a chat with the other while the other's server is down (their stored
 * profiles stand in), and says something in it; then both servers are up, and the test waits
 * until the home of the room whose id sorts second has closed it (room.tombstone) and both
 * servers hold both logs to their end. Used by test/federation/direct-pair.test.ts and
 * test/web-direct-pair.test.ts.
 */
import type t from "tap";
import { startClusterFor } from "./cluster.ts";
import { ok, type TestServer, until } from "../helpers.ts";
import type { ConfigOverrides } from "../../server/config/load.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** `more`: messages alice adds to her room while b is down (over 50, b begins its copy from a join snapshot). */
export async function twoRoomsForOnePair(t: Test, overrides: (name: string) => ConfigOverrides = () => ({}), opts: { more?: number } = {}) {
  const servers = await startClusterFor(t, ["a.test", "b.test"], overrides);
  let a = servers["a.test"];
  let b = servers["b.test"];
  let alice = await a.user("alice");
  let bob = await b.user("bob");
  const { roomId: maths } = await alice.request("group.create", { name: "Maths" });
  const { token } = await alice.request("link.create", { roomId: maths });
  await bob.request("link.join", { token, server: "a.test" });
  await until(t, "b holds Maths with bob in it", () => b.app.parley.rooms.state(maths)?.members.has("@bob:b.test") === true);
  // Each server knows the other person (stored profiles stand in while their server is down).
  await alice.request("profile.get", { userId: "@bob:b.test" });
  await bob.request("profile.get", { userId: "@alice:a.test" });

  await b.stop(false);
  const fromAlice = await ok(t, alice, "direct.open", { userId: "@bob:b.test" });
  t.equal(fromAlice.created, true, "a makes a room for the pair while b is down");
  await alice.request("message.send", { roomId: fromAlice.roomId, txnId: "a1", body: "Are you coming on Friday?" });
  for (let i = 0; i < (opts.more ?? 0); i++) await alice.request("message.send", { roomId: fromAlice.roomId, txnId: `more${i}`, body: `And ${i}` });
  await a.stop(false);
  b = await b.restart();
  servers["b.test"] = b;
  bob = await b.login("bob");
  const fromBob = await ok(t, bob, "direct.open", { userId: "@alice:a.test" });
  t.equal(fromBob.created, true, "b makes another while a is down");
  await bob.request("message.send", { roomId: fromBob.roomId, txnId: "b1", body: "Shall we share a car?" });
  a = await a.restart();
  servers["a.test"] = a;
  alice = await a.login("alice");

  const [first, second] = [fromAlice.roomId as string, fromBob.roomId as string].sort();
  const loserHome = second.endsWith(":a.test") ? a : b;
  await until(t, "both servers hold the second room closed", () => [a, b].every((s) => s.app.parley.rooms.state(second)?.replacedBy === first && s.app.parley.rooms.state(first)?.members.size === 2));
  await until(t, "both servers hold both logs to their end", () =>
    [first, second].every((r) => a.app.parley.rooms.state(r)!.seq === b.app.parley.rooms.state(r)!.seq),
  );
  return { servers, a, b, alice, bob, first, second, loserHome, fromAlice, fromBob };
}
