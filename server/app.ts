import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import rateLimit from "@fastify/rate-limit";
import type { DestinationStream } from "pino";
import { loadProtocol } from "../protocol/index.ts";
import { randomToken } from "./random.ts";
import { loadServerKeys, type ServerKeys } from "../federation/keys.ts";
import { createFederation, type Federation } from "../federation/service.ts";
import { registerFederationRoutes } from "../federation/routes.ts";
import { createOutbox, federationStatus, type Outbox } from "../federation/outbox.ts";
import { createInbox } from "../federation/inbox.ts";
import { createGapFill, type GapFill } from "../federation/gapfill.ts";
import { forwardRemoteOps, forwardRemoteProfiles, proposedFile, relayEphemeralOps } from "../federation/forward.ts";
import { fetchHistoryOnDemand } from "../federation/history.ts";
import { createRemoteMedia } from "../federation/media.ts";
import { createPendingSends } from "../federation/pending.ts";
import { createArrivals } from "../federation/arrivals.ts";
import { createRemotePeople, nameRemotePeers } from "../federation/direct.ts";
import { createRemoteProfiles, type RemoteProfiles } from "../federation/profiles.ts";
import { createAccountNotices } from "../federation/accounts.ts";
import type { Config } from "./config/load.ts";
import { Bus } from "./core/bus.ts";
import { isDatabaseBusy, ParleyError, toWireError, statusOf } from "./errors.ts";
import { createLogger, loggerOptions, type Logger } from "./logger.ts";
import { openStorage, type Storage } from "./storage/database.ts";
import { createAccountStore } from "./accounts/store.ts";
import { createAccountService, type AccountService } from "./accounts/service.ts";
import { registerAccountRoutes } from "./accounts/routes.ts";
import { defineAccountOps } from "./accounts/ops.ts";
import { registerDiscoveryRoutes } from "./http/discovery.ts";
import { registerApiDocumentRoutes } from "./http/api-documents.ts";
import { OpRegistry } from "./ws/ops.ts";
import { createRoomStore } from "./rooms/store.ts";
import { createRoomCore, type RoomCore } from "./rooms/core.ts";
import { createSync } from "./rooms/sync.ts";
import { createCommunityQueries } from "./communities/queries.ts";
import { createCommunityService } from "./communities/service.ts";
import { defineCommunityOps } from "./communities/ops.ts";
import { createMessageQueries } from "./messages/queries.ts";
import { createMessageService } from "./messages/service.ts";
import { defineMessageOps } from "./messages/ops.ts";
import { createInviteService } from "./invites/service.ts";
import { createMediaStore } from "./media/store.ts";
import { createMediaService, type MediaService } from "./media/service.ts";
import { registerMediaRoutes } from "./media/routes.ts";
import { createPollService } from "./polls/service.ts";
import { definePollOps } from "./polls/ops.ts";
import { createCalendarService } from "./calendar/service.ts";
import { createCalendarQueries } from "./calendar/queries.ts";
import { defineCalendarOps } from "./calendar/ops.ts";
import { createReminderScheduler, type ReminderScheduler } from "./calendar/reminders.ts";
import { defineInviteOps, registerInviteRoutes } from "./invites/routes.ts";
import { registerWebSocketTransport, type Hub } from "./ws/transport.ts";
import { registerAdminRoutes } from "./admin/routes.ts";
import { createNotifyService, defineNotifyOps } from "./notify/service.ts";
import { createKeepService, defineKeepOps } from "./messages/keep.ts";
import { createPushService, type PushService } from "./push/service.ts";
import { definePushOps } from "./push/ops.ts";
import { createReportService, defineReportOps } from "./reports/service.ts";
import { createMetrics, type Metrics } from "./metrics/index.ts";
import { createMetricQueries } from "./metrics/queries.ts";
import { registerMetrics } from "./metrics/routes.ts";
import { createErrorRecorder } from "./error-log.ts";
import { findIllFormedText, illFormedReason } from "./wellformed.ts";
import { createDirectQueries } from "./direct/queries.ts";
import { createDirectService } from "./direct/service.ts";
import { defineDirectOps } from "./direct/ops.ts";
import { createSearchQueries } from "./search/queries.ts";
import { createSearchService } from "./search/service.ts";
import { defineSearchOps } from "./search/ops.ts";
import { registerWebClient } from "./web/static.ts";
import { createPublisher, fanOutToSockets, rescheduleReminders, type Publisher } from "./core/publish.ts";

export interface BuildOptions {
  /** Where log lines go (tests pass a sink); defaults to stdout. */
  logStream?: DestinationStream;
  /** The clock, for tests of expiry. */
  now?: () => number;
  /** Use this SQLite file name inside data_dir (":memory:" for throwaway tests). */
  databaseFile?: string;
  /** Check every room event's content against protocol/events (tests; costs a little per event). */
  checkEvents?: boolean;
}

export interface Parley {
  config: Config;
  log: Logger;
  storage: Storage;
  bus: Bus;
  keys: ServerKeys;
  accounts: AccountService;
  ops: OpRegistry;
  hub: Hub;
  rooms: RoomCore;
  publisher: Publisher;
  federation: Federation;
  outbox: Outbox;
  /** Profiles of users of other servers kept here (federation/profiles.ts). */
  remoteProfiles: RemoteProfiles;
  gapFill: GapFill;
  media: MediaService;
  reminders: ReminderScheduler;
  push: PushService;
  metrics: Metrics;
  /** The address of the separate metrics listener (metrics.listen), once it listens. */
  metricsAddress(): string | null;
}

declare module "fastify" {
  interface FastifyInstance {
    parley: Parley;
  }
}

/**
 * Builds the whole server from a resolved config: storage (migrated), services, HTTP routes and
 * the WebSocket transport. It does not listen; main.ts and the tests do. Closing the app closes
 * the sockets (1001), then the database.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const log = createLogger(config.log.level, options.logStream);
  const protocol = loadProtocol();
  const storage = openStorage(config.storage.data_dir, {
    file: options.databaseFile,
    backgroundCheckpoints: { onError: (err) => log.error({ err }, "SQLite checkpointer") },
  });
  const bus = new Bus();
  const keys = await loadServerKeys(storage, options.now);
  const accounts = createAccountService({ config, store: createAccountStore(storage), bus, log: log.child({ area: "accounts" }), now: options.now });
  const ops = new OpRegistry(protocol);
  const metrics = createMetrics();
  const roomStore = createRoomStore(storage);
  const rooms = createRoomCore({
    observeCommit: metrics.observeCommit,
    store: roomStore,
    serverName: config.server.name,
    log: log.child({ area: "rooms" }),
    now: options.now,
    checkContent: options.checkEvents
      ? (type, content) => {
          const validate = protocol.validator(`event/${type}`);
          return validate(content) ? null : `${validate.errors![0].instancePath} ${validate.errors![0].message}`;
        }
      : undefined,
    limits: {
      groupsPerCommunity: config.rooms.groups_per_community,
      membersPerGroup: config.rooms.members_per_group,
      membersPerCommunity: config.rooms.members_per_community,
      adminsPerCommunity: config.rooms.admins_per_community,
      messageChars: config.limits.message_chars,
      deleteWindowMs: config.rooms.delete_for_everyone_seconds * 1000,
    },
  });
  const media = createMediaService({
    store: createMediaStore(storage),
    dataDir: config.storage.data_dir,
    maxBytes: config.limits.upload_bytes,
    quotaBytes: config.media.user_quota_bytes,
    blockedTypes: config.media.blocked_types,
    previewPixels: config.media.preview_pixels,
    graceMs: config.media.gc_grace_seconds * 1000,
    log: log.child({ area: "media" }),
    now: options.now,
  });
  const communityQueries = createCommunityQueries(storage);
  const communities = createCommunityService(rooms, communityQueries, (actor, id) => void media.requireImage(actor, id));
  let hubRef: Hub | undefined;
  const messageQueries = createMessageQueries(storage);
  const messages = createMessageService(rooms, messageQueries, () => hubRef!, media, options.now);
  const notify = createNotifyService({ storage, core: rooms, now: options.now });
  const keep = createKeepService({ storage, core: rooms, messages, queries: messageQueries, now: options.now });
  const polls = createPollService(rooms, messages);
  const calendar = createCalendarService(rooms, messages, createCalendarQueries(storage), options.now);
  const push = createPushService({
    storage,
    hub: () => hubRef!,
    log: log.child({ area: "push" }),
    serverName: config.server.name,
    publicUrl: config.server.public_url,
    ttlSeconds: config.push.ttl_seconds,
    retryDelaysMs: config.push.retry_delays_ms,
    allowHttpEndpoints: config.push.allow_http_endpoints,
    now: options.now,
    roomState: rooms.state,
    settingsOf: notify.settingsOf,
    senderOf: (roomId, seq) => messageQueries.findMessage(roomId, seq)?.sender,
  });
  const reminders = createReminderScheduler({ storage, hub: () => hubRef!, log: log.child({ area: "reminders" }), now: options.now, self: config.server.name, remindOffline: push.remindOffline });
  const reports = createReportService({ storage, core: rooms, messages, queries: messageQueries, communities, tell: push.tell, userExists: communityQueries.userExists, now: options.now });
  const direct = createDirectService({ core: rooms, queries: createDirectQueries(storage), messages, openTo: config.direct.open_to, serverName: config.server.name, now: options.now });
  /** Names of users of other servers, as their servers answer: set once federation is composed (below). */
  let remoteNames: (ids: string[]) => Promise<Map<string, { displayName: string; avatar: string | null }>> = async () => new Map();
  const search = createSearchService({ core: rooms, queries: createSearchQueries(storage), communities: communityQueries, openTo: config.direct.open_to, serverName: config.server.name, remoteNames: (ids) => remoteNames(ids), indexSearch: () => roomStore.indexSearch() });
  const invites = createInviteService({ storage, core: rooms, communities, publicUrl: config.server.public_url });

  const timeouts = config.timeouts;
  const app = Fastify({
    loggerInstance: log,
    // Bounds that a slow or silent client cannot stretch (config [timeouts]): the headers, the
    // whole request, and an idle kept-alive connection. Node checks the first two every
    // connectionsCheckingInterval, so that interval follows the shorter of them.
    requestTimeout: timeouts.request_seconds * 1000,
    keepAliveTimeout: timeouts.keep_alive_seconds * 1000,
    http: {
      headersTimeout: Math.min(timeouts.headers_seconds, timeouts.request_seconds) * 1000,
      connectionsCheckingInterval: Math.min(5000, Math.max(250, (Math.min(timeouts.headers_seconds, timeouts.request_seconds) * 1000) / 4)),
    },
    genReqId: () => `rq_${randomToken(6)}`,
    bodyLimit: Math.max(config.limits.frame_bytes, 65536),
    // Behind a reverse proxy the client's address is in X-Forwarded-For; rate limits and login
    // throttling need it, or every client would share the proxy's address.
    trustProxy: config.server.trust_proxy,
  }) as unknown as FastifyInstance; // our pino Logger is wider than FastifyBaseLogger
  app.setValidatorCompiler(({ schema }) => protocol.ajv.compile(schema));

  // The error contract: with PARLEY_ERROR_LOG set (npm test), every error answer is recorded
  // with the endpoint's name, for scripts/check-error-contract.ts.
  const recordError = createErrorRecorder();
  const endpointOf = new Map<string, string>();
  // Schema paths name parameters `{id}`, Fastify's routes `:id`.
  const routeOf = (method: string, path: string) => `${method} ${path.replace(/\{([^}]+)\}/g, ":$1")}`;
  for (const [name, doc] of protocol.http) endpointOf.set(routeOf(doc["x-parley"]!.method!, doc["x-parley"]!.path!), name);
  // The server-to-server endpoints, named after their schemas (protocol/federation/<name>.json).
  for (const [name, doc] of protocol.federation) endpointOf.set(routeOf(doc["x-parley"]!.method!, doc["x-parley"]!.path!), `federation/${name}`);
  const endpointName = (request: { method: string; routeOptions: { url?: string } }) =>
    endpointOf.get(`${request.method === "HEAD" ? "GET" : request.method} ${request.routeOptions.url ?? ""}`) ?? null;

  app.setErrorHandler((err: FastifyError | ParleyError, request, reply) => {
    let wire;
    let status;
    if (err instanceof ParleyError) {
      wire = toWireError(err);
      status = err.status;
    } else if ((err as FastifyError).validation) {
      const v = (err as FastifyError).validation![0];
      wire = toWireError(new ParleyError("bad_request", `body${v.instancePath} ${v.message}`, { path: v.instancePath || "/", reason: v.message }));
      status = 400;
    } else if ((err as FastifyError).code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      wire = toWireError(new ParleyError("payload_too_large"));
      status = 413;
    } else if ((err as FastifyError).statusCode === 429) {
      wire = toWireError(new ParleyError("rate_limited"));
      status = 429;
    } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
      // Fastify's own 4xx (bad JSON, wrong content type, empty body): the request is malformed.
      wire = toWireError(new ParleyError("bad_request", err.message));
      status = (err as FastifyError).statusCode!;
    } else if (isDatabaseBusy(err)) {
      // Nothing was written: the client (or peer) may repeat the request at once.
      request.log.warn({ err }, "database busy: request answered 503");
      wire = toWireError(err);
      status = statusOf(err);
      reply.header("retry-after", "1");
    } else {
      request.log.error({ err }, "request failed");
      wire = toWireError(err);
      status = statusOf(err);
    }
    recordError?.("http", endpointName(request), wire.code);
    return reply.code(status).send({ error: wire });
  });
  app.setNotFoundHandler((_request, reply) => {
    recordError?.("http", null, "not_found");
    return reply.code(404).send({ error: toWireError(new ParleyError("not_found")) });
  });

  // Text must be well-formed Unicode (server/wellformed.ts): a JSON body with an unpaired
  // surrogate is refused before any route sees it.
  app.addHook("preValidation", async (request) => {
    if (request.body === null || typeof request.body !== "object" || Buffer.isBuffer(request.body)) return;
    const at = findIllFormedText(request.body);
    if (at) throw new ParleyError("bad_request", `body${at === "/" ? "" : at} ${illFormedReason}`, { path: at, reason: illFormedReason });
  });

  await app.register(rateLimit, {
    max: config.limits.http_requests_per_minute,
    timeWindow: "1 minute",
    errorResponseBuilder: () => new ParleyError("rate_limited"),
  });

  const metricsListener = registerMetrics(app, metrics, config);
  const federation = createFederation({ config, storage, keys, log: log.child({ area: "federation" }), now: options.now });
  registerDiscoveryRoutes(app, { config, keys, storage });
  registerApiDocumentRoutes(app, protocol, config.server.public_url);
  const outbox = createOutbox({ storage, rooms, federation, keys, log: log.child({ area: "federation" }), now: options.now });
  // This server's copies of events sequenced elsewhere, for the replies and outcomes of its users' ops there.
  const sync = createSync(storage);
  const arrivals = createArrivals(storage, sync.head, (roomId) => rooms.state(roomId)?.seq ?? 0);
  const pending = createPendingSends({ storage, federation, hub: () => hubRef!, log: log.child({ area: "federation" }), now: options.now, fileOf: (sender, op, params) => proposedFile(media, sender, op, params), arrivals });
  const remoteMedia = createRemoteMedia({ federation, media, storage, maxBytes: config.limits.upload_bytes, log: log.child({ area: "federation" }) });
  const remoteProfiles = createRemoteProfiles({ federation, media, storage, log: log.child({ area: "federation" }), now: options.now, hub: () => hubRef! });
  const accountNotices = createAccountNotices({ federation, storage, log: log.child({ area: "federation" }), now: options.now, state: (roomId) => rooms.state(roomId) });
  const remotePeople = createRemotePeople({ federation, storage, profiles: remoteProfiles, log: log.child({ area: "federation" }), now: options.now });
  if (federation.enabled) {
    direct.useRemote(remotePeople.remote);
    remoteNames = remoteProfiles.names;
  }
  const inbox = createInbox({ rooms, storage, peers: federation.peers, log: log.child({ area: "federation" }), messages, self: config.server.name });
  const gapFill = createGapFill({ federation, inbox, rooms, log: log.child({ area: "federation" }) });
  await registerFederationRoutes(app, { federation, protocol, accounts, inbox, outbox, ops, rooms, storage, keys, pending, media, remoteMedia, direct, remotePeople, remoteProfiles, accountNotices, gapFill });
  await registerAccountRoutes(app, accounts, { registrationsPerMinute: config.limits.registrations_per_minute });
  registerInviteRoutes(app, invites, media);
  await registerMediaRoutes(app, { accounts, media, uploadIdleSeconds: timeouts.upload_idle_seconds, observeUpload: metrics.observeUpload, fetchRemote: remoteMedia.fetchFor, fetchAvatar: remoteMedia.fetchAvatar });
  await registerWebClient(app);
  defineAccountOps(ops, accounts, config.server.name, media);
  defineCommunityOps(ops, communities, communityQueries, rooms);
  defineMessageOps(ops, messages, sync);
  defineInviteOps(ops, invites);
  definePollOps(ops, polls);
  defineCalendarOps(ops, calendar);
  defineNotifyOps(ops, notify);
  defineKeepOps(ops, keep);
  definePushOps(ops, push);
  defineReportOps(ops, reports);
  defineDirectOps(ops, direct);
  defineSearchOps(ops, search);
  // Ops on rooms hosted elsewhere go to their home as signed proposals.
  if (federation.enabled) {
    forwardRemoteOps(ops, federation, pending, storage, media, arrivals, remoteMedia);
    relayEphemeralOps(ops, outbox);
    forwardRemoteProfiles(ops, federation, remoteProfiles);
    nameRemotePeers(ops, config.server.name, remoteProfiles.names);
    fetchHistoryOnDemand({ ops, federation, rooms, queries: messageQueries, storage, log: log.child({ area: "federation" }) });
  }
  const hub = await registerWebSocketTransport(app, { config, protocol, ops, accounts, bus, log, metrics, now: options.now, recordError });
  hubRef = hub;
  const metricQueries = createMetricQueries(storage);
  metrics.watch({ connections: hub.count, authenticatedConnections: hub.authenticatedCount, uploadsInProgressBytes: media.receivingBytes, ...metricQueries });
  // Committed batches leave the core through the publisher: reminders, the WebSocket fan-out, Web
  // Push (after the live fan-out, to members with no connected device), the federation outbox.
  const publisher = createPublisher(rooms, log.child({ area: "publish" }));
  publisher.subscribe("reminders", rescheduleReminders(reminders));
  publisher.subscribe("websocket", fanOutToSockets(hub, rooms));
  publisher.subscribe("push", (batch) => push.dispatch(batch));
  if (federation.enabled) {
    publisher.subscribe("federation", outbox.onBatch);
    publisher.subscribe("arrivals", arrivals.onBatch);
    // A remote user joining a room held here: their profile is fetched ahead (people search).
    publisher.subscribe("remote-profiles", remoteProfiles.onBatch);
    // A message deleted for everyone: a copy of its file fetched from another server goes at once.
    publisher.subscribe("remote-media", remoteMedia.onBatch);
    metrics.addPeerSource(() => federationStatus(storage).map((p) => ({ peer: p.server, backlog: p.backlog, failures: p.failures })));
  }
  bus.on("device.revoked", ({ userId, deviceId }) => push.dropDevice(userId, deviceId));
  if (federation.enabled) {
    // A local user's new profile reaches the servers sharing a room with them (profile-update).
    bus.on("profile.updated", ({ profile }) => accountNotices.tellChanged(profile));
    // A purged account: its blocks' withdrawals (kept by the purge) are told now, the servers of
    // its former rooms drop its profile, and it leaves the rooms hosted elsewhere.
    bus.on("account.purged", ({ userId, rooms: former, elsewhere }) => {
      remotePeople.start();
      accountNotices.tellPurged(userId, former, elsewhere);
    });
  }

  bus.on("session.authenticated", ({ userId }) => {
    try {
      reminders.deliverPending(userId);
    } catch (err) {
      log.error({ err }, "pending push delivery failed");
    }
  });
  reminders.start();
  // Once listening (peers fetch our keys to check what we send): wake the peers we owe events.
  app.addHook("onListen", async () => {
    if (federation.enabled) {
      outbox.start();
      pending.start();
      remotePeople.start();
      remoteProfiles.start();
      accountNotices.start();
    }
  });
  // Unreferenced files are collected hourly (and once shortly after start).
  const gc = setInterval(() => {
    media.collectGarbage().catch((err) => log.error({ err }, "media collection failed"));
    accounts.sweepExpiredTokens();
  }, 3_600_000);
  gc.unref();
  const firstGc = setTimeout(() => media.collectGarbage().catch((err) => log.error({ err }, "media collection failed")), 60_000);
  firstGc.unref();

  // Revocations made by other processes (the CLI) reach live sockets within a few seconds.
  let revocationsCheckedAt = (options.now ?? Date.now)();
  const revocationPoll = setInterval(() => {
    const at = (options.now ?? Date.now)();
    try {
      accounts.announceRevocationsSince(revocationsCheckedAt - 1000);
    } catch (err) {
      log.error({ err }, "revocation poll failed");
    }
    revocationsCheckedAt = at;
  }, 5000);
  revocationPoll.unref();

  app.decorate("parley", { config, log, storage, bus, keys, accounts, ops, hub, rooms, publisher, federation, outbox, remoteProfiles, gapFill, media, reminders, push, metrics, metricsAddress: metricsListener.address });
  registerAdminRoutes(app, app.parley);
  app.addHook("onClose", async () => {
    clearInterval(gc);
    clearTimeout(firstGc);
    clearInterval(revocationPoll);
    reminders.stop();
    push.close();
    outbox.stop();
    pending.stop();
    remotePeople.stop();
    remoteProfiles.stop();
    accountNotices.stop();
    federation.close();
    // Commands accepted before the close still commit: nothing a user sent is dropped.
    rooms.close();
    try {
      // A clean stop leaves the search index whole (a crash leaves it to the next start's first batch).
      roomStore.indexSearch();
    } catch (err) {
      log.warn({ err }, "could not bring the search index up to date before closing");
    }
    storage.close();
  });
  return app;
}

export { loggerOptions };
