import { randomFillSync } from "node:crypto";

/**
 * Random identifiers and nonces, base64url, cut from a pool of CSPRNG bytes refilled 4 KiB at a
 * time. A call into the CSPRNG costs about 10 µs whatever its size (OpenSSL's locking and
 * provider lookup), so one per event id, request id or request nonce was a measurable part of the
 * hot paths; from the pool it is one call per a few hundred. No byte is handed out twice. Secrets
 * (keys, session tokens, passwords) are made with `randomBytes` where they are made.
 */
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** `bytes` random bytes (at most 4096) as base64url. */
export function randomToken(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += bytes;
  return pool.toString("base64url", offset - bytes, offset);
}
