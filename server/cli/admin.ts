import { userInfo } from "node:os";
import { join } from "node:path";
import { loadProtocol } from "../../protocol/index.ts";
import type { Config } from "../config/load.ts";
import { ParleyError, type ErrorCode } from "../errors.ts";
import { openLocalAdmin } from "../admin/local.ts";
import { adminEndpoints, operatorHeader } from "../admin/routes.ts";
import { findRunningServer, runtimeFileName } from "../admin/runtime.ts";
import type { Operator } from "../admin/service.ts";
import { bytes, CliError, out, table, when } from "./io.ts";

/** Runs one server-admin action: `name` is the admin API's, e.g. "user.disable". */
export type AdminCall = (name: string, body: Record<string, unknown>) => Promise<any>;

function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return "operator";
  }
}

/**
 * Runs fn with a way to perform server-admin actions on this data directory. When a server runs
 * on it, every action goes to that server's admin API (authenticated with the operator token it
 * wrote into the data directory), so that changes to rooms pass through the one room core that
 * caches their state, and revocations close sockets at once. When none runs, the same service
 * runs in this process over the database.
 */
export async function withAdmin<T>(config: Config, fn: (call: AdminCall) => Promise<T>): Promise<T> {
  const running = findRunningServer(config.storage.data_dir);
  const name = operatorName();
  if (running) {
    return fn(async (action, body) => {
      let res: Response;
      try {
        res = await fetch(`${running.url}/api/v1/admin/${action}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${running.token}`, [operatorHeader]: name },
          body: JSON.stringify(body),
        });
      } catch {
        throw new CliError(
          `the server (pid ${running.pid}) runs on this data directory but did not answer at ${running.url}; is it starting or stopping? Try again (if no Parley runs, remove ${join(config.storage.data_dir, runtimeFileName)})`,
          1,
        );
      }
      const answer = (await res.json()) as { error?: { code: string; message: string } };
      if (answer.error) throw new ParleyError(answer.error.code as ErrorCode, answer.error.message);
      return answer;
    });
  }
  const local = openLocalAdmin(config);
  const operator: Operator = { via: "cli", name };
  try {
    return await fn(async (action, body) => {
      // The same validation as the admin API's, so that both ways refuse alike.
      const validate = loadProtocol().validator(`http/admin.${action}#/$defs/request`);
      if (!validate(body)) {
        const e = validate.errors![0];
        throw new ParleyError("bad_request", `body${e.instancePath} ${e.message}`);
      }
      return adminEndpoints[action](local.admin, operator, body);
    });
  } finally {
    local.close();
  }
}

export interface AdminOptions {
  query?: string;
  limit?: string;
  offset?: string;
  before?: string;
  password?: string;
  uses?: string;
  "expires-days"?: string;
  json?: boolean;
  yes?: boolean;
}

/** Parses a whole-number option; undefined when absent. */
export function wholeNumber(values: Record<string, unknown>, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[option];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(max === Number.MAX_SAFE_INTEGER ? `--${option} takes a whole number of at least ${min}` : `--${option} takes a whole number from ${min} to ${max}`);
  }
  return n;
}

const page = (values: AdminOptions) => ({
  ...(values.query !== undefined ? { query: values.query } : {}),
  ...(values.limit !== undefined ? { limit: wholeNumber(values as Record<string, unknown>, "limit", 1, 200) } : {}),
  ...(values.offset !== undefined ? { offset: wholeNumber(values as Record<string, unknown>, "offset", 0) } : {}),
});

function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** `parley user list|show|disable|enable|reset-password|make-admin|unmake-admin|purge`. */
export async function runUserAdmin(call: AdminCall, sub: string, user: string, values: AdminOptions, generated: () => string): Promise<number> {
  switch (sub) {
    case "list": {
      const r = await call("users.list", page(values));
      if (values.json) return printJson(r), 0;
      if (r.users.length === 0) return out("no users"), 0;
      const flag = (u: { isAdmin: boolean; disabled: boolean }) => [u.isAdmin ? "admin" : "", u.disabled ? "disabled" : ""].filter(Boolean).join(",") || "-";
      out(
        table([
          ["USER", "NAME", "FLAGS", "DEVICES", "ROOMS", "CREATED"],
          ...r.users.map((u: any) => [u.userId, u.displayName, flag(u), String(u.devices), String(u.rooms), when(u.createdAt)]),
        ]),
      );
      if (r.more) out(`(more: --offset ${Number(values.offset ?? 0) + r.users.length})`);
      return 0;
    }
    case "show": {
      const u = await call("user.show", { userId: user });
      if (values.json) return printJson(u), 0;
      out(`${u.userId}  "${u.displayName}"${u.isAdmin ? "  server admin" : ""}${u.disabled ? "  DISABLED" : ""}`);
      out(`created ${when(u.createdAt)}`);
      out(`devices (${u.devices.length}):`);
      for (const d of u.devices) out(`  ${d.deviceId}  "${d.name}"  last seen ${when(d.lastSeenAt)}${d.lastAddress ? ` from ${d.lastAddress}` : ""}`);
      out(`communities and groups (${u.rooms.length}):`);
      for (const r of u.rooms) out(`  ${r.kind.padEnd(9)} ${r.roomId}  "${r.name}"  ${r.role}${r.deactivated ? "  (deactivated)" : ""}`);
      return 0;
    }
    case "disable": {
      const r = await call("user.disable", { userId: user });
      out(`disabled ${r.userId}; ${r.revokedDevices} session(s) ended`);
      return 0;
    }
    case "enable": {
      const r = await call("user.enable", { userId: user });
      out(`enabled ${r.userId}`);
      return 0;
    }
    case "reset-password": {
      const password = values.password ?? generated();
      const r = await call("user.password", { userId: user, password });
      out(`password reset for ${r.userId}; ${r.revokedDevices} session(s) ended`);
      if (!values.password) out(`password: ${password}`);
      return 0;
    }
    case "make-admin":
    case "unmake-admin": {
      const r = await call("user.admin", { userId: user, admin: sub === "make-admin" });
      out(r.isAdmin ? `${r.userId} is now a server admin` : `${r.userId} is no longer a server admin`);
      return 0;
    }
    case "purge": {
      if (!values.yes) throw new CliError(`user purge removes ${user} from every community and group on this server and disables the account; add --yes to do it`);
      const r = await call("user.purge", { userId: user });
      // Rooms hosted elsewhere are left by proposals to their homes, kept until each answers.
      const leaving = r.leaving?.length ? `, leaving ${r.leaving.length} room(s) hosted on other servers (told to their homes by the running server, or at its next start)` : "";
      out(`purged ${r.userId}: removed from ${r.removedFrom.length} room(s)${leaving}, disabled, ${r.revokedDevices} session(s) ended`);
      return 0;
    }
  }
  throw new CliError(`unknown command "user ${sub}"`);
}

/** `parley registration-token list|create|revoke`. */
export async function runTokenAdmin(call: AdminCall, sub: string, id: string, values: AdminOptions): Promise<number> {
  switch (sub) {
    case "create": {
      const uses = wholeNumber(values as Record<string, unknown>, "uses", 1) ?? 1;
      let expiresInDays: number | undefined;
      if (values["expires-days"] !== undefined) {
        expiresInDays = Number(values["expires-days"]);
        if (!(expiresInDays > 0)) throw new CliError("--expires-days takes a positive number");
      }
      const r = await call("registration_tokens.create", { uses, ...(expiresInDays !== undefined ? { expiresInDays } : {}) });
      if (values.json) return printJson(r), 0;
      out(r.token);
      return 0;
    }
    case "list": {
      const r = await call("registration_tokens.list", {});
      if (values.json) return printJson(r), 0;
      if (r.tokens.length === 0) return out("no registration tokens"), 0;
      out(
        table([
          ["ID", "USES LEFT", "EXPIRES", "CREATED", "STATE"],
          ...r.tokens.map((t: any) => [t.id, String(t.usesLeft), when(t.expiresAt), when(t.createdAt), t.usable ? "usable" : "spent or expired"]),
        ]),
      );
      return 0;
    }
    case "revoke": {
      const r = await call("registration_tokens.revoke", { id });
      out(`revoked registration token ${r.id}`);
      return 0;
    }
  }
  throw new CliError(`unknown command "registration-token ${sub}"`);
}

/** `parley community list|deactivate`. */
export async function runCommunityAdmin(call: AdminCall, sub: string, roomId: string, values: AdminOptions): Promise<number> {
  switch (sub) {
    case "list": {
      const r = await call("communities.list", page(values));
      if (values.json) return printJson(r), 0;
      if (r.communities.length === 0) return out("no communities"), 0;
      out(
        table([
          ["COMMUNITY", "NAME", "MEMBERS", "GROUPS", "ON DISK", "CREATED BY", "STATE"],
          ...r.communities.map((c: any) => [c.roomId, c.name, String(c.members), String(c.groups), bytes(c.eventBytes + c.mediaBytes), c.createdBy, c.deactivated ? "deactivated" : "active"]),
        ]),
      );
      if (r.more) out(`(more: --offset ${Number(values.offset ?? 0) + r.communities.length})`);
      return 0;
    }
    case "deactivate": {
      if (!values.yes) throw new CliError(`community deactivate unlinks every group of ${roomId} and freezes it for good; add --yes to do it`);
      const r = await call("community.deactivate", { roomId });
      out(`deactivated ${r.roomId}; ${r.unlinkedGroups.length} group(s) unlinked`);
      return 0;
    }
  }
  throw new CliError(`unknown command "community ${sub}"`);
}

/** `parley audit`: the server-admin audit log, newest first. */
export async function runAudit(call: AdminCall, values: AdminOptions): Promise<number> {
  const v = values as Record<string, unknown>;
  const r = await call("audit.list", { ...(v.limit !== undefined ? { limit: wholeNumber(v, "limit", 1, 200) } : {}), ...(v.before !== undefined ? { before: wholeNumber(v, "before", 1) } : {}) });
  if (values.json) return printJson(r), 0;
  if (r.entries.length === 0) return out("the audit log is empty"), 0;
  out(
    table([
      ["ID", "WHEN", "ACTOR", "ACTION", "TARGET", "DETAILS"],
      ...r.entries.map((e: any) => [String(e.id), when(e.at), e.actor, e.action, e.target ?? "-", JSON.stringify(e.details)]),
    ]),
  );
  if (r.more) out(`(older: --before ${r.entries[r.entries.length - 1].id})`);
  return 0;
}
