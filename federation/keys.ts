import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import { randomBytes } from "node:crypto";
import { desc } from "drizzle-orm";
import type { Storage } from "../server/storage/database.ts";
import { signingKeys } from "../server/storage/schema.ts";

export interface PublishedKey extends JWK {
  kid: string;
  validFrom: number;
  validUntil: number | null;
}

export interface ServerKeys {
  /** The key id and private key new signatures are made with. */
  current(): { keyId: string; privateKey: CryptoKey };
  /** Every key this server has had, current first, for verifiers. */
  published(): PublishedKey[];
}

/**
 * The server's Ed25519 signing keys. The first start generates one; later starts load them.
 * Federation signs requests and events with the current key; peers fetch `published()` from
 * /.well-known/parley/keys. Retired keys stay published with `validUntil` so that events they
 * signed still verify after a rotation.
 */
export async function loadServerKeys(storage: Storage, now: () => number = Date.now): Promise<ServerKeys> {
  let rows = storage.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt)).all();
  if (!rows.some((r) => r.validUntil === null)) {
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const keyId = `ed25519:${randomBytes(6).toString("base64url")}`;
    const at = now();
    storage.db
      .insert(signingKeys)
      .values({
        keyId,
        publicJwk: JSON.stringify(await exportJWK(publicKey)),
        privateJwk: JSON.stringify(await exportJWK(privateKey)),
        createdAt: at,
        validUntil: null,
      })
      .run();
    rows = storage.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt)).all();
  }
  const currentRow = rows.find((r) => r.validUntil === null)!;
  const privateKey = (await importJWK(JSON.parse(currentRow.privateJwk) as JWK, "EdDSA")) as CryptoKey;
  const published = rows.map((r) => {
    const jwk = JSON.parse(r.publicJwk) as JWK;
    return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: r.keyId, alg: "EdDSA", use: "sig", validFrom: r.createdAt, validUntil: r.validUntil ?? null } as PublishedKey;
  });
  return {
    current: () => ({ keyId: currentRow.keyId, privateKey }),
    published: () => published,
  };
}
