import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Storage } from "../storage/database.ts";
import { accounts, devices, refreshTokens, registrationTokens, secrets } from "../storage/schema.ts";

export type AccountRow = typeof accounts.$inferSelect;
export type DeviceRow = typeof devices.$inferSelect;

/** All SQL of the accounts area. Statements on hot paths are prepared once here. */
export function createAccountStore(storage: Storage) {
  const { db } = storage;
  const byId = db.select().from(accounts).where(eq(accounts.id, sql.placeholder("id"))).prepare();
  const byUsername = db.select().from(accounts).where(eq(accounts.username, sql.placeholder("username"))).prepare();
  const deviceById = db.select().from(devices).where(eq(devices.id, sql.placeholder("id"))).prepare();
  const refreshByHash = db.select().from(refreshTokens).where(eq(refreshTokens.hash, sql.placeholder("hash"))).prepare();
  const touchDevice = db
    .update(devices)
    .set({ lastSeenAt: sql`${sql.placeholder("at")}`, lastAddress: sql`${sql.placeholder("address")}` })
    .where(eq(devices.id, sql.placeholder("id")))
    .prepare();

  return {
    transaction<T>(fn: () => T): T {
      return storage.write(fn);
    },
    findAccount: (id: string): AccountRow | undefined => byId.get({ id }),
    findAccountByUsername: (username: string): AccountRow | undefined => byUsername.get({ username }),
    insertAccount(row: typeof accounts.$inferInsert): void {
      db.insert(accounts).values(row).run();
    },
    updateAccount(id: string, values: Partial<typeof accounts.$inferInsert>): void {
      db.update(accounts).set(values).where(eq(accounts.id, id)).run();
    },
    countAccounts(): number {
      return db.select({ n: sql<number>`count(*)` }).from(accounts).get()!.n;
    },

    findDevice: (id: string): DeviceRow | undefined => deviceById.get({ id }),
    insertDevice(row: typeof devices.$inferInsert): void {
      db.insert(devices).values(row).run();
    },
    touchDevice(id: string, at: number, address: string | null): void {
      touchDevice.run({ id, at, address });
    },
    listActiveDevices(userId: string): DeviceRow[] {
      return db
        .select()
        .from(devices)
        .where(and(eq(devices.userId, userId), isNull(devices.revokedAt)))
        .orderBy(desc(devices.createdAt))
        .all();
    },
    /** Marks the device revoked and drops its refresh tokens; returns false if it was not active. */
    revokeDevice(id: string, at: number): boolean {
      const res = db
        .update(devices)
        .set({ revokedAt: at })
        .where(and(eq(devices.id, id), isNull(devices.revokedAt)))
        .run();
      db.delete(refreshTokens).where(eq(refreshTokens.deviceId, id)).run();
      return res.changes > 0;
    },

    /** Devices revoked at or after `since` (by this process or another, such as the CLI). */
    revokedSince(since: number): { id: string; userId: string }[] {
      return db
        .select({ id: devices.id, userId: devices.userId })
        .from(devices)
        .where(sql`${devices.revokedAt} >= ${since}`)
        .all();
    },
    findRefreshToken: (hash: string) => refreshByHash.get({ hash }),
    insertRefreshToken(row: typeof refreshTokens.$inferInsert): void {
      db.insert(refreshTokens).values(row).run();
    },
    /** Marks a refresh token used; false if another request used it first. */
    useRefreshToken(hash: string, at: number): boolean {
      return (
        db
          .update(refreshTokens)
          .set({ usedAt: at })
          .where(and(eq(refreshTokens.hash, hash), isNull(refreshTokens.usedAt)))
          .run().changes > 0
      );
    },
    deleteExpiredRefreshTokens(now: number): number {
      return db.delete(refreshTokens).where(sql`${refreshTokens.expiresAt} <= ${now}`).run().changes;
    },

    insertRegistrationToken(row: typeof registrationTokens.$inferInsert): void {
      db.insert(registrationTokens).values(row).run();
    },
    /** Spends one use of a registration token; false if unknown, expired or used up. */
    spendRegistrationToken(hash: string, now: number): boolean {
      return (
        db
          .update(registrationTokens)
          .set({ usesLeft: sql`${registrationTokens.usesLeft} - 1` })
          .where(
            and(
              eq(registrationTokens.hash, hash),
              sql`${registrationTokens.usesLeft} > 0`,
              sql`(${registrationTokens.expiresAt} IS NULL OR ${registrationTokens.expiresAt} > ${now})`,
            ),
          )
          .run().changes > 0
      );
    },

    getSecret(name: string): string | undefined {
      return db.select().from(secrets).where(eq(secrets.name, name)).get()?.value;
    },
    putSecret(name: string, value: string, at: number): void {
      db.insert(secrets).values({ name, value, createdAt: at }).onConflictDoNothing().run();
    },
  };
}

export type AccountStore = ReturnType<typeof createAccountStore>;
