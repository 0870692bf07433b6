/**
 * Withheld events. A member reads a room from the join that began their current membership
 * (`since`), never before; so a server holds the content of a room's events only from times when
 * one of its users was a member of the room. The home sends every other event **withheld**: its
 * skeleton (seq, id, type, sender, origin, time, `contentHash`, `prev`, `hash`) with
 * `"withheld": true` and no `content`. The event's hash covers the skeleton, not the content, so a
 * withheld event still verifies against the chain and every checkpoint over it (as a message
 * deleted for everyone does), and the replica's log stays whole; but the operator of a server none
 * of whose users may read an event never holds what it said. This file holds the rule (which
 * events, for which destination), the wire form, and the receiver's check of it; the outbox,
 * the backfill endpoint, the inbox and history on demand call it.
 */
import type { Storage } from "../server/storage/database.ts";
import { contentHashOf } from "../server/rooms/hash.ts";
import { withheldContent, type ReplicaEvent } from "../server/rooms/core.ts";
import type { WireEvent } from "./outbox.ts";

/**
 * The event types every replica receives whole, whenever they happened: the room's state
 * (creation, profile, settings, members, roles, bans, invitations, requests, groups, the server
 * access list, pins, deactivation, a tombstone), which a replica must project to answer who is in
 * the room and what they may do, and which the join snapshot carries anyway; and the two events
 * that only point at a message to end it (a deletion for everyone, a calendar event's
 * cancellation), so that what a server held from an earlier membership is redacted or cancelled on
 * its copy too (a deleted message must not survive on one server because its members had left; a
 * cancelled event must not remind a member who comes back). Their content names no text of
 * anyone's. Every other type (a message, an edit, a reaction, a vote, a tally, a poll's close with
 * its final tally, an RSVP, a calendar update) carries what members said or chose, and may be
 * withheld. A type not listed here is withheld: a new kind of content is private until it is
 * listed.
 */
export const alwaysWhole: ReadonlySet<string> = new Set([
  "room.create",
  "room.profile",
  "room.settings",
  "room.deactivate",
  "room.server_acl",
  "room.tombstone",
  "community.group.add",
  "community.group.remove",
  "group.community",
  "member.join",
  "member.leave",
  "member.remove",
  "member.ban",
  "member.unban",
  "member.role",
  "member.invite",
  "member.invite.decline",
  "join.request",
  "join.request.cancel",
  "join.reject",
  "message.pin",
  "message.unpin",
  "message.delete",
  "event.cancel",
]);

/**
 * The seqs of a room at which a server had a member: closed intervals, sorted, merged (`to` null:
 * still a member). A member is counted from their join to the event that ended their membership.
 */
export type Spans = { from: number; to: number | null }[];

/** Whether `seq` lies in one of `spans`. */
export function readableAt(spans: Spans, seq: number): boolean {
  for (const s of spans) {
    if (seq < s.from) return false;
    if (s.to === null || seq <= s.to) return true;
  }
  return false;
}

/** Merges member spans (their first and last seq; `open`: still a member) into Spans. */
export function mergeSpans(rows: { fromSeq: number | null; toSeq: number | null; open: number }[]): Spans {
  const sorted = rows.filter((r) => r.fromSeq !== null).sort((a, b) => a.fromSeq! - b.fromSeq!);
  const out: Spans = [];
  for (const r of sorted) {
    const to = r.open ? null : (r.toSeq ?? r.fromSeq!);
    const last = out[out.length - 1];
    if (last && (last.to === null || r.fromSeq! <= last.to + 1)) {
      if (last.to !== null && (to === null || to > last.to)) last.to = to;
    } else out.push({ from: r.fromSeq!, to });
  }
  return out;
}

/** The withheld form of an event's wire JSON, or null when its type always travels whole. */
export function withholdJson(json: string): string | null {
  const e = JSON.parse(json) as WireEvent;
  if (alwaysWhole.has(e.type)) return null;
  return JSON.stringify(withheldOf(e));
}

/** The withheld form of an event (its skeleton and hashes, no content). */
function withheldOf(e: WireEvent): WireEvent {
  const { content: _content, ...skeleton } = e;
  return { ...skeleton, withheld: true };
}

/**
 * The receiver's check of an event's content (after its hash was checked against its skeleton):
 * null when it may be stored, else the code of its refusal. A whole event's content must match its
 * content hash, or be a redaction (a message deleted for everyone); a withheld event must have no
 * content, be marked `withheld: true`, and be of a type that may be withheld (a replica cannot
 * project the room's state from a membership or state event without its content).
 */
export function contentRefusal(e: { type: string; content?: Record<string, unknown>; contentHash: string; withheld?: unknown }): string | null {
  const hasContent = e.content !== undefined && e.content !== null;
  if (e.withheld !== undefined) return e.withheld === true && !hasContent && !alwaysWhole.has(e.type) ? null : "federation.withheld_malformed";
  if (!hasContent) return "federation.withheld_malformed";
  try {
    return e.content!.redacted === true || contentHashOf(e.content) === e.contentHash ? null : "federation.event_forged";
  } catch {
    return "federation.event_forged";
  }
}

/** A checked wire event as the room core stores it on a replica (a withheld one with no content). */
export function replicaEventOf(roomId: string, e: WireEvent): ReplicaEvent {
  const withheld = e.withheld === true;
  return { roomId, seq: e.seq, eventId: e.eventId, type: e.type as never, sender: e.sender, ts: e.ts, content: withheld ? withheldContent : e.content!, contentHash: e.contentHash, hash: e.hash, prev: e.prev, ...(withheld ? { withheld } : {}) };
}

/**
 * The home's side: which events a destination receives withheld. The spans are read from the
 * room's member spans (`member_spans`: every membership, with the events that began and ended it)
 * of the destination's users, cached per room and destination until a membership event of one
 * of that destination's users (`forget`). The usual case, a destination with a member through the
 * whole run sent, costs a lookup and a comparison; only a run reaching back before that (a join
 * snapshot's last events, a destination back after its members left, an invitee's server) reads
 * and rewrites the events outside the spans.
 */
export function createWithholding(storage: Storage) {
  const db = storage.sqlite;
  const spansStmt = db.prepare(`
    SELECT coalesce(s.from_seq, f.seq) AS fromSeq, t.seq AS toSeq, s.to_pos IS NULL AS open
    FROM member_spans s LEFT JOIN room_events f ON f.pos = s.from_pos LEFT JOIN room_events t ON t.pos = s.to_pos
    WHERE s.room_id = ? AND substr(s.user_id, instr(s.user_id, ':') + 1) = ?`);
  /** roomId -> destination -> its spans. */
  const cache = new Map<string, Map<string, Spans>>();

  /** The spans of `destination`'s members in the room, read now. */
  function spansNow(destination: string, roomId: string): Spans {
    return mergeSpans(spansStmt.all(roomId, destination) as { fromSeq: number | null; toSeq: number | null; open: number }[]);
  }

  function spansOf(destination: string, roomId: string): Spans {
    let byDest = cache.get(roomId);
    if (!byDest) cache.set(roomId, (byDest = new Map()));
    let spans = byDest.get(destination);
    if (!spans) byDest.set(destination, (spans = spansNow(destination, roomId)));
    return spans;
  }

  return {
    spansNow,
    /** A membership event of a user of `server` in the room: its spans are read again when next needed. */
    forget(roomId: string, server: string): void {
      cache.get(roomId)?.delete(server);
    },
    /**
     * Replaces, in `events` from index `from` on (one room's run of a batch, in seq order), the
     * wire form of each event outside the destination's spans by its withheld form.
     */
    apply(destination: string, roomId: string, events: { seq: number; json: string }[], from: number): void {
      if (events.length <= from) return;
      const spans = spansOf(destination, roomId);
      const first = events[from].seq;
      const last = events[events.length - 1].seq;
      for (const s of spans) if (s.from <= first && (s.to === null || s.to >= last)) return;
      for (let i = from; i < events.length; i++) {
        if (readableAt(spans, events[i].seq)) continue;
        const json = withholdJson(events[i].json);
        if (json !== null) events[i] = { ...events[i], json };
      }
    },
    /** The backfill endpoint's page for `destination`: the events outside its spans withheld. */
    page(destination: string, roomId: string, events: WireEvent[]): WireEvent[] {
      if (!events.length) return events;
      const spans = spansNow(destination, roomId);
      return events.map((e) => (readableAt(spans, e.seq) || alwaysWhole.has(e.type) ? e : withheldOf(e)));
    },
  };
}

export type Withholding = ReturnType<typeof createWithholding>;
