/**
 * IP-literal rules in a community's server access list (Matrix's `allow_ip_literals`), across
 * three servers on loopback, one of them named by an IPv4 literal. alice (of school.test) owns
 * the Hillside community with its Maths group; bob (of 127.0.0.2) and carol (of b.test) joined
 * both. `allowIpLiterals: false` removes bob everywhere with explicit events and keeps him out,
 * carol stays; lifting it lets bob back in; a community whose own server is an IP literal cannot
 * refuse IP literals. The rule itself is checked on names of every shape.
 */
import t from "tap";
import { startClusterFor } from "./cluster.ts";
import { eventFor, ok, refusalOf, type TestServer, until } from "../helpers.ts";
import { aclDenies, isIpLiteral } from "../../server/rooms/types.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const seqOf = (server: TestServer, roomId: string) => server.app.parley.rooms.state(roomId)?.seq ?? 0;

async function hillside(t: Test) {
  const servers = await startClusterFor(t, ["school.test", "127.0.0.2", "b.test"]);
  const { "school.test": home, "127.0.0.2": ip, "b.test": b } = servers;
  const alice = await home.user("alice");
  const bob = await ip.user("bob");
  const carol = await b.user("carol");
  const school = await ok(t, alice, "community.create", { name: "Hillside School" });
  const maths = await ok(t, alice, "group.create", { name: "Maths", communityId: school.roomId });
  const { token } = await alice.request("link.create", { roomId: school.roomId });
  for (const user of [bob, carol]) {
    await ok(t, user, "link.join", { token, server: "school.test" });
    await ok(t, user, "group.join", { roomId: maths.roomId });
  }
  for (const [server, name] of [[ip, "127.0.0.2"], [b, "b.test"]] as const) {
    await until(t, `${name} caught up`, () => seqOf(server, school.roomId) === seqOf(home, school.roomId) && seqOf(server, maths.roomId) === seqOf(home, maths.roomId));
  }
  return { home, ip, b, alice, bob, carol, school: school.roomId as string, maths: maths.roomId as string, token: token as string };
}

t.test("a server named by an IPv4 literal is an IP literal, with or without a port, and so is a bracketed IPv6 one; names are not", async (t) => {
  for (const name of ["127.0.0.2", "203.0.113.7:8448", "[::1]", "[2001:db8::7]:8448"]) t.ok(isIpLiteral(name), `${name} is an IP literal`);
  for (const name of ["school.test", "b.test:8448", "1.2.3", "300.1.1.1", "[school.test]", "[::1", "localhost"]) t.notOk(isIpLiteral(name), `${name} is not`);
  const noIps = { deny: [], allowIpLiterals: false as const };
  t.ok(aclDenies(noIps, "203.0.113.7:8448"), "allowIpLiterals: false refuses an IPv4 literal");
  t.ok(aclDenies(noIps, "[2001:db8::7]"), "and an IPv6 one");
  t.notOk(aclDenies(noIps, "school.test"), "but no name");
  t.notOk(aclDenies({ deny: [] }, "203.0.113.7"), "absent, IP literals are judged by the lists like any name");
  t.ok(aclDenies({ deny: ["203.0.113.*"] }, "203.0.113.7"), "which can still deny one by pattern");
  t.ok(aclDenies({ allow: ["*"], deny: [], allowIpLiterals: false }, "127.0.0.2"), "the rule wins over an allow list that matches");
});

t.test("when alice refuses IP literals, bob of 127.0.0.2 is removed from the community and its group with explicit events, cannot come back, and carol of b.test stays", async (t) => {
  const { home, ip, alice, bob, carol, school, maths, token } = await hillside(t);
  const bobHears = eventFor(bob, school, "member.remove", bob.userId, 30_000);
  const set = await ok(t, alice, "community.servers.set", { roomId: school, deny: [], allowIpLiterals: false });
  t.same(set, { roomId: school, allow: null, deny: [], allowIpLiterals: false, removed: [bob.userId] });
  const acl = home.app.parley.storage.sqlite.prepare("SELECT content FROM room_events WHERE room_id = ? AND type = 'room.server_acl'").get(school) as { content: string };
  t.same(JSON.parse(acl.content), { deny: [], allowIpLiterals: false }, "the room.server_acl event says it");
  t.same((await alice.request("room.get", { roomId: school })).serverAcl, { deny: [], allowIpLiterals: false }, "room.get shows it to members");
  t.match(await bobHears, { type: "member.remove", content: { userId: bob.userId, serverAcl: true } }, "bob's server hears of his removal");
  t.notOk(home.app.parley.rooms.state(maths)!.members.has(bob.userId), "bob is out of Maths too");
  t.ok(home.app.parley.rooms.state(school)!.members.has(carol.userId), "carol stays");
  t.equal(await refusalOf(bob, "link.join", { token, server: "school.test" }), "room.server_denied", "bob cannot come back by the link");
  const before = seqOf(home, maths);
  await ok(t, carol, "message.send", { roomId: maths, txnId: "c1", body: "Still here" });
  t.equal(seqOf(home, maths), before + 1, "carol still writes in Maths");

  await until(t, "127.0.0.2 holds the removal", () => ip.app.parley.rooms.state(school)?.members.has(bob.userId) === false);
  const lifted = await ok(t, alice, "community.servers.set", { roomId: school, deny: [] });
  t.equal(lifted.allowIpLiterals, true, "set again without the flag, IP literals are judged by the lists");
  t.same(home.app.parley.rooms.state(school)!.serverAcl, { deny: [] }, "read back from the log as an empty list");
  await ok(t, bob, "link.join", { token, server: "school.test" });
  t.ok(home.app.parley.rooms.state(school)!.members.has(bob.userId), "bob may join again");
});

t.test("a community hosted on a server named by an IP literal cannot refuse IP literals, and the flag must be a boolean", async (t) => {
  const { ip, alice, bob, school } = await hillside(t);
  const club = await ok(t, bob, "community.create", { name: "Chess club" });
  t.equal(await refusalOf(bob, "community.servers.set", { roomId: club.roomId, deny: [], allowIpLiterals: false }), "room.acl_denies_home", "it would shut out its own home");
  t.notOk(ip.app.parley.rooms.state(club.roomId)!.serverAcl, "no list is in force");
  t.equal(await refusalOf(alice, "community.servers.set", { roomId: school, deny: [], allowIpLiterals: "no" } as never), "invalid_params", "a flag that is no boolean");
  await ok(t, bob, "community.servers.set", { roomId: club.roomId, deny: [], allowIpLiterals: true });
  t.same(ip.app.parley.rooms.state(club.roomId)!.serverAcl, { deny: [] }, "true is the default, written as no flag");
});
