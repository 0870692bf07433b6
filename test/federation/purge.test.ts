/**
 * A purged account still leaves the rooms hosted on other servers when its leave cannot be
 * proposed at once: its server keeps each leave (`federation_departures`) until the home answers.
 * The cast: alice on a.test owns the group Maths; bob on b.test joined it, and owns Chess there
 * (alice handed it to him and stayed on as an admin); dana is b.test's server admin.
 */
import t from "tap";
import { join } from "node:path";
import { startClusterFor } from "./cluster.ts";
import { spawnMathsWithBob, until as untilProcess } from "./processes.ts";
import { ok, post, type TestServer, until } from "../helpers.ts";
import { parley } from "../cli-helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const departures = (s: TestServer) => s.app.parley.storage.sqlite.prepare("SELECT user_id AS userId, room_id AS roomId, home FROM federation_departures ORDER BY id").all() as { userId: string; roomId: string; home: string }[];
const roleAt = (s: TestServer, roomId: string, userId: string) => s.app.parley.rooms.state(roomId)?.members.get(userId);

async function mathsAndChess(t: Test) {
  const servers = await startClusterFor(t, ["a.test", "b.test"]);
  const { "a.test": a, "b.test": b } = servers;
  const alice = await a.user("alice");
  const bob = await b.user("bob");
  const maths = await ok(t, alice, "group.create", { name: "Maths" });
  const chess = await ok(t, alice, "group.create", { name: "Chess" });
  for (const { roomId } of [maths, chess]) {
    const { token } = await ok(t, alice, "link.create", { roomId });
    await ok(t, bob, "link.join", { token, server: "a.test" });
  }
  await ok(t, alice, "member.role", { roomId: chess.roomId, userId: bob.userId, role: "owner" });
  const caughtUp = () => [maths.roomId, chess.roomId].every((r) => b.app.parley.rooms.state(r)?.seq === a.app.parley.rooms.state(r)!.seq);
  await until(t, "b holds both rooms", caughtUp, 60_000);
  const dana = await b.user("dana");
  b.app.parley.storage.sqlite.prepare("UPDATE accounts SET is_admin = 1 WHERE id = ?").run(dana.userId);
  const purge = (userId: string) => post(b, "/api/v1/admin/user.purge", { userId }, dana.session.accessToken);
  return { servers, a, b, alice, bob, maths: maths.roomId as string, chess: chess.roomId as string, purge };
}

t.test("a purge while the home is down keeps bob's leaves, and when a is back he leaves Maths, and hands Chess to alice before leaving it", async (t) => {
  const { servers, a, b, bob, maths, chess, purge } = await mathsAndChess(t);
  t.equal(roleAt(a, chess, bob.userId), "owner", "bob owns Chess at a");
  await a.stop(false);
  const purged = await purge("bob");
  t.equal(purged.status, 200, JSON.stringify(purged.body));
  t.same([...purged.body.leaving].sort(), [maths, chess].sort(), "the answer names the rooms hosted elsewhere he is leaving");
  t.same(
    departures(b).map((r) => r.roomId).sort(),
    [maths, chess].sort(),
    "both leaves are kept while a cannot be reached",
  );
  t.ok(departures(b).every((r) => r.home === "a.test" && r.userId === bob.userId));
  const a2 = await a.restart();
  servers["a.test"] = a2;
  // a's start wakes b, which proposes what it kept.
  await until(t, "bob left both rooms at a", () => !a2.app.parley.rooms.state(maths)!.members.has(bob.userId) && !a2.app.parley.rooms.state(chess)!.members.has(bob.userId), 60_000);
  t.equal(roleAt(a2, chess, "@alice:a.test"), "owner", "Chess passed to alice, its first admin, before he left");
  await until(t, "b drops what it kept", () => departures(b).length === 0);
  await until(t, "b's copy shows him gone", () => !b.app.parley.rooms.state(maths)?.members.has(bob.userId));
});

t.test("an owner alone in a room hosted elsewhere stays its owner: the home refuses the leave, and nothing is kept to retry", async (t) => {
  const { a, b, alice, bob, chess, purge } = await mathsAndChess(t);
  await ok(t, alice, "room.leave", { roomId: chess });
  await until(t, "b holds alice's leave", () => b.app.parley.rooms.state(chess)?.members.has(alice.userId) === false);
  const purged = await purge("bob");
  t.equal(purged.status, 200);
  await until(t, "b drops what it kept", () => departures(b).length === 0, 60_000);
  await until(t, "bob left Maths", () => a.app.parley.rooms.state(purged.body.leaving.find((r: string) => r !== chess))?.members.has(bob.userId) === false);
  t.equal(roleAt(a, chess, bob.userId), "owner", "no one to hand Chess to: bob stays, alone, as its owner");
  t.ok(b.logs.some((l) => l.msg === "purged account's leave refused by the home"), "b logs the home's refusal");
});

t.test("a purge at the command line with b stopped leaves Maths at a when b starts again", async (t) => {
  const { a, b, bob, roomId } = await spawnMathsWithBob(t);
  await untilProcess("b holds Maths", () => b.query("SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?", roomId, bob.userId).length === 1);
  await b.kill();
  const run = await parley(["user", "purge", "bob", "--yes"], { PARLEY_CONFIG: join(b.dataDir, "parley.toml") });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /leaving 1 room\(s\) hosted on other servers/, "the operator is told the leave is kept");
  t.same(b.query("SELECT user_id AS userId, room_id AS roomId FROM federation_departures"), [{ userId: bob.userId, roomId }], "kept in b's database");
  t.same(a.query("SELECT 1 AS one FROM room_members WHERE room_id = ? AND user_id = ?", roomId, bob.userId), [{ one: 1 }], "a still counts bob in Maths");
  await b.start();
  await untilProcess("bob left Maths at a", () => a.query("SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?", roomId, bob.userId).length === 0);
  t.match(a.query("SELECT type, sender FROM room_events WHERE room_id = ? ORDER BY seq DESC LIMIT 1", roomId), [{ type: "member.leave", sender: bob.userId }], "by his own leave, proposed by b");
  await untilProcess("b drops what it kept", () => b.query("SELECT 1 FROM federation_departures").length === 0);
});
