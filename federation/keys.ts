import { exportJWK, generateKeyPair, type JWK } from "jose";
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { desc, isNull, eq } from "drizzle-orm";
import type { Storage } from "../server/storage/database.ts";
import { signingKeys } from "../server/storage/schema.ts";

export interface PublishedKey extends JWK {
  kid: string;
  /** When the key was made (ms since the epoch): it verifies nothing signed before. */
  validFrom: number;
  /** When the key was retired (ms), or null while it is current. */
  validUntil: number | null;
}

export interface SigningKey {
  keyId: string;
  /** Node's key object: signing with node:crypto directly is the cheapest way to Ed25519. */
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface ServerKeys {
  /** The key new signatures are made with. */
  current(): SigningKey;
  /** Every key this server has had, current first, for verifiers (GET /.well-known/parley/keys). */
  published(): PublishedKey[];
  /** Reloads from the database (a rotation made by the CLI reaches a running server this way). */
  reload(): Promise<boolean>;
}

async function insertKey(storage: Storage, at: number): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const keyId = `ed25519:${randomBytes(6).toString("base64url")}`;
  storage.db
    .insert(signingKeys)
    .values({ keyId, publicJwk: JSON.stringify(await exportJWK(publicKey)), privateJwk: JSON.stringify(await exportJWK(privateKey)), createdAt: at, validUntil: null })
    .run();
  return keyId;
}

/** The published form of a stored key: its public JWK with id and validity. */
function publish(r: typeof signingKeys.$inferSelect): PublishedKey {
  const jwk = JSON.parse(r.publicJwk) as JWK;
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: r.keyId, alg: "EdDSA", use: "sig", validFrom: r.createdAt, validUntil: r.validUntil ?? null } as PublishedKey;
}

/**
 * The server's Ed25519 signing keys. The first start generates one; later starts load them.
 * Federation signs requests and checkpoints with the current key; peers fetch `published()` from
 * /.well-known/parley/keys. Retired keys stay published with `validUntil` so that what they
 * signed still verifies after a rotation; no new request is accepted under them.
 */
export async function loadServerKeys(storage: Storage, now: () => number = Date.now): Promise<ServerKeys> {
  let current: SigningKey;
  let published: PublishedKey[];
  let loadedIds = "";

  async function load(): Promise<boolean> {
    let rows = storage.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt)).all();
    if (!rows.some((r) => r.validUntil === null)) {
      await insertKey(storage, now());
      rows = storage.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt)).all();
    }
    const ids = rows.map((r) => `${r.keyId}/${r.validUntil}`).join(",");
    if (ids === loadedIds) return false;
    loadedIds = ids;
    const row = rows.find((r) => r.validUntil === null)!;
    current = {
      keyId: row.keyId,
      privateKey: createPrivateKey({ key: JSON.parse(row.privateJwk) as never, format: "jwk" }),
      publicKey: createPublicKey({ key: JSON.parse(row.publicJwk) as never, format: "jwk" }),
    };
    // The current key first, then retired ones, newest first.
    published = [publish(row), ...rows.filter((r) => r !== row).map(publish)];
    return true;
  }
  await load();
  return {
    current: () => current,
    published: () => published,
    reload: load,
  };
}

/**
 * Rotates the server key: the current key gets `validUntil = now` (it stays published, verifying
 * what it signed, but no longer signs or authenticates requests) and a new key becomes current.
 * Returns the old and the new key ids. A running server picks the change up within seconds.
 */
export async function rotateServerKey(storage: Storage, now: () => number = Date.now): Promise<{ retired: string | null; current: string }> {
  const at = now();
  const old = storage.db.select().from(signingKeys).where(isNull(signingKeys.validUntil)).all();
  for (const r of old) storage.db.update(signingKeys).set({ validUntil: at }).where(eq(signingKeys.keyId, r.keyId)).run();
  const keyId = await insertKey(storage, at);
  return { retired: old[0]?.keyId ?? null, current: keyId };
}

/** A verifier's view of a published key: its KeyObject and validity. */
export function importPublishedKey(k: PublishedKey): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: k.x as string }, format: "jwk" });
}
