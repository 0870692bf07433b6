/**
 * A lean Parley client for the load generator: the wire protocol and nothing else (the SDK is not
 * on the hot path, as the anchor uses a raw XMPP client). It implements what the workloads need:
 * open the socket, `auth`, request/reply for setup ops, fire-and-forget `message.send`, and a fast
 * path for `room.event` message pushes that extracts the body by string search instead of
 * JSON.parse (the bodies are ours: ASCII without quotes or escapes).
 *
 * Two wires carry the frames. `raw` (the default) does the WebSocket upgrade with node:http and
 * then reads and writes RFC 6455 frames on the TCP socket itself: unmasked server frames parsed in
 * place, client frames masked with a random key, pings answered, no fragmentation (the server
 * never fragments). It exists for the reason the anchor's raw XMPP driver exists: the load
 * generator shares the two cores with the server, and every microsecond it spends per delivery
 * is taken from the server. `ws` uses the ws library, as before, for comparison.
 */
import { randomBytes, randomFillSync } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";
import WebSocket from "ws";

export type Driver = "raw" | "ws";

/** What the client needs from a connection: send a text frame, close, and be told of frames. */
interface Wire {
  send(text: string): void;
  close(code: number): void;
  terminate(): void;
}

interface WireEvents {
  frame(data: Buffer): void;
  closed(): void;
}

function wsWire(url: string, timeoutMs: number, on: WireEvents): Promise<Wire> {
  // skipUTF8Validation: the bodies are ours; this client measures the server, not UTF-8 checks.
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, skipUTF8Validation: true });
  ws.on("message", (data: Buffer) => on.frame(data));
  ws.on("close", () => on.closed());
  ws.on("error", () => {});
  return new Promise((resolve, reject) => {
    ws.once("open", () =>
      resolve({
        send: (text) => ws.send(text),
        close: (code) => ws.close(code),
        terminate: () => ws.terminate(),
      }),
    );
    ws.once("error", reject);
  });
}

/** Masks for client frames, taken four bytes at a time from a pooled random buffer. */
const maskPool = Buffer.alloc(4096);
let maskOffset = maskPool.length;

function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  if (maskOffset === maskPool.length) {
    randomFillSync(maskPool);
    maskOffset = 0;
  }
  const m = head - 4;
  maskPool.copy(out, m, maskOffset, maskOffset + 4);
  maskOffset += 4;
  for (let i = 0; i < len; i++) out[head + i] = payload[i] ^ out[m + (i & 3)];
  return out;
}

function rawWire(url: string, timeoutMs: number, on: WireEvents): Promise<Wire> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      timeout: timeoutMs,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64") },
    });
    req.on("timeout", () => req.destroy(new Error("handshake timed out")));
    req.on("error", reject);
    req.on("response", (res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    req.on("upgrade", (_res, socket: Socket, head: Buffer) => {
      socket.setNoDelay(true);
      let buf: Buffer = head;
      let closed = false;
      let closeSent = false;
      const finish = () => {
        if (closed) return;
        closed = true;
        on.closed();
      };
      socket.on("close", finish);
      socket.on("error", () => {});
      const onData = (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        let at = 0;
        while (buf.length - at >= 2) {
          const opcode = buf[at] & 0x0f;
          let len = buf[at + 1] & 0x7f;
          let head = 2;
          if (len === 126) {
            if (buf.length - at < 4) break;
            len = buf.readUInt16BE(at + 2);
            head = 4;
          } else if (len === 127) {
            if (buf.length - at < 10) break;
            len = Number(buf.readBigUInt64BE(at + 2));
            head = 10;
          }
          if (buf.length - at < head + len) break;
          const payload = buf.subarray(at + head, at + head + len);
          at += head + len;
          if (opcode === 1) on.frame(payload);
          else if (opcode === 9) socket.write(clientFrame(0x0a, payload));
          else if (opcode === 8) {
            // The server's close: echo it (unless this side began the closing handshake), end.
            if (!socket.destroyed) {
              if (closeSent) socket.end();
              else socket.end(clientFrame(0x08, payload.subarray(0, 2)));
            }
            closeSent = true;
          }
        }
        buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
      };
      socket.on("data", onData);
      resolve({
        send: (text) => {
          if (!socket.destroyed) socket.write(clientFrame(0x01, Buffer.from(text)));
        },
        close: (code) => {
          const body = Buffer.alloc(2);
          body.writeUInt16BE(code);
          if (!socket.destroyed && !closeSent) socket.write(clientFrame(0x08, body));
          closeSent = true;
        },
        terminate: () => socket.destroy(),
      });
      if (head.length) onData(Buffer.alloc(0));
    });
    req.end();
  });
}

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
  /** Called once per other `room.event` push (membership, state) with the frame as text (F2 waits for its own join). */
  onOtherEvent: ((frame: string) => void) | null = null;
  /** Called for a reply to a fire-and-forget send (string id) that was refused. */
  onSendError: ((id: string, frame: string) => void) | null = null;
  sendReplies = 0;
  closed = false;
  userId = "";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private wire!: Wire;
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(private readonly timeoutMs: number) {}

  private onClosed(): void {
    this.closed = true;
    const err = new Error("socket closed");
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Opens a socket and authenticates it: a ready session, as the anchor's XMPP login. */
  static async connect(url: string, token: string, timeoutMs = 60_000, driver: Driver = "raw"): Promise<BenchClient> {
    const c = new BenchClient(timeoutMs);
    const events: WireEvents = { frame: (data) => c.frame(data), closed: () => c.onClosed() };
    c.wire = await (driver === "raw" ? rawWire : wsWire)(url, timeoutMs, events);
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
      if (this.onOtherEvent) this.onOtherEvent(data.toString());
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
      this.wire.send(JSON.stringify({ id, op, params }));
    });
  }

  /** message.send without waiting: the id (a string) doubles as the txnId. */
  sendMessage(roomId: string, body: string, id: string): void {
    this.wire.send(`{"id":"${id}","op":"message.send","params":{"roomId":"${roomId}","body":"${body}","txnId":"${id}"}}`);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wire.terminate();
        resolve();
      }, 5000);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.wire.close(1000);
    });
  }
}
