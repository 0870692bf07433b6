/**
 * A lean Parley client for the load generator: the `ws` package and the wire protocol, nothing
 * else (the SDK is not on the hot path, as the anchor uses a raw XMPP client). It implements what
 * the workloads need: open the socket, `auth`, request/reply for setup ops, fire-and-forget
 * `message.send`, and a fast path for `room.event` message pushes that extracts the body by
 * string search instead of JSON.parse (the bodies are ours: ASCII without quotes or escapes).
 */
import WebSocket from "ws";

const PUSH_EVENT = '{"push":"room.event"';
const BODY_KEY = '"body":"';
const TYPE_MESSAGE = '"type":"message"';

export interface ClientStats {
  /** `room.event` pushes of type message. */
  messages: number;
  /** Other `room.event` pushes (membership and state): the analogue of XMPP presences. */
  events: number;
  /** Everything else: replies and other pushes. */
  other: number;
}

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class BenchClient {
  readonly stats: ClientStats = { messages: 0, events: 0, other: 0 };
  /** Called once per delivered message event with its body. */
  onGroupMessage: ((body: string) => void) | null = null;
  /** Called for a reply to a fire-and-forget send (string id) that was refused. */
  onSendError: ((id: string, frame: string) => void) | null = null;
  sendReplies = 0;
  closed = false;
  userId = "";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    readonly ws: WebSocket,
    private readonly timeoutMs: number,
  ) {
    ws.on("message", (data: Buffer) => this.frame(data));
    ws.on("close", () => {
      this.closed = true;
      const err = new Error("socket closed");
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    });
    ws.on("error", () => {});
  }

  /** Opens a socket and authenticates it: a ready session, as the anchor's XMPP login. */
  static async connect(url: string, token: string, timeoutMs = 60_000): Promise<BenchClient> {
    // skipUTF8Validation: the bodies are ours; this client measures the server, not UTF-8 checks.
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, skipUTF8Validation: true });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const c = new BenchClient(ws, timeoutMs);
    const r = await c.request("auth", { token });
    c.userId = r.userId;
    return c;
  }

  private frame(data: Buffer): void {
    // Decoded as latin1 (one byte, one char: the cheapest decoding) to look at the frame's
    // structure, which is ASCII; so are the bodies of the bench's messages. Other frames are
    // decoded as UTF-8 before JSON.parse.
    const l = data.toString("latin1");
    if (l.startsWith(PUSH_EVENT)) {
      // The body is the last string of a message push: search from the end.
      const b = l.lastIndexOf(BODY_KEY);
      if (b !== -1 && l.includes(TYPE_MESSAGE)) {
        this.stats.messages++;
        if (this.onGroupMessage) {
          const start = b + BODY_KEY.length;
          this.onGroupMessage(l.slice(start, l.indexOf('"', start)));
        }
        return;
      }
      this.stats.events++;
      return;
    }
    this.stats.other++;
    const s = data.toString();
    if (s.startsWith('{"id":"')) {
      // Reply to a fire-and-forget send (string ids are only used for those).
      this.sendReplies++;
      if (!s.includes('"ok":true') && this.onSendError) this.onSendError(s.slice(7, s.indexOf('"', 7)), s);
      return;
    }
    if (s.startsWith('{"id":')) {
      const msg = JSON.parse(s) as { id: number; ok: boolean; result?: unknown; error?: { code: string; message: string } };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(Object.assign(new Error(`${msg.error?.code}: ${msg.error?.message}`), { code: msg.error?.code }));
    }
  }

  /** One request with a reply (setup ops); rejects on an error reply, a timeout or a close. */
  request(op: string, params: Record<string, unknown>): Promise<any> {
    if (this.closed) return Promise.reject(new Error("socket closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ id, op, params }));
    });
  }

  /** message.send without waiting: the id (a string) doubles as the txnId. */
  sendMessage(roomId: string, body: string, id: string): void {
    this.ws.send(`{"id":"${id}","op":"message.send","params":{"roomId":"${roomId}","body":"${body}","txnId":"${id}"}}`);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 5000);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000);
    });
  }
}
