/**
 * The moderation queue over the real protocol. The cast: alice (owner of the Hillside School
 * community), frank (a community admin, not in #year5), dave (admin of #year5 only), bob and carol
 * (parents in #year5), mallory (a parent who misbehaves), erin (outsider, owner of her standalone
 * Book club).
 */
import t from "tap";
import type { ParleyClient } from "../clients/sdk/index.ts";
import { ok, record, refusal, schemaErrors, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

interface School {
  server: TestServer;
  alice: ParleyClient;
  bob: ParleyClient;
  carol: ParleyClient;
  dave: ParleyClient;
  frank: ParleyClient;
  mallory: ParleyClient;
  erin: ParleyClient;
  school: string;
  year5: string;
}

async function openSchool(t: Test): Promise<School> {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const [alice, bob, carol, dave, frank, mallory, erin] = await Promise.all(["alice", "bob", "carol", "dave", "frank", "mallory", "erin"].map((n) => server.user(n)));
  const school = await alice.request("community.create", { name: "Hillside School" });
  const year5 = await alice.request("group.create", { name: "Year 5", communityId: school.roomId });
  const link = await alice.request("link.create", { roomId: school.roomId });
  for (const c of [bob, carol, dave, frank, mallory]) await c.request("link.join", { token: link.token });
  for (const c of [bob, carol, dave, mallory]) await c.request("group.join", { roomId: year5.roomId });
  await alice.request("member.role", { roomId: year5.roomId, userId: dave.userId, role: "admin" });
  await alice.request("member.role", { roomId: school.roomId, userId: frank.userId, role: "admin" });
  return { server, alice, bob, carol, dave, frank, mallory, erin, school: school.roomId, year5: year5.roomId };
}

let txn = 0;
async function say(c: ParleyClient, roomId: string, body: string): Promise<number> {
  return (await c.request("message.send", { roomId, body, txnId: `r${++txn}` })).event.seq;
}

t.test("a report reaches the community's admins with the message in context; they delete it; the reporter learns the outcome, the reported person never who reported", async (t) => {
  const { alice, bob, carol, dave, frank, mallory, school, year5 } = await openSchool(t);
  const malloryHears = record(mallory);
  const malloryPushes: unknown[] = [];
  mallory.on("report.created", (d) => malloryPushes.push(d));
  mallory.on("report.resolved", (d) => malloryPushes.push(d));
  await say(bob, year5, "Who brings the cake?");
  await say(carol, year5, "I can");
  const bad = await say(mallory, year5, "You are all idiots");
  await say(bob, year5, "That was rude");

  const aliceTold = alice.next("report.created");
  const frankTold = frank.next("report.created");
  const made = await ok(t, bob, "report.create", { roomId: year5, seq: bad, reason: "  Insults the other parents " });
  t.equal(made.duplicate, false);
  t.match(made.report, { roomId: year5, seq: bad, userId: mallory.userId, reason: "Insults the other parents", status: "open", outcome: null });
  const reportId = made.report.reportId;
  t.same(await aliceTold, { reportId, scopeId: school, roomId: year5 }, "the owner is told");
  t.same(schemaErrors("push/report.created", await frankTold), []);
  const again = await ok(t, bob, "report.create", { roomId: year5, seq: bad, reason: "again" });
  t.equal(again.duplicate, true, "an open report is not made twice");
  t.equal(again.report.reportId, reportId);

  const listed = await ok(t, frank, "report.list", { roomId: school });
  t.equal(listed.scopeId, school);
  t.equal(listed.reports.length, 1);
  const r = listed.reports[0];
  t.match(r, { reportId, roomId: year5, roomName: "Year 5", seq: bad, userId: mallory.userId, reporter: bob.userId, status: "open" });
  t.equal(r.message.body, "You are all idiots", "the message as reported");
  t.same(r.context.map((m: any) => m.body), ["Who brings the cake?", "I can", "You are all idiots", "That was rude"], "with the messages around it");
  t.same((await ok(t, alice, "report.list", { roomId: year5 })).reports.map((x: any) => x.reportId), [reportId], "any room of the community names its queue");
  t.equal(await refusal(dave.request("report.list", { roomId: year5 })), "room.forbidden", "an admin of the group alone does not handle the community's reports");
  t.equal(await refusal(carol.request("report.list", { roomId: school })), "room.forbidden");

  const outcome = bob.next("report.resolved");
  const resolved = await ok(t, frank, "report.resolve", { reportId, action: "delete" });
  t.match(resolved.report, { status: "resolved", action: "delete", resolvedBy: frank.userId });
  t.same(await outcome, { reportId, outcome: "delete", roomId: year5, seq: bad }, "the reporter is told the outcome");
  const gone = await ok(t, carol, "message.get", { roomId: year5, seq: bad });
  t.equal(gone.message.deleted, true, "a community admin deleted it in a group he is not in");
  t.same(r.message.body, (await ok(t, frank, "report.list", { roomId: school, status: "resolved" })).reports[0].message.body, "the evidence stays with the report");

  const mine = await ok(t, bob, "report.mine", {});
  t.match(mine.reports, [{ reportId, status: "resolved", outcome: "delete" }]);
  t.notOk("resolvedBy" in mine.reports[0], "the reporter is not told which admin acted");

  const audit = await ok(t, alice, "audit.list", { roomId: school, limit: 50 });
  const entry = audit.entries.find((e: any) => e.action === "report.resolve");
  t.match(entry, { actor: frank.userId, target: mallory.userId, roomId: year5, details: { reportId, action: "delete", seq: bad } });
  t.ok(audit.entries.some((e: any) => e.action === "message.delete" && e.actor === frank.userId), "the deletion itself is in the audit log too");
  t.notOk(JSON.stringify(audit.entries).includes(bob.userId), "the audit log does not name the reporter");

  await say(carol, year5, "ok");
  t.same(malloryHears.filter((e) => e.type !== "message" && JSON.stringify(e).includes(bob.userId)), [], "nothing mallory receives but bob's own messages names bob");
  t.ok(malloryHears.some((e) => e.type === "message.delete" && e.sender === frank.userId));
  t.same(malloryPushes, [], "the reported person gets no report pushes");
  t.same(await ok(t, mallory, "report.mine", {}), { reports: [], more: false });
});

t.test("reports of a person; remove and ban act on the whole community; dismissing; refused actions leave the report open", async (t) => {
  const { alice, bob, carol, frank, mallory, school, year5 } = await openSchool(t);
  const r1 = await ok(t, bob, "report.create", { roomId: year5, userId: mallory.userId, reason: "Sends me rude private messages" });
  t.equal(r1.report.seq, null);
  const removed = await ok(t, frank, "report.resolve", { reportId: r1.report.reportId, action: "remove" });
  t.equal(removed.report.action, "remove");
  t.notOk((await alice.request("room.members", { roomId: school })).members!.some((m) => m.userId === mallory.userId), "removed from the community");
  t.notOk((await alice.request("room.members", { roomId: year5 })).members!.some((m) => m.userId === mallory.userId), "and from its groups");

  const r2 = await ok(t, carol, "report.create", { roomId: school, userId: mallory.userId, reason: "Still harassing people" });
  await ok(t, alice, "report.resolve", { reportId: r2.report.reportId, action: "ban" });
  t.equal(await refusal(mallory.request("link.join", { token: (await alice.request("link.create", { roomId: school })).token })), "room.banned");

  const r3 = await ok(t, carol, "report.create", { roomId: year5, userId: bob.userId, reason: "I just dislike him" });
  const dismissed = await ok(t, frank, "report.resolve", { reportId: r3.report.reportId, action: "dismiss" });
  t.equal(dismissed.report.action, "dismiss");
  t.ok((await alice.request("room.members", { roomId: year5 })).members!.some((m) => m.userId === bob.userId), "dismissing changes nothing");
  t.equal(await refusal(frank.request("report.resolve", { reportId: r3.report.reportId, action: "ban" })), "report.resolved", "a report is resolved once");
  t.equal(await refusal(frank.request("report.resolve", { reportId: r3.report.reportId, action: "delete" })), "report.resolved");

  const r4 = await ok(t, carol, "report.create", { roomId: school, userId: alice.userId, reason: "The owner is rude" });
  t.equal(await refusal(frank.request("report.resolve", { reportId: r4.report.reportId, action: "ban" })), "room.forbidden", "an admin cannot ban the owner");
  t.equal(await refusal(frank.request("report.resolve", { reportId: r4.report.reportId, action: "delete" })), "room.invalid", "a report of a person has no message");
  t.equal((await ok(t, frank, "report.list", { roomId: school })).reports.find((x: any) => x.reportId === r4.report.reportId).status, "open", "a refused action leaves it open");
  t.notOk((await ok(t, alice, "report.list", { roomId: school })).reports.some((x: any) => x.reportId === r4.report.reportId), "an admin does not see reports about themselves");
  t.equal(await refusal(alice.request("report.resolve", { reportId: r4.report.reportId, action: "dismiss" })), "report.not_found", "nor resolve them");

  const r5 = await ok(t, bob, "report.create", { roomId: school, userId: frank.userId, reason: "Abuses his admin role" });
  const history = await ok(t, alice, "report.list", { roomId: school, status: "resolved", limit: 2 });
  t.equal(history.reports.length, 2);
  t.equal(history.more, true, "resolved reports page");
  t.notOk((await ok(t, frank, "report.list", { roomId: school })).reports.some((x: any) => x.reportId === r5.report.reportId), "frank does not see the report about him");
  await ok(t, alice, "report.resolve", { reportId: r5.report.reportId, action: "remove" });
  t.notOk((await alice.request("room.members", { roomId: school })).members!.some((m) => m.userId === frank.userId), "the owner removes an admin");
});

t.test("removing a person already gone answers room.not_member, banning one already banned room.banned, and the report stays open", async (t) => {
  const { alice, bob, carol, frank, mallory, school, year5 } = await openSchool(t);
  const first = await ok(t, bob, "report.create", { roomId: year5, userId: mallory.userId, reason: "Sends me rude private messages" });
  const second = await ok(t, carol, "report.create", { roomId: school, userId: mallory.userId, reason: "Harasses the other parents" });
  await ok(t, alice, "report.resolve", { reportId: first.report.reportId, action: "ban" });
  t.equal(await refusal(frank.request("report.resolve", { reportId: second.report.reportId, action: "ban" })), "room.banned", "mallory is banned already");
  t.equal(await refusal(frank.request("report.resolve", { reportId: second.report.reportId, action: "remove" })), "room.not_member", "and no longer a member");
  t.equal((await ok(t, frank, "report.list", { roomId: school })).reports.find((x: any) => x.reportId === second.report.reportId).status, "open", "the refused actions leave it open");
  t.equal((await ok(t, frank, "report.resolve", { reportId: second.report.reportId, action: "dismiss" })).report.action, "dismiss");
});

t.test("who may report, and what; who may resolve", async (t) => {
  const { bob, carol, dave, frank, mallory, erin, school, year5 } = await openSchool(t);
  const seq = await say(mallory, year5, "spam spam spam");
  t.equal(await refusal(erin.request("report.create", { roomId: year5, seq, reason: "spam" })), "room.not_found", "an outsider cannot report");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq: 999, reason: "spam" })), "message.not_found");
  t.equal(await refusal(mallory.request("report.create", { roomId: year5, seq, reason: "me" })), "room.invalid", "no one reports themselves");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, userId: "@nobody:school.test", reason: "x" })), "user.not_found");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq, userId: mallory.userId, reason: "x" } as never)), "invalid_params", "a message or a person, not both");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, reason: "x" } as never)), "invalid_params", "a message or a person");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq, reason: "" })), "invalid_params", "a reason is needed");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq, reason: "   " })), "invalid_params", "a blank reason is none");
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq, reason: "x".repeat(1001) })), "invalid_params");
  await mallory.request("message.delete", { roomId: year5, seq, forEveryone: true });
  t.equal(await refusal(bob.request("report.create", { roomId: year5, seq, reason: "spam" })), "message.not_found", "a deleted message is not reported");

  const seq2 = await say(mallory, year5, "more spam");
  const made = await ok(t, bob, "report.create", { roomId: year5, seq: seq2, reason: "spam" });
  await mallory.request("message.delete", { roomId: year5, seq: seq2, forEveryone: true });
  for (const [who, name] of [[carol, "a member"], [dave, "an admin of the group only"], [erin, "an outsider"], [mallory, "the reported person"]] as const) {
    t.equal(await refusal(who.request("report.resolve", { reportId: made.report.reportId, action: "dismiss" })), "report.not_found", `${name} cannot resolve`);
  }
  t.equal(await refusal(frank.request("report.resolve", { reportId: 9999, action: "dismiss" })), "report.not_found");
  t.equal(await refusal(frank.request("report.resolve", { reportId: made.report.reportId, action: "shout" } as never)), "invalid_params");
  const done = await ok(t, frank, "report.resolve", { reportId: made.report.reportId, action: "delete" });
  t.equal(done.report.action, "delete", "a message its sender already deleted resolves as deleted");
  t.equal(await refusal(erin.request("report.list", { roomId: school })), "room.not_found");
  t.equal(await refusal(bob.request("report.mine", { limit: 0 })), "invalid_params");
});

t.test("in a standalone group the reports go to the group's admins", async (t) => {
  const { bob, erin, mallory } = await openSchool(t);
  const club = (await erin.request("group.create", { name: "Book club" })).roomId;
  const link = await erin.request("link.create", { roomId: club });
  await bob.request("link.join", { token: link.token });
  await mallory.request("link.join", { token: link.token });
  const seq = await say(mallory, club, "buy my stuff");
  const told = erin.next("report.created");
  const made = await ok(t, bob, "report.create", { roomId: club, seq, reason: "advertising" });
  t.equal((await told).scopeId, club);
  t.same((await ok(t, erin, "report.list", { roomId: club })).reports.map((r: any) => r.reportId), [made.report.reportId]);
  await ok(t, erin, "report.resolve", { reportId: made.report.reportId, action: "ban" });
  t.equal(await refusal(mallory.request("message.send", { roomId: club, body: "hi", txnId: "x" })), "room.not_found", "banned from the group");
});
