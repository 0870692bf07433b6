import { randomBytes } from "node:crypto";
import type { Bus } from "../core/bus.ts";
import { ParleyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Config } from "../config/load.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword, type PasswordCost } from "./passwords.ts";
import { FailureLimiter } from "./limiter.ts";
import type { AccountRow, AccountStore } from "./store.ts";
import { AccessTokens, randomId, sha256Hex } from "./tokens.ts";
import { normaliseUsername, userIdOf, validateUsername } from "./usernames.ts";

/** Who is acting: always passed explicitly, never ambient. */
export interface Actor {
  userId: string;
  deviceId: string;
  /** When the access token that authenticated this actor expires (ms). */
  expiresAt: number;
  isAdmin: boolean;
}

export interface SessionTokens {
  userId: string;
  deviceId: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
}

export interface Profile {
  userId: string;
  displayName: string;
  about: string;
  avatar: string | null;
}

export interface AccountsDeps {
  config: Config;
  store: AccountStore;
  bus: Bus;
  log: Logger;
  now?: () => number;
}

const tokenSecretName = "access_token_hs256";

export function profileOf(row: AccountRow): Profile {
  return { userId: row.id, displayName: row.displayName, about: row.about, avatar: row.avatar ?? null };
}

/** Accounts, devices and tokens: the rules. SQL lives in the store; transports call these. */
export function createAccountService({ config, store, bus, log, now = Date.now }: AccountsDeps) {
  const serverName = config.server.name;
  const cost: PasswordCost = { memoryKib: config.passwords.memory_kib, timeCost: config.passwords.time_cost };
  const refreshTtlMs = config.tokens.refresh_ttl_days * 86_400_000;
  const windowMs = config.limits.login_failure_window_seconds * 1000;
  const perAccount = new FailureLimiter(config.limits.login_failures_per_account, windowMs, now);
  const perAddress = new FailureLimiter(config.limits.login_failures_per_address, windowMs, now);

  let secret = store.getSecret(tokenSecretName);
  if (!secret) {
    store.putSecret(tokenSecretName, randomBytes(32).toString("base64"), now());
    secret = store.getSecret(tokenSecretName)!;
  }
  const accessTokens = new AccessTokens(Buffer.from(secret, "base64"), serverName, config.tokens.access_ttl_seconds, now);

  // A hash to verify against when the account does not exist, so that a login for an unknown
  // name costs the same time as one with a wrong password and timing does not reveal accounts.
  let decoyHash: Promise<string> | undefined;
  const decoy = () => (decoyHash ??= hashPassword(randomBytes(16).toString("hex"), cost));

  async function openSession(userId: string, deviceName: string, address: string | null): Promise<SessionTokens> {
    const at = now();
    const deviceId = randomId("dv", 12);
    const refreshToken = randomId("rt", 32);
    store.transaction(() => {
      store.insertDevice({ id: deviceId, userId, name: deviceName, createdAt: at, lastSeenAt: at, lastAddress: address });
      store.insertRefreshToken({ hash: sha256Hex(refreshToken), deviceId, createdAt: at, expiresAt: at + refreshTtlMs });
    });
    const access = await accessTokens.issue(userId, deviceId);
    return { userId, deviceId, accessToken: access.token, accessTokenExpiresAt: access.expiresAt, refreshToken, refreshTokenExpiresAt: at + refreshTtlMs };
  }

  function revoke(userId: string, deviceId: string, reason: "revoked" | "logout" | "password_changed" | "refresh_token_reused" | "account_disabled"): boolean {
    const done = store.revokeDevice(deviceId, now());
    if (done) {
      log.info({ userId, deviceId, reason }, "device session ended");
      bus.emit("device.revoked", { userId, deviceId, reason });
    }
    return done;
  }

  async function createAccount(input: { username: string; password: string; displayName?: string; isAdmin?: boolean }): Promise<AccountRow> {
    const username = validateUsername(input.username);
    checkPasswordPolicy(input.password);
    if (store.findAccountByUsername(username)) throw new ParleyError("username.taken");
    const passwordHash = await hashPassword(input.password, cost);
    const row = {
      id: userIdOf(username, serverName),
      username,
      passwordHash,
      displayName: input.displayName?.trim() || username,
      about: "",
      avatar: null,
      isAdmin: input.isAdmin ?? false,
      disabled: false,
      createdAt: now(),
    };
    try {
      store.insertAccount(row);
    } catch (err) {
      // Two registrations for one name raced past the check above; the unique index decided.
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE" || (err as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        throw new ParleyError("username.taken");
      }
      throw err;
    }
    return row;
  }

  return {
    accessTokens,

    async register(
      input: { username: string; password: string; displayName?: string; deviceName?: string; registrationToken?: string },
      address: string | null,
    ): Promise<SessionTokens> {
      const policy = config.registration.policy;
      if (policy === "closed") throw new ParleyError("registration.closed");
      // Validate everything we can before spending a registration token.
      validateUsername(input.username);
      checkPasswordPolicy(input.password);
      if (store.findAccountByUsername(normaliseUsername(input.username))) throw new ParleyError("username.taken");
      if (policy === "invite-only") {
        if (!input.registrationToken) throw new ParleyError("registration.token_required");
        if (!store.spendRegistrationToken(sha256Hex(input.registrationToken), now())) throw new ParleyError("registration.invalid_token");
      }
      const account = await createAccount(input);
      log.info({ userId: account.id }, "account registered");
      return openSession(account.id, input.deviceName ?? "Unnamed device", address);
    },

    async login(input: { username: string; password: string; deviceName?: string }, address: string | null): Promise<SessionTokens> {
      const username = normaliseUsername(input.username, serverName);
      const accountKey = `u:${username}`;
      const addressKey = `a:${address ?? "unknown"}`;
      if (perAccount.isBlocked(accountKey) || perAddress.isBlocked(addressKey)) throw new ParleyError("auth.too_many_attempts");
      const account = store.findAccountByUsername(username);
      const valid = account ? await verifyPassword(account.passwordHash, input.password) : (await verifyPassword(await decoy(), input.password), false);
      if (!account || !valid) {
        perAccount.recordFailure(accountKey);
        perAddress.recordFailure(addressKey);
        throw new ParleyError("auth.invalid_credentials");
      }
      if (account.disabled) throw new ParleyError("auth.account_disabled");
      perAccount.reset(accountKey);
      return openSession(account.id, input.deviceName ?? "Unnamed device", address);
    },

    async refresh(refreshToken: string): Promise<SessionTokens> {
      const hash = sha256Hex(refreshToken);
      const row = store.findRefreshToken(hash);
      if (!row) throw new ParleyError("auth.invalid_refresh_token");
      const device = store.findDevice(row.deviceId);
      if (!device || device.revokedAt !== null) throw new ParleyError("auth.invalid_refresh_token");
      const at = now();
      // An expired token that was never used is simply dead. Checked before it is marked used, so
      // that presenting it again is not mistaken for theft (and does not revoke the device).
      if (row.usedAt === null && row.expiresAt <= at) throw new ParleyError("auth.invalid_refresh_token");
      if (row.usedAt !== null || !store.useRefreshToken(hash, at)) {
        // A refresh token is used exactly once. Seeing it twice means two parties hold it: the
        // legitimate client and a thief. We cannot tell which is which, so end the session.
        revoke(device.userId, device.id, "refresh_token_reused");
        log.warn({ userId: device.userId, deviceId: device.id }, "refresh token reused: session revoked");
        throw new ParleyError("auth.refresh_token_reused");
      }
      const account = store.findAccount(device.userId);
      if (!account || account.disabled) throw new ParleyError("auth.invalid_refresh_token");
      const next = randomId("rt", 32);
      store.insertRefreshToken({ hash: sha256Hex(next), deviceId: device.id, createdAt: at, expiresAt: at + refreshTtlMs });
      const access = await accessTokens.issue(device.userId, device.id);
      return {
        userId: device.userId,
        deviceId: device.id,
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken: next,
        refreshTokenExpiresAt: at + refreshTtlMs,
      };
    },

    /** Checks an access token and that its device is still live. Throws `auth.invalid_token`. */
    async authenticate(token: string): Promise<Actor> {
      const result = await accessTokens.verify(token);
      if (!result.ok) throw new ParleyError("auth.invalid_token");
      const device = store.findDevice(result.claims.deviceId);
      if (!device || device.revokedAt !== null || device.userId !== result.claims.userId) throw new ParleyError("auth.invalid_token");
      const account = store.findAccount(device.userId);
      if (!account || account.disabled) throw new ParleyError("auth.invalid_token");
      return { userId: account.id, deviceId: device.id, expiresAt: result.claims.expiresAt, isAdmin: account.isAdmin };
    },

    /** Records that a device was seen (on socket authentication), for the device list. */
    noteDeviceSeen(deviceId: string, address: string | null): void {
      store.touchDevice(deviceId, now(), address);
    },

    logout(actor: Actor): void {
      revoke(actor.userId, actor.deviceId, "logout");
    },

    async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<{ revokedDevices: number }> {
      const account = store.findAccount(actor.userId);
      // A stolen access token must not become a way to guess the password faster than logins.
      const accountKey = `u:${account?.username ?? actor.userId}`;
      if (perAccount.isBlocked(accountKey)) throw new ParleyError("auth.too_many_attempts");
      if (!account || !(await verifyPassword(account.passwordHash, currentPassword))) {
        perAccount.recordFailure(accountKey);
        throw new ParleyError("auth.invalid_credentials");
      }
      checkPasswordPolicy(newPassword);
      store.updateAccount(account.id, { passwordHash: await hashPassword(newPassword, cost) });
      let revokedDevices = 0;
      for (const device of store.listActiveDevices(account.id)) {
        if (device.id !== actor.deviceId && revoke(account.id, device.id, "password_changed")) revokedDevices++;
      }
      log.info({ userId: account.id, revokedDevices }, "password changed");
      return { revokedDevices };
    },

    listDevices(actor: Actor) {
      return store.listActiveDevices(actor.userId).map((d) => ({
        deviceId: d.id,
        name: d.name,
        createdAt: d.createdAt,
        lastSeenAt: d.lastSeenAt,
        current: d.id === actor.deviceId,
      }));
    },

    revokeDevice(actor: Actor, deviceId: string): { revoked: string } {
      const device = store.findDevice(deviceId);
      // Another user's device and a missing device fail the same way: ids reveal nothing.
      if (!device || device.userId !== actor.userId || device.revokedAt !== null) throw new ParleyError("device.not_found");
      revoke(actor.userId, deviceId, "revoked");
      return { revoked: deviceId };
    },

    getProfile(userId: string): Profile {
      const account = store.findAccount(userId);
      if (!account) throw new ParleyError("user.not_found");
      return profileOf(account);
    },

    updateProfile(actor: Actor, patch: { displayName?: string; about?: string; avatar?: string | null }): Profile {
      const values: { displayName?: string; about?: string; avatar?: string | null } = {};
      if (patch.displayName !== undefined) {
        const name = patch.displayName.trim();
        if (!name) throw new ParleyError("invalid_params", "displayName must not be blank.");
        values.displayName = name;
      }
      if (patch.about !== undefined) values.about = patch.about;
      if (patch.avatar !== undefined) values.avatar = patch.avatar;
      store.updateAccount(actor.userId, values);
      const profile = this.getProfile(actor.userId);
      bus.emit("profile.updated", { userId: actor.userId, originDeviceId: actor.deviceId, profile });
      return profile;
    },

    // Operator actions (the CLI).
    createAccount,

    async resetPassword(username: string, password: string): Promise<{ userId: string; revokedDevices: number }> {
      const account = store.findAccountByUsername(normaliseUsername(username, serverName));
      if (!account) throw new ParleyError("user.not_found");
      checkPasswordPolicy(password);
      store.updateAccount(account.id, { passwordHash: await hashPassword(password, cost) });
      let revokedDevices = 0;
      for (const device of store.listActiveDevices(account.id)) if (revoke(account.id, device.id, "password_changed")) revokedDevices++;
      return { userId: account.id, revokedDevices };
    },

    /** Disables (ending every session) or re-enables an account. */
    setDisabled(username: string, disabled: boolean): { userId: string; revokedDevices: number } {
      const account = store.findAccountByUsername(normaliseUsername(username, serverName));
      if (!account) throw new ParleyError("user.not_found");
      store.updateAccount(account.id, { disabled });
      let revokedDevices = 0;
      if (disabled) for (const device of store.listActiveDevices(account.id)) if (revoke(account.id, device.id, "account_disabled")) revokedDevices++;
      return { userId: account.id, revokedDevices };
    },

    /**
     * Tells the transports about devices revoked since `since`, wherever that happened: the
     * operator's CLI runs in another process with its own bus, so the server polls for what it
     * did (a password reset, a disabled account) and closes those devices' sockets too.
     */
    announceRevocationsSince(since: number): number {
      const rows = store.revokedSince(since);
      for (const d of rows) bus.emit("device.revoked", { userId: d.userId, deviceId: d.id, reason: "revoked" });
      return rows.length;
    },

    /** Drops refresh tokens past their expiry (used ones are kept until then for theft detection). */
    sweepExpiredTokens(): number {
      return store.deleteExpiredRefreshTokens(now());
    },

    createRegistrationToken(opts: { uses: number; expiresAt: number | null }): string {
      const token = randomId("reg", 18);
      store.insertRegistrationToken({ hash: sha256Hex(token), usesLeft: opts.uses, expiresAt: opts.expiresAt, createdAt: now() });
      return token;
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
