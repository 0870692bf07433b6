/**
 * Finding people and messages over the real protocol. The cast: alice (owner of the Hillside
 * School community and its #year5 group), bob (a parent in #year5), carol (a parent who joins
 * #year5 late), dave (in the community, with a Chinese display name), erin (on the server,
 * sharing nothing with anyone).
 */
import t from "tap";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { openStorage } from "../server/storage/database.ts";
import { createRoomStore } from "../server/rooms/store.ts";
import { markMatches, parseQuery } from "../server/search/service.ts";
import { nextFrame, ok, rawSocket, refusalOf, openSchool as openSchoolCast, type School } from "./helpers.ts";
import type { ConfigOverrides } from "../server/config/load.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];


/** The school with only bob in Year 5; dave's display name is Chinese. */
async function openSchool(t: Test, overrides: ConfigOverrides = {}): Promise<School> {
  const school = await openSchoolCast(t, { overrides, year5: ["bob"], year5Admins: [] });
  await school.dave.request("profile.update", { displayName: "王小明" });
  return school;
}

let txn = 0;
async function say(client: ParleyClient, roomId: string, body: string): Promise<number> {
  return (await client.request("message.send", { roomId, body, txnId: `s${++txn}` })).event.seq;
}

const found = (r: { results: { roomId: string; seq: number }[] }) => r.results.map((x) => x.seq);

t.test("people search finds those alice shares a community with, by name or username, with their common groups", async (t) => {
  const { alice, bob, dave, erin, year5, school } = await openSchool(t);
  const byName = await ok(t, alice, "user.search", { query: "BO" });
  t.same(byName.users, [{ userId: bob.userId, displayName: "Bob", avatar: null, commonGroups: [{ roomId: year5, kind: "group", name: "Year 5", communityId: school }] }]);
  t.equal(byName.next, null);
  t.same((await ok(t, alice, "user.search", { query: "小明" })).users.map((u: any) => u.userId), [dave.userId], "Chinese names, by any part");
  t.same((await ok(t, alice, "user.search", { query: "dav" })).users.map((u: any) => u.userId), [dave.userId], "and by username");
  t.same((await ok(t, alice, "user.search", { query: "dave" })).users[0].commonGroups, [], "no group in common yet: the community is shared, not a group");
  t.same((await ok(t, alice, "user.search", { query: "erin" })).users, [], "erin shares nothing with alice");
  t.same((await ok(t, erin, "user.search", { query: "alice" })).users, [], "nor alice with erin");
  t.same((await ok(t, alice, "user.search", { query: "alice" })).users, [], "never yourself");

  const page1 = await ok(t, alice, "user.search", { query: "a", limit: 1 });
  t.equal(page1.users.length, 1);
  t.ok(page1.next);
  const page2 = await ok(t, alice, "user.search", { query: "a", limit: 1, after: page1.next });
  t.notSame(page2.users[0]?.userId, page1.users[0].userId, "the next page goes on");

  t.equal(await refusalOf(alice, "user.search", { query: "   " }), "search.invalid_query");
  t.equal(await refusalOf(alice, "user.search", { query: "" }), "invalid_params");
  t.equal(await refusalOf(alice, "user.search", { query: "bob", limit: 51 }), "invalid_params");
  t.equal(await refusalOf(alice, "user.search", {} as never), "invalid_params");
});

t.test("where the server's policy allows it, people search finds everyone on the server", async (t) => {
  const { alice, erin } = await openSchool(t, { direct: { open_to: "server" } });
  t.same((await ok(t, alice, "user.search", { query: "erin" })).users.map((u: any) => ({ userId: u.userId, commonGroups: u.commonGroups })), [{ userId: erin.userId, commonGroups: [] }]);
});

t.test("message search finds words in Latin and Chinese, marks them, newest first, a page at a time", async (t) => {
  const { alice, bob, year5 } = await openSchool(t);
  const a = await say(bob, year5, "The school trip is on Friday");
  const b = await say(alice, year5, "我们明天去学校旅行");
  const c = await say(bob, year5, "Trip money: bring 5 pounds for the TRIP");
  await say(bob, year5, "nothing to see");
  const d = await say(alice, year5, "Is the trip still on?");

  const trip = await ok(t, alice, "message.search", { query: "trip" });
  t.same(found(trip), [d, c, a], "every message with the word, newest first");
  const money = trip.results.find((r: any) => r.seq === c);
  t.same(money.highlights.map(([s, e]: number[]) => money.snippet.slice(s, e)), ["Trip", "TRIP"], "the matches are marked, whatever their case");
  t.match(money, { roomId: year5, sender: bob.userId, kind: "text" });

  t.same(found(await ok(t, alice, "message.search", { query: "school friday" })), [a], "every word must occur");
  t.same(found(await ok(t, alice, "message.search", { query: "学校旅行" })), [b], "Chinese, through the trigram index");
  const short = await ok(t, alice, "message.search", { query: "学校" });
  t.same(found(short), [b], "a two-character Chinese word, by the fallback");
  t.same(short.results[0].highlights, [[5, 7]]);
  t.same(found(await ok(t, alice, "message.search", { query: "旅" })), [b], "even one character");
  t.same(found(await ok(t, alice, "message.search", { query: "trip 5" })), [c], "a long word and a short one together");

  const first = await ok(t, alice, "message.search", { query: "trip", limit: 2 });
  t.same(found(first), [d, c]);
  t.ok(first.next);
  const second = await ok(t, alice, "message.search", { query: "trip", limit: 2, before: first.next });
  t.same(found(second), [a]);
  t.equal(second.next, null);

  t.same(found(await ok(t, alice, "message.search", { query: "trip", sender: bob.userId })), [c, a], "by sender");
  t.same(found(await ok(t, alice, "message.search", { query: "trip", roomId: year5 })), [d, c, a], "by room");

  const long = `${"word ".repeat(60)}the needle ${"hay ".repeat(60)}`;
  const n = await say(bob, year5, long);
  const hit = (await ok(t, alice, "message.search", { query: "needle" })).results[0];
  t.equal(hit.seq, n);
  t.ok(hit.snippet.length <= 160, "a long message gives a snippet around the match");
  t.same(hit.highlights.map(([s, e]: number[]) => hit.snippet.slice(s, e)), ["needle"]);
});

t.test("message search shows only what the searcher may read", async (t) => {
  const { alice, bob, carol, erin, year5, school } = await openSchool(t);
  const before = await say(bob, year5, "homework before carol");
  await carol.request("group.join", { roomId: year5 });
  const after = await say(bob, year5, "homework after carol joined");
  t.same(found(await ok(t, carol, "message.search", { query: "homework" })), [after], "nothing from before she joined");
  t.same(found(await ok(t, alice, "message.search", { query: "homework" })), [after, before]);
  t.same(found(await ok(t, erin, "message.search", { query: "homework" })), [], "nothing from rooms one is not in");

  const edited = await say(bob, year5, "meeting at noon");
  await bob.request("message.edit", { roomId: year5, seq: edited, body: "gathering at one" });
  t.same(found(await ok(t, alice, "message.search", { query: "noon" })), [], "an edit takes the old words out");
  t.same(found(await ok(t, alice, "message.search", { query: "gathering" })), [edited], "and puts the new ones in");

  const deleted = await say(bob, year5, "secret password");
  await bob.request("message.delete", { roomId: year5, seq: deleted, forEveryone: true });
  t.same(found(await ok(t, alice, "message.search", { query: "secret" })), [], "deleted for everyone");
  t.same(found(await ok(t, alice, "message.search", { query: "se" })), [], "also by the fallback");

  const mine = await say(bob, year5, "embarrassing typo");
  await alice.request("message.delete", { roomId: year5, seq: mine, forEveryone: false });
  t.same(found(await ok(t, alice, "message.search", { query: "embarrassing" })), [], "deleted for me: not for me");
  t.same(found(await ok(t, carol, "message.search", { query: "embarrassing" })), [mine], "but for the others");

  const poll = await alice.request("poll.create", { roomId: year5, txnId: "p1", question: "Which museum?", options: ["Science", "Natural history"], anonymous: true });
  await bob.request("poll.vote", { roomId: year5, seq: poll.event.seq, options: [0] });
  t.same(found(await ok(t, bob, "message.search", { query: "museum" })), [poll.event.seq], "a poll's question is a message");
  t.same(found(await ok(t, bob, "message.search", { query: "science" })), [], "its options and anonymous votes are not");

  await carol.request("room.leave", { roomId: year5 });
  t.same(found(await ok(t, carol, "message.search", { query: "homework" })), [], "after leaving, nothing of the room");

  t.equal(await refusalOf(erin, "message.search", { query: "homework", roomId: year5 }), "room.not_found", "filtering by a room one is not in");
  t.equal(await refusalOf(alice, "message.search", { query: '"  "' }), "search.invalid_query");
  t.equal(await refusalOf(alice, "message.search", { query: "" }), "invalid_params");
  t.equal(await refusalOf(alice, "message.search", { query: "x", limit: 51 }), "invalid_params");
  t.equal(await refusalOf(alice, "message.search", { query: "x", before: 0 }), "invalid_params");
  t.equal(await refusalOf(alice, "message.search", { query: "x", sender: "bob" }), "invalid_params");
  void school;
});

t.test("search ops need authentication", async (t) => {
  const { server } = await openSchool(t);
  const ws = await rawSocket(server);
  t.teardown(() => ws.close());
  for (const op of ["message.search", "user.search"]) {
    ws.send(JSON.stringify({ id: op, op, params: { query: "trip" } }));
    t.equal((await nextFrame(ws)).error.code, "auth.required", op);
  }
});

t.test("the index follows the log in batches: only committed text is indexed, edits and deletions before or after the batch", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "parley-fts-"));
  const storage = openStorage(dir);
  t.teardown(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = createRoomStore(storage);
  const count = (word: string) => (storage.sqlite.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?").get(word) as { n: number }).n;
  const mark = () => (storage.sqlite.prepare("SELECT indexed_pos AS pos FROM search_index_state").get() as { pos: number }).pos;
  const event = (seq: number, body: string) => {
    const base = { roomId: "!r:s", seq, eventId: `$e${seq}`, type: "message" as const, sender: "@a:s", ts: seq, content: { kind: "text", body } };
    return { ...base, pos: store.insertEvent(base, null, false, null) };
  };
  t.throws(() =>
    store.transaction(() => {
      store.insertMessage(event(1, "about the rollback"));
      throw new Error("refused");
    }),
  );
  store.indexSearch();
  t.equal(count("rollback"), 0, "a rolled-back send leaves nothing to index");
  store.transaction(() => store.insertMessage(event(1, "about the rollback")));
  t.equal(count("rollback"), 0, "a committed send waits for the next batch");
  store.indexSearch();
  t.equal(count("rollback"), 1, "the batch indexes it");
  // A group commit: each command in its own savepoint; a refused one leaves nothing behind.
  store.transaction(() => {
    store.transaction(() => store.insertMessage(event(2, "rollback kept")));
    t.throws(() =>
      store.transaction(() => {
        store.insertMessage(event(3, "rollback refused"));
        throw new Error("refused");
      }),
    );
  });
  store.indexSearch();
  t.equal(count("rollback"), 2, "the committed command's text is indexed, the refused one's is not");
  t.equal(count("refused"), 0);
  store.transaction(() => store.editMessage("!r:s", 1, "about something else", 2));
  t.equal(count("rollback"), 1, "an edit of an indexed message replaces its text at once (only message 2 still says it)");
  t.equal(count("something"), 1);
  store.transaction(() => store.deleteMessage("!r:s", 1, 3, "@a:s"));
  t.equal(count("something"), 0, "a deletion removes it at once");

  // Edited or deleted before the batch reaches them: the batch reads the text as it is then.
  store.transaction(() => {
    store.insertMessage(event(4, "first draft"));
    store.insertMessage(event(5, "regrettable words"));
  });
  store.transaction(() => store.editMessage("!r:s", 4, "second draft", 4));
  store.transaction(() => store.deleteMessage("!r:s", 5, 5, "@a:s"));
  store.indexSearch();
  t.equal(count("first"), 0, "the text before the edit was never indexed");
  t.equal(count("second"), 1, "the edited text is");
  t.equal(count("regrettable"), 0, "a message deleted before the batch is not indexed");
  t.equal(mark(), (storage.sqlite.prepare("SELECT max(pos) AS pos FROM room_events").get() as { pos: number }).pos, "the mark is at the head of the log");
});

t.test("after a crash, what the last batch did not reach is indexed soon after the start", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "parley-fts-"));
  const first = openStorage(dir);
  const before = createRoomStore(first);
  before.transaction(() => {
    for (let seq = 1; seq <= 30; seq++) {
      const base = { roomId: "!r:s", seq, eventId: `$e${seq}`, type: "message" as const, sender: "@a:s", ts: seq, content: { kind: "text", body: `lighthouse ${seq}` } };
      before.insertMessage({ ...base, pos: before.insertEvent(base, null, false, null) });
    }
  });
  // The process "dies" here: the connection closes with the batch not run.
  first.close();
  const storage = openStorage(dir);
  t.teardown(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const count = () => (storage.sqlite.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH 'lighthouse'").get() as { n: number }).n;
  t.equal(count(), 0, "nothing of them was indexed");
  createRoomStore(storage);
  // The store schedules its first batch when it opens on a log ahead of its index.
  while (count() < 30) await new Promise((r) => setTimeout(r, 50));
  t.equal(count(), 30);
});

t.test("queries are split into words; matches are marked in the snippet", async (t) => {
  t.same(parseQuery('  School "TRIP"  学校 trip '), { long: ["school", "trip"], short: ["学校"] });
  t.same(parseQuery('" "'), { long: [], short: [] });
  t.same(markMatches("trip, Trip, TRIPtrip", ["trip"]).highlights, [[0, 4], [6, 10], [12, 20]], "touching matches merge");
  t.same(markMatches("abcdef", ["bcd", "cde"]).highlights, [[1, 5]], "overlapping ones too");
  const long = `${"x".repeat(300)}needle${"y".repeat(300)}`;
  const m = markMatches(long, ["needle"]);
  t.equal(m.snippet.slice(m.highlights[0][0], m.highlights[0][1]), "needle");
});
