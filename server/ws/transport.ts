import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import websocket from "@fastify/websocket";
import type { WebSocket, RawData } from "ws";
import type { Protocol } from "../../protocol/index.ts";
import type { Bus } from "../core/bus.ts";
import type { Config } from "../config/load.ts";
import { isDatabaseBusy, ParleyError, toWireError, type WireError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { AccountService } from "../accounts/service.ts";
import { CloseCode, Connection, textFrame } from "./connection.ts";
import type { OpRegistry } from "./ops.ts";
import { frameLabel, unknownOpLabel, type Metrics } from "../metrics/index.ts";
import type { RecordError } from "../error-log.ts";
import { findIllFormedText, illFormedReason, mayHoldSurrogates } from "../wellformed.ts";

export const websocketPath = "/api/v1/ws";

/** Socket errors a client causes: malformed frames (ws's WS_ERR_* codes) and dropped connections. */
function isClientFault(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith("WS_ERR_") || code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT");
}

/** A room's members as the room core keeps them: a member map (id to role) or a set of ids. */
export interface RoomMembers {
  readonly size: number;
  has(userId: string): boolean;
  keys(): Iterable<string>;
}

export interface Hub {
  /** Every authenticated connection of a user (all their devices). */
  connectionsOf(userId: string): ReadonlySet<Connection> | undefined;
  /**
   * Sends one pre-serialized frame to every connection of these users; `own.userId`'s connections get
   * `own.frame()` instead (made once, when that user has a connection).
   */
  sendToUsers(userIds: Iterable<string>, frame: string | Buffer, own?: { userId: string; frame: () => Buffer }): void;
  /**
   * The same, to the members of a room (its member map, or the member set an event was committed
   * with): only those connected here get it.
   */
  sendToMembers(members: RoomMembers, frame: string | Buffer, own?: { userId: string; frame: () => Buffer }): void;
  count(): number;
  /** Connections that have authenticated. */
  authenticatedCount(): number;
  /** Closes every socket with "going away"; used on shutdown. */
  closeAll(): void;
}

interface TransportDeps {
  config: Config;
  protocol: Protocol;
  ops: OpRegistry;
  accounts: AccountService;
  bus: Bus;
  log: Logger;
  metrics: Metrics;
  /** The clock (tests control it); token expiry timers follow it. */
  now?: () => number;
  /** Told of every error reply (the error contract's recorder, server/error-log.ts). */
  recordError?: RecordError;
}

/**
 * The WebSocket transport: one socket per device at /api/v1/ws. It frames, validates,
 * authenticates, rate-limits and dispatches; it knows nothing of the domain beyond calling ops
 * and relaying what the bus tells it.
 */
export async function registerWebSocketTransport(app: FastifyInstance, deps: TransportDeps): Promise<Hub> {
  const { config, protocol, ops, accounts, bus, metrics } = deps;
  const stats = metrics.transport;
  const log = deps.log.child({ area: "ws" });
  const limits = config.limits;
  const validateRequest = protocol.validator("frames#/$defs/Request");
  const now = deps.now ?? Date.now;
  const byUser = new Map<string, Set<Connection>>();
  const all = new Set<Connection>();

  await app.register(websocket, {
    options: {
      // Hard cap: past four times the frame limit the ws library closes with 1009 without
      // buffering the rest. Between the limit and the cap we answer with frame_too_large.
      maxPayload: limits.frame_bytes * 4,
      perMessageDeflate: false,
    },
    // On shutdown the plugin's default preClose closes every socket without a code (clients see
    // 1005) before any hook of ours runs; close them ourselves with 1001 "server going away", the
    // documented code that tells clients to reconnect with backoff.
    preClose: async () => hub.closeAll(),
    // The plugin's default logs every socket error at error level with its stack, and a
    // malformed frame from a client (bad UTF-8, reserved bits, a frame past the hard cap) is a
    // socket error: a refusal the client caused, not a fault of the server. Those are logged at
    // debug, without a stack, as the other refusals are, by the connection's own error listener
    // (below); ws has already closed the socket with the code that says why (1002, 1007, 1009),
    // so the close handshake is left to finish.
    errorHandler: (err, socket, request) => {
      if (isClientFault((err as NodeJS.ErrnoException).code)) return;
      request.log.error({ err }, "websocket failed");
      socket.terminate();
    },
  });

  function attach(conn: Connection): void {
    const userId = conn.actor!.userId;
    let set = byUser.get(userId);
    if (!set) byUser.set(userId, (set = new Set()));
    set.add(conn);
  }

  function detach(conn: Connection): void {
    all.delete(conn);
    if (!conn.actor) return;
    const set = byUser.get(conn.actor.userId);
    if (set) {
      set.delete(conn);
      if (set.size === 0) byUser.delete(conn.actor.userId);
    }
  }

  function armExpiry(conn: Connection): void {
    clearTimeout(conn.expiryTimer);
    const ms = Math.max(0, conn.actor!.expiresAt - now());
    conn.expiryTimer = setTimeout(() => conn.close(CloseCode.tokenExpired, "access token expired"), Math.min(ms, 2 ** 31 - 1));
    conn.expiryTimer.unref();
  }

  // op: auth — handled here because it changes the connection itself.
  ops.define<{ token: string }>("auth", async ({ connection }, { token }) => {
    let actor;
    try {
      actor = await accounts.authenticate(token);
    } catch (err) {
      if (!connection.actor) {
        // Close after the reply is flushed so that the client can read why.
        setImmediate(() => connection.close(CloseCode.authFailed, "authentication failed"));
      }
      throw err;
    }
    if (connection.actor) {
      // Renewal: only with a token of the same device, so a socket cannot change identity.
      if (connection.actor.deviceId !== actor.deviceId) throw new ParleyError("auth.invalid_token", "A renewal token must belong to the same device.");
      connection.actor = actor;
    } else {
      if (connection.closed) throw new ParleyError("auth.invalid_token");
      clearTimeout(connection.authTimer);
      connection.actor = actor;
      attach(connection);
      accounts.noteDeviceSeen(actor.deviceId, connection.address);
      connection.log.info({ userId: actor.userId, deviceId: actor.deviceId }, "socket authenticated");
      // After the auth reply: pushes kept for this user follow it, not precede it.
      setImmediate(() => bus.emit("session.authenticated", { userId: actor.userId, deviceId: actor.deviceId }));
    }
    armExpiry(connection);
    return { userId: actor.userId, deviceId: actor.deviceId, sessionId: connection.id, expiresAt: actor.expiresAt };
  });

  /** Every error reply goes out here, named after the op it answers (null before one is known). */
  function replyError(conn: Connection, id: string | number | null, op: string | null, error: WireError, label = op ?? frameLabel): void {
    deps.recordError?.("ws", op, error.code);
    metrics.observeOp(label, error.code);
    conn.replyError(id, error);
  }

  function refuse(conn: Connection, id: string | number | null, op: string | null, error: WireError, garbage: boolean, label?: string): void {
    replyError(conn, id, op, error, label);
    if (garbage && ++conn.garbage >= limits.ws_invalid_frames_before_close) {
      conn.close(CloseCode.protocolViolation, "too many invalid frames");
    }
  }

  async function handleFrame(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    // Frames can still arrive on a connection we have closed (they were read in the same chunk as
    // the one whose handling closed it, or before the peer saw our close). A closed connection's
    // session may have been revoked: none of them may act.
    if (conn.closed || conn.revoked) return;
    conn.alive = true;
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (size > limits.frame_bytes) {
      return refuse(conn, null, null, toWireError(new ParleyError("frame_too_large", undefined, { limit: limits.frame_bytes })), true);
    }
    if (isBinary) return refuse(conn, null, null, toWireError(new ParleyError("invalid_frame", "Frames must be JSON text frames.")), true);
    let frame: unknown;
    const text = data.toString();
    try {
      frame = JSON.parse(text);
    } catch {
      return refuse(conn, null, null, toWireError(new ParleyError("invalid_json")), true);
    }
    if (!validateRequest(frame)) {
      const maybeId = (frame as { id?: unknown })?.id;
      const id = typeof maybeId === "string" || typeof maybeId === "number" ? maybeId : null;
      const e = validateRequest.errors![0];
      return refuse(conn, id, null, toWireError(new ParleyError("invalid_frame", undefined, { path: e.instancePath || "/", reason: e.message })), true);
    }
    const { id, op: name, params = {} } = frame as { id: string | number; op: string; params?: Record<string, unknown> };
    const op = ops.get(name);
    if (!conn.takeBudget(Date.now())) {
      replyError(conn, id, name, toWireError(new ParleyError("rate_limited")), op ? name : unknownOpLabel);
      if (++conn.throttled > limits.ws_ops_burst) conn.close(CloseCode.rateLimited, "rate limit exceeded");
      return;
    }
    conn.throttled = 0;
    if (!op) return refuse(conn, id, null, toWireError(new ParleyError("unknown_op", `There is no op "${name}".`)), true, unknownOpLabel);
    if (op.requiresAuth && !conn.actor) return refuse(conn, id, name, toWireError(new ParleyError("auth.required", "Send auth with an access token first.")), false);
    if (!op.validateParams(params)) {
      const e = op.validateParams.errors![0];
      return refuse(conn, id, name, toWireError(new ParleyError("invalid_params", `params${e.instancePath} ${e.message}`, { path: e.instancePath || "/", reason: e.message })), true);
    }
    if (mayHoldSurrogates(text)) {
      const at = findIllFormedText(params);
      if (at) return refuse(conn, id, name, toWireError(new ParleyError("invalid_params", `params${at === "/" ? "" : at} ${illFormedReason}`, { path: at, reason: illFormedReason })), true);
    }
    if (conn.garbage > 0) conn.garbage--;
    try {
      const result = await op.handler({ actor: conn.actor!, connection: conn }, params);
      metrics.observeOp(name, "ok");
      conn.reply(id, result ?? {});
    } catch (err) {
      if (isDatabaseBusy(err)) conn.log.warn({ err, op: name }, "database busy: op answered unavailable");
      else if (!(err instanceof ParleyError)) conn.log.error({ err, op: name }, "op failed");
      replyError(conn, id, name, toWireError(err));
    }
  }

  app.get(websocketPath, { websocket: true }, (socket: WebSocket, request) => {
    const conn = new Connection(`ws_${randomBytes(6).toString("base64url")}`, socket, log.child({ session: "" }), request.ip ?? null, {
      sendBufferBytes: limits.ws_send_buffer_bytes,
      opsPerSecond: limits.ws_ops_per_second,
      opsBurst: limits.ws_ops_burst,
    }, stats);
    (conn as { log: Logger }).log = log.child({ session: conn.id, reqId: request.id });
    all.add(conn);
    conn.authTimer = setTimeout(() => {
      if (!conn.actor) conn.close(CloseCode.authFailed, "authentication timed out");
    }, limits.ws_auth_timeout_seconds * 1000);
    socket.on("message", (data, isBinary) => {
      handleFrame(conn, data, isBinary).catch((err) => conn.log.error({ err }, "frame handling failed"));
    });
    socket.on("pong", () => {
      conn.alive = true;
    });
    socket.on("close", () => {
      conn.closed = true;
      clearTimeout(conn.expiryTimer);
      clearTimeout(conn.authTimer);
      detach(conn);
    });
    socket.on("error", (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (isClientFault(code)) conn.log.debug({ code, reason: err.message }, "malformed frame or dropped connection");
      else conn.log.warn({ err }, "socket error");
    });
  });

  // Heartbeat: one timer for all sockets. A socket that did not answer the previous ping (or send
  // anything) within one period is dead (a vanished phone, a NAT that dropped the mapping).
  const heartbeat = setInterval(() => {
    for (const conn of all) {
      if (!conn.alive) {
        conn.log.debug("heartbeat timeout");
        conn.closed = true;
        conn.socket.terminate();
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
    }
  }, limits.ws_heartbeat_seconds * 1000);
  heartbeat.unref();

  const unsubscribe = [
    bus.on("device.revoked", ({ userId, deviceId, reason }) => {
      for (const conn of byUser.get(userId) ?? []) {
        if (conn.actor!.deviceId === deviceId) {
          // From now on its frames are dropped. The close waits one turn so that the reply to an
          // op that revoked this very device (device.revoke, logout over the socket) goes out
          // first: every request gets its reply.
          conn.revoked = true;
          conn.push("session.revoked", { reason });
          setImmediate(() => conn.close(CloseCode.sessionRevoked, `session revoked: ${reason}`));
        }
      }
    }),
    bus.on("profile.updated", ({ userId, originDeviceId, profile }) => {
      const set = byUser.get(userId);
      if (!set) return;
      const frame = JSON.stringify({ push: "profile.updated", data: profile });
      for (const conn of set) if (conn.actor!.deviceId !== originDeviceId) conn.sendRaw(frame);
    }),
  ];

  const hub: Hub = {
    connectionsOf: (userId) => byUser.get(userId),
    sendToUsers(userIds, frame, own) {
      // Encoded for the wire once, at the first recipient online; the same bytes go to all.
      let wire: Buffer | undefined;
      // The own user's connections are told apart by their set (one comparison of references per
      // recipient), and only when that user is online here.
      const ownSet = own === undefined ? undefined : byUser.get(own.userId);
      let ownWire: Buffer | undefined;
      for (const userId of userIds) {
        const set = byUser.get(userId);
        if (!set) continue;
        const bytes = set === ownSet ? (ownWire ??= textFrame(own!.frame())) : (wire ??= textFrame(typeof frame === "string" ? Buffer.from(frame) : frame));
        for (const conn of set) {
          if (conn.sendWire(bytes)) {
            // Plain additions, read only when /metrics is scraped (see TransportStats).
            stats.fanoutFrames++;
            stats.fanoutBytes += bytes.length;
          }
        }
      }
    },
    sendToMembers(members, frame, own) {
      // The smaller side is walked: a server with a few of a large room's members (a replica of a
      // community hosted elsewhere, say) looks at its own connected users, not at every member.
      if (members.size <= byUser.size) return hub.sendToUsers(members.keys(), frame, own);
      const online: string[] = [];
      for (const userId of byUser.keys()) if (members.has(userId)) online.push(userId);
      hub.sendToUsers(online, frame, own);
    },
    count: () => all.size,
    authenticatedCount() {
      let n = 0;
      for (const set of byUser.values()) n += set.size;
      return n;
    },
    closeAll() {
      clearInterval(heartbeat);
      for (const off of unsubscribe) off();
      for (const conn of all) conn.close(CloseCode.goingAway, "server going away");
    },
  };
  return hub;
}
