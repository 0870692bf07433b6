/**
 * A pair's second direct room. alice (of a) and bob (of b) share the group Maths. Each opens a
 * chat with the other while the other's server is down, so each server makes a room for the pair
 * before it hears of the other's (deterministically: no race). When both are up, every server
 * keeps the room whose id sorts first as the pair's chat, and the home of the other room closes
 * it with a `room.tombstone` naming the pair's chat, which both logs then hold: room.get and
 * room.list say `replacedBy`, sync carries the tombstone, new messages there are refused with
 * room.replaced (locally and as a proposal), and what was said in it stays readable.
 */
import t from "tap";
import { ok, schemaErrors, type TestServer } from "../helpers.ts";
import type { ParleyClient } from "../../clients/sdk/index.ts";
import { twoRoomsForOnePair } from "./direct-pair.ts";

const directOf = (s: TestServer, x: string, y: string) => {
  const [a, b] = x < y ? [x, y] : [y, x];
  return (s.app.parley.storage.sqlite.prepare("SELECT room_id AS roomId FROM direct_chats WHERE user_a = ? AND user_b = ?").get(a, b) as { roomId: string } | undefined)?.roomId;
};
const lastEventOf = (s: TestServer, roomId: string) =>
  s.app.parley.storage.sqlite.prepare("SELECT seq, type, sender, content FROM room_events WHERE room_id = ? ORDER BY seq DESC LIMIT 1").get(roomId) as { seq: number; type: string; sender: string; content: string };

/** The refusal's code and details. */
async function refusalWith(p: Promise<unknown>): Promise<{ code: string; details?: Record<string, unknown> }> {
  try {
    await p;
    return { code: "(accepted)" };
  } catch (err) {
    return err as { code: string; details?: Record<string, unknown> };
  }
}

t.test("alice and bob each open a chat while the other's server is down: the room whose id sorts second is closed with a room.tombstone that both servers hold", async (t) => {
  const { a, b, alice, bob, first, second } = await twoRoomsForOnePair(t);
  for (const [name, s] of [["a", a], ["b", b]] as const) {
    t.equal(directOf(s, "@alice:a.test", "@bob:b.test"), first, `${name} keeps the room whose id sorts first as the pair's`);
    const last = lastEventOf(s, second);
    t.same([last.type, last.sender, JSON.parse(last.content)], ["room.tombstone", `@parley:${second.slice(second.indexOf(":") + 1)}`, { replacement: first }], `${name} holds the tombstone, said by the second room's home`);
    t.same(schemaErrors("https://parley.chat/schema/event/room.tombstone", JSON.parse(last.content)), [], "its content fits its schema");
    t.notOk(s.app.parley.rooms.state(first)!.replacedBy, `${name}: the pair's room is not replaced`);
  }
  for (const [name, c] of [["alice", alice], ["bob", bob]] as [string, ParleyClient][]) {
    t.equal((await c.request("room.get", { roomId: second })).replacedBy, first, `room.get tells ${name} the second room is replaced`);
    t.equal((await c.request("room.get", { roomId: first })).replacedBy, undefined, `and not the pair's room`);
    const rooms = ((await c.request("room.list", {})) as { rooms: { roomId: string; kind: string; replacedBy?: string }[] }).rooms.filter((r) => r.kind === "direct");
    t.same(
      rooms.map((r) => [r.roomId, r.replacedBy ?? null]).sort(),
      [[first, null], [second, first]].sort(),
      `${name}'s list shows the second room, where something was said, as replaced by the pair's`,
    );
    const synced = (await c.request("sync", { since: 0 })) as { events: { roomId: string; type: string; content: Record<string, unknown> }[] };
    t.match(synced.events.filter((e) => e.roomId === second && e.type === "room.tombstone"), [{ content: { replacement: first } }], `${name}'s sync carries the tombstone`);
    t.same((await c.request("direct.open", { userId: c === alice ? "@bob:b.test" : "@alice:a.test" })).roomId, first, `direct.open gives ${name} the pair's room`);
  }
});

t.test("in the closed room no new message is accepted, from its home's user or as a proposal; what was said stays readable and can still be reacted to", async (t) => {
  const { alice, bob, first, second, loserHome } = await twoRoomsForOnePair(t);
  const before = loserHome.app.parley.rooms.state(second)!.seq;
  for (const [name, c] of [["alice", alice], ["bob", bob]] as [string, ParleyClient][]) {
    const sent = await refusalWith(c.request("message.send", { roomId: second, txnId: `${name}-late`, body: "Still here?" }));
    t.same([sent.code, sent.details?.replacement], ["room.replaced", first], `${name}'s send is refused with room.replaced, naming the pair's room`);
  }
  t.equal((await refusalWith(alice.request("poll.create", { roomId: second, txnId: "p1", question: "Friday or Saturday?", options: ["Friday", "Saturday"] }))).code, "room.replaced", "no poll");
  t.equal((await refusalWith(bob.request("event.create", { roomId: second, txnId: "e1", title: "Drive to the match", start: Date.now() + 86_400_000, timeZone: "Europe/London" }))).code, "room.replaced", "no calendar event");
  const { messages } = await alice.request("message.history", { roomId: second, limit: 10 });
  t.ok(messages.length >= 1, "what was said in it is still readable");
  const said = messages[messages.length - 1];
  // A forward goes only into rooms hosted on the forwarder's server: the closed room's home's user tries.
  const atHome = second.endsWith(":a.test") ? alice : bob;
  t.equal((await refusalWith(atHome.request("message.forward", { from: { roomId: second, seq: said.seq }, to: second, txnId: "f1" }))).code, "room.replaced", "nor a forward into it");
  t.equal(loserHome.app.parley.rooms.state(second)!.seq, before, "none of them was sequenced");
  await ok(t, bob, "message.react", { roomId: second, seq: said.seq, emoji: "👍" });
  t.equal(loserHome.app.parley.rooms.state(second)!.seq, before + 1, "a reaction to what was said there is accepted");
  // Into the pair's chat it may be forwarded (by the user of its home: forwards stay on their server).
  await ok(t, first.endsWith(":a.test") ? alice : bob, "message.forward", { from: { roomId: second, seq: said.seq }, to: first, txnId: "f2" });
  const sent = await ok(t, bob, "message.send", { roomId: first, txnId: "b2", body: "Here, then" });
  t.equal(sent.event.roomId, first, "the conversation goes on in the pair's room");
});

t.test("when b begins its copy of alice's room from a join snapshot (a long chat), the pair still settles on the room that sorts first and the other is closed", async (t) => {
  const { a, b, first, second } = await twoRoomsForOnePair(t, undefined, { more: 60 });
  const fromSnapshot = b.app.parley.storage.sqlite.prepare("SELECT snapshot_seq AS seq FROM replica_floors WHERE room_id = ?").get(first.endsWith(":a.test") ? first : second) as { seq: number } | undefined;
  t.ok(fromSnapshot, "b's copy of alice's room began from a snapshot");
  for (const [name, s] of [["a", a], ["b", b]] as const) {
    t.equal(directOf(s, "@alice:a.test", "@bob:b.test"), first, `${name} keeps the room whose id sorts first`);
    t.equal(s.app.parley.rooms.state(second)!.replacedBy, first, `${name}: the other is closed`);
    t.equal(lastEventOf(s, second).type, "room.tombstone");
  }
});
