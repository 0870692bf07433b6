/**
 * Home-signed checkpoints. The home server of a room signs `{roomId, seq, hash}` (with the time
 * and its server name) once per batch it sends, not once per event: the hash chain
 * (server/rooms/hash.ts) carries the proof back to every earlier event. A checkpoint verifies
 * under the key that was current when it was made, so a rotation leaves old checkpoints valid.
 */
import { sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { canonicalJson, eventHashOf, type Skeleton } from "../server/rooms/hash.ts";
import type { KnownKey } from "./signatures.ts";
import type { SnapshotState } from "../server/rooms/core.ts";

export interface Checkpoint {
  server: string;
  roomId: string;
  seq: number;
  hash: string;
  /** When it was signed (ms): the key must have been current then. */
  ts: number;
  keyId: string;
  /** base64url Ed25519 signature over the canonical JSON of the other fields but this one. */
  signature: string;
}

function signedPart(c: Omit<Checkpoint, "signature">): string {
  return canonicalJson({ hash: c.hash, keyId: c.keyId, roomId: c.roomId, seq: c.seq, server: c.server, ts: c.ts });
}

/** Signs `body` (with the key's id added) over `part(body)`: the one signing step of checkpoints and snapshots. */
function signWith<T extends { ts: number }>(c: T, key: { keyId: string; privateKey: KeyObject }, part: (body: T & { keyId: string }) => string): T & { keyId: string; signature: string } {
  const body = { ...c, keyId: key.keyId };
  return { ...body, signature: edSign(null, Buffer.from(part(body)), key.privateKey).toString("base64url") };
}

/** Whether `c` is signed by `key` over `part` of it, and the key was valid at its `ts`. */
function verifyWith<T extends { ts: number; signature: string }>(c: T, key: KnownKey, part: (body: Omit<T, "signature">) => string): boolean {
  if (c.ts < key.validFrom || (key.validUntil !== null && c.ts >= key.validUntil)) return false;
  const { signature, ...rest } = c;
  try {
    return edVerify(null, Buffer.from(part(rest)), key.key, Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}

export function signCheckpoint(c: Omit<Checkpoint, "signature" | "keyId">, key: { keyId: string; privateKey: KeyObject }): Checkpoint {
  return signWith(c, key, signedPart);
}

/** Whether the checkpoint is signed by `key`, and the key was valid when it was made. */
export function verifyCheckpoint(c: Checkpoint, key: KnownKey): boolean {
  return verifyWith(c, key, signedPart);
}

/**
 * Checks that a run of skeletons is a chain ending at a checkpoint: each `prev` is the hash of the
 * one before, the seqs are consecutive, and the last hash is the checkpoint's. Returns the seq of
 * the first event that breaks it, or null when the whole run is proven.
 */
export function firstBreak(run: Skeleton[], checkpoint: { roomId: string; seq: number; hash: string }, before: string | null): number | null {
  let prev = before;
  for (let i = 0; i < run.length; i++) {
    const s = run[i];
    if (s.roomId !== checkpoint.roomId || s.prev !== prev || (i > 0 && s.seq !== run[i - 1].seq + 1)) return s.seq;
    prev = eventHashOf(s);
  }
  const last = run[run.length - 1];
  if (!last || last.seq !== checkpoint.seq || prev !== checkpoint.hash) return last?.seq ?? checkpoint.seq;
  return null;
}

/**
 * A join snapshot (federation/outbox.ts): a room's state as of `seq`, whose event has hash `hash`,
 * signed by the home like a checkpoint, over the canonical JSON of every field but the signature,
 * the state included. The chain ties the events sent with it to `hash`.
 */
export interface Snapshot extends Checkpoint {
  state: SnapshotState;
}

export function signSnapshot(c: Omit<Snapshot, "signature" | "keyId">, key: { keyId: string; privateKey: KeyObject }): Snapshot {
  return signWith(c, key, canonicalJson);
}

/** Whether the snapshot is signed by `key`, and the key was valid when it was made. */
export function verifySnapshot(c: Snapshot, key: KnownKey): boolean {
  return verifyWith(c, key, canonicalJson);
}
