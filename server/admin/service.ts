import type { AccountService } from "../accounts/service.ts";
import type { AccountStore } from "../accounts/store.ts";
import { normaliseUsername } from "../accounts/usernames.ts";
import { ParleyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { RoomCore } from "../rooms/core.ts";
import { sha256Hex } from "../accounts/tokens.ts";
import { tokenIdLength, type AdminStore } from "./store.ts";
import { createFederationAdmin } from "./federation.ts";
import type { Storage } from "../storage/database.ts";
import type { Config } from "../config/load.ts";
import type { ServerKeys } from "../../federation/keys.ts";
import { withdrawBlocks } from "../../federation/direct.ts";
import { dropKeptOps } from "../../federation/pending.ts";
import { keepDepartures } from "../../federation/accounts.ts";
import type { Bus } from "../core/bus.ts";
import { originOf } from "../rooms/hash.ts";

/**
 * Who performs a server-admin action: a user with the server-admin flag (through the admin API),
 * or the operator at the command line (who has the data directory, and so all power anyway).
 */
export type Operator = { via: "admin"; userId: string } | { via: "cli"; name: string };

/** A server admin's own account is theirs to lose only through another admin or the CLI. */
function refuseSelf(op: Operator, userId: string): void {
  if (op.via === "admin" && op.userId === userId) throw new ParleyError("admin.self");
}

const pageOf = (p: { limit?: number; offset?: number }) => ({ limit: p.limit ?? 50, offset: p.offset ?? 0 });

/**
 * The server-admin powers: accounts, registration tokens, communities and the server's audit
 * log. The admin API and the command line both call these; every change is recorded in the
 * server's audit log, and every change to a room goes through the room core's write path as an
 * event marked `serverAdmin`, authorized by the rules' server-admin branch.
 */
export function createAdminService(deps: {
  serverName: string;
  store: AdminStore;
  accountStore: AccountStore;
  accounts: AccountService;
  rooms: RoomCore;
  log: Logger;
  /** What the federation endpoints read and change (federation.status, federation.servers.*). */
  federation: { storage: Storage; config: Config["federation"]; keys?: ServerKeys };
  /** Where a purge is announced (`account.purged`): the running server's federation acts on it. */
  bus?: Bus;
  now?: () => number;
}) {
  const { serverName, store, accountStore, accounts, rooms, log } = deps;
  const now = deps.now ?? Date.now;
  /** The sender of room events the operator causes from the command line: the server's own user. */
  const systemUser = `@parley:${serverName}`;
  const actorOf = (op: Operator) => (op.via === "admin" ? op.userId : `cli:${op.name}`);
  const senderOf = (op: Operator) => (op.via === "admin" ? op.userId : systemUser);

  function findAccount(user: string) {
    const account = accountStore.findAccountByUsername(normaliseUsername(user, serverName));
    if (!account) throw new ParleyError("user.not_found");
    return account;
  }

  function record(op: Operator, action: string, target: string | null, details: Record<string, unknown> = {}): void {
    store.audit(actorOf(op), action, target, details, now());
    log.info({ actor: actorOf(op), action, target }, "server-admin action");
  }

  return {
    listUsers(p: { query?: string; limit?: number; offset?: number }) {
      const { limit, offset } = pageOf(p);
      const rows = store.listUsers(p.query?.trim() ?? "", limit + 1, offset);
      return { users: rows.slice(0, limit), more: rows.length > limit };
    },

    showUser(p: { userId: string }) {
      const a = findAccount(p.userId);
      return {
        userId: a.id,
        username: a.username,
        displayName: a.displayName,
        isAdmin: a.isAdmin,
        disabled: a.disabled,
        createdAt: a.createdAt,
        devices: store.devicesOf(a.id),
        rooms: store.roomsOf(a.id),
      };
    },

    disableUser(op: Operator, p: { userId: string }) {
      const a = findAccount(p.userId);
      refuseSelf(op, a.id);
      const result = accounts.setDisabled(a.id, true);
      record(op, "user.disable", a.id, { revokedDevices: result.revokedDevices });
      return result;
    },

    enableUser(op: Operator, p: { userId: string }) {
      const a = findAccount(p.userId);
      accounts.setDisabled(a.id, false);
      record(op, "user.enable", a.id);
      return { userId: a.id };
    },

    async resetPassword(op: Operator, p: { userId: string; password: string }) {
      const a = findAccount(p.userId);
      const result = await accounts.resetPassword(a.id, p.password);
      record(op, "user.reset_password", a.id, { revokedDevices: result.revokedDevices });
      return result;
    },

    /** Grants or withdraws the server-admin flag. It takes effect on the user's next request or authentication. */
    setServerAdmin(op: Operator, p: { userId: string; admin: boolean }) {
      const a = findAccount(p.userId);
      if (!p.admin) refuseSelf(op, a.id);
      accountStore.updateAccount(a.id, { isAdmin: p.admin });
      record(op, p.admin ? "user.admin.grant" : "user.admin.revoke", a.id);
      return { userId: a.id, isAdmin: p.admin };
    },

    /**
     * Removes an account from every room on this server and disables it (spam, abuse). Each
     * removal is a `member.remove` through the room core, so members' views, the core's cache and
     * the rooms' own audit logs agree; a room left without its owner gets the first admin (else
     * the first member) as owner. All rooms change in one transaction, with the audit entry, the
     * end of the account's blocks (withdrawn from other servers by kept notices) and of its ops
     * kept for homes that could not be reached. Rooms
     * hosted elsewhere are not this server's to change: the same transaction keeps the account's
     * leave of each (`federation_departures`), which the running server proposes to their homes
     * (at once, or at its next start when the purge ran with it stopped), and it tells other
     * servers to drop its profile (`account.purged`, docs/federation.md).
     */
    async purgeUser(op: Operator, p: { userId: string }) {
      const a = findAccount(p.userId);
      refuseSelf(op, a.id);
      const sender = senderOf(op);
      const all = store.roomsOf(a.id).map((r) => r.roomId);
      const roomIds = all.filter((roomId) => originOf(roomId) === serverName);
      const elsewhere = all.filter((roomId) => originOf(roomId) !== serverName);
      const removedFrom = await rooms.transact((tx) => {
        const removed: string[] = [];
        for (const roomId of roomIds) {
          const st = tx.state(roomId);
          if (!st?.members.has(a.id)) continue;
          const wasOwner = st.members.get(a.id) === "owner";
          tx.append({ roomId, type: "member.remove", sender, content: { userId: a.id, serverAdmin: true } }, { serverAdmin: true });
          if (wasOwner && st.members.size > 0) {
            const successor = [...st.members].find(([, role]) => role === "admin")?.[0] ?? st.members.keys().next().value!;
            tx.append({ roomId, type: "member.role", sender, content: { userId: successor, role: "owner", serverAdmin: true } }, { serverAdmin: true });
          }
          removed.push(roomId);
        }
        withdrawBlocks(deps.federation.storage, a.id, serverName, tx.now);
        dropKeptOps(deps.federation.storage, a.id);
        // Its leaves of rooms hosted elsewhere, kept until their homes answer (also when the
        // server is stopped: proposed at its next start).
        keepDepartures(deps.federation.storage, a.id, elsewhere, tx.now);
        store.audit(actorOf(op), "user.purge", a.id, { rooms: removed }, tx.now);
        return removed;
      });
      const { revokedDevices } = accounts.setDisabled(a.id, true);
      deps.bus?.emit("account.purged", { userId: a.id, rooms: removedFrom, elsewhere });
      log.info({ actor: actorOf(op), action: "user.purge", target: a.id, rooms: removedFrom.length }, "server-admin action");
      return { userId: a.id, removedFrom, leaving: elsewhere, revokedDevices };
    },

    listRegistrationTokens() {
      const at = now();
      return {
        tokens: store.listRegistrationTokens().map((t) => ({ ...t, usable: t.usesLeft > 0 && (t.expiresAt === null || t.expiresAt > at) })),
      };
    },

    createRegistrationToken(op: Operator, p: { uses?: number; expiresInDays?: number }) {
      const uses = p.uses ?? 1;
      const expiresAt = p.expiresInDays === undefined ? null : now() + p.expiresInDays * 86_400_000;
      const token = accounts.createRegistrationToken({ uses, expiresAt });
      // Lists name a token by the start of its hash: the token itself is never stored.
      const id = sha256Hex(token).slice(0, tokenIdLength);
      record(op, "registration_token.create", id, { uses, expiresAt });
      return { token, id, usesLeft: uses, expiresAt };
    },

    revokeRegistrationToken(op: Operator, p: { id: string }) {
      if (!store.deleteRegistrationToken(p.id)) throw new ParleyError("registration_token.not_found");
      record(op, "registration_token.revoke", p.id);
      return { id: p.id, revoked: true };
    },

    listCommunities(p: { query?: string; limit?: number; offset?: number }) {
      const { limit, offset } = pageOf(p);
      const rows = store.listCommunities(p.query?.trim() ?? "", limit + 1, offset);
      return { communities: rows.slice(0, limit), more: rows.length > limit };
    },

    /**
     * Deactivates a community as its owner would (its groups are unlinked and live on as
     * standalone groups), but by the server admin's authority, through the write path.
     */
    deactivateCommunity(op: Operator, p: { roomId: string }) {
      const sender = senderOf(op);
      return rooms.transact((tx) => {
        const community = tx.state(p.roomId);
        if (!community || community.kind !== "community") throw new ParleyError("room.not_found");
        if (community.deactivated) throw new ParleyError("room.deactivated");
        const groups = [...community.groups];
        for (const groupId of groups) {
          tx.append({ roomId: p.roomId, type: "community.group.remove", sender, content: { groupId, reason: "deactivated", serverAdmin: true } }, { serverAdmin: true });
          tx.append({ roomId: groupId, type: "group.community", sender, content: { communityId: null, reason: "deactivated", serverAdmin: true } }, { serverAdmin: true });
        }
        tx.append({ roomId: p.roomId, type: "room.deactivate", sender, content: { serverAdmin: true } }, { serverAdmin: true });
        store.audit(actorOf(op), "community.deactivate", p.roomId, { name: community.name, unlinkedGroups: groups }, tx.now);
        return { roomId: p.roomId, unlinkedGroups: groups };
      });
    },

    ...createFederationAdmin({ ...deps.federation, record, now }),

    listAudit(p: { before?: number; limit?: number }) {
      const limit = p.limit ?? 50;
      const rows = store.listAudit(p.before ?? Number.MAX_SAFE_INTEGER, limit + 1);
      return { entries: rows.slice(0, limit), more: rows.length > limit };
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
