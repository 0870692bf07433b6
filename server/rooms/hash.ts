/**
 * The room log's hash chain. Each event's hash covers its skeleton, not its content: room, seq,
 * event id, type, sender, origin server, timestamp, the hash of its content and `prev`, the hash
 * of the room's previous event. Deleting a message for everyone drops its content but keeps its
 * content hash, so every hash (and every checkpoint signed over one) stays valid; a copy of a
 * room's log is a chain in which a gap or a rewritten event shows at once. Canonical JSON is RFC
 * 8785 (the `canonicalize` package), so another implementation computes the same bytes.
 */
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { ParleyError } from "../errors.ts";

export interface Skeleton {
  roomId: string;
  seq: number;
  eventId: string;
  type: string;
  sender: string;
  /** The server that spoke for the sender (the part of the sender's id after ':'). */
  origin: string;
  ts: number;
  contentHash: string;
  /** The hash of the room's previous event; null for the first (and for the first after hashing began). */
  prev: string | null;
}

/** RFC 8785 canonical JSON. Throws ParleyError(invalid_params) for what JSON cannot say canonically (lone surrogates, NaN). */
export function canonicalJson(value: unknown): string {
  try {
    return canonicalize(value) ?? "null";
  } catch (err) {
    throw new ParleyError("invalid_params", `The content cannot be put in canonical JSON: ${(err as Error).message}.`);
  }
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64url");

/** base64url SHA-256 of the content's canonical JSON. */
export function contentHashOf(content: unknown): string {
  return sha256(canonicalJson(content));
}

/** base64url SHA-256 of the skeleton's canonical JSON: the event's hash. */
export function eventHashOf(s: Skeleton): string {
  // The skeleton's keys are fixed and its strings come from the server; built in key order so
  // that JSON.stringify is already the canonical form (a test checks it against canonicalize).
  return sha256(skeletonJson(s));
}

/** The canonical JSON of a skeleton, written out in RFC 8785's key order. */
export function skeletonJson(s: Skeleton): string {
  return JSON.stringify({
    contentHash: s.contentHash,
    eventId: s.eventId,
    origin: s.origin,
    prev: s.prev,
    roomId: s.roomId,
    sender: s.sender,
    seq: s.seq,
    ts: s.ts,
    type: s.type,
  });
}

export function originOf(userId: string): string {
  return userId.slice(userId.indexOf(":") + 1);
}
