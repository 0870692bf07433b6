import { randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Parley } from "../app.ts";
import { requireActor } from "../accounts/routes.ts";
import { ParleyError } from "../errors.ts";
import { createAdminService, type AdminService, type Operator } from "./service.ts";
import { createAdminStore } from "./store.ts";
import { createAccountStore } from "../accounts/store.ts";
import { localUrlOf, removeRuntimeFile, writeRuntimeFile } from "./runtime.ts";

/** The header in which the command line names the operating-system user running it. */
export const operatorHeader = "x-parley-operator";

export type Handler = (admin: AdminService, op: Operator, body: any) => unknown;

/**
 * The admin API: one POST endpoint per server-admin action, `/api/v1/admin/<name>`, with its body
 * schema in protocol/http/admin.<name>.json. The web client's admin area and the command line
 * (while a server runs) both use it; the same service serves the CLI when no server runs.
 */
export const adminEndpoints: Record<string, Handler> = {
  // route: POST /api/v1/admin/users.list
  "users.list": (admin, _op, body) => admin.listUsers(body),
  // route: POST /api/v1/admin/user.show
  "user.show": (admin, _op, body) => admin.showUser(body),
  // route: POST /api/v1/admin/user.disable
  "user.disable": (admin, op, body) => admin.disableUser(op, body),
  // route: POST /api/v1/admin/user.enable
  "user.enable": (admin, op, body) => admin.enableUser(op, body),
  // route: POST /api/v1/admin/user.password
  "user.password": (admin, op, body) => admin.resetPassword(op, body),
  // route: POST /api/v1/admin/user.admin
  "user.admin": (admin, op, body) => admin.setServerAdmin(op, body),
  // route: POST /api/v1/admin/user.purge
  "user.purge": (admin, op, body) => admin.purgeUser(op, body),
  // route: POST /api/v1/admin/registration_tokens.list
  "registration_tokens.list": (admin) => admin.listRegistrationTokens(),
  // route: POST /api/v1/admin/registration_tokens.create
  "registration_tokens.create": (admin, op, body) => admin.createRegistrationToken(op, body),
  // route: POST /api/v1/admin/registration_tokens.revoke
  "registration_tokens.revoke": (admin, op, body) => admin.revokeRegistrationToken(op, body),
  // route: POST /api/v1/admin/communities.list
  "communities.list": (admin, _op, body) => admin.listCommunities(body),
  // route: POST /api/v1/admin/community.deactivate
  "community.deactivate": (admin, op, body) => admin.deactivateCommunity(op, body),
  // route: POST /api/v1/admin/federation.status
  "federation.status": (admin) => admin.federationStatus(),
  // route: POST /api/v1/admin/federation.servers.list
  "federation.servers.list": (admin) => admin.listFederationServers(),
  // route: POST /api/v1/admin/federation.servers.set
  "federation.servers.set": (admin, op, body) => admin.setFederationServer(op, body),
  // route: POST /api/v1/admin/federation.rotate_key
  "federation.rotate_key": (admin, op) => admin.rotateFederationKey(op),
  // route: POST /api/v1/admin/audit.list
  "audit.list": (admin, _op, body) => admin.listAudit(body),
};

/**
 * Registers the admin API and, when the server listens, writes the operator file through which
 * the command line finds it (see runtime.ts). Requests authenticate with a server admin's access
 * token, or with the operator token of that file.
 */
export function registerAdminRoutes(app: FastifyInstance, parley: Parley): AdminService {
  const { config, storage, accounts, rooms, log, keys, bus } = parley;
  const admin = createAdminService({
    serverName: config.server.name,
    store: createAdminStore(storage),
    accountStore: createAccountStore(storage),
    accounts,
    rooms,
    log: log.child({ area: "admin" }),
    federation: { storage, config: config.federation, keys },
    bus,
  });
  const operatorToken = randomBytes(32).toString("base64url");
  const operatorTokenBytes = Buffer.from(operatorToken);

  async function operatorOf(request: FastifyRequest): Promise<Operator> {
    const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
    const presented = m ? Buffer.from(m[1]) : null;
    if (presented && presented.length === operatorTokenBytes.length && timingSafeEqual(presented, operatorTokenBytes)) {
      const name = String(request.headers[operatorHeader] ?? "operator").slice(0, 64);
      return { via: "cli", name };
    }
    const actor = await requireActor(accounts, request);
    // The flag is read from the account on every request, so withdrawing it takes effect at once.
    if (!actor.isAdmin) throw new ParleyError("admin.forbidden");
    return { via: "admin", userId: actor.userId };
  }

  // Who is asking is settled on the request line and headers, before the body is read or
  // validated: someone who is not a server admin learns nothing about the admin API's shapes.
  const operators = new WeakMap<FastifyRequest, Operator>();
  const authenticate = async (request: FastifyRequest) => {
    operators.set(request, await operatorOf(request));
  };
  for (const [name, handler] of Object.entries(adminEndpoints)) {
    app.post(
      `/api/v1/admin/${name}`,
      { schema: { body: { $ref: `https://parley.chat/schema/http/admin.${name}#/$defs/request` } }, onRequest: authenticate },
      async (request) => handler(admin, operators.get(request)!, request.body ?? {}),
    );
  }

  if (storage.path !== ":memory:") {
    app.addHook("onListen", async () => {
      const address = app.server.address() as AddressInfo | null;
      if (!address || typeof address !== "object") return;
      try {
        writeRuntimeFile(config.storage.data_dir, { pid: process.pid, url: localUrlOf(address.address, address.port), token: operatorToken, startedAt: Date.now() });
      } catch (err) {
        log.warn({ err }, "could not write the operator file: the command line will not reach this server");
      }
    });
    app.addHook("onClose", async () => removeRuntimeFile(config.storage.data_dir, operatorToken));
  }
  return admin;
}
