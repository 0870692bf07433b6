/**
 * Mentions over the real protocol. The cast: alice (owner of the Hillside School community and of
 * its #year5 group), dave (admin of #year5), bob and carol (parents in #year5), erin (outsider).
 */
import t from "tap";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { ok, refusal, openSchool } from "./helpers.ts";
import { resolveMentions } from "../server/notify/mentions.ts";
import { defaultCommunitySettings, defaultGroupSettings, type Role, type RoomState } from "../server/rooms/types.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];



let txn = 0;
const send = (t: Test, c: ParleyClient, roomId: string, body: string, extra: { mentions?: string[]; mentionAll?: boolean; threadRoot?: number } = {}) =>
  ok(t, c, "message.send", { roomId, body, txnId: `m${++txn}`, ...extra });

function roomOf(list: { rooms: any[] }, roomId: string) {
  return list.rooms.find((r) => r.roomId === roomId);
}

t.test("the server reads @username in the text and keeps only members of the room, never the sender", async (t) => {
  const { bob, carol, dave, year5 } = await openSchool(t);
  const r = await send(t, bob, year5, "@carol and @Dave. can you bring the forms? cc @erin @bob, mail me at bob@example.org");
  t.same(r.event.content.mentions, [carol.userId, dave.userId], "carol and dave are mentioned; erin is no member, bob is the sender, an address is no mention");
  const plain = await send(t, bob, year5, "no one here");
  t.notOk("mentions" in plain.event.content, "a message without mentions carries no list");
});

t.test("a client may send the user ids it resolved, and outsiders among them are dropped", async (t) => {
  const { bob, carol, erin, year5 } = await openSchool(t);
  const r = await send(t, bob, year5, "Carol, see above", { mentions: [carol.userId, erin.userId] });
  t.same(r.event.content.mentions, [carol.userId], "erin is not in the room and is not kept");
  const got = await ok(t, carol, "message.get", { roomId: year5, seq: r.event.seq });
  t.equal(got.message.body, "Carol, see above");
  t.equal(await refusal(bob.request("message.send", { roomId: year5, body: "x", txnId: "bad", mentions: ["carol"] as never })), "invalid_params", "a mention must be a user id");
});

t.test("@all is for admins: in the text it mentions everyone, from a member it stays text, asked for explicitly it is refused", async (t) => {
  const { alice, bob, dave, year5 } = await openSchool(t);
  const byAdmin = await send(t, dave, year5, "@all the trip is on Friday");
  t.equal(byAdmin.event.content.mentionAll, true, "an admin's @all mentions everyone");
  const byOwner = await send(t, alice, year5, "Reminder", { mentionAll: true });
  t.equal(byOwner.event.content.mentionAll, true);
  const byMember = await send(t, bob, year5, "@all who has the forms?");
  t.notOk("mentionAll" in byMember.event.content, "a member's @all is only text");
  t.equal(await refusal(bob.request("message.send", { roomId: year5, body: "hey", txnId: "all-bob", mentionAll: true })), "room.forbidden", "a member asking for @all is refused");
  const history = await bob.request("message.history", { roomId: year5 });
  t.notOk(history.messages.some((m) => m.body === "hey"), "the refused send stored nothing");
});

t.test("history, threads and message.get show whom a message mentions and an @all; a message deleted for everyone shows none", async (t) => {
  const { alice, bob, carol, dave, school, year5 } = await openSchool(t);
  const named = await send(t, bob, year5, "@carol and @dave, the forms?");
  const all = await send(t, dave, year5, "@all the trip is on Friday");
  const plain = await send(t, carol, year5, "Thanks!");
  const gone = await send(t, bob, year5, "@carol sorry, wrong room");
  await ok(t, bob, "message.delete", { roomId: year5, seq: gone.event.seq, forEveryone: true });
  const history = await ok(t, carol, "message.history", { roomId: year5 });
  const at = (seq: number) => history.messages.find((m: { seq: number }) => m.seq === seq);
  t.same(at(named.event.seq).mentions, [carol.userId, dave.userId], "history carries the mentions the server kept");
  t.notOk("mentionAll" in at(named.event.seq), "no @all on a message without one");
  t.equal(at(all.event.seq).mentionAll, true, "history carries an admin's @all");
  t.notOk("mentions" in at(all.event.seq), "an @all alone names no one");
  t.notOk("mentions" in at(plain.event.seq) || "mentionAll" in at(plain.event.seq), "a message without mentions carries neither");
  t.equal(at(plain.event.seq).forwarded, false, "every view says whether it was forwarded");
  t.equal(at(gone.event.seq).deleted, true);
  t.notOk("mentions" in at(gone.event.seq), "a message deleted for everyone shows no mentions");
  t.equal(at(gone.event.seq).forwarded, false);
  const got = await ok(t, dave, "message.get", { roomId: year5, seq: named.event.seq });
  t.same(got.message.mentions, [carol.userId, dave.userId], "message.get carries them too");
  const goneGot = await ok(t, carol, "message.get", { roomId: year5, seq: gone.event.seq });
  t.notOk("mentions" in goneGot.message, "and none on the deleted one");
  await ok(t, bob, "message.edit", { roomId: year5, seq: named.event.seq, body: "@carol and @dave, the forms please?" });
  t.same((await ok(t, carol, "message.get", { roomId: year5, seq: named.event.seq })).message.mentions, [carol.userId, dave.userId], "an edit keeps the mentions of the send");
  const root = await send(t, alice, school, "Sports day next week");
  const reply = await send(t, bob, school, "@alice thanks!", { threadRoot: root.event.seq });
  const thread = await ok(t, alice, "message.thread", { roomId: school, root: root.event.seq });
  t.same(thread.replies.find((m: { seq: number }) => m.seq === reply.event.seq)?.mentions, [alice.userId], "a thread's replies carry their mentions");
});

t.test("in the announcement group a member's reply may mention only admins", async (t) => {
  const { alice, bob, carol, school } = await openSchool(t);
  const root = await send(t, alice, school, "Sports day next week");
  const reply = await send(t, bob, school, "@alice @carol thanks!", { threadRoot: root.event.seq });
  t.same(reply.event.content.mentions, [alice.userId], "carol's membership is private: no mention of her is kept");
  const announcement = await send(t, alice, school, "@bob please call the office");
  t.same(announcement.event.content.mentions, [bob.userId], "an admin may mention any member");
});

t.test("the room list counts unread mentions beside unread messages, until the read marker passes them", async (t) => {
  const { alice, bob, carol, dave, year5 } = await openSchool(t);
  await send(t, bob, year5, "hello everyone");
  const m1 = await send(t, bob, year5, "@carol are you coming?");
  await send(t, dave, year5, "@all bring a coat");
  const m3 = await send(t, alice, year5, "@carol @carol twice is one mention");
  const deleted = await send(t, bob, year5, "@carol oops");
  await ok(t, bob, "message.delete", { roomId: year5, seq: deleted.event.seq, forEveryone: true });
  await send(t, carol, year5, "@carol talking to myself");

  let mine = roomOf(await ok(t, carol, "room.list", {}), year5);
  t.equal(mine.unread, 4, "four unread messages from others (the deleted one and her own do not count)");
  t.equal(mine.mentions, 3, "two personal mentions and one @all");
  t.equal(roomOf(await ok(t, bob, "room.list", {}), year5).mentions, 1, "bob counts dave's @all");
  t.equal(roomOf(await ok(t, dave, "room.list", {}), year5).mentions, 0, "dave's own @all does not count for him");

  await ok(t, carol, "receipt.read", { roomId: year5, seq: m1.event.seq });
  mine = roomOf(await ok(t, carol, "room.list", {}), year5);
  t.equal(mine.mentions, 2, "mentions up to the read marker are read");
  await ok(t, carol, "receipt.read", { roomId: year5, seq: m3.event.seq });
  t.equal(roomOf(await ok(t, carol, "room.list", {}), year5).mentions, 0);
});

// The rule itself, as a pure function of the room's state.

function stateOf(kind: "community" | "group", members: [string, Role][]): RoomState {
  return {
    id: "!Gm7Ht2LpQx9w:school.test", kind, name: "Year 5", description: "", picture: null, rules: "", communityId: null, groups: new Set(),
    settings: kind === "community" ? defaultCommunitySettings : defaultGroupSettings, members: new Map(members), bans: new Set(), requests: new Set(),
    invites: new Set(), seq: 1, deactivated: false, createdBy: "@alice:school.test", createdAt: 0, adminCount: 1, pinned: [], head: null,
  };
}
const id = (n: string) => `@${n}:school.test`;
const year5 = stateOf("group", [[id("alice"), "owner"], [id("dave"), "admin"], [id("bob"), "member"], [id("carol"), "member"], [id("bob.smith"), "member"]]);
const resolve = (sender: string, body: string, extra: { requested?: string[]; requestAll?: boolean; state?: RoomState } = {}) =>
  resolveMentions({ state: extra.state ?? year5, sender: id(sender), serverName: "school.test", body, requested: extra.requested, requestAll: extra.requestAll });

t.test("resolving mentions: tokens, punctuation, addresses, case, duplicates", async (t) => {
  t.same(resolve("alice", "@bob, @carol! (@dave)").mentions, [id("bob"), id("carol"), id("dave")]);
  t.same(resolve("alice", "@bob.smith said @bob.").mentions, [id("bob.smith"), id("bob")], "a dotted name, and a full stop that ends a sentence");
  t.same(resolve("alice", "@BOB and @bob").mentions, [id("bob")], "case folds and each person counts once");
  t.same(resolve("alice", "write to carol@school.test or @@bob").mentions, [], "addresses and doubled signs are no mentions");
  t.same(resolve("alice", "@alice note to self").mentions, [], "never the sender");
  t.same(resolve("alice", "hi", { requested: [id("carol"), id("erin"), id("carol")] }).mentions, [id("carol")], "a client's list is filtered to members, once each");
  t.same(resolve("alice", "@erin @carol").mentions, [id("carol")]);
});

t.test("resolving mentions: @all and @everyone for admins only", async (t) => {
  t.equal(resolve("dave", "@everyone look").mentionAll, true);
  t.equal(resolve("alice", "@ALL look").mentionAll, true);
  t.equal(resolve("bob", "@all look").mentionAll, false, "a member's @all is text");
  t.throws(() => resolve("bob", "look", { requestAll: true }), { code: "room.forbidden" });
  t.equal(resolve("dave", "look", { requestAll: true }).mentionAll, true);
});

t.test("resolving mentions: in the announcement group members name only admins", async (t) => {
  const school = stateOf("community", [[id("alice"), "owner"], [id("frank"), "admin"], [id("bob"), "member"], [id("carol"), "member"]]);
  t.same(resolve("bob", "@alice @frank @carol", { state: school }).mentions, [id("alice"), id("frank")]);
  t.same(resolve("alice", "@carol @bob", { state: school }).mentions, [id("carol"), id("bob")], "admins name anyone");
});
