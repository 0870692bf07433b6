/**
 * Messages over the real protocol, as a school would use them. The cast: alice (owner, head
 * teacher), carol (community admin, and admin of #maths), bob and dan (parents), eve (outsider).
 * The school community is its own announcement group; #maths is a group inside it.
 */
import t from "tap";
import type { ConfigOverrides } from "../server/config/load.ts";
import type { ParleyClient, OpName } from "../clients/sdk/index.ts";
import { nextEvent, ok, record, refusal, schemaErrors, startServer, unthrottled, type TestServer } from "./helpers.ts";

/** The `t` of a subtest. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

interface School {
  server: TestServer;
  alice: ParleyClient;
  carol: ParleyClient;
  bob: ParleyClient;
  dan: ParleyClient;
  eve: ParleyClient;
  /** The community room, which is its announcement group. */
  school: string;
  maths: string;
}

async function openSchool(t: Test, overrides: ConfigOverrides = {}, opts: { now?: () => number } = {}): Promise<School> {
  const server = await startServer({ ...unthrottled, ...overrides, limits: { ...unthrottled.limits, ...overrides.limits } }, opts);
  t.teardown(() => server.stop(true));
  const [alice, carol, bob, dan, eve] = await Promise.all(["alice", "carol", "bob", "dan", "eve"].map((n) => server.user(n)));
  const school = await alice.request("community.create", { name: "Hillside School", rules: "Be kind." });
  const maths = await alice.request("group.create", { name: "Maths", communityId: school.roomId });
  const link = await alice.request("link.create", { roomId: school.roomId });
  for (const c of [carol, bob, dan]) await c.request("link.join", { token: link.token });
  await alice.request("member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  for (const c of [carol, bob, dan]) await c.request("group.join", { roomId: maths.roomId });
  await alice.request("member.role", { roomId: maths.roomId, userId: carol.userId, role: "admin" });
  return { server, alice, carol, bob, dan, eve, school: school.roomId, maths: maths.roomId };
}

let txn = 0;
/** Sends a text message (a fresh txnId each time) and returns its seq. */
async function say(t: Test, client: ParleyClient, roomId: string, body: string, extra: { replyTo?: number; threadRoot?: number } = {}): Promise<number> {
  const r = await ok(t, client, "message.send", { roomId, body, txnId: `t${++txn}`, ...extra });
  t.equal(r.duplicate, false);
  return r.event.seq as number;
}

/** A round trip on each client: every push sent to it before this point has been received. */
async function settle(...clients: ParleyClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.request("ping", {})));
}

const contentOf = (e: { content: unknown }) => e.content as Record<string, any>;

t.test("text messages respect the size limit, counted in characters not bytes", async (t) => {
  const { alice, bob, maths } = await openSchool(t, { limits: { message_chars: 10 } });
  await say(t, bob, maths, "0123456789");
  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "0123456789x", txnId: "long" })), "message.too_long");
  // Ten emoji are ten characters (forty bytes of UTF-8, twenty UTF-16 units): they fit.
  const emoji = "😀".repeat(10);
  const seq = await say(t, bob, maths, emoji);
  const got = await ok(t, alice, "message.get", { roomId: maths, seq });
  t.equal(got.message.body, emoji);
  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "😀".repeat(11), txnId: "long2" })), "message.too_long");
  t.equal(await refusal(bob.request("message.edit", { roomId: maths, seq, body: "😀".repeat(11) })), "message.too_long");
  const history = await ok(t, alice, "message.history", { roomId: maths });
  t.same(history.messages.map((m: any) => m.body), ["0123456789", emoji], "the refused ones left no trace");
});

t.test("a message pushed to the group's members, and a reply that quotes it", async (t) => {
  const { alice, bob, dan, eve, maths } = await openSchool(t);
  const eveSaw = record(eve, "room.event");
  const pushed = nextEvent(dan, (e) => e.type === "message" && e.roomId === maths);
  const sent = await ok(t, alice, "message.send", { roomId: maths, body: "Homework: page 12", txnId: "hw" });
  const ev = await pushed;
  t.same(schemaErrors("push/room.event", ev), []);
  t.equal(ev.eventId, sent.event.eventId);
  t.same(contentOf(ev), { kind: "text", body: "Homework: page 12" });

  const reply = await ok(t, bob, "message.send", { roomId: maths, body: "Which exercises?", txnId: "q", replyTo: sent.event.seq });
  t.equal(contentOf(reply.event).replyTo, sent.event.seq);
  const view = await ok(t, dan, "message.get", { roomId: maths, seq: reply.event.seq });
  t.equal(view.message.replyTo, sent.event.seq);
  t.equal(view.message.threadRoot, null);
  const history = await ok(t, dan, "message.history", { roomId: maths });
  t.same(
    history.messages.map((m: any) => [m.sender, m.body, m.replyTo]),
    [
      [alice.userId, "Homework: page 12", null],
      [bob.userId, "Which exercises?", sent.event.seq],
    ],
    "replies to a group message stay in the main history",
  );

  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "?", txnId: "q2", replyTo: 999 })), "message.not_found");
  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "?", txnId: "q3", replyTo: 1 })), "message.not_found", "seq 1 is the room's creation, not a message");
  await settle(eve);
  t.same(eveSaw, [], "the outsider saw nothing");
});

t.test("announcements: only admins post; members reply in an ordered thread", async (t) => {
  const { alice, carol, bob, dan, school, maths } = await openSchool(t);
  t.equal(await refusal(bob.request("message.send", { roomId: school, body: "Hello all", txnId: "b1" })), "announcement.admins_only");

  const pushed = nextEvent(bob, (e) => e.type === "message" && e.roomId === school);
  const root = await say(t, alice, school, "Parents' evening is on Thursday");
  t.same(schemaErrors("push/room.event", await pushed), []);
  const other = await say(t, carol, school, "Sports day moved to Friday");

  const r1 = await say(t, bob, school, "Thank you!", { threadRoot: root });
  const r2 = await say(t, dan, school, "What time?", { threadRoot: root });
  const r3 = await say(t, alice, school, "6pm", { threadRoot: root });
  const r4 = await say(t, bob, school, "See you there", { threadRoot: root });

  const thread = await ok(t, dan, "message.thread", { roomId: school, root });
  t.equal(thread.root.seq, root);
  t.equal(thread.root.replyCount, 4);
  t.same(
    thread.replies.map((m: any) => [m.seq, m.sender, m.body, m.threadRoot]),
    [
      [r1, bob.userId, "Thank you!", root],
      [r2, dan.userId, "What time?", root],
      [r3, alice.userId, "6pm", root],
      [r4, bob.userId, "See you there", root],
    ],
    "replies gather under the announcement in order",
  );
  t.equal(thread.more, false);
  const page = await ok(t, dan, "message.thread", { roomId: school, root, after: r1, limit: 2 });
  t.same(page.replies.map((m: any) => m.seq), [r2, r3]);
  t.equal(page.more, true);

  const history = await ok(t, bob, "message.history", { roomId: school });
  t.same(history.messages.map((m: any) => m.seq), [root, other], "the main history holds announcements only");
  t.same(history.messages.map((m: any) => m.replyCount), [4, 0]);

  t.equal(await refusal(bob.request("message.send", { roomId: school, body: "!", txnId: "b2", threadRoot: r1 })), "message.not_found", "a reply cannot be a thread root");
  t.equal(await refusal(bob.request("message.send", { roomId: school, body: "!", txnId: "b3", threadRoot: 999 })), "message.not_found");
  t.equal(await refusal(bob.request("message.thread", { roomId: school, root: 999 })), "message.not_found");
  // Inside a thread a reply may quote the root or another reply of the same thread, nothing else.
  const quoting = await ok(t, dan, "message.send", { roomId: school, body: "Agreed", txnId: "d1", threadRoot: root, replyTo: r1 });
  t.same([contentOf(quoting.event).threadRoot, contentOf(quoting.event).replyTo], [root, r1]);
  t.equal(await refusal(dan.request("message.send", { roomId: school, body: "?", txnId: "d2", threadRoot: root, replyTo: 999 })), "message.not_found", "a quote of a missing message");
  t.equal(await refusal(dan.request("message.send", { roomId: school, body: "?", txnId: "d3", threadRoot: other, replyTo: r1 })), "message.not_found", "a quote from another thread");
  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "!", txnId: "b4", threadRoot: 1 })), "room.invalid", "threads belong to announcement groups");

  await ok(t, alice, "room.settings.update", { roomId: school, announcementReplies: false });
  t.equal(await refusal(bob.request("message.send", { roomId: school, body: "One more", txnId: "b5", threadRoot: root })), "announcement.replies_off");
  const byAdmin = await say(t, carol, school, "Replies are closed, thank you", { threadRoot: root });
  const after = await ok(t, bob, "message.thread", { roomId: school, root, after: quoting.event.seq });
  t.same(after.replies.map((m: any) => m.seq), [byAdmin], "admins may still reply");

  await ok(t, alice, "message.delete", { roomId: school, seq: other, forEveryone: true });
  await ok(t, alice, "room.settings.update", { roomId: school, announcementReplies: true });
  t.equal(await refusal(bob.request("message.send", { roomId: school, body: "?", txnId: "b6", threadRoot: other })), "message.not_found", "no replies under a deleted announcement");
});

t.test("a group where only admins send refuses members", async (t) => {
  const { alice, carol, bob, maths } = await openSchool(t);
  await ok(t, alice, "room.settings.update", { roomId: maths, sendPolicy: "admins" });
  t.equal(await refusal(bob.request("message.send", { roomId: maths, body: "hi", txnId: "b1" })), "room.forbidden");
  await say(t, carol, maths, "Only teachers post here now");
  await ok(t, alice, "room.settings.update", { roomId: maths, sendPolicy: "all" });
  await say(t, bob, maths, "hi again");
});

t.test("reactions: one per user, changeable, removable, counted", async (t) => {
  const { alice, carol, bob, dan, maths } = await openSchool(t);
  const seq = await say(t, alice, maths, "Test on Monday");

  const pushed = nextEvent(alice, (e) => e.type === "reaction");
  const r = await ok(t, bob, "message.react", { roomId: maths, seq, emoji: "👍" });
  t.same(contentOf(r.event), { target: seq, emoji: "👍" });
  t.same(schemaErrors("push/room.event", await pushed), []);
  await ok(t, dan, "message.react", { roomId: maths, seq, emoji: "👍" });
  await ok(t, carol, "message.react", { roomId: maths, seq, emoji: "🎉" });

  let view = (await ok(t, bob, "message.get", { roomId: maths, seq })).message;
  t.same(view.reactions, [
    { emoji: "👍", count: 2 },
    { emoji: "🎉", count: 1 },
  ]);
  t.equal(view.myReaction, "👍");

  // Changing replaces: bob still has one reaction, now a heart.
  await ok(t, bob, "message.react", { roomId: maths, seq, emoji: "❤️" });
  // Null removes dan's.
  await ok(t, dan, "message.react", { roomId: maths, seq, emoji: null });
  view = (await ok(t, bob, "message.get", { roomId: maths, seq })).message;
  t.same([...view.reactions].sort((a: any, b: any) => a.emoji.localeCompare(b.emoji)), [
    { emoji: "❤️", count: 1 },
    { emoji: "🎉", count: 1 },
  ].sort((a, b) => a.emoji.localeCompare(b.emoji)));
  t.equal(view.myReaction, "❤️");
  const danView = (await ok(t, dan, "message.history", { roomId: maths })).messages.find((m: any) => m.seq === seq);
  t.equal(danView.myReaction, null);
  t.equal(danView.reactions.reduce((n: number, r: any) => n + r.count, 0), 2, "history counts the same reactions");

  const who = await ok(t, alice, "message.reactions", { roomId: maths, seq });
  t.same(
    [...who.reactions].sort((a: any, b: any) => a.userId.localeCompare(b.userId)),
    [
      { userId: bob.userId, emoji: "❤️" },
      { userId: carol.userId, emoji: "🎉" },
    ],
  );

  t.equal(await refusal(bob.request("message.react", { roomId: maths, seq: 999, emoji: "👍" })), "message.not_found");
  t.equal(await refusal(bob.request("message.reactions", { roomId: maths, seq: 999 })), "message.not_found");
  await ok(t, alice, "message.delete", { roomId: maths, seq, forEveryone: true });
  t.equal(await refusal(bob.request("message.react", { roomId: maths, seq, emoji: "👍" })), "message.not_found", "no reactions on a deleted message");
});

t.test("editing: your own messages only, marked edited, pushed to the room", async (t) => {
  const { alice, bob, dan, maths } = await openSchool(t);
  const seq = await say(t, bob, maths, "Meeting at 5");
  const theirs = await say(t, alice, maths, "Bring a calculator");

  const pushed = nextEvent(dan, (e) => e.type === "message.edit");
  const edit = await ok(t, bob, "message.edit", { roomId: maths, seq, body: "Meeting at 6" });
  const ev = await pushed;
  t.same(schemaErrors("push/room.event", ev), []);
  t.equal(ev.eventId, edit.event.eventId);
  t.same(contentOf(ev), { target: seq, body: "Meeting at 6" });

  const history = await ok(t, dan, "message.history", { roomId: maths });
  const edited = history.messages.find((m: any) => m.seq === seq);
  t.equal(edited.body, "Meeting at 6");
  t.equal(edited.edited, true);
  t.equal(history.messages.find((m: any) => m.seq === theirs).edited, false);
  t.equal(history.messages.length, 2, "an edit is not a new message");

  t.equal(await refusal(bob.request("message.edit", { roomId: maths, seq: theirs, body: "hacked" })), "message.not_editable");
  t.equal(await refusal(bob.request("message.edit", { roomId: maths, seq: 999, body: "?" })), "message.not_found");
  await ok(t, bob, "message.delete", { roomId: maths, seq, forEveryone: true });
  t.equal(await refusal(bob.request("message.edit", { roomId: maths, seq, body: "back" })), "message.not_editable");
});

t.test("delete for me hides a message from my history only", async (t) => {
  const { alice, bob, maths } = await openSchool(t);
  const a = await say(t, alice, maths, "First");
  const b = await say(t, alice, maths, "Second");
  const r = await ok(t, bob, "message.delete", { roomId: maths, seq: a, forEveryone: false });
  t.same(r, { hidden: { roomId: maths, seq: a } });
  t.same((await ok(t, bob, "message.history", { roomId: maths })).messages.map((m: any) => m.seq), [b]);
  t.equal(await refusal(bob.request("message.get", { roomId: maths, seq: a })), "message.not_found");
  const alices = await ok(t, alice, "message.history", { roomId: maths });
  t.same(alices.messages.map((m: any) => [m.seq, m.deleted]), [
    [a, false],
    [b, false],
  ]);
  t.equal(await refusal(bob.request("message.delete", { roomId: maths, seq: 999, forEveryone: false })), "message.not_found");
});

t.test("delete for everyone: the sender within the window, admins any time, nobody else", async (t) => {
  let clock = Date.now();
  const { alice, carol, bob, dan, maths, school } = await openSchool(t, { rooms: { delete_for_everyone_seconds: 60 } }, { now: () => clock });
  const mine = await say(t, bob, maths, "Oops, wrong group");
  await ok(t, dan, "message.react", { roomId: maths, seq: mine, emoji: "😂" });

  const pushed = nextEvent(alice, (e) => e.type === "message.delete");
  const del = await ok(t, bob, "message.delete", { roomId: maths, seq: mine, forEveryone: true });
  t.same(contentOf(del.event), { target: mine, bySender: true });
  t.same(schemaErrors("push/room.event", await pushed), []);
  const marker = (await ok(t, dan, "message.get", { roomId: maths, seq: mine })).message;
  t.equal(marker.deleted, true);
  t.equal(marker.body, null);
  t.same(marker.reactions, [], "reactions are cleared in the view");
  t.equal(marker.myReaction, null);
  t.equal(await refusal(bob.request("message.delete", { roomId: maths, seq: mine, forEveryone: true })), "message.not_found", "already deleted");

  const late = await say(t, bob, maths, "Tomorrow is a holiday");
  const other = await say(t, bob, maths, "Or is it?");
  t.equal(await refusal(dan.request("message.delete", { roomId: maths, seq: late, forEveryone: true })), "room.forbidden", "a member cannot delete another's message");
  clock += 61_000;
  t.equal(await refusal(bob.request("message.delete", { roomId: maths, seq: late, forEveryone: true })), "message.delete_window_passed");

  const byAdmin = await ok(t, carol, "message.delete", { roomId: maths, seq: late, forEveryone: true });
  t.same(contentOf(byAdmin.event), { target: late, bySender: false });
  const history = await ok(t, bob, "message.history", { roomId: maths });
  t.same(
    history.messages.map((m: any) => [m.seq, m.body, m.deleted]),
    [
      [mine, null, true],
      [late, null, true],
      [other, "Or is it?", false],
    ],
    "deleted messages remain as markers",
  );

  const audit = await ok(t, alice, "audit.list", { roomId: school });
  const entry = audit.entries.find((e: any) => e.action === "message.delete");
  t.ok(entry, "the admin's deletion is in the community's audit log");
  t.equal(entry.actor, carol.userId);
  t.equal(entry.roomId, maths);
  t.equal(entry.details.target, late);
  t.equal(audit.entries.filter((e: any) => e.action === "message.delete").length, 1, "the sender's own deletion is not an admin action");
});

t.test("history pages backwards and forwards from any point", async (t) => {
  const { alice, bob, maths } = await openSchool(t);
  const seqs: number[] = [];
  for (let i = 1; i <= 11; i++) seqs.push(await say(t, i % 2 ? alice : bob, maths, `message ${i}`));

  const newest = await ok(t, bob, "message.history", { roomId: maths, limit: 4 });
  t.same(newest.messages.map((m: any) => m.seq), seqs.slice(-4), "without a cursor: the newest, ascending");
  t.equal(newest.more, true);

  const back: number[] = [];
  let cursor: number | undefined;
  for (let pages = 0; ; pages++) {
    const page = await ok(t, bob, "message.history", { roomId: maths, limit: 4, ...(cursor ? { before: cursor } : {}) });
    back.unshift(...page.messages.map((m: any) => m.seq));
    if (!page.more) break;
    cursor = page.messages[0].seq;
    t.ok(pages < 10);
  }
  t.same(back, seqs, "paging backwards visits every message once");

  const forward: number[] = [];
  let from = 0;
  for (let pages = 0; ; pages++) {
    const page = await ok(t, bob, "message.history", { roomId: maths, limit: 4, after: from });
    forward.push(...page.messages.map((m: any) => m.seq));
    if (!page.more) break;
    from = page.messages[page.messages.length - 1].seq;
    t.ok(pages < 10);
  }
  t.same(forward, seqs, "paging forwards visits every message once");

  const middle = await ok(t, bob, "message.history", { roomId: maths, after: seqs[4], limit: 3 });
  t.same(middle.messages.map((m: any) => m.seq), seqs.slice(5, 8));
  t.equal(middle.more, true);
  const before = await ok(t, bob, "message.history", { roomId: maths, before: seqs[4], limit: 3 });
  t.same(before.messages.map((m: any) => m.seq), seqs.slice(1, 4));
  t.equal(before.more, true);
  const start = await ok(t, bob, "message.history", { roomId: maths, before: seqs[2], limit: 5 });
  t.same(start.messages.map((m: any) => m.seq), seqs.slice(0, 2));
  t.equal(start.more, false);
  const end = await ok(t, bob, "message.history", { roomId: maths, after: seqs[10] });
  t.same(end, { messages: [], more: false });

  const one = await ok(t, bob, "message.get", { roomId: maths, seq: seqs[6] });
  t.equal(one.message.body, "message 7");
  t.equal(one.message.sender, alice.userId);
  t.equal(await refusal(bob.request("message.get", { roomId: maths, seq: 1 })), "message.not_found", "an event that is not a message");
  t.equal(await refusal(bob.request("message.get", { roomId: maths, seq: 9999 })), "message.not_found");
});

t.test("read receipts in a group: markers move forward only, members are told", async (t) => {
  const { alice, carol, bob, dan, eve, maths } = await openSchool(t);
  const m1 = await say(t, alice, maths, "Quiz tomorrow");
  const m2 = await say(t, alice, maths, "Chapters 3 and 4");
  const receipts = { alice: record(alice, "room.receipt"), carol: record(carol, "room.receipt"), dan: record(dan, "room.receipt"), eve: record(eve, "room.receipt") };

  t.same(await ok(t, bob, "receipt.read", { roomId: maths, seq: m2 }), { roomId: maths, seq: m2 });
  await settle(alice, carol, dan, eve);
  for (const name of ["alice", "carol", "dan"] as const) {
    t.same(receipts[name], [{ roomId: maths, userId: bob.userId, seq: m2, type: "read" }], `${name} is told`);
    t.same(schemaErrors("push/room.receipt", receipts[name][0]), []);
  }
  t.same(receipts.eve, [], "the outsider is not");

  const back = await ok(t, bob, "receipt.read", { roomId: maths, seq: m1 });
  t.equal(back.seq, m2, "the marker never moves backwards");
  await settle(alice);
  t.equal(receipts.alice.length, 1, "a marker that did not move is not announced");

  const g1 = await ok(t, alice, "receipt.get", { roomId: maths, seq: m1 });
  t.equal(g1.readBy, 1);
  t.equal(g1.of, 3, "seen by 1 of the 3 other members");
  t.same(g1.readers.map((r: any) => r.userId), [bob.userId]);
  await ok(t, dan, "receipt.read", { roomId: maths, seq: m1 });
  const g2 = await ok(t, carol, "receipt.get", { roomId: maths, seq: m2 });
  t.equal(g2.readBy, 1, "dan read up to m1 only");
  const g3 = await ok(t, bob, "receipt.get", { roomId: maths, seq: m1 });
  t.equal(g3.readBy, 2);
  t.same(g3.readers.map((r: any) => r.userId).sort(), [bob.userId, dan.userId].sort(), "group members see who read");

  const ahead = await ok(t, carol, "receipt.read", { roomId: maths, seq: 9999 });
  t.equal(ahead.seq, m2, "a marker cannot run ahead of the room");
  t.equal(await refusal(alice.request("receipt.get", { roomId: maths, seq: 9999 })), "message.not_found");
});

t.test("read receipts in the announcement group: seen by N of M, names for admins only", async (t) => {
  const { alice, carol, bob, dan, school } = await openSchool(t);
  const seq = await say(t, alice, school, "School closes at noon on Friday");
  const receipts = { alice: record(alice, "room.receipt"), carol: record(carol, "room.receipt"), bob: record(bob, "room.receipt"), dan: record(dan, "room.receipt") };
  await ok(t, bob, "receipt.read", { roomId: school, seq });
  await ok(t, dan, "receipt.read", { roomId: school, seq });
  await settle(alice, carol, bob, dan);
  t.equal(receipts.alice.length, 2, "admins are told who read");
  t.equal(receipts.carol.length, 2);
  for (const r of receipts.carol) t.same(schemaErrors("push/room.receipt", r), []);
  t.same(receipts.bob, [], "members learn nothing of other members");
  t.same(receipts.dan, []);

  const forAdmin = await ok(t, carol, "receipt.get", { roomId: school, seq });
  t.equal(forAdmin.readBy, 2);
  t.equal(forAdmin.of, 3);
  t.same(forAdmin.readers.map((r: any) => r.userId).sort(), [bob.userId, dan.userId].sort());
  const forMember = await ok(t, bob, "receipt.get", { roomId: school, seq });
  t.same({ readBy: forMember.readBy, of: forMember.of, readers: forMember.readers }, { readBy: 2, of: 3, readers: null }, "members get the counts only");
});

t.test("typing reaches the other members live and is never stored", async (t) => {
  const { alice, carol, bob, dan, eve, maths, school } = await openSchool(t);
  const before = (await alice.request("sync", {})).pos;
  const typing = { alice: record(alice, "room.typing"), carol: record(carol, "room.typing"), bob: record(bob, "room.typing"), dan: record(dan, "room.typing"), eve: record(eve, "room.typing") };

  t.same(await ok(t, bob, "typing.set", { roomId: maths, typing: true }), { roomId: maths });
  await ok(t, bob, "typing.set", { roomId: maths, typing: false });
  await settle(alice, carol, bob, dan, eve);
  for (const name of ["alice", "carol", "dan"] as const) {
    t.same(typing[name], [
      { roomId: maths, userId: bob.userId, typing: true },
      { roomId: maths, userId: bob.userId, typing: false },
    ]);
  }
  t.same(schemaErrors("push/room.typing", typing.alice[0]), []);
  t.same(typing.bob, [], "not echoed to the typist");
  t.same(typing.eve, [], "not to outsiders");

  // In the announcement group only admins post, so only their typing is shown.
  await ok(t, alice, "typing.set", { roomId: school, typing: true });
  await ok(t, dan, "typing.set", { roomId: school, typing: true });
  await settle(alice, carol, bob, dan);
  t.same(typing.bob.map((x: any) => x.userId), [alice.userId]);
  t.same(typing.alice.filter((x: any) => x.roomId === school), []);

  const sync = await ok(t, alice, "sync", { since: before });
  t.same(sync.events, [], "typing left nothing in the log");
  t.equal(sync.pos, before);
});

t.test("an outsider is told room.not_found by every message op", async (t) => {
  const { alice, eve, maths, school } = await openSchool(t);
  const seq = await say(t, alice, maths, "For members only");
  for (const roomId of [maths, school]) {
    const calls: [string, Promise<unknown>][] = [
      ["message.send", eve.request("message.send", { roomId, body: "hi", txnId: "e1" })],
      ["message.send reply", eve.request("message.send", { roomId, body: "hi", txnId: "e2", threadRoot: seq })],
      ["message.edit", eve.request("message.edit", { roomId, seq, body: "x" })],
      ["message.delete for everyone", eve.request("message.delete", { roomId, seq, forEveryone: true })],
      ["message.delete for me", eve.request("message.delete", { roomId, seq, forEveryone: false })],
      ["message.react", eve.request("message.react", { roomId, seq, emoji: "👍" })],
      ["message.history", eve.request("message.history", { roomId })],
      ["message.get", eve.request("message.get", { roomId, seq })],
      ["message.thread", eve.request("message.thread", { roomId, root: seq })],
      ["message.reactions", eve.request("message.reactions", { roomId, seq })],
      ["receipt.read", eve.request("receipt.read", { roomId, seq })],
      ["receipt.get", eve.request("receipt.get", { roomId, seq })],
      ["typing.set", eve.request("typing.set", { roomId, typing: true })],
    ];
    for (const [name, call] of calls) t.equal(await refusal(call), "room.not_found", `${name} in ${roomId === maths ? "#maths" : "the school"}`);
  }
  const ghost = "!NoSuchRoom0:school.test";
  t.equal(await refusal(alice.request("message.send", { roomId: ghost, body: "hi", txnId: "g" })), "room.not_found", "a missing room looks the same");
  t.equal(await refusal(alice.request("message.history", { roomId: ghost })), "room.not_found");
  const sync = await ok(t, eve, "sync", { since: 0 });
  t.same(sync.events, [], "nothing of the school reaches the outsider's sync");
});

t.test("malformed params are refused with invalid_params before any rule runs", async (t) => {
  const { bob, maths } = await openSchool(t);
  const seq = await say(t, bob, maths, "hello");
  const bad: [string, string, Record<string, unknown>][] = [
    ["message.send", "without txnId", { roomId: maths, body: "hi" }],
    ["message.send", "with an empty body", { roomId: maths, body: "", txnId: "x" }],
    ["message.send", "with an empty txnId", { roomId: maths, body: "hi", txnId: "" }],
    ["message.send", "with a txnId over 64 characters", { roomId: maths, body: "hi", txnId: "x".repeat(65) }],
    ["message.send", "with replyTo 0", { roomId: maths, body: "hi", txnId: "x", replyTo: 0 }],
    ["message.send", "with a bad room id", { roomId: "maths", body: "hi", txnId: "x" }],
    ["message.send", "with an unknown field", { roomId: maths, body: "hi", txnId: "x", html: "<b>" }],
    ["message.get", "with seq 0", { roomId: maths, seq: 0 }],
    ["message.get", "with a string seq", { roomId: maths, seq: "1" }],
    ["message.edit", "without a body", { roomId: maths, seq }],
    ["message.delete", "without forEveryone", { roomId: maths, seq }],
    ["message.react", "with an emoji too long", { roomId: maths, seq, emoji: "x".repeat(33) }],
    ["message.react", "with an empty emoji", { roomId: maths, seq, emoji: "" }],
    ["message.react", "without emoji", { roomId: maths, seq }],
    ["message.history", "with limit 0", { roomId: maths, limit: 0 }],
    ["message.history", "with limit 201", { roomId: maths, limit: 201 }],
    ["message.history", "with before 0", { roomId: maths, before: 0 }],
    ["message.thread", "with root 0", { roomId: maths, root: 0 }],
    ["message.reactions", "without seq", { roomId: maths }],
    ["receipt.read", "with seq 0", { roomId: maths, seq: 0 }],
    ["receipt.get", "with seq -1", { roomId: maths, seq: -1 }],
    ["typing.set", "with typing as a string", { roomId: maths, typing: "yes" }],
    ["sync", "with a negative since", { since: -1 }],
    ["sync", "with limit 0", { since: 0, limit: 0 }],
  ];
  for (const [op, how, params] of bad) {
    t.equal(await refusal(bob.request(op as OpName, params as never)), "invalid_params", `${op} ${how}`);
    // A valid frame after each invalid one keeps the socket under its invalid-frame limit.
    await bob.request("ping", {});
  }
  t.same((await bob.request("message.history", { roomId: maths })).messages.map((m) => m.seq), [seq], "nothing was stored");
});
