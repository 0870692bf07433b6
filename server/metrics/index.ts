import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ParleyError, toWireError } from "../errors.ts";

/**
 * Counts the transport keeps as plain numbers on its hot path (one addition per frame written),
 * read by the registry only when it is scraped: a prom-client `inc()` per recipient per event
 * would cost label hashing in the fan-out loop.
 */
export interface TransportStats {
  /** Bytes of room-event frames written to sockets by the fan-out (headers included). */
  fanoutBytes: number;
  /** Room-event frames written to sockets by the fan-out (one per recipient connection). */
  fanoutFrames: number;
  /** Connections closed with 4009 because their send buffer passed limits.ws_send_buffer_bytes. */
  slowConsumerCuts: number;
}

/** What the gauges read when scraped. Each is cheap: a counter, or one indexed SQL aggregate. */
export interface MetricSources {
  connections(): number;
  authenticatedConnections(): number;
  /** Reminders scheduled and not yet sent, and pushes kept for offline users. */
  reminderQueue(): { reminders: number; pendingPushes: number };
  /** Files stored (originals, previews not counted) and their bytes. */
  mediaStore(): { files: number; bytes: number };
  /** Bytes of uploads being received right now (counted against quotas until they finish). */
  uploadsInProgressBytes(): number;
}

/** One federation peer's delivery state, as the federation outbox will report it. */
export interface PeerStats {
  peer: string;
  /** Events queued for the peer and not yet acknowledged. */
  backlog: number;
  /** Consecutive failed delivery attempts to the peer (reset by a successful send). */
  failures: number;
}

/** Ops refused before any op was found: a label that cannot be chosen by the client. */
export const frameLabel = "(frame)";
export const unknownOpLabel = "(unknown)";

/**
 * The server's Prometheus metrics, in a registry of its own (tests run several servers in one
 * process). Every metric is listed with its meaning in docs/admin.md.
 */
export function createMetrics() {
  const registry = new Registry();
  const transport: TransportStats = { fanoutBytes: 0, fanoutFrames: 0, slowConsumerCuts: 0 };
  let sources: MetricSources | undefined;
  let defaultsOn = false;

  const ops = new Counter({
    name: "parley_ws_ops_total",
    help: "WebSocket requests by op and outcome: ok, or the error code of the refusal. Frames refused before an op was read count under op=\"(frame)\", names of no op under op=\"(unknown)\".",
    labelNames: ["op", "outcome"] as const,
    registers: [registry],
  });
  // One child per (op, outcome), found through two map lookups: no key string built per request.
  const opChildren = new Map<string, Map<string, Counter.Internal>>();

  const commitBatch = new Histogram({
    name: "parley_group_commit_commands",
    help: "Commands per group commit (one SQLite transaction per event-loop turn).",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: "parley_group_commit_seconds",
    help: "Time a group commit holds the event loop: the commands, their SQL and the COMMIT.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const roomEvents = new Counter({ name: "parley_room_events_total", help: "Room events committed.", registers: [registry] });

  new Counter({
    name: "parley_fanout_bytes_total",
    help: "Bytes of room-event frames written to WebSocket connections by the fan-out.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(transport.fanoutBytes);
    },
  });
  new Counter({
    name: "parley_fanout_frames_total",
    help: "Room-event frames written to WebSocket connections (one per recipient connection).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(transport.fanoutFrames);
    },
  });
  new Counter({
    name: "parley_ws_slow_consumer_closes_total",
    help: "Connections cut with close code 4009 because their send buffer passed limits.ws_send_buffer_bytes.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(transport.slowConsumerCuts);
    },
  });
  new Gauge({
    name: "parley_ws_connections",
    help: "Open WebSocket connections, by whether they have authenticated.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      if (!sources) return;
      const authenticated = sources.authenticatedConnections();
      this.set({ state: "authenticated" }, authenticated);
      this.set({ state: "unauthenticated" }, sources.connections() - authenticated);
    },
  });
  new Gauge({
    name: "parley_reminder_queue",
    help: "Event reminders scheduled and not yet sent (kind=reminders), and reminder pushes kept for users who were offline (kind=pending_pushes).",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      if (!sources) return;
      const q = sources.reminderQueue();
      this.set({ kind: "reminders" }, q.reminders);
      this.set({ kind: "pending_pushes" }, q.pendingPushes);
    },
  });
  new Gauge({
    name: "parley_media_store_bytes",
    help: "Bytes of the stored files (originals; previews not counted).",
    registers: [registry],
    collect() {
      if (sources) this.set(sources.mediaStore().bytes);
    },
  });
  new Gauge({
    name: "parley_media_store_files",
    help: "Stored files (each distinct content once).",
    registers: [registry],
    collect() {
      if (sources) this.set(sources.mediaStore().files);
    },
  });
  new Gauge({
    name: "parley_media_uploads_in_progress_bytes",
    help: "Bytes received of uploads still in progress, counted against their users' quotas until they finish or are cut.",
    registers: [registry],
    collect() {
      if (sources) this.set(sources.uploadsInProgressBytes());
    },
  });
  const uploads = new Counter({
    name: "parley_media_uploads_total",
    help: "Uploads by outcome: ok, or the error code of the refusal (media.too_large, media.quota_exceeded, ...).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const uploadBytes = new Counter({ name: "parley_media_upload_bytes_total", help: "Bytes of accepted uploads.", registers: [registry] });
  const loginFailures = new Counter({
    name: "parley_login_failures_total",
    help: "Refused logins (POST /api/v1/auth/login) by reason: auth.invalid_credentials, auth.too_many_attempts, auth.account_disabled.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: "parley_http_requests_total",
    help: "HTTP requests by method, route pattern (never the URL itself: it may hold an invite token) and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });

  let peerSource: (() => PeerStats[]) | undefined;

  return {
    registry,
    /** The transport's plain counters (see TransportStats). */
    transport,

    /** Starts reading the gauges from the running server's parts. */
    watch(s: MetricSources): void {
      sources = s;
    },

    /** Adds Node's process metrics (CPU, memory, event-loop lag, ...): only when metrics are served. */
    collectProcessMetrics(): void {
      if (defaultsOn) return;
      defaultsOn = true;
      collectDefaultMetrics({ register: registry });
    },

    /** Counts one WebSocket request's outcome: "ok" or an error code. */
    observeOp(op: string, outcome: string): void {
      let byOutcome = opChildren.get(op);
      if (!byOutcome) opChildren.set(op, (byOutcome = new Map()));
      let child = byOutcome.get(outcome);
      if (!child) byOutcome.set(outcome, (child = ops.labels(op, outcome)));
      child.inc();
    },

    /** The room core's hook: one call per group commit (not per event). */
    observeCommit(commands: number, events: number, ms: number): void {
      commitBatch.observe(commands);
      commitSeconds.observe(ms / 1000);
      if (events) roomEvents.inc(events);
    },

    /** Counts one upload: `refusal` null when it was accepted (with its bytes), else what refused it. */
    observeUpload(refusal: unknown, bytes: number): void {
      if (refusal === null) {
        uploads.labels("ok").inc();
        uploadBytes.inc(bytes);
      } else {
        uploads.labels(toWireError(refusal).code).inc();
      }
    },

    observeLoginFailure(err: unknown): void {
      if (err instanceof ParleyError) loginFailures.labels(err.code).inc();
    },

    observeHttp(method: string, route: string, status: number): void {
      httpRequests.labels(method, route, String(status)).inc();
    },

    /**
     * Federation's hook, for when it lands: the outbox passes a function listing each peer's
     * backlog and failures, and only then are the per-peer gauges registered, so that a server
     * without federation exports no federation metrics (rather than zeros that look like data).
     */
    addPeerSource(source: () => PeerStats[]): void {
      if (peerSource) throw new Error("a federation peer source is already registered");
      peerSource = source;
      new Gauge({
        name: "parley_federation_backlog_events",
        help: "Events queued for a federation peer and not yet acknowledged.",
        labelNames: ["peer"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const p of source()) this.set({ peer: p.peer }, p.backlog);
        },
      });
      new Gauge({
        name: "parley_federation_peer_failures",
        help: "Consecutive failed delivery attempts to a federation peer (back to 0 after a successful send).",
        labelNames: ["peer"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const p of source()) this.set({ peer: p.peer }, p.failures);
        },
      });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
