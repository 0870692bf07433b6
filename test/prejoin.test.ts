/**
 * Nothing from before a member's join, for acts and for files, on one server. Members read a room
 * from the join that began their current membership; a message, poll, calendar event or file
 * shared before it does not exist for them: acting on it by its seq (a reaction, a reply, a thread
 * reply, an edit, a deletion, a vote, an answer, a pin, a close, an update, a cancellation) is
 * refused as on one that does not exist, and so is downloading its file. What they may act on
 * starts with their join. An admin may still delete an older message for everyone (moderation).
 * The cast: alice (owner of the Hillside School community and its Year 5 group), bob (in Year 5
 * from the start), erin (in the community, who joins Year 5 later), frank (who joins the community
 * after an announcement).
 */
import t from "tap";
import sharp from "sharp";
import { downloadMedia as download, ok, openSchool, refusalOf, uploadMedia as upload } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const picture = (seed: number) => sharp({ create: { width: 20, height: 20, channels: 3, background: { r: seed % 256, g: 40, b: 90 } } }).png().toBuffer();

let txn = 0;
const next = () => `pj${++txn}`;
const event = { title: "Trip to the museum", timeZone: "Europe/London", start: Date.now() + 86_400_000 };

/** Year 5 with a message, a poll, a calendar event and a photo from before erin's join, then erin in. */
async function before(t: Test) {
  const s = await openSchool(t, { extra: ["frank"], community: ["bob", "carol", "dave", "erin"], year5: ["bob"], year5Admins: [] });
  const { server, alice, bob, year5 } = s;
  const erin = s.cast.erin;
  const message = (await ok(t, alice, "message.send", { roomId: year5, txnId: next(), body: "Bring a packed lunch" })).event.seq as number;
  const poll = (await ok(t, alice, "poll.create", { roomId: year5, txnId: next(), question: "Which day?", options: ["Monday", "Friday"] })).event.seq as number;
  const calendar = (await ok(t, alice, "event.create", { roomId: year5, txnId: next(), ...event })).event.seq as number;
  const photoId = await upload(server, alice, await picture(1));
  const photo = (await ok(t, alice, "message.send", { roomId: year5, txnId: next(), file: { mediaId: photoId, name: "trip.png" } })).event.seq as number;
  const joined = await erin.request("group.join", { roomId: year5 });
  t.ok(joined, "erin joins Year 5");
  return { ...s, erin, frank: s.cast.frank, old: { message, poll, calendar, photo, photoId } };
}

t.test("erin, who joined after them, cannot react to, reply to, vote on or answer what was said before her join: it does not exist for her", async (t) => {
  const { alice, erin, year5, old } = await before(t);
  t.equal(await refusalOf(erin, "message.get", { roomId: year5, seq: old.message }), "message.not_found", "as message.get already refuses it");
  t.equal(await refusalOf(erin, "message.react", { roomId: year5, seq: old.message, emoji: "👍" }), "message.not_found", "no reaction");
  t.equal(await refusalOf(erin, "message.react", { roomId: year5, seq: old.message, emoji: null }), "message.not_found", "nor taking one back");
  t.equal(await refusalOf(erin, "message.send", { roomId: year5, txnId: next(), body: "Yes!", replyTo: old.message }), "message.not_found", "no reply quoting it");
  t.equal(await refusalOf(erin, "poll.vote", { roomId: year5, seq: old.poll, options: [0] }), "poll.not_found", "no vote on an older poll");
  t.equal(await refusalOf(erin, "poll.vote", { roomId: year5, seq: old.poll, options: [] }), "poll.not_found", "nor withdrawing one");
  t.equal(await refusalOf(erin, "event.rsvp", { roomId: year5, seq: old.calendar, answer: "going" }), "event.not_found", "no answer to an older calendar event");
  t.equal(await refusalOf(erin, "message.delete", { roomId: year5, seq: old.message, forEveryone: true }), "message.not_found", "a member's deletion finds nothing");
  t.equal(await refusalOf(erin, "message.delete", { roomId: year5, seq: old.message, forEveryone: false }), "message.not_found", "nor her deletion for herself (its answer would tell a message is there)");

  const view = await ok(t, alice, "poll.get", { roomId: year5, seq: old.poll });
  t.equal(view.voters, 0, "the poll's tally did not change");
  const rsvp = await ok(t, alice, "event.get", { roomId: year5, seq: old.calendar });
  t.same(rsvp.counts, { going: 0, maybe: 0, notGoing: 0 }, "nor the event's answers");
  const reactions = await ok(t, alice, "message.reactions", { roomId: year5, seq: old.message });
  t.same(reactions.reactions, [], "nor the message's reactions");
});

t.test("what is said from erin's join on, she may react to, reply to, vote on and answer", async (t) => {
  const { alice, erin, year5 } = await before(t);
  const message = (await ok(t, alice, "message.send", { roomId: year5, txnId: next(), body: "Coats too" })).event.seq as number;
  const poll = (await ok(t, alice, "poll.create", { roomId: year5, txnId: next(), question: "Bus or train?", options: ["Bus", "Train"] })).event.seq as number;
  const calendar = (await ok(t, alice, "event.create", { roomId: year5, txnId: next(), ...event })).event.seq as number;
  t.equal((await ok(t, erin, "message.react", { roomId: year5, seq: message, emoji: "👍" })).event.type, "reaction");
  const reply = await ok(t, erin, "message.send", { roomId: year5, txnId: next(), body: "Will do", replyTo: message });
  t.equal(reply.event.content.replyTo, message);
  t.same((await ok(t, erin, "poll.vote", { roomId: year5, seq: poll, options: [1] })).counts, [0, 1]);
  t.equal((await ok(t, erin, "event.rsvp", { roomId: year5, seq: calendar, answer: "maybe" })).event.type, "event.rsvp");
  t.equal((await ok(t, erin, "message.edit", { roomId: year5, seq: reply.event.seq, body: "Will do!" })).event.type, "message.edit", "she edits her own reply");
});

t.test("bob, back after leaving, cannot edit, delete or react to his own message from his earlier membership", async (t) => {
  const { bob, year5 } = await before(t);
  const mine = (await ok(t, bob, "message.send", { roomId: year5, txnId: next(), body: "See you there" })).event.seq as number;
  await bob.request("room.leave", { roomId: year5 });
  await bob.request("group.join", { roomId: year5 });
  t.equal(await refusalOf(bob, "message.get", { roomId: year5, seq: mine }), "message.not_found");
  t.equal(await refusalOf(bob, "message.edit", { roomId: year5, seq: mine, body: "See you!" }), "message.not_found", "no edit");
  t.equal(await refusalOf(bob, "message.delete", { roomId: year5, seq: mine, forEveryone: true }), "message.not_found", "no deletion for everyone, even within the window");
  t.equal(await refusalOf(bob, "message.react", { roomId: year5, seq: mine, emoji: "🎉" }), "message.not_found", "no reaction");
  const now = (await ok(t, bob, "message.send", { roomId: year5, txnId: next(), body: "Back" })).event.seq as number;
  t.equal((await ok(t, bob, "message.delete", { roomId: year5, seq: now, forEveryone: true })).event.type, "message.delete", "what he says now he may delete");
});

t.test("erin as an admin cannot pin, close, update or cancel what is from before her join, but may delete an older message for everyone", async (t) => {
  const { alice, erin, year5, old } = await before(t);
  await alice.request("member.role", { roomId: year5, userId: erin.userId, role: "admin" });
  t.equal(await refusalOf(erin, "message.pin", { roomId: year5, seq: old.message }), "message.not_found", "no pin of a message she cannot read");
  t.equal(await refusalOf(erin, "poll.close", { roomId: year5, seq: old.poll }), "poll.not_found", "no close of an older poll");
  t.equal(await refusalOf(erin, "event.update", { roomId: year5, seq: old.calendar, place: "Front gate" }), "event.not_found", "no update of an older calendar event");
  t.equal(await refusalOf(erin, "event.cancel", { roomId: year5, seq: old.calendar }), "event.not_found", "no cancellation of it");
  const deleted = await ok(t, erin, "message.delete", { roomId: year5, seq: old.message, forEveryone: true });
  t.same(deleted.event.content, { target: old.message, bySender: false }, "an admin still deletes it for everyone, as report.resolve does");
  const later = (await ok(t, alice, "message.send", { roomId: year5, txnId: next(), body: "Pin me" })).event.seq as number;
  t.equal((await ok(t, erin, "message.pin", { roomId: year5, seq: later })).event.type, "message.pin", "a message from after her join she pins");
  t.equal((await ok(t, alice, "message.pin", { roomId: year5, seq: old.poll })).event.type, "message.pin", "alice, there all along, pins the older poll");
  t.equal((await ok(t, erin, "message.unpin", { roomId: year5, seq: old.poll })).event.type, "message.unpin", "and erin may take a pin off (the pinned list is room state she sees)");
});

t.test("frank, who joined the community after an announcement, cannot reply in its thread; after his join he can", async (t) => {
  const { alice, frank, school } = await before(t);
  const earlier = (await ok(t, alice, "message.send", { roomId: school, txnId: next(), body: "Term starts Monday" })).event.seq as number;
  const link = await alice.request("link.create", { roomId: school });
  await frank.request("link.join", { token: link.token });
  t.equal(await refusalOf(frank, "message.send", { roomId: school, txnId: next(), body: "Thanks", threadRoot: earlier }), "message.not_found", "the announcement does not exist for him");
  const later = (await ok(t, alice, "message.send", { roomId: school, txnId: next(), body: "Sports day Friday" })).event.seq as number;
  const reply = await ok(t, frank, "message.send", { roomId: school, txnId: next(), body: "Thanks", threadRoot: later });
  t.equal(reply.event.content.threadRoot, later);
  t.equal(await refusalOf(frank, "message.send", { roomId: school, txnId: next(), body: "Also", threadRoot: later, replyTo: earlier }), "message.not_found", "nor may he quote the older one inside a thread");
});

t.test("erin cannot download a photo shared before her join; bob, there at the time, can; a photo shared after her join she can", async (t) => {
  const { server, alice, bob, erin, year5, old } = await before(t);
  t.same(await download(server, erin, old.photoId), { status: 404, code: "media.not_found" }, "refused as a file that does not exist");
  t.same(await download(server, erin, old.photoId, true), { status: 404, code: "media.not_found" }, "and its preview");
  t.equal((await download(server, bob, old.photoId)).status, 200, "bob reads the message, so he downloads it");
  t.equal((await download(server, alice, old.photoId)).status, 200, "alice, the uploader, too");
  t.equal(await refusalOf(erin, "message.send", { roomId: year5, txnId: next(), file: { mediaId: old.photoId, name: "again.png" } }), "media.not_found", "nor may she share it again");
  const newer = await upload(server, alice, await picture(2));
  await ok(t, alice, "message.send", { roomId: year5, txnId: next(), file: { mediaId: newer, name: "later.png" } });
  t.equal((await download(server, erin, newer)).status, 200, "a photo shared after her join she downloads");
  await ok(t, alice, "message.send", { roomId: year5, txnId: next(), file: { mediaId: old.photoId, name: "trip-again.png" } });
  t.equal((await download(server, erin, old.photoId)).status, 200, "and the older photo once it is shared again after her join");
});
