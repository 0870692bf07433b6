/**
 * What a member can learn, told as a story in the Hillside School: alice runs the Year 5 group,
 * bob and dan are parents, and erin joins late.
 */
import t from "tap";
import { refusalOf, schemaErrors, startServer, unthrottled } from "./helpers.ts";

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function year5(t: Test) {
  const server = await startServer(unthrottled);
  t.teardown(() => server.stop(true));
  const [alice, bob, dan, erin] = await Promise.all(["alice", "bob", "dan", "erin"].map((n) => server.user(n)));
  const group = await alice.request("group.create", { name: "Year 5" });
  const link = await alice.request("link.create", { roomId: group.roomId });
  await bob.request("link.join", { token: link.token });
  await dan.request("link.join", { token: link.token });
  return { server, alice, bob, dan, erin, room: group.roomId, token: link.token };
}

t.test("a message deleted for everyone is gone from the log too: a later sync does not hand it out", async (t) => {
  const { alice, bob, room } = await year5(t);
  const sent = await alice.request("message.send", { roomId: room, body: "Wrong phone number: 0123 456", txnId: "a1" });
  await alice.request("message.edit", { roomId: room, seq: sent.event.seq, body: "Wrong phone number: 0123 457" });
  await alice.request("message.delete", { roomId: room, seq: sent.event.seq, forEveryone: true });
  const { events } = await bob.request("sync", { since: 0 });
  const text = JSON.stringify(events);
  t.notMatch(text, /0123/, "neither the message nor its edit carries the text any more");
  const original = events.find((e) => e.seq === sent.event.seq)!;
  t.same(original.content, { kind: "text", redacted: true });
  t.same(schemaErrors("event/message", original.content), [], "a redacted message still matches its event schema");
  const edit = events.find((e) => e.type === "message.edit")!;
  t.same(edit.content, { target: sent.event.seq, redacted: true });
  t.same(schemaErrors("event/message.edit", edit.content), []);
});

t.test("a member reads what was said since joining, not before", async (t) => {
  const { alice, erin, room, token } = await year5(t);
  const early = await alice.request("message.send", { roomId: room, body: "Before erin", txnId: "a1" });
  await erin.request("link.join", { token });
  const late = await alice.request("message.send", { roomId: room, body: "Welcome erin", txnId: "a2" });
  const history = await erin.request("message.history", { roomId: room });
  t.same(history.messages.map((m) => m.body), ["Welcome erin"]);
  t.equal(history.more, false);
  await t.rejects(erin.request("message.get", { roomId: room, seq: early.event.seq }), { code: "message.not_found" });
  t.equal((await erin.request("message.get", { roomId: room, seq: late.event.seq })).message.body, "Welcome erin");
  t.same((await alice.request("message.history", { roomId: room })).messages.map((m) => m.body), ["Before erin", "Welcome erin"], "alice, there from the start, reads both");
});

t.test("delivery receipts: a device acknowledges what it received; receipt.get counts delivered and read", async (t) => {
  const { alice, bob, dan, room } = await year5(t);
  const sent = await alice.request("message.send", { roomId: room, body: "Trip money by Friday", txnId: "a1" });
  const told = alice.next("room.receipt");
  t.same(await bob.request("receipt.delivered", { roomId: room, seq: sent.event.seq }), { roomId: room, seq: sent.event.seq });
  const push = await told;
  t.same(push, { roomId: room, userId: bob.userId, seq: sent.event.seq, type: "delivered" });
  t.same(schemaErrors("push/room.receipt", push), []);
  await dan.request("receipt.read", { roomId: room, seq: sent.event.seq });
  const receipts = await alice.request("receipt.get", { roomId: room, seq: sent.event.seq });
  t.same(schemaErrors("op/receipt.get#/$defs/result", receipts), []);
  t.equal(receipts.deliveredTo, 2, "bob's device got it, and dan read it (reading implies delivery)");
  t.equal(receipts.readBy, 1);
  t.equal(receipts.of, 2);
  t.same((await bob.request("receipt.delivered", { roomId: room, seq: 1 })).seq, sent.event.seq, "the marker never moves back");
  const erin = await refusalOf(dan, "receipt.delivered", { roomId: "!nosuchroom0:school.test", seq: 1 });
  t.equal(erin, "room.not_found");
});

t.test("a poll's question cannot be edited as if it were text", async (t) => {
  const { alice, room } = await year5(t);
  const poll = await alice.request("poll.create", { roomId: room, txnId: "p1", question: "Which day?", options: ["Mon", "Fri"] });
  await t.rejects(alice.request("message.edit", { roomId: room, seq: poll.event.seq, body: "Which week?" }), { code: "message.not_editable" });
});

t.test("an avatar must be an image", async (t) => {
  const { server, bob } = await year5(t);
  const res = await fetch(`${server.baseUrl}/api/v1/media?name=notes.txt`, {
    method: "POST",
    headers: { authorization: `Bearer ${bob.session.accessToken}` },
    body: "just some notes",
  });
  const info = await res.json();
  t.equal(info.mime, "text/plain");
  await t.rejects(bob.request("profile.update", { avatar: info.mediaId }), { code: "media.not_image" });
});

t.test("the creator's stream begins with room.create", async (t) => {
  const { alice, room } = await year5(t);
  const { events } = await alice.request("sync", { since: 0 });
  const first = events.find((e) => e.roomId === room)!;
  t.equal(first.type, "room.create");
  t.equal(first.seq, 1);
});
