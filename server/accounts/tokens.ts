import { createHash, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";

/** Random ids and secrets: url-safe base64 of CSPRNG bytes, with a readable prefix. */
export function randomId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString("base64url")}`;
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export interface AccessClaims {
  userId: string;
  deviceId: string;
  expiresAt: number;
}

export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: "expired" | "invalid" };

/**
 * Issues and verifies access tokens: HS256 JWTs signed with a per-server secret (only this server
 * ever verifies them, so a symmetric key is enough and verification is cheap). They are short
 * lived; revocation is enforced by the caller checking the device on every use.
 */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: Buffer,
    private readonly issuer: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = new Uint8Array(secret);
  }

  async issue(userId: string, deviceId: string): Promise<{ token: string; expiresAt: number }> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({ did: deviceId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setIssuer(this.issuer)
      .setAudience(this.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomBytes(9).toString("base64url"))
      .sign(this.key);
    return { token, expiresAt: exp * 1000 };
  }

  async verify(token: string): Promise<VerifyResult> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: this.issuer,
        audience: this.issuer,
        algorithms: ["HS256"],
        currentDate: new Date(this.now()),
      });
      if (typeof payload.sub !== "string" || typeof payload.did !== "string" || typeof payload.exp !== "number") {
        return { ok: false, reason: "invalid" };
      }
      return { ok: true, claims: { userId: payload.sub, deviceId: payload.did, expiresAt: payload.exp * 1000 } };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired" };
      return { ok: false, reason: "invalid" };
    }
  }
}
