/**
 * Pinned, saved and forwarded messages over the real protocol. The cast: alice (owner of the
 * Hillside School community and of its #year5 group), dave (admin of #year5), bob and carol
 * (parents in #year5), erin (outsider to the school, in bob's standalone Book club).
 */
import t from "tap";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { eventFor, ok, refusal, startServer, unthrottled, openSchool as openSchoolCast, type School as SchoolCast } from "./helpers.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authorize } from "../server/rooms/authorize.ts";
import { projectEvent } from "../server/rooms/project.ts";
import { createRoomStore } from "../server/rooms/store.ts";
import { openStorage } from "../server/storage/database.ts";
import type { RoomEvent } from "../server/rooms/types.ts";
import { defaultGroupSettings, type Role, type RoomState } from "../server/rooms/types.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** The school, and bob's standalone Book club with erin in it. */
interface School extends SchoolCast {
  club: string;
}

async function openSchool(t: Test): Promise<School> {
  const school = await openSchoolCast(t);
  const club = await school.bob.request("group.create", { name: "Book club" });
  const clubLink = await school.bob.request("link.create", { roomId: club.roomId });
  await school.erin.request("link.join", { token: clubLink.token });
  return { ...school, club: club.roomId };
}

let txn = 0;
async function say(c: ParleyClient, roomId: string, body: string): Promise<number> {
  return (await c.request("message.send", { roomId, body, txnId: `k${++txn}` })).event.seq;
}

t.test("admins pin up to three messages for everyone; members see them in room.get; unpinning and deleting free a place", async (t) => {
  const { alice, bob, carol, dave, year5 } = await openSchool(t);
  const seqs = [];
  for (const body of ["Trip on Friday", "Bring a coat", "Forms due Monday", "Lunch provided"]) seqs.push(await say(alice, year5, body));
  const seen = eventFor(carol, year5, "message.pin");
  const pinned = await ok(t, dave, "message.pin", { roomId: year5, seq: seqs[0] });
  t.same(pinned.event.content, { target: seqs[0] });
  t.same((await seen).content, { target: seqs[0] }, "every member is told");
  await ok(t, alice, "message.pin", { roomId: year5, seq: seqs[1] });
  await ok(t, dave, "message.pin", { roomId: year5, seq: seqs[2] });
  t.same((await ok(t, carol, "room.get", { roomId: year5 })).pinnedMessages, seqs.slice(0, 3), "members see the pins, oldest first");

  t.equal(await refusal(dave.request("message.pin", { roomId: year5, seq: seqs[3] })), "message.pin_limit", "three at most");
  t.equal(await refusal(dave.request("message.pin", { roomId: year5, seq: seqs[0] })), "message.already_pinned");
  t.equal(await refusal(bob.request("message.pin", { roomId: year5, seq: seqs[3] })), "room.forbidden", "members do not pin");
  t.equal(await refusal(bob.request("message.unpin", { roomId: year5, seq: seqs[0] })), "room.forbidden", "members do not unpin");

  const unpinned = await ok(t, dave, "message.unpin", { roomId: year5, seq: seqs[1] });
  t.equal(unpinned.event.type, "message.unpin");
  t.equal(await refusal(dave.request("message.unpin", { roomId: year5, seq: seqs[1] })), "message.not_pinned");
  await ok(t, dave, "message.pin", { roomId: year5, seq: seqs[3] });
  await ok(t, alice, "message.delete", { roomId: year5, seq: seqs[0], forEveryone: true });
  t.same((await ok(t, carol, "room.get", { roomId: year5 })).pinnedMessages, [seqs[2], seqs[3]], "a message deleted for everyone is unpinned");
  t.equal(await refusal(dave.request("message.pin", { roomId: year5, seq: seqs[0] })), "message.not_found", "a deleted message cannot be pinned");
  t.equal(await refusal(dave.request("message.pin", { roomId: year5, seq: 999 })), "message.not_found");
});

t.test("pins are room state: they survive a restart, and outsiders cannot pin or see them", async (t) => {
  const { server, alice, erin, year5 } = await openSchool(t);
  const seq = await say(alice, year5, "Trip on Friday");
  await ok(t, alice, "message.pin", { roomId: year5, seq });
  t.equal(await refusal(erin.request("message.pin", { roomId: year5, seq })), "room.not_found");
  t.equal(await refusal(erin.request("message.unpin", { roomId: year5, seq })), "room.not_found");
  t.equal(await refusal(alice.request("message.pin", { roomId: year5 } as never)), "invalid_params");
  const again = await server.restart();
  t.teardown(() => again.stop(true));
  const alice2 = await again.login("alice");
  t.same((await ok(t, alice2, "room.get", { roomId: year5 })).pinnedMessages, [seq]);
  t.equal(await refusal(alice2.request("message.pin", { roomId: year5, seq })), "message.already_pinned", "the rule reads the reloaded state");
});

t.test("saved messages are private, listed newest first, and only while still readable", async (t) => {
  const { alice, bob, carol, year5, club, erin } = await openSchool(t);
  const a = await say(alice, year5, "Trip on Friday");
  const b = await say(alice, year5, "Bring a coat");
  const c = await say(alice, year5, "Forms due Monday");
  const d = await say(bob, club, "Next book: Matilda");
  for (const seq of [a, b, c]) t.same(await ok(t, bob, "message.save", { roomId: year5, seq }), { roomId: year5, seq, saved: true });
  await ok(t, bob, "message.save", { roomId: club, seq: d });
  await ok(t, bob, "message.save", { roomId: year5, seq: a });

  const all = await ok(t, bob, "message.saved", {});
  t.same(all.saved.map((s: any) => s.message.body), ["Next book: Matilda", "Forms due Monday", "Bring a coat", "Trip on Friday"], "most recently saved first; saving again keeps the first time");
  t.equal(all.next, null);
  const page1 = await ok(t, bob, "message.saved", { limit: 3 });
  t.equal(page1.saved.length, 3);
  const page2 = await ok(t, bob, "message.saved", { limit: 3, before: page1.next });
  t.same(page2.saved.map((s: any) => s.message.body), ["Trip on Friday"]);
  t.same((await ok(t, carol, "message.saved", {})).saved, [], "saves are private to each person");

  await ok(t, alice, "message.delete", { roomId: year5, seq: b, forEveryone: true });
  await ok(t, bob, "message.delete", { roomId: year5, seq: c, forEveryone: false });
  await bob.request("member.role", { roomId: club, userId: erin.userId, role: "owner" });
  await ok(t, bob, "room.leave", { roomId: club });
  t.same((await ok(t, bob, "message.saved", {})).saved.map((s: any) => s.message.body), ["Trip on Friday"], "deleted, hidden and no longer readable messages drop out");
  t.same(await ok(t, bob, "message.unsave", { roomId: year5, seq: a }), { roomId: year5, seq: a, saved: false });
  t.same((await ok(t, bob, "message.saved", {})).saved, []);

  t.equal(await refusal(erin.request("message.save", { roomId: year5, seq: a })), "room.not_found", "an outsider cannot save");
  t.equal(await refusal(carol.request("message.save", { roomId: year5, seq: b })), "message.not_found", "a deleted message cannot be saved");
  t.equal(await refusal(carol.request("message.save", { roomId: year5, seq: 999 })), "message.not_found");
  t.equal(await refusal(carol.request("message.saved", { limit: 0 })), "invalid_params");
});

t.test("forwarding: a copy marked forwarded in a room I can post in; files carry over and become readable there", async (t) => {
  const { server, alice, bob, erin, school, year5, club } = await openSchool(t);
  const text = await say(alice, year5, "Trip on Friday");
  const seen = eventFor(erin, club, "message");
  const fwd = await ok(t, bob, "message.forward", { from: { roomId: year5, seq: text }, to: club, txnId: "f1" });
  t.same(fwd.event.content, { kind: "text", body: "Trip on Friday", forwarded: true }, "marked forwarded, not saying from where");
  t.equal(fwd.event.sender, bob.userId);
  t.equal((await seen).seq, fwd.event.seq);
  const again = await ok(t, bob, "message.forward", { from: { roomId: year5, seq: text }, to: club, txnId: "f1" });
  t.equal(again.duplicate, true, "a retried forward is not stored twice");

  const bytes = Buffer.from("Trip consent form: sign and return by Monday.\n");
  const up = await fetch(`${server.baseUrl}/api/v1/media?name=consent.txt`, { method: "POST", headers: { authorization: `Bearer ${alice.session.accessToken}`, "content-type": "application/octet-stream" }, body: bytes });
  const mediaId = (await up.json()).mediaId as string;
  const file = (await alice.request("message.send", { roomId: year5, txnId: "file1", file: { mediaId, name: "consent.txt" }, body: "Please sign" })).event.seq;
  const download = (c: ParleyClient) => fetch(`${server.baseUrl}/api/v1/media/${mediaId}`, { headers: { authorization: `Bearer ${c.session.accessToken}` } }).then((r) => r.status);
  t.equal(await download(erin), 404, "erin cannot fetch the file before it is forwarded to her room");
  const fwdFile = await ok(t, bob, "message.forward", { from: { roomId: year5, seq: file }, to: club, txnId: "f2" });
  t.equal(fwdFile.event.content.kind, "file");
  t.equal(fwdFile.event.content.file.mediaId, mediaId);
  t.equal(fwdFile.event.content.body, "Please sign");
  t.equal(fwdFile.event.content.forwarded, true);
  t.equal(await download(erin), 200, "the forwarded file is readable in the target room");

  const mention = await say(alice, year5, "@bob thanks");
  const fwdMention = await ok(t, bob, "message.forward", { from: { roomId: year5, seq: mention }, to: club, txnId: "f3" });
  t.notOk("mentions" in fwdMention.event.content, "a forward mentions no one");

  t.equal(await refusal(erin.request("message.forward", { from: { roomId: year5, seq: text }, to: club, txnId: "f4" })), "room.not_found", "the source must be readable");
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: text }, to: school, txnId: "f5" })), "announcement.admins_only", "the target's posting rules apply");
  const stranger = await alice.request("group.create", { name: "Staff room" });
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: text }, to: stranger.roomId, txnId: "f6" })), "room.not_found", "I must be in the target");
  const poll = (await alice.request("poll.create", { roomId: year5, txnId: "p1", question: "Friday?", options: ["yes", "no"] })).event.seq;
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: poll }, to: club, txnId: "f7" })), "message.not_forwardable");
  await alice.request("message.delete", { roomId: year5, seq: text, forEveryone: true });
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: text }, to: club, txnId: "f8" })), "message.not_found", "a deleted message cannot be forwarded");
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: 999 }, to: club, txnId: "f9" })), "message.not_found");
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5 }, to: club, txnId: "f10" } as never)), "invalid_params");
});

t.test("history, message.get and saved messages say a copy was forwarded, to every member; deleted for everyone it says nothing", async (t) => {
  const { alice, bob, erin, year5, club } = await openSchool(t);
  const text = await say(alice, year5, "Trip on Friday");
  const mention = await say(alice, year5, "@bob bring the forms");
  const fwd = (await ok(t, bob, "message.forward", { from: { roomId: year5, seq: text }, to: club, txnId: "v1" })).event.seq;
  const fwdMention = (await ok(t, bob, "message.forward", { from: { roomId: year5, seq: mention }, to: club, txnId: "v2" })).event.seq;
  const own = await say(erin, club, "See you there");
  const history = await ok(t, erin, "message.history", { roomId: club });
  const at = (seq: number) => history.messages.find((m: { seq: number }) => m.seq === seq);
  t.equal(at(fwd).forwarded, true, "another member reads the copy as forwarded from history");
  t.equal(at(fwdMention).forwarded, true);
  t.notOk("mentions" in at(fwdMention), "a forwarded copy mentions no one");
  t.equal(at(own).forwarded, false, "an ordinary message is not forwarded");
  t.equal((await ok(t, bob, "message.get", { roomId: club, seq: fwd })).message.forwarded, true, "message.get says so too");
  t.equal((await ok(t, alice, "message.history", { roomId: year5 })).messages.find((m: { seq: number }) => m.seq === text).forwarded, false, "the original is not marked");
  await ok(t, erin, "message.save", { roomId: club, seq: fwd });
  t.equal((await ok(t, erin, "message.saved", {})).saved[0].message.forwarded, true, "a saved copy keeps the mark");
  await ok(t, bob, "message.delete", { roomId: club, seq: fwd, forEveryone: true });
  const after = (await ok(t, erin, "message.get", { roomId: club, seq: fwd })).message;
  t.equal(after.deleted, true);
  t.equal(after.forwarded, false, "a copy deleted for everyone no longer says it was forwarded");
});

t.test("a deactivated community takes no pin, unpin or forward; a group where only admins post refuses a member's forward", async (t) => {
  const { alice, bob, school, year5 } = await openSchool(t);
  const notice = await say(alice, school, "Term starts on Monday");
  const other = await say(alice, school, "Bring your forms");
  await ok(t, alice, "message.pin", { roomId: school, seq: notice });
  const text = await say(bob, year5, "Who drives on Friday?");

  const notices = await alice.request("group.create", { name: "Notices", settings: { sendPolicy: "admins" } });
  const link = await alice.request("link.create", { roomId: notices.roomId });
  await bob.request("link.join", { token: link.token });
  t.equal(await refusal(bob.request("message.forward", { from: { roomId: year5, seq: text }, to: notices.roomId, txnId: "d1" })), "room.forbidden", "only admins post there");
  await ok(t, alice, "message.forward", { from: { roomId: year5, seq: text }, to: notices.roomId, txnId: "d2" });

  await ok(t, alice, "community.deactivate", { roomId: school });
  t.equal(await refusal(alice.request("message.pin", { roomId: school, seq: other })), "room.deactivated", "the owner pins nothing in a deactivated community");
  t.equal(await refusal(alice.request("message.unpin", { roomId: school, seq: notice })), "room.deactivated", "nor unpins");
  t.equal(await refusal(alice.request("message.forward", { from: { roomId: year5, seq: text }, to: school, txnId: "d3" })), "room.deactivated", "nor forwards into it");
  t.same((await ok(t, alice, "room.get", { roomId: school })).pinnedMessages, [notice], "the pin is as it was");
});

t.test("a text longer than the server's limit, lowered since it was sent, is not forwarded", async (t) => {
  const { server, alice, year5, club } = await openSchool(t);
  const long = await say(alice, year5, "The trip to the science museum leaves at eight sharp from the school gate");
  await server.stop(false);
  const lowered = await startServer({ ...unthrottled, limits: { ...unthrottled.limits, message_chars: 40 } }, { dataDir: server.dataDir });
  t.teardown(() => lowered.stop(true));
  const bob2 = await lowered.login("bob");
  t.equal(await refusal(bob2.request("message.forward", { from: { roomId: year5, seq: long }, to: club, txnId: "l1" })), "message.too_long");
  const short = (await (await lowered.login("alice")).request("message.send", { roomId: year5, body: "Eight sharp", txnId: "l2" })).event.seq;
  t.equal((await ok(t, bob2, "message.forward", { from: { roomId: year5, seq: short }, to: club, txnId: "l3" })).event.content.body, "Eight sharp", "a short one is");
});

// The rules of pins and of a moderator's deletion, as pure functions of the room's state.

const SCHOOL = "!Xk2p9QaL0mZ1:school.test";
function group(pinned: number[] = []): RoomState {
  const members = new Map<string, Role>([["@alice:school.test", "owner"], ["@dave:school.test", "admin"], ["@bob:school.test", "member"]]);
  return {
    id: "!Gm7Ht2LpQx9w:school.test", kind: "group", name: "Year 5", description: "", picture: null, rules: "", communityId: SCHOOL, groups: new Set(),
    settings: defaultGroupSettings, members, bans: new Set(), requests: new Set(), invites: new Set(), seq: 20, deactivated: false,
    createdBy: "@alice:school.test", createdAt: 0, adminCount: 2, pinned, head: null,
  };
}
const limits = { groupsPerCommunity: 100, membersPerGroup: 1024, membersPerCommunity: 5000, adminsPerCommunity: 20, messageChars: 4096, deleteWindowMs: 1000 };
const live = { sender: "@bob:school.test", ts: 0, deleted: false, threadRoot: null };
const decide = (st: RoomState, type: "message.pin" | "message.unpin" | "message.delete", sender: string, ctx: Record<string, unknown> = {}) => {
  const d = authorize(st, { roomId: st.id, type, sender, content: { target: 5 } }, { limits, now: 10_000, ...ctx });
  return d.ok ? "ok" : d.code;
};

t.test("the pin rules: admins, a live message, three at most, no twice", async (t) => {
  t.equal(decide(group(), "message.pin", "@dave:school.test", { target: live }), "ok");
  t.equal(decide(group(), "message.pin", "@bob:school.test", { target: live }), "room.forbidden");
  t.equal(decide(group(), "message.pin", "@erin:school.test", { target: live }), "room.not_found");
  t.equal(decide(group(), "message.pin", "@dave:school.test", { target: null }), "message.not_found");
  t.equal(decide(group(), "message.pin", "@dave:school.test", { target: { ...live, deleted: true } }), "message.not_found");
  t.equal(decide(group([1, 2, 3]), "message.pin", "@dave:school.test", { target: live }), "message.pin_limit");
  t.equal(decide(group([5]), "message.pin", "@dave:school.test", { target: live }), "message.already_pinned");
  t.equal(decide(group([5]), "message.unpin", "@dave:school.test"), "ok");
  t.equal(decide(group([5]), "message.unpin", "@bob:school.test"), "room.forbidden");
  t.equal(decide(group([4]), "message.unpin", "@dave:school.test"), "message.not_pinned");
});

t.test("a community admin may delete a message in a linked group they are not in; no one else from outside", async (t) => {
  t.equal(decide(group(), "message.delete", "@frank:school.test", { target: live, communityRole: "admin" }), "ok");
  t.equal(decide(group(), "message.delete", "@frank:school.test", { target: live, communityRole: "owner" }), "ok");
  t.equal(decide(group(), "message.delete", "@frank:school.test", { target: { ...live, deleted: true }, communityRole: "admin" }), "message.not_found");
  t.equal(decide(group(), "message.delete", "@carol:school.test", { target: live, communityRole: "member" }), "room.not_found", "a community member cannot");
  t.equal(decide(group(), "message.delete", "@erin:school.test", { target: live }), "room.not_found");
  t.equal(decide({ ...group(), communityId: null }, "message.delete", "@frank:school.test", { target: live, communityRole: "admin" }), "room.not_found", "a standalone group has no community admins");
});

t.test("replaying the log rebuilds the pinned messages and the mentions", async (t) => {
  const { server, alice, bob, carol, dave, year5 } = await openSchool(t);
  const a = await say(alice, year5, "Trip on Friday");
  const b = (await bob.request("message.send", { roomId: year5, body: "@carol @dave see above", txnId: "m-rep" })).event.seq;
  await dave.request("message.send", { roomId: year5, body: "@all coats", txnId: "all-rep" });
  await alice.request("message.pin", { roomId: year5, seq: a });
  await alice.request("message.pin", { roomId: year5, seq: b });
  await dave.request("message.unpin", { roomId: year5, seq: a });
  const c = await say(carol, year5, "Forms");
  await dave.request("message.pin", { roomId: year5, seq: c });
  await carol.request("message.delete", { roomId: year5, seq: c, forEveryone: true });
  await dave.request("message.pin", { roomId: year5, seq: a });

  const source = server.app.parley.storage.sqlite;
  const dir = mkdtempSync(join(tmpdir(), "parley-replay-"));
  const storage = openStorage(dir);
  t.teardown(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = createRoomStore(storage);
  const rows = source.prepare("SELECT * FROM room_events WHERE room_id = ? ORDER BY pos").all(year5) as { pos: number; room_id: string; seq: number; event_id: string; type: string; sender: string; ts: number; content: string }[];
  const state: RoomState = { ...group(), id: year5, communityId: null, members: new Map(), adminCount: 0, seq: 0 };
  store.insertRoom(state);
  store.transaction(() => {
    for (const r of rows) {
      projectEvent(store, state, { roomId: r.room_id, seq: r.seq, eventId: r.event_id, type: r.type, sender: r.sender, ts: r.ts, content: JSON.parse(r.content), pos: r.pos } as RoomEvent);
    }
  });
  const pins = (db: typeof source) => db.prepare("SELECT seq, pinned_by, at FROM pinned_messages WHERE room_id = ? ORDER BY seq").all(year5);
  const mentions = (db: typeof source) => db.prepare("SELECT seq, user_id FROM message_mentions WHERE room_id = ? ORDER BY seq, user_id").all(year5);
  t.same(pins(storage.sqlite), pins(source), "the same pins, by the same admins, at the same times");
  t.same(state.pinned, [b, a], "the state holds them in the order pinned");
  t.same(store.loadState(year5)!.pinned, [b, a], "and so do the tables");
  t.same(mentions(storage.sqlite), mentions(source));
  t.equal(mentions(source).length, 3, "carol, dave and @all");
});
