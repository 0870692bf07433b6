/**
 * Nothing from before a member's join, across servers. Alice's group Maths lives on a; bob of b
 * is in it from the start; carol of c joins later. A file shared before carol's join is served
 * (`media`) to no server whose members all joined after it: c is refused it as a file that does
 * not exist, while b, whose bob was there, still gets it, and a file shared after her join reaches
 * c. Entitlement follows the members' current joins: a server whose member was there at the
 * sharing gets the file for that member only, and not once that member has left. A message, poll or calendar event from before her join does not exist for carol at the home
 * either: her reaction, reply, vote or answer, proposed by c, is refused there with the same code
 * as for a local member, and what is said after her join she may act on.
 */
import t from "tap";
import sharp from "sharp";
import { mathsOnThree, startClusterFor } from "./cluster.ts";
import { downloadMedia as download, ok, refusalOf, until, uploadMedia as upload, type TestServer } from "../helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const picture = (seed: number) => sharp({ create: { width: 24, height: 24, channels: 3, background: { r: seed % 256, g: 120, b: 30 } } }).png().toBuffer();

/** What `from` is answered when it asks `holder` for a file over the federation `media` endpoint. */
async function fetchAs(from: TestServer, holder: string, mediaId: string): Promise<{ status: number; code?: string }> {
  const res = await from.app.parley.federation.requestBytes(holder, `/media/${mediaId}`, 1 << 20);
  return res.status === 200 ? { status: 200 } : { status: res.status, code: res.body?.error?.code };
}

const headOf = (server: TestServer, roomId: string) => server.app.parley.rooms.state(roomId)?.seq ?? 0;
const event = { title: "Maths evening", timeZone: "Europe/London", start: Date.now() + 86_400_000 };

let txn = 0;
const next = () => `fp${++txn}`;

/** Maths on a with bob of b; before carol of c joins: a message, a poll, a calendar event, a photo held by a and one held by b. */
async function setup(t: Test) {
  const { a, b, c, alice, bob, carol, roomId, token } = await mathsOnThree(t);
  await bob.request("link.join", { token, server: "a.test" });
  const message = (await alice.request("message.send", { roomId, txnId: next(), body: "Homework is on page 12" })).event.seq;
  const poll = (await alice.request("poll.create", { roomId, txnId: next(), question: "Quiz on Friday?", options: ["Yes", "No"] })).event.seq;
  const calendar = (await alice.request("event.create", { roomId, txnId: next(), ...event })).event.seq;
  const alicePhoto = await upload(a, alice, await picture(11));
  await alice.request("message.send", { roomId, txnId: next(), file: { mediaId: alicePhoto, name: "board.png" } });
  const bobPhoto = await upload(b, bob, await picture(12));
  await bob.request("message.send", { roomId, txnId: next(), file: { mediaId: bobPhoto, name: "notes.png" } });
  t.equal((await carol.request("link.join", { token, server: "a.test" })).status, "joined", "carol joins through c");
  await until(t, "b and c hold the room up to carol's join", () => [b, c].every((s) => headOf(s, roomId) === headOf(a, roomId)));
  return { a, b, c, alice, bob, carol, roomId, old: { message, poll, calendar, alicePhoto, bobPhoto } };
}

t.test("c, whose carol joined after two photos were shared, is refused both as files that do not exist; b, whose bob was there, still gets a's; photos shared after her join reach c", async (t) => {
  const { a, b, c, alice, bob, carol, roomId, old } = await setup(t);
  t.same(await fetchAs(c, "a.test", old.alicePhoto), { status: 404, code: "media.not_found" }, "a refuses c alice's photo from before carol's join");
  t.same(await fetchAs(c, "b.test", old.bobPhoto), { status: 404, code: "media.not_found" }, "b refuses c bob's photo alike (b knows carol's join from its replica)");
  t.same(await fetchAs(c, "a.test", "0".repeat(64)), { status: 404, code: "media.not_found" }, "the same answer as for a file that does not exist");
  t.equal((await fetchAs(b, "a.test", old.alicePhoto)).status, 200, "b, whose bob read the message, gets alice's photo");
  t.same(await download(c, carol, old.alicePhoto), { status: 404, code: "media.not_found" }, "carol's download through c is refused");
  t.same(await download(c, carol, old.bobPhoto), { status: 404, code: "media.not_found" });
  t.equal((await download(b, bob, old.alicePhoto)).status, 200, "bob downloads alice's older photo through b");

  const alicePhoto = await upload(a, alice, await picture(13));
  const fromAlice = await alice.request("message.send", { roomId, txnId: next(), file: { mediaId: alicePhoto, name: "after.png" } });
  const bobPhoto = await upload(b, bob, await picture(14));
  const fromBob = await bob.request("message.send", { roomId, txnId: next(), file: { mediaId: bobPhoto, name: "after-notes.png" } });
  await until(t, "c holds both photos' messages", () => headOf(c, roomId) >= Math.max(fromAlice.event.seq, fromBob.event.seq));
  t.equal((await download(c, carol, alicePhoto)).status, 200, "carol downloads alice's photo from after her join (c fetches it from a)");
  t.equal((await download(c, carol, bobPhoto)).status, 200, "and bob's (c fetches it from b)");
  t.equal((await fetchAs(c, "b.test", bobPhoto)).status, 200, "b serves c bob's newer photo");
});

t.test("carol of c cannot react to, reply to, vote on or answer what was said before her join: the home refuses her proposals as for a local member", async (t) => {
  const { a, alice, carol, roomId, old } = await setup(t);
  const before = headOf(a, roomId);
  t.equal(await refusalOf(carol, "message.react", { roomId, seq: old.message, emoji: "👍" }), "message.not_found", "no reaction");
  t.equal(await refusalOf(carol, "message.send", { roomId, txnId: next(), body: "Done!", replyTo: old.message }), "message.not_found", "no reply quoting it");
  t.equal(await refusalOf(carol, "poll.vote", { roomId, seq: old.poll, options: [0] }), "poll.not_found", "no vote");
  t.equal(await refusalOf(carol, "event.rsvp", { roomId, seq: old.calendar, answer: "going" }), "event.not_found", "no answer");
  t.equal(await refusalOf(carol, "message.delete", { roomId, seq: old.message, forEveryone: true }), "message.not_found", "no deletion");
  t.equal(headOf(a, roomId), before, "nothing was appended at the home");
  t.equal((await ok(t, alice, "poll.get", { roomId, seq: old.poll })).voters, 0, "the poll's tally did not change");
});

t.test("what is said after carol's join, she may react to, reply to, vote on and answer through c", async (t) => {
  const { a, c, alice, carol, roomId } = await setup(t);
  const message = (await alice.request("message.send", { roomId, txnId: next(), body: "Welcome, carol" })).event.seq;
  const poll = (await alice.request("poll.create", { roomId, txnId: next(), question: "Trip?", options: ["Yes", "No"] })).event.seq;
  const calendar = (await alice.request("event.create", { roomId, txnId: next(), ...event })).event.seq;
  await until(t, "c holds them", () => headOf(c, roomId) >= calendar);
  t.equal((await ok(t, carol, "message.react", { roomId, seq: message, emoji: "👋" })).event.type, "reaction");
  t.equal((await ok(t, carol, "message.send", { roomId, txnId: next(), body: "Thanks!", replyTo: message })).event.content.replyTo, message);
  t.same((await ok(t, carol, "poll.vote", { roomId, seq: poll, options: [0] })).counts, [1, 0]);
  t.equal((await ok(t, carol, "event.rsvp", { roomId, seq: calendar, answer: "going" })).event.type, "event.rsvp");
  t.equal((await ok(t, alice, "event.get", { roomId, seq: calendar })).counts.going, 1, "the home counts her answer");
  t.ok(headOf(a, roomId) > calendar);
});

t.test("c, whose dave was there when alice shared a photo, gets it for him, but carol of c, who joined later, cannot download c's copy; once dave leaves, a refuses c the photo", async (t) => {
  const servers = await startClusterFor(t, ["a.test", "c.test"]);
  const { "a.test": a, "c.test": c } = servers;
  const alice = await a.user("alice");
  const dave = await c.user("dave");
  const carol = await c.user("carol");
  const { roomId } = await alice.request("group.create", { name: "Art" });
  const { token } = await alice.request("link.create", { roomId });
  await dave.request("link.join", { token, server: "a.test" });
  const photo = await upload(a, alice, await picture(21));
  await alice.request("message.send", { roomId, txnId: next(), file: { mediaId: photo, name: "still-life.png" } });
  await carol.request("link.join", { token, server: "a.test" });
  await until(t, "c holds the room up to carol's join", () => headOf(c, roomId) === headOf(a, roomId));
  t.equal((await fetchAs(c, "a.test", photo)).status, 200, "a serves c the photo: dave reads its message");
  t.equal((await download(c, dave, photo)).status, 200, "dave downloads it through c");
  t.same(await download(c, carol, photo), { status: 404, code: "media.not_found" }, "carol cannot, though c holds it now");
  await dave.request("room.leave", { roomId });
  await until(t, "a knows dave left", () => !a.app.parley.rooms.state(roomId)!.members.has(dave.userId));
  t.same(await fetchAs(c, "a.test", photo), { status: 404, code: "media.not_found" }, "with dave gone, no member of c reads the message: a refuses c");
});
