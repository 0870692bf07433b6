/**
 * The rules of withheld events (federation/withheld.ts) as pure functions: which seqs a server may
 * read from its members' spans, which events travel whole, the withheld wire form, and the
 * receiver's check of an event's form.
 */
import t from "tap";
import { alwaysWhole, contentRefusal, mergeSpans, readableAt, withholdJson } from "../../federation/withheld.ts";
import { contentHashOf } from "../../server/rooms/hash.ts";

const span = (fromSeq: number, toSeq: number | null) => ({ fromSeq, toSeq, open: toSeq === null ? 1 : 0 });

t.test("the spans of a server's members merge where they overlap or touch, and a seq is readable only inside one", async (t) => {
  // bob joins at 5 and leaves at 10, dave joins at 8 and leaves at 15, erin joins at 16 (the seq
  // after dave's leave): b.test had a member from 5 on, without a break. carol joins at 30, for good.
  const spans = mergeSpans([span(8, 15), span(30, null), span(5, 10), span(16, 20)]);
  t.same(spans, [{ from: 5, to: 20 }, { from: 30, to: null }]);
  t.same([4, 5, 12, 20, 21, 29, 30, 1000].map((s) => readableAt(spans, s)), [false, true, true, true, false, false, true, true]);
  t.same(mergeSpans([span(3, null), span(7, 9)]), [{ from: 3, to: null }], "an open span covers every later one");
  t.same(mergeSpans([]), [], "a server that never had a member reads nothing");
  t.equal(readableAt([], 1), false);
});

t.test("membership and room-state events and the events that end a message always travel whole; what members wrote or chose may be withheld", async (t) => {
  for (const type of ["room.create", "member.join", "member.leave", "member.invite", "room.settings", "room.server_acl", "message.pin", "message.delete", "event.cancel"]) t.ok(alwaysWhole.has(type), type);
  for (const type of ["message", "message.edit", "reaction", "poll.vote", "poll.tally", "poll.close", "event.update", "event.rsvp", "some.future.type"]) t.notOk(alwaysWhole.has(type), type);
  const message = { roomId: "!r:a.test", seq: 4, eventId: "$e", type: "message", sender: "@alice:a.test", origin: "a.test", ts: 1, content: { kind: "text", body: "secret" }, contentHash: contentHashOf({ kind: "text", body: "secret" }), prev: null, hash: "h" };
  const withheld = JSON.parse(withholdJson(JSON.stringify(message))!);
  const { content: _content, ...skeleton } = message;
  t.same(withheld, { ...skeleton, withheld: true }, "the skeleton and hashes, marked, with no content");
  t.notOk("content" in withheld);
  t.equal(withholdJson(JSON.stringify({ ...message, type: "member.join", content: { userId: "@bob:b.test", via: "link" } })), null, "a join is never withheld");
});

t.test("the receiver takes a whole event whose content matches its hash, a redaction, or a well-formed withheld event, and refuses anything else", async (t) => {
  const content = { kind: "text", body: "hello" };
  const e = { type: "message", contentHash: contentHashOf(content) };
  t.equal(contentRefusal({ ...e, content }), null, "whole");
  t.equal(contentRefusal({ ...e, content: { kind: "text", redacted: true } }), null, "redacted");
  t.equal(contentRefusal({ ...e, withheld: true }), null, "withheld");
  t.equal(contentRefusal({ ...e, content: { kind: "text", body: "forged" } }), "federation.event_forged", "content that is not its hash's");
  t.equal(contentRefusal({ ...e, content, withheld: true }), "federation.withheld_malformed", "withheld with content");
  t.equal(contentRefusal({ ...e }), "federation.withheld_malformed", "no content, no marker");
  t.equal(contentRefusal({ ...e, withheld: false }), "federation.withheld_malformed", "a marker that is not true");
  t.equal(contentRefusal({ type: "member.join", contentHash: e.contentHash, withheld: true }), "federation.withheld_malformed", "a state event withheld");
});
