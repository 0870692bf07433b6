/**
 * The Parley TypeScript SDK: HTTP authentication plus one WebSocket per device, with typed
 * requests (types derived from protocol/), pushes, token renewal and reconnection with backoff.
 * It works in Node (pass `WebSocket` from the `ws` package) and in browsers (global WebSocket).
 */
import type { Protocol, ErrorBody } from "./protocol.gen.ts";

export type * from "./protocol.gen.ts";

export type OpName = keyof Protocol["ops"];
export type OpParams<K extends OpName> = Protocol["ops"][K]["params"];
export type OpResult<K extends OpName> = Protocol["ops"][K]["result"];
export type PushName = keyof Protocol["pushes"];
export type PushData<K extends PushName> = Protocol["pushes"][K];
export type Session = Protocol["http"]["auth.login"]["response"];
export type RoomEvent = PushData<"room.event">;
export type EventType = keyof Protocol["events"];
/** The `content` of a room event of type K (protocol/events). */
export type EventContent<K extends EventType> = Protocol["events"][K];

/** A refusal from the server, over HTTP or WebSocket, with its catalogue code. */
export class ParleyRequestError extends Error {
  readonly code: string;
  readonly status?: number;
  readonly details?: Record<string, unknown>;
  constructor(error: ErrorBody, status?: number) {
    super(`${error.code}: ${error.message}`);
    this.name = "ParleyRequestError";
    this.code = error.code;
    this.status = status;
    this.details = error.details as Record<string, unknown> | undefined;
  }
}

/** The subset of the WebSocket interface the SDK uses; both `ws` and browsers provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** The WebSocket implementation; defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect after unexpected closes (default true). */
  reconnect?: boolean;
  /** Backoff bounds for reconnection, in ms (default 250 to 30,000). */
  backoff?: { initialMs: number; maxMs: number };
  /** A request that gets no reply in this time fails with code "timeout" (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** Called whenever the tokens change, so that an app can persist them. */
  onSession?: (session: Session) => void;
  /**
   * Resume the sync stream on every connect from this position (the `pos` of the last room
   * event the app has). Missed events are delivered as `room.event` pushes, in order, before
   * live ones, each exactly once. Omit to start from "now".
   */
  syncFrom?: number;
}

/** Close codes after which reconnecting cannot help: the session is gone. */
const finalCloseCodes = new Set([4001, 4003]);

type PushHandler = (data: any) => void;

export async function httpRequest<T>(baseUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : {};
  if (!res.ok) throw new ParleyRequestError(json.error ?? { code: "http_error", message: `HTTP ${res.status}` }, res.status);
  return json as T;
}

export class ParleyClient {
  session: Session;
  readonly options: Required<Omit<ClientOptions, "onSession" | "WebSocket" | "syncFrom">> & Pick<ClientOptions, "onSession" | "WebSocket">;
  /** The stream position of the last room event delivered to the app (null before the first sync). */
  pos: number | null;
  /** Live room events that arrived while a catch-up sync was running; released after it. */
  private held: RoomEvent[] | null = null;
  /** The last close code seen, for apps that show why a connection ended. */
  lastClose: { code: number; reason: string } | null = null;
  private socket: WebSocketLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly handlers = new Map<string, Set<PushHandler>>();
  private closedByUser = false;
  private attempts = 0;
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectPending = false;
  private connecting: Promise<OpResult<"auth">> | null = null;

  constructor(session: Session, options: ClientOptions) {
    this.session = session;
    this.pos = options.syncFrom ?? null;
    this.options = {
      reconnect: true,
      backoff: { initialMs: 250, maxMs: 30_000 },
      requestTimeoutMs: 30_000,
      ...options,
    };
  }

  static async register(options: ClientOptions, body: Protocol["http"]["auth.register"]["request"]): Promise<ParleyClient> {
    const session = await httpRequest<Session>(options.baseUrl, "POST", "/api/v1/auth/register", body);
    options.onSession?.(session);
    return new ParleyClient(session, options);
  }

  static async login(options: ClientOptions, body: Protocol["http"]["auth.login"]["request"]): Promise<ParleyClient> {
    const session = await httpRequest<Session>(options.baseUrl, "POST", "/api/v1/auth/login", body);
    options.onSession?.(session);
    return new ParleyClient(session, options);
  }

  get userId(): string {
    return this.session.userId;
  }
  get deviceId(): string {
    return this.session.deviceId;
  }
  get connected(): boolean {
    return this.socket !== null && this.socket.readyState === 1;
  }

  /** An authenticated HTTP call with the current access token. */
  http<T>(method: string, path: string, body?: unknown): Promise<T> {
    return httpRequest<T>(this.options.baseUrl, method, path, body, this.session.accessToken);
  }

  /** Trades the refresh token for new tokens (and renews the live socket's authentication). */
  async refresh(): Promise<Session> {
    this.session = await httpRequest<Session>(this.options.baseUrl, "POST", "/api/v1/auth/refresh", { refreshToken: this.session.refreshToken });
    this.options.onSession?.(this.session);
    if (this.connected) await this.request("auth", { token: this.session.accessToken });
    this.scheduleRenewal();
    return this.session;
  }

  async logout(): Promise<void> {
    await this.http("POST", "/api/v1/auth/logout");
    this.close();
  }

  /** Opens the socket and authenticates. Resolves with the `auth` result. */
  connect(): Promise<OpResult<"auth">> {
    if (this.connecting) return this.connecting;
    this.closedByUser = false;
    const WS = this.options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error("no WebSocket implementation: pass options.WebSocket");
    const url = `${this.options.baseUrl.replace(/^http/, "ws")}/api/v1/ws`;
    this.connecting = new Promise<OpResult<"auth">>((resolve, reject) => {
      const socket = new WS(url);
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        // Hold live events until the catch-up below has delivered what was missed.
        this.held = [];
        this.request("auth", { token: this.session.accessToken })
          .then(async (result) => {
            await this.catchUp();
            return result;
          })
          .then(
          (result) => {
            this.attempts = 0;
            this.connecting = null;
            this.scheduleRenewal();
            this.emit("connected", result);
            resolve(result);
          },
          (err) => {
            this.connecting = null;
            reject(err);
          },
        );
      };
      socket.onmessage = (ev) => this.onFrame(String(ev.data));
      socket.onerror = () => {
        if (!opened) {
          this.connecting = null;
          reject(new Error(`cannot connect to ${url}`));
        }
      };
      socket.onclose = (ev) => {
        this.lastClose = { code: ev.code, reason: ev.reason };
        if (this.socket === socket) this.socket = null;
        this.connecting = null;
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new ParleyRequestError({ code: "disconnected", message: `connection closed (${ev.code})` }));
        }
        this.pending.clear();
        this.emit("disconnected", { code: ev.code, reason: ev.reason });
        if (!opened) reject(new Error(`cannot connect to ${url}`));
        this.maybeReconnect(ev.code);
      };
    });
    return this.connecting;
  }

  /** Sends one request and resolves with its result, or rejects with a ParleyRequestError. */
  request<K extends OpName>(op: K, params: OpParams<K>): Promise<OpResult<K>> {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return Promise.reject(new ParleyRequestError({ code: "disconnected", message: "not connected" }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ParleyRequestError({ code: "timeout", message: `no reply to ${op} in time` }));
      }, this.options.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ id, op, params }));
    });
  }

  /** Sends raw text on the socket: for tests of the server's framing, not for applications. */
  sendRaw(text: string): void {
    this.socket?.send(text);
  }

  /** Subscribes to a push (or to "connected", "disconnected", "reply:null"). Returns an unsubscribe. */
  on<K extends PushName>(name: K, handler: (data: PushData<K>) => void): () => void;
  on(name: string, handler: PushHandler): () => void;
  on(name: string, handler: PushHandler): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  /** Resolves with the next push of that name. */
  next<K extends PushName>(name: K, timeoutMs?: number): Promise<PushData<K>>;
  next(name: string, timeoutMs?: number): Promise<any>;
  next(name: string, timeoutMs = 5000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(name, (data) => {
        clearTimeout(timer);
        off();
        resolve(data);
      });
    });
  }

  /** Closes the socket for good (no reconnection). */
  close(code = 1000): void {
    this.closedByUser = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectPending = false;
    this.socket?.close(code);
  }

  /**
   * Pages the sync stream from `pos` to the present, delivering each event once, then releases
   * live events held meanwhile (dropping those the catch-up already delivered).
   */
  private async catchUp(): Promise<void> {
    let caughtUp = false;
    try {
      if (this.pos === null) {
        // Starting from "now": the moment of authentication. Live events pushed since then
        // (held) are newer than that moment even if the position below already covers them.
        const head = (await this.request("sync", {})).pos;
        this.pos = this.held && this.held.length ? Math.min(head, this.held[0].pos - 1) : head;
      } else {
        for (;;) {
          const page = await this.request("sync", { since: this.pos, limit: 500 });
          for (const e of page.events) this.deliverEvent(e as RoomEvent, true);
          this.pos = Math.max(this.pos ?? 0, page.pos);
          if (!page.more) break;
        }
      }
      caughtUp = true;
    } finally {
      const held = this.held ?? [];
      this.held = null;
      // After a failed catch-up (the socket died mid-sync) the held events lie beyond a gap:
      // delivering them would move `pos` past events never seen. The next connect syncs them.
      if (caughtUp) for (const e of held) this.deliverEvent(e);
    }
  }

  private deliverEvent(e: RoomEvent, fromSync = false): void {
    if (this.held && !fromSync) {
      this.held.push(e);
      return;
    }
    if (this.pos !== null && e.pos <= this.pos) return;
    this.pos = e.pos;
    this.emit("room.event", e);
  }

  private emit(name: string, data: unknown): void {
    for (const h of this.handlers.get(name) ?? []) h(data);
  }

  private onFrame(text: string): void {
    let frame: any;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame && typeof frame.push === "string") {
      if (frame.push === "room.event") this.deliverEvent(frame.data as RoomEvent);
      else this.emit(frame.push, frame.data);
      return;
    }
    const waiter = typeof frame?.id === "number" ? this.pending.get(frame.id) : undefined;
    if (!waiter) {
      // Replies to frames the server could not attribute (id null), e.g. invalid JSON.
      this.emit("reply:null", frame);
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(waiter.timer);
    if (frame.ok) waiter.resolve(frame.result);
    else waiter.reject(new ParleyRequestError(frame.error));
  }

  /** Refreshes the tokens a little before the access token expires. */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const lead = Math.min(60_000, (this.session.accessTokenExpiresAt - Date.now()) / 5);
    // Clamped to what setTimeout can hold (about 24.8 days); past that it would fire at once.
    const ms = Math.min(2 ** 31 - 1, Math.max(1000, this.session.accessTokenExpiresAt - Date.now() - lead));
    this.renewTimer = setTimeout(() => {
      this.refresh().catch(() => {
        /* the socket will close with 4002 and reconnect logic reports it */
      });
    }, ms);
    (this.renewTimer as { unref?: () => void }).unref?.();
  }

  private maybeReconnect(code: number): void {
    if (this.closedByUser || !this.options.reconnect || finalCloseCodes.has(code)) {
      clearTimeout(this.renewTimer);
      return;
    }
    // One reconnection at a time: a failed attempt reports both through its close and its
    // rejection, and must not schedule two.
    if (this.reconnectPending) return;
    this.reconnectPending = true;
    const { initialMs, maxMs } = this.options.backoff;
    const delay = Math.min(maxMs, initialMs * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectPending = false;
      try {
        if (code === 4002 || this.session.accessTokenExpiresAt <= Date.now()) {
          this.session = await httpRequest<Session>(this.options.baseUrl, "POST", "/api/v1/auth/refresh", { refreshToken: this.session.refreshToken });
          this.options.onSession?.(this.session);
        }
        await this.connect();
      } catch {
        if (!this.socket) this.maybeReconnect(code);
      }
    }, delay);
    (this.reconnectTimer as { unref?: () => void }).unref?.();
  }
}
