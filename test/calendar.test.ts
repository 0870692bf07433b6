/**
 * Calendar events over the real protocol, with a controllable clock. The cast: alice (owner of
 * the Hillside School community and of #year5), carol (community admin, admin of #year5), bob
 * and dan (parents), erin (outsider). The community room is its announcement group.
 *
 * The clock starts at the real time and moves forward from there: the SDK schedules its token
 * renewal on the real clock, and a server clock months ahead makes that timer overflow into a
 * busy refresh loop.
 */
import t from "tap";
import type { OpParams, ParleyClient, RoomEvent } from "../clients/sdk/index.ts";
import { delay, nextEvent, ok, record, refusal, schemaErrors, startServer, unthrottled, type TestServer } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface School {
  server: TestServer;
  clock: { t: number };
  alice: ParleyClient;
  carol: ParleyClient;
  bob: ParleyClient;
  dan: ParleyClient;
  erin: ParleyClient;
  school: string;
  year5: string;
}

async function openSchool(t: Test): Promise<School> {
  // A round start (a whole minute) so that times read well in failures.
  const clock = { t: Math.floor(Date.now() / MINUTE) * MINUTE };
  const server = await startServer(unthrottled, { now: () => clock.t });
  let current = server;
  t.teardown(() => current.stop(true));
  const [alice, carol, bob, dan, erin] = await Promise.all(["alice", "carol", "bob", "dan", "erin"].map((n) => server.user(n)));
  const school = await alice.request("community.create", { name: "Hillside School" });
  const year5 = await alice.request("group.create", { name: "Year 5", communityId: school.roomId });
  const link = await alice.request("link.create", { roomId: school.roomId });
  for (const c of [carol, bob, dan]) await c.request("link.join", { token: link.token });
  for (const c of [carol, bob, dan]) await c.request("group.join", { roomId: year5.roomId });
  await alice.request("member.role", { roomId: school.roomId, userId: carol.userId, role: "admin" });
  await alice.request("member.role", { roomId: year5.roomId, userId: carol.userId, role: "admin" });
  const s: School = { server, clock, alice, carol, bob, dan, erin, school: school.roomId, year5: year5.roomId };
  // Restart-based tests replace the server; the teardown stops whichever runs last.
  Object.defineProperty(s, "server", {
    get: () => current,
    set: (v: TestServer) => (current = v),
  });
  return s;
}

let txn = 0;
async function createEvent(t: Test, client: ParleyClient, roomId: string, fields: Record<string, unknown>): Promise<number> {
  const r = await ok(t, client, "event.create", { roomId, txnId: `e${++txn}`, title: "Trip to the museum", timeZone: "Europe/London", ...fields } as OpParams<"event.create">);
  t.equal(r.event.content.kind, "event");
  return r.event.seq as number;
}

/** The rows of an event's reminder schedule. */
function schedule(server: TestServer, roomId: string, seq: number) {
  return server.app.parley.storage.sqlite
    .prepare("SELECT offset_seconds AS offset, due_at AS dueAt, done_at AS doneAt, outcome FROM reminders WHERE room_id = ? AND event_seq = ? ORDER BY due_at, id")
    .all(roomId, seq) as { offset: number; dueAt: number; doneAt: number | null; outcome: string | null }[];
}

/** Lets pushes in flight arrive. */
const settle = () => delay(50);

t.test("a community admin announces a parents' evening; members answer; names stay with admins", async (t) => {
  const { clock, alice, carol, bob, dan, school } = await openSchool(t);
  const start = clock.t + 3 * DAY;
  const fields = { title: "Parents' evening", description: "Meet the teachers, 15 minutes each.", start, end: start + 2 * HOUR, timeZone: "Europe/London", place: "School hall" };
  t.equal(await refusal(bob.request("event.create", { roomId: school, txnId: "b1", ...fields })), "announcement.admins_only", "a member cannot announce an event");
  const announced = nextEvent(dan, (e) => e.type === "message");
  const created = await ok(t, carol, "event.create", { roomId: school, txnId: "pe", ...fields });
  t.same(created.event.content, { kind: "event", ...fields, reminders: [3600] }, "one reminder an hour before by default");
  t.equal((await announced).seq, created.event.seq, "members see the announcement");
  const seq = created.event.seq as number;

  const bobSees = record<RoomEvent>(bob, "room.event");
  const carolSees = record<RoomEvent>(carol, "room.event");
  await ok(t, bob, "event.rsvp", { roomId: school, seq, answer: "going" });
  await ok(t, dan, "event.rsvp", { roomId: school, seq, answer: "maybe" });
  await settle();
  t.same(
    bobSees.filter((e) => e.sender !== bob.userId).map((e) => [e.type, e.sender]),
    [],
    "a member does not learn from the log who else answered (the member list is private)",
  );
  t.same(
    carolSees.filter((e) => e.type === "event.rsvp").map((e) => [e.sender, (e.content as any).answer]),
    [
      [bob.userId, "going"],
      [dan.userId, "maybe"],
    ],
    "admins see the answers as they come",
  );

  const asMember = await ok(t, bob, "event.get", { roomId: school, seq });
  t.same(asMember.counts, { going: 1, maybe: 1, notGoing: 0 });
  t.equal(asMember.answers, null, "a member of the announcement group gets counts, not names");
  t.equal(asMember.myAnswer, "going");
  t.equal(asMember.status, "upcoming");
  t.equal(asMember.createdBy, carol.userId);
  const asAdmin = await ok(t, alice, "event.get", { roomId: school, seq });
  t.same(asAdmin.answers, [
    { userId: bob.userId, answer: "going" },
    { userId: dan.userId, answer: "maybe" },
  ]);
  t.equal(asAdmin.myAnswer, null);
  const bobSync = (await bob.request("sync", { since: 0, limit: 1000 })).events as RoomEvent[];
  t.notOk(
    bobSync.some((e) => e.roomId === school && e.sender === dan.userId),
    "nor from sync",
  );
});

t.test("event.create in a group, and the ways it is refused", async (t) => {
  const { clock, bob, erin, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const seq = await createEvent(t, bob, year5, { start, link: "https://meet.example/year5", reminders: [86400, 600] });
  t.ok(seq > 0, "a member creates an event in a group");
  const long = "x".repeat(2048);
  await createEvent(t, bob, year5, { start, description: long });
  const base = { roomId: year5, title: "Sports day", start, timeZone: "Europe/London" };
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r1", description: long + "y" })), "invalid_params", "a description over 2,048 characters");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r2", end: start - HOUR })), "event.invalid_time", "an end before the start");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r3", end: start })), "event.invalid_time", "an end at the start");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r4", timeZone: "Mars/Olympus_Mons" })), "invalid_params", "an unknown time zone");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r5", link: "javascript:alert(1)" })), "invalid_params", "a link that is not http(s)");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r6", title: "" })), "invalid_params");
  t.equal(await refusal(bob.request("event.create", { ...base, txnId: "r7", reminders: [1, 2, 3, 4, 5, 6] as never })), "invalid_params", "at most five reminders");
  t.equal(await refusal(erin.request("event.create", { ...base, txnId: "r8" })), "room.not_found", "an outsider");
  t.equal(await refusal(erin.request("event.get", { roomId: year5, seq })), "room.not_found");
  t.equal(await refusal(erin.request("event.rsvp", { roomId: year5, seq, answer: "going" })), "room.not_found");
  const text = await bob.request("message.send", { roomId: year5, txnId: "txt", body: "hello" });
  t.equal(await refusal(bob.request("event.get", { roomId: year5, seq: text.event.seq })), "event.not_found", "a message that is not an event");
  t.equal(await refusal(bob.request("event.rsvp", { roomId: year5, seq: text.event.seq, answer: "going" })), "event.not_found");
});

t.test("status: upcoming, ongoing, ended, cancelled", async (t) => {
  const { clock, bob, year5 } = await openSchool(t);
  const t0 = clock.t;
  const start = t0 + 2 * HOUR;
  const withEnd = await createEvent(t, bob, year5, { start, end: start + 3 * HOUR });
  const noEnd = await createEvent(t, bob, year5, { start });
  const status = async (seq: number) => (await ok(t, bob, "event.get", { roomId: year5, seq })).status;
  t.equal(await status(withEnd), "upcoming");
  clock.t = start + MINUTE;
  t.equal(await status(withEnd), "ongoing");
  t.equal(await status(noEnd), "ongoing");
  clock.t = start + HOUR + MINUTE;
  t.equal(await status(withEnd), "ongoing", "until its end");
  t.equal(await status(noEnd), "ended", "an event without an end counts as ongoing for an hour");
  clock.t = start + 3 * HOUR + 1;
  t.equal(await status(withEnd), "ended", "an event in the past is shown as ended");
  clock.t = t0;
  await bob.request("event.cancel", { roomId: year5, seq: withEnd });
  t.equal(await status(withEnd), "cancelled");
});

t.test("answers: going, maybe, not going, changed and withdrawn; names visible in a group", async (t) => {
  const { clock, alice, carol, bob, dan, year5 } = await openSchool(t);
  const seq = await createEvent(t, carol, year5, { start: clock.t + DAY });
  const pushed = nextEvent(alice, (e) => e.type === "event.rsvp");
  const r = await ok(t, bob, "event.rsvp", { roomId: year5, seq, answer: "going" });
  t.same(r.event.content, { target: seq, answer: "going" });
  t.equal((await pushed).sender, bob.userId, "in a group, the room sees the answer");
  clock.t += 1000;
  await ok(t, dan, "event.rsvp", { roomId: year5, seq, answer: "maybe" });
  clock.t += 1000;
  await ok(t, alice, "event.rsvp", { roomId: year5, seq, answer: "not_going" });
  clock.t += 1000;
  let view = await ok(t, carol, "event.get", { roomId: year5, seq });
  t.same(view.counts, { going: 1, maybe: 1, notGoing: 1 });
  t.same(
    view.answers.map((a: any) => [a.userId, a.answer]),
    [
      [bob.userId, "going"],
      [dan.userId, "maybe"],
      [alice.userId, "not_going"],
    ],
    "members of a group see who answered what",
  );
  await ok(t, dan, "event.rsvp", { roomId: year5, seq, answer: "going" });
  clock.t += 1000;
  await ok(t, bob, "event.rsvp", { roomId: year5, seq, answer: null });
  view = await ok(t, bob, "event.get", { roomId: year5, seq });
  t.same(view.counts, { going: 1, maybe: 0, notGoing: 1 }, "a changed answer moves, a withdrawn one goes");
  t.equal(view.myAnswer, null);
  t.same(view.answers, [
    { userId: alice.userId, answer: "not_going" },
    { userId: dan.userId, answer: "going" },
  ]);
  t.equal(await refusal(bob.request("event.rsvp", { roomId: year5, seq, answer: "perhaps" as never })), "invalid_params");
});

t.test("editing and cancelling: the creator or an admin; those who answered are told", async (t) => {
  const { clock, alice, carol, bob, dan, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const seq = await createEvent(t, bob, year5, { start, place: "Room 4" });
  await dan.request("event.rsvp", { roomId: year5, seq, answer: "going" });

  const told = nextEvent(dan, (e) => e.type === "event.update");
  const edited = await ok(t, bob, "event.update", { roomId: year5, seq, title: "Trip to the science museum", place: "Coach park" });
  t.same(edited.event.content, { target: seq, title: "Trip to the science museum", place: "Coach park" });
  t.same((await told).content, edited.event.content, "a member who answered gets the edit");
  await ok(t, carol, "event.update", { roomId: year5, seq, end: start + 5 * HOUR, link: "https://museum.example/tickets" });
  t.equal(await refusal(dan.request("event.update", { roomId: year5, seq, title: "Mine now" })), "room.forbidden", "another member may not edit");
  t.equal(await refusal(bob.request("event.update", { roomId: year5, seq, end: start - MINUTE })), "event.invalid_time");
  t.equal(await refusal(bob.request("event.update", { roomId: year5, seq, start: start + 6 * HOUR })), "event.invalid_time", "a new start after the end");
  t.equal(await refusal(bob.request("event.update", { roomId: year5, seq, timeZone: "Nowhere/Nothing" })), "invalid_params");
  t.equal(await refusal(bob.request("event.update", { roomId: year5, seq } as never)), "invalid_params", "an edit with nothing in it");
  const view = await ok(t, dan, "event.get", { roomId: year5, seq });
  t.equal(view.title, "Trip to the science museum");
  t.equal(view.place, "Coach park");
  t.equal(view.end, start + 5 * HOUR);
  t.equal(view.link, "https://museum.example/tickets");
  t.equal(view.timeZone, "Europe/London");

  t.equal(await refusal(dan.request("event.cancel", { roomId: year5, seq })), "room.forbidden", "another member may not cancel");
  const cancelled = nextEvent(dan, (e) => e.type === "event.cancel");
  const aliceToo = nextEvent(alice, (e) => e.type === "event.cancel");
  await ok(t, bob, "event.cancel", { roomId: year5, seq });
  t.same((await cancelled).content, { target: seq }, "those who answered are told");
  await aliceToo;
  t.equal((await ok(t, dan, "event.get", { roomId: year5, seq })).status, "cancelled");
  t.equal(await refusal(dan.request("event.rsvp", { roomId: year5, seq, answer: "maybe" })), "event.cancelled", "no answers after a cancel");
  t.equal(await refusal(bob.request("event.update", { roomId: year5, seq, title: "Back on" })), "event.cancelled");
  t.equal(await refusal(carol.request("event.cancel", { roomId: year5, seq })), "event.cancelled");

  const other = await createEvent(t, bob, year5, { start });
  await ok(t, carol, "event.cancel", { roomId: year5, seq: other });
  t.pass("an admin cancels someone else's event");

  const gone = await createEvent(t, bob, year5, { start, title: "Secret surprise party" });
  await bob.request("message.delete", { roomId: year5, seq: gone, forEveryone: true });
  t.equal(await refusal(dan.request("event.get", { roomId: year5, seq: gone })), "event.not_found", "an event deleted for everyone is gone");
  t.equal(await refusal(dan.request("event.rsvp", { roomId: year5, seq: gone, answer: "going" })), "event.not_found");
});

t.test("reminders: an hour before by default, to those going or maybe, once", async (t) => {
  const { server, clock, alice, carol, bob, dan, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const seq = await createEvent(t, carol, year5, { start, title: "Class assembly" });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  await dan.request("event.rsvp", { roomId: year5, seq, answer: "maybe" });
  await carol.request("event.rsvp", { roomId: year5, seq, answer: "not_going" });
  const got = Object.fromEntries([alice, carol, bob, dan].map((c) => [c.userId, record(c, "event.reminder")]));
  const reminders = server.app.parley.reminders;

  clock.t = start - 61 * MINUTE;
  t.same(reminders.runDue(), { sent: 0, skipped: 0 }, "61 minutes before: nothing yet");
  await settle();
  t.same(Object.values(got).flat(), []);

  clock.t = start - 59 * MINUTE;
  t.same(reminders.runDue(), { sent: 1, skipped: 0 }, "59 minutes before: the reminder goes");
  await settle();
  for (const c of [bob, dan]) {
    t.equal(got[c.userId].length, 1, "those going or maybe are reminded");
    t.same(schemaErrors("push/event.reminder", got[c.userId][0]), []);
    t.same(got[c.userId][0], { roomId: year5, seq, title: "Class assembly", start, offsetSeconds: 3600 });
  }
  t.same(got[carol.userId], [], "not those not going");
  t.same(got[alice.userId], [], "nor those who did not answer");

  t.same(reminders.runDue(), { sent: 0, skipped: 0 }, "never twice");
  clock.t = start - 10 * MINUTE;
  reminders.runDue();
  await settle();
  t.equal(got[bob.userId].length, 1);
  t.same(schedule(server, year5, seq).map((r) => r.outcome), ["sent"]);
});

t.test("custom offsets remind at their own times", async (t) => {
  const { server, clock, bob, year5 } = await openSchool(t);
  const start = clock.t + 2 * DAY;
  const seq = await createEvent(t, bob, year5, { start, reminders: [86400, 600] });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  const got = record(bob, "event.reminder");
  const reminders = server.app.parley.reminders;
  const at = async (when: number) => {
    clock.t = when;
    reminders.runDue();
    await settle();
    return got.map((r) => r.offsetSeconds);
  };
  t.same(await at(start - DAY - 1000), [], "a second before the day-ahead reminder");
  t.same(await at(start - DAY), [86400], "the day before");
  t.same(await at(start - 11 * MINUTE), [86400]);
  t.same(await at(start - 10 * MINUTE), [86400, 600], "ten minutes before");
  t.same(await at(start - MINUTE), [86400, 600]);
});

t.test("editing reschedules, cancelling and deleting unschedule", async (t) => {
  const { server, clock, carol, bob, dan, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const moved = await createEvent(t, carol, year5, { start, title: "Moved" });
  const cancelled = await createEvent(t, carol, year5, { start, title: "Cancelled" });
  const deleted = await createEvent(t, carol, year5, { start, title: "Deleted" });
  const retitled = await createEvent(t, carol, year5, { start, title: "Retitled" });
  for (const seq of [moved, cancelled, deleted, retitled]) await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  const got = record(bob, "event.reminder");
  const reminders = server.app.parley.reminders;

  const later = start + 2 * HOUR;
  await carol.request("event.update", { roomId: year5, seq: moved, start: later });
  await carol.request("event.cancel", { roomId: year5, seq: cancelled });
  await carol.request("message.delete", { roomId: year5, seq: deleted, forEveryone: true });
  await carol.request("event.update", { roomId: year5, seq: retitled, title: "Retitled twice", place: "Hall" });
  t.same(schedule(server, year5, cancelled), [], "a cancelled event has no reminders left");
  t.same(schedule(server, year5, deleted), [], "nor a deleted one");

  clock.t = start - 59 * MINUTE;
  reminders.runDue();
  await settle();
  t.same(
    got.map((r) => [r.seq, r.title]),
    [[retitled, "Retitled twice"]],
    "at the old time only the event that kept its time reminds (with its new title)",
  );
  clock.t = later - 59 * MINUTE;
  reminders.runDue();
  await settle();
  t.same(
    got.map((r) => [r.seq, r.start]),
    [
      [retitled, start],
      [moved, later],
    ],
    "the moved event reminds an hour before its new start",
  );

});

t.test("an edit that keeps the time does not send again a reminder already sent", async (t) => {
  const { server, clock, carol, bob, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const seq = await createEvent(t, carol, year5, { start, title: "Swimming gala" });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  const got = record(bob, "event.reminder");
  const reminders = server.app.parley.reminders;
  clock.t = start - 59 * MINUTE;
  reminders.runDue();
  await settle();
  t.equal(got.length, 1);
  await carol.request("event.update", { roomId: year5, seq, reminders: [3600, 300], place: "Leisure centre" });
  clock.t = start - 30 * MINUTE;
  reminders.runDue();
  await settle();
  t.same(got.map((r) => r.offsetSeconds), [3600], "the hour-before reminder is not sent again after the offsets change");
  clock.t = start - 5 * MINUTE;
  reminders.runDue();
  await settle();
  t.same(got.map((r) => r.offsetSeconds), [3600, 300], "the new offset reminds");
});

t.test("reminders survive a restart", async (t) => {
  const s = await openSchool(t);
  const { clock, carol, bob, year5 } = s;
  const start = clock.t + DAY;
  const seq = await createEvent(t, carol, year5, { start, title: "Book fair" });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  s.server = await s.server.restart();
  const bob2 = await s.server.login("bob");
  const got = record(bob2, "event.reminder");
  clock.t = start - 61 * MINUTE;
  s.server.app.parley.reminders.runDue();
  clock.t = start - 59 * MINUTE;
  s.server.app.parley.reminders.runDue();
  s.server.app.parley.reminders.runDue();
  await settle();
  t.same(
    got.map((r) => [r.seq, r.title, r.offsetSeconds]),
    [[seq, "Book fair", 3600]],
    "the reminder scheduled before the restart is sent once after it",
  );
  t.same(schedule(s.server, year5, seq).map((r) => r.outcome), ["sent"]);
});

t.test("a reminder due while the server was down: sent once on start if the event has not begun, skipped if it has", async (t) => {
  const s = await openSchool(t);
  const { clock, carol, bob, year5 } = s;
  const start = clock.t + DAY;
  const soon = await createEvent(t, carol, year5, { start, title: "Still to come" });
  const begun = await createEvent(t, carol, year5, { start: start - 40 * MINUTE, title: "Already begun" });
  for (const seq of [soon, begun]) await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });

  const { dataDir } = s.server;
  await s.server.stop(false);
  // Down from before both reminders were due until half an hour before the later event, after
  // the earlier one began.
  clock.t = start - 30 * MINUTE;
  s.server = await startServer(unthrottled, { dataDir, now: () => clock.t });
  t.same(
    schedule(s.server, year5, soon).map((r) => r.outcome),
    ["sent"],
    "the missed reminder of an event still to come was sent on start",
  );
  t.same(schedule(s.server, year5, begun).map((r) => r.outcome), ["skipped"], "the one of an event that had begun was skipped");

  const bob2 = await s.server.login("bob");
  const got = record(bob2, "event.reminder");
  t.same(s.server.app.parley.reminders.runDue(), { sent: 0, skipped: 0 }, "and neither is processed again");
  clock.t = start + MINUTE;
  s.server.app.parley.reminders.runDue();
  await settle();
  t.same(got, [], "nothing is pushed twice, nothing for the event that had begun");
});

t.test("a reminder at the start time (offset 0) is sent when due", async (t) => {
  const { server, clock, bob, year5 } = await openSchool(t);
  const start = clock.t + HOUR;
  const seq = await createEvent(t, bob, year5, { start, reminders: [0] });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  const got = record(bob, "event.reminder");
  clock.t = start;
  server.app.parley.reminders.runDue();
  await settle();
  t.same(got.map((r) => r.offsetSeconds), [0]);
  const late = await createEvent(t, bob, year5, { start: start + HOUR, reminders: [0] });
  await bob.request("event.rsvp", { roomId: year5, seq: late, answer: "going" });
  clock.t = start + HOUR + 2 * MINUTE;
  server.app.parley.reminders.runDue();
  await settle();
  t.same(got.map((r) => r.offsetSeconds), [0], "but not once the event is well under way");
  t.same(schedule(server, year5, late).map((r) => r.outcome), ["skipped"]);
});

t.test("a member offline when the reminder is due gets it on reconnecting, unless the event has begun", async (t) => {
  const { server, clock, carol, bob, dan, year5 } = await openSchool(t);
  const start = clock.t + DAY;
  const seq = await createEvent(t, carol, year5, { start, title: "Sports day" });
  await bob.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  await dan.request("event.rsvp", { roomId: year5, seq, answer: "going" });
  const bobSession = bob.session;
  const danSession = dan.session;
  bob.close();
  dan.close();
  await delay(100);
  clock.t = start - 30 * MINUTE;
  t.same(server.app.parley.reminders.runDue(), { sent: 1, skipped: 0 });

  // Bob comes back before the start: the reminder is waiting for him, once.
  const bobAgain = await server.resume(bobSession, { connect: false });
  const waiting = bobAgain.next("event.reminder");
  await bobAgain.connect();
  t.same(await waiting, { roomId: year5, seq, title: "Sports day", start, offsetSeconds: 3600 });
  bobAgain.close();
  const bobThird = await server.resume(bobAgain.session, { connect: false });
  const third = record(bobThird, "event.reminder");
  await bobThird.connect();
  await settle();
  await bobThird.request("ping", {});
  t.same(third, [], "delivered once, not on every connection");

  // Dan comes back after the start: a reminder of something already begun is dropped.
  clock.t = start + MINUTE;
  const danAgain = await server.resume(danSession, { connect: false });
  const late = record(danAgain, "event.reminder");
  await danAgain.connect();
  await danAgain.request("ping", {});
  await settle();
  t.same(late, [], "no reminder for an event that has begun");
});
