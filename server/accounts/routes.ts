import type { FastifyInstance, FastifyRequest } from "fastify";
import { ParleyError } from "../errors.ts";
import type { Actor, AccountService } from "./service.ts";

declare module "fastify" {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

const ref = (name: string, part: "request" | "response") => ({ $ref: `https://parley.chat/schema/http/${name}#/$defs/${part}` });

/** Reads "Authorization: Bearer <token>" and authenticates it; throws a coded 401. */
export async function requireActor(accounts: AccountService, request: FastifyRequest): Promise<Actor> {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new ParleyError("auth.required");
  return accounts.authenticate(m[1]);
}

/** HTTP routes of the accounts area, under /api/v1/auth. */
export async function registerAccountRoutes(app: FastifyInstance, accounts: AccountService, limits: { registrationsPerMinute: number }): Promise<void> {
  app.decorateRequest("actor", null);
  const authenticated = async (request: FastifyRequest) => {
    request.actor = await requireActor(accounts, request);
  };

  // route: POST /api/v1/auth/register
  app.post<{ Body: { username: string; password: string; displayName?: string; deviceName?: string; registrationToken?: string } }>(
    "/api/v1/auth/register",
    { schema: { body: ref("auth.register", "request") }, config: { rateLimit: { max: limits.registrationsPerMinute, timeWindow: "1 minute" } } },
    async (request, reply) => {
      const session = await accounts.register(request.body, request.ip);
      return reply.code(201).send(session);
    },
  );

  // route: POST /api/v1/auth/login
  app.post<{ Body: { username: string; password: string; deviceName?: string } }>(
    "/api/v1/auth/login",
    { schema: { body: ref("auth.login", "request") } },
    async (request) => accounts.login(request.body, request.ip),
  );

  // route: POST /api/v1/auth/refresh
  app.post<{ Body: { refreshToken: string } }>(
    "/api/v1/auth/refresh",
    { schema: { body: ref("auth.refresh", "request") } },
    async (request) => accounts.refresh(request.body.refreshToken),
  );

  // route: POST /api/v1/auth/logout
  app.post("/api/v1/auth/logout", { preHandler: authenticated }, async (request) => {
    accounts.logout(request.actor!);
    return { loggedOut: true };
  });

  // route: POST /api/v1/auth/password
  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    "/api/v1/auth/password",
    { schema: { body: ref("auth.password", "request") }, preHandler: authenticated },
    async (request) => accounts.changePassword(request.actor!, request.body.currentPassword, request.body.newPassword),
  );
}
