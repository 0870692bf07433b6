/**
 * Polls over the real protocol. The cast: alice (owner of the Hillside School community and of
 * its #year5 group), dave (admin of #year5), bob and carol (parents), erin (outsider). The
 * community room is its announcement group.
 */
import t from "tap";
import type { ParleyClient, RoomEvent } from "../clients/sdk/index.ts";
import { delay, nextEvent, ok, record, refusal, openSchool, startServer, unthrottled } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const system = "@parley:school.test";



/** Every event a user's sync stream holds, from the start. */
async function syncAll(client: ParleyClient): Promise<RoomEvent[]> {
  const out: RoomEvent[] = [];
  let since = 0;
  for (;;) {
    const page = await client.request("sync", { since, limit: 1000 });
    out.push(...(page.events as RoomEvent[]));
    since = page.pos;
    if (!page.more) return out;
  }
}

let txn = 0;
async function createPoll(t: Test, client: ParleyClient, roomId: string, question: string, options: string[], extra: { multiple?: boolean; anonymous?: boolean } = {}): Promise<number> {
  const r = await ok(t, client, "poll.create", { roomId, txnId: `p${++txn}`, question, options: options as never, ...extra });
  t.equal(r.event.content.kind, "poll");
  return r.event.seq as number;
}

t.test("a single-choice poll: vote, change, withdraw, live tallies, who chose what, closing", async (t) => {
  const { alice, bob, carol, dave, year5 } = await openSchool(t);
  const seen = record(alice);
  const created = await ok(t, bob, "poll.create", { roomId: year5, txnId: "trip", question: "  Which day for the trip?  ", options: ["Monday", "Friday", "Saturday"] });
  t.same(created.event.content, { kind: "poll", question: "Which day for the trip?", options: ["Monday", "Friday", "Saturday"], multiple: false, anonymous: false });
  const seq = created.event.seq as number;
  const again = await bob.request("poll.create", { roomId: year5, txnId: "trip", question: "Which day for the trip?", options: ["Monday", "Friday", "Saturday"] });
  t.equal(again.duplicate, true, "a retried create is not stored twice");
  t.equal(again.event.seq, seq);

  const live = nextEvent(alice, (e) => e.type === "poll.vote");
  const voted = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [1] });
  t.same(voted.counts, [0, 1, 0]);
  t.equal(voted.voters, 1);
  t.same(voted.myVote, [1]);
  t.same(voted.votes, [{ userId: carol.userId, options: [1] }]);
  const pushed = await live;
  t.equal(pushed.sender, carol.userId);
  t.same(pushed.content, { poll: seq, options: [1], counts: [0, 1, 0], voters: 1 }, "the room sees the vote with the new tally");

  const changed = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [2] });
  t.same(changed.counts, [0, 0, 1], "a changed vote moves, it does not add");
  t.equal(changed.voters, 1);
  await ok(t, dave, "poll.vote", { roomId: year5, seq, options: [2] });
  const withdrawn = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [] });
  t.same(withdrawn.counts, [0, 0, 1], "an empty list withdraws the vote");
  t.equal(withdrawn.voters, 1);
  t.same(withdrawn.myVote, []);

  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [0, 1] })), "poll.invalid_choice", "one option only on a single-choice poll");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [3] })), "poll.invalid_choice", "an option the poll does not have");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [12] })), "invalid_params");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [-1] })), "invalid_params");

  const view = await ok(t, alice, "poll.get", { roomId: year5, seq });
  t.same(view.votes, [{ userId: dave.userId, options: [2] }], "members see who chose what");
  t.same(view.myVote, []);
  t.equal(view.createdBy, bob.userId);
  t.equal(view.closed, false);
  await delay(50);
  const votes = seen.filter((e) => e.type === "poll.vote");
  t.same(
    votes.map((e) => [e.sender, (e.content as any).counts]),
    [
      [carol.userId, [0, 1, 0]],
      [carol.userId, [0, 0, 1]],
      [dave.userId, [0, 0, 2]],
      [carol.userId, [0, 0, 1]],
    ],
    "every change is pushed live with its tally",
  );

  t.equal(await refusal(carol.request("poll.close", { roomId: year5, seq })), "room.forbidden", "a member who neither made the poll nor is an admin cannot close it");
  const closing = nextEvent(carol, (e) => e.type === "poll.close");
  const closed = await ok(t, bob, "poll.close", { roomId: year5, seq });
  t.equal(closed.closed, true);
  t.same((await closing).content, { poll: seq, counts: [0, 0, 1], voters: 1 }, "the final tally is announced");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [0] })), "poll.closed", "a closed poll takes no votes");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [] })), "poll.closed", "nor withdrawals");
  t.equal(await refusal(bob.request("poll.close", { roomId: year5, seq })), "poll.closed");
  t.same((await ok(t, carol, "poll.get", { roomId: year5, seq })).counts, [0, 0, 1]);
});

t.test("a multiple-choice poll, closed by an admin", async (t) => {
  const { bob, carol, dave, year5 } = await openSchool(t);
  const seq = await createPoll(t, bob, year5, "What should we bring?", ["Sandwiches", "Fruit", "Water", "Crisps"], { multiple: true });
  const v1 = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [2, 0] });
  t.same(v1.myVote, [0, 2], "choices are kept in option order");
  t.same(v1.counts, [1, 0, 1, 0]);
  const v2 = await ok(t, dave, "poll.vote", { roomId: year5, seq, options: [0, 1, 2, 3] });
  t.same(v2.counts, [2, 1, 2, 1]);
  t.equal(v2.voters, 2);
  const v3 = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [3] });
  t.same(v3.counts, [1, 1, 1, 2]);
  t.equal(v3.voters, 2);
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [1, 1] })), "poll.invalid_choice", "the same option twice");
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [0, 4] })), "poll.invalid_choice");
  const view = await ok(t, bob, "poll.get", { roomId: year5, seq });
  t.same(view.votes, [
    { userId: dave.userId, options: [0, 1, 2, 3] },
    { userId: carol.userId, options: [3] },
  ]);
  t.equal(view.multiple, true);
  const closed = await ok(t, dave, "poll.close", { roomId: year5, seq });
  t.equal(closed.closed, true, "an admin closes someone else's poll");
  t.equal(await refusal(dave.request("poll.close", { roomId: year5, seq })), "poll.closed", "closing twice is refused");
});

t.test("poll.create is refused: option counts, duplicates, the announcement group, outsiders", async (t) => {
  const { alice, bob, erin, school, year5 } = await openSchool(t);
  /** n option labels (typed loosely: the schema types options as tuples of 2 to 12). */
  const options = (n: number): never => Array.from({ length: n }, (_, i) => `Option ${i + 1}`) as never;
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r1", question: "One?", options: options(1) })), "invalid_params", "one option is not a poll");
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r2", question: "Thirteen?", options: options(13) })), "invalid_params", "at most 12");
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r3", question: "Twice?", options: ["Yes", "No", "Yes"] })), "invalid_params", "options are distinct");
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r4", question: "Spaces?", options: ["Yes", " Yes "] })), "invalid_params", "also once trimmed");
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r5", question: "Blank?", options: ["Yes", "   "] })), "invalid_params", "and not blank");
  t.equal(await refusal(bob.request("poll.create", { roomId: year5, txnId: "r6", question: "", options: options(2) })), "invalid_params");
  const twelve = await ok(t, bob, "poll.create", { roomId: year5, txnId: "r7", question: "Twelve?", options: options(12) });
  t.equal((twelve.event.content as any).options.length, 12);
  const two = await ok(t, bob, "poll.create", { roomId: year5, txnId: "r8", question: "Two?", options: options(2) });
  t.equal((two.event.content as any).options.length, 2);

  t.equal(await refusal(bob.request("poll.create", { roomId: school, txnId: "a1", question: "Uniform?", options: options(2) })), "announcement.admins_only", "members do not post polls in the announcement group");
  await ok(t, alice, "poll.create", { roomId: school, txnId: "a2", question: "Uniform?", options: options(2) });

  t.equal(await refusal(erin.request("poll.create", { roomId: year5, txnId: "e1", question: "Hi?", options: options(2) })), "room.not_found", "an outsider cannot post");
  const seq = two.event.seq as number;
  t.equal(await refusal(erin.request("poll.vote", { roomId: year5, seq, options: [0] })), "room.not_found", "nor vote");
  t.equal(await refusal(erin.request("poll.get", { roomId: year5, seq })), "room.not_found", "nor look");
  t.equal(await refusal(erin.request("poll.close", { roomId: year5, seq })), "room.not_found", "nor close");

  const text = await bob.request("message.send", { roomId: year5, txnId: "txt", body: "not a poll" });
  t.equal(await refusal(bob.request("poll.vote", { roomId: year5, seq: text.event.seq, options: [0] })), "poll.not_found", "a message that is not a poll");
  t.equal(await refusal(bob.request("poll.get", { roomId: year5, seq: 9999 })), "poll.not_found");
});

t.test("a poll deleted for everyone takes no votes and shows nothing", async (t) => {
  const { bob, carol, year5 } = await openSchool(t);
  const seq = await createPoll(t, bob, year5, "Secret question?", ["Yes", "No"]);
  await carol.request("poll.vote", { roomId: year5, seq, options: [0] });
  await bob.request("message.delete", { roomId: year5, seq, forEveryone: true });
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [1] })), "poll.not_found");
  t.equal(await refusal(bob.request("poll.close", { roomId: year5, seq })), "poll.not_found");
  t.equal(await refusal(carol.request("poll.get", { roomId: year5, seq })), "poll.not_found", "its question is gone with it");
});

t.test("an anonymous poll: each member votes once, nobody can learn who chose what", async (t) => {
  const { server, alice, bob, carol, dave, school, year5 } = await openSchool(t);
  const seq = await createPoll(t, bob, year5, "Is the homework load right?", ["Too much", "About right", "Too little"], { anonymous: true });
  const tallies = record(bob);

  const tallied = nextEvent(alice, (e) => e.type === "poll.tally");
  const mine = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [0] });
  t.equal(mine.votes, null, "not even the voter gets the list");
  t.same(mine.myVote, [0], "but sees their own vote");
  t.same(mine.counts, [1, 0, 0]);
  const tally = await tallied;
  t.equal(tally.sender, system, "the tally comes from the server, not from the voter");
  t.same(Object.keys(tally.content).sort(), ["counts", "poll", "voters"]);
  t.same(tally.content, { poll: seq, counts: [1, 0, 0], voters: 1 });

  await ok(t, dave, "poll.vote", { roomId: year5, seq, options: [1] });
  await ok(t, alice, "poll.vote", { roomId: year5, seq, options: [1] });
  const replaced = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [1] });
  t.same(replaced.counts, [0, 3, 0], "a second vote replaces the first");
  t.equal(replaced.voters, 3, "each member counts once");
  const again = await ok(t, carol, "poll.vote", { roomId: year5, seq, options: [1] });
  t.equal(again.voters, 3);
  const withdrawn = await ok(t, dave, "poll.vote", { roomId: year5, seq, options: [] });
  t.same(withdrawn.counts, [0, 2, 0]);
  t.equal(withdrawn.voters, 2);
  t.equal(await refusal(dave.request("poll.vote", { roomId: year5, seq, options: [0, 1] })), "poll.invalid_choice", "the rules still hold");

  for (const [who, client, expected] of [
    ["the creator", bob, []],
    ["an admin", dave, []],
    ["the owner", alice, [1]],
    ["a voter", carol, [1]],
  ] as const) {
    const view = await ok(t, client, "poll.get", { roomId: year5, seq });
    t.equal(view.votes, null, `${who} cannot see who voted for what`);
    t.same(view.myVote, expected, `${who} sees only their own vote`);
    t.same(view.counts, [0, 2, 0]);
    t.equal(view.anonymous, true);
  }

  await delay(50);
  const pollEvents = tallies.filter((e) => (e.content as any).poll === seq);
  t.ok(pollEvents.length >= 6, "every vote pushed a tally");
  t.ok(
    pollEvents.every((e) => e.type === "poll.tally" && e.sender === system),
    "the room only ever sees tallies from the server",
  );

  const closed = await ok(t, bob, "poll.close", { roomId: year5, seq });
  t.equal(closed.votes, null);
  t.equal(await refusal(carol.request("poll.vote", { roomId: year5, seq, options: [2] })), "poll.closed");

  // The log: whoever reads it, from the start, finds no trace of a voter.
  const voters = [carol.userId, dave.userId, alice.userId];
  for (const client of [alice, dave, bob, carol]) {
    const events = (await syncAll(client)).filter((e) => e.roomId === year5);
    const pollPos = events.find((e) => e.seq === seq)!.pos;
    t.notOk(events.some((e) => e.type === "poll.vote"), "no poll.vote event in the log");
    const after = events.filter((e) => e.pos > pollPos);
    t.same(
      after.filter((e) => e.sender !== system).map((e) => [e.type, e.sender]),
      [["poll.close", bob.userId]],
      "after the poll, only the server (and the creator closing it) spoke",
    );
    for (const e of after) {
      const text = JSON.stringify(e.content);
      for (const v of voters) t.notOk(text.includes(v), `no event content names a voter (${e.type})`);
    }
  }
  const audit = await alice.request("audit.list", { roomId: year5, limit: 200 });
  const auditText = JSON.stringify(audit.entries);
  t.notOk(/poll\.vote|poll\.tally/.test(auditText), "the audit log says nothing of votes");
  t.notOk(
    audit.entries.some((e: any) => e.actor === carol.userId || e.actor === dave.userId),
    "nor of the voters",
  );
  const community = await alice.request("audit.list", { roomId: school, limit: 200 });
  t.notOk(/poll\.vote|poll\.tally/.test(JSON.stringify(community.entries)));

  // The votes themselves are only in the vote table.
  const rows = server.app.parley.storage.sqlite.prepare("SELECT count(*) AS n FROM poll_votes WHERE room_id = ? AND poll_seq = ?").get(year5, seq) as { n: number };
  t.equal(rows.n, 2);
});

t.test("in the announcement group, members do not learn who voted (its member list is private)", async (t) => {
  const { alice, bob, carol, dave, school } = await openSchool(t);
  const seq = await createPoll(t, alice, school, "Which date for sports day?", ["June 3", "June 10"]);
  const bobSees = record(bob);
  const aliceSees = record(alice);
  const tallied = nextEvent(bob, (e) => e.type === "poll.tally");
  const voted = await ok(t, carol, "poll.vote", { roomId: school, seq, options: [1] });
  t.same(voted.counts, [0, 1]);
  t.same(voted.myVote, [1]);
  t.same((await tallied).content, { poll: seq, counts: [0, 1], voters: 1 }, "members still get live counts");
  await ok(t, dave, "poll.vote", { roomId: school, seq, options: [0] });
  await delay(50);
  const leaks = bobSees.filter((e) => e.sender === carol.userId || e.sender === dave.userId);
  t.same(leaks, [], "no event tells bob who else is in the community");
  t.ok(aliceSees.some((e) => e.type === "poll.vote" && e.sender === carol.userId), "admins see the votes");
  const asMember = await ok(t, bob, "poll.get", { roomId: school, seq });
  t.equal(asMember.votes, null, "a member gets counts only");
  t.same(asMember.counts, [1, 1]);
  const asAdmin = await ok(t, alice, "poll.get", { roomId: school, seq });
  t.equal(asAdmin.votes.length, 2, "an admin sees who chose what");
  const synced = (await syncAll(bob)).filter((e) => e.roomId === school);
  t.notOk(
    synced.some((e) => e.sender === carol.userId || e.sender === dave.userId),
    "nor does bob's sync",
  );
});

t.test("votes cast in one millisecond are listed in the order of each voter's latest vote", async (t) => {
  // The server's clock stands still: every vote has the same `at`.
  const at = Date.now();
  const server = await startServer(unthrottled, { now: () => at });
  t.teardown(() => server.stop(true));
  const [bob, carol, dave] = await Promise.all(["bob", "carol", "dave"].map((n) => server.user(n)));
  const { roomId } = await bob.request("group.create", { name: "Trip" });
  const { token } = await bob.request("link.create", { roomId });
  for (const c of [carol, dave]) await c.request("link.join", { token });
  const seq = await createPoll(t, bob, roomId, "Where to?", ["Beach", "Hills"], { multiple: true });
  await ok(t, carol, "poll.vote", { roomId, seq, options: [0] });
  await ok(t, dave, "poll.vote", { roomId, seq, options: [1] });
  await ok(t, carol, "poll.vote", { roomId, seq, options: [0, 1] });
  const view = await ok(t, bob, "poll.get", { roomId, seq });
  t.same(view.votes, [
    { userId: dave.userId, options: [1] },
    { userId: carol.userId, options: [0, 1] },
  ], "carol changed her vote last");
});
