import type { Socket } from "node:net";
import type { WebSocket } from "ws";
import type { Actor } from "../accounts/service.ts";
import type { WireError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { CloseCode } from "./close-codes.ts";
import type { TransportStats } from "../metrics/index.ts";

export interface ConnectionLimits {
  sendBufferBytes: number;
  opsPerSecond: number;
  opsBurst: number;
}

/**
 * Write coalescing. Writing each frame straight to the socket costs one writev system call per
 * frame: in a fan-out that is one per recipient per event, and it was half of the server's CPU
 * time. Instead, the first frame a connection sends in a turn corks its TCP socket, and one
 * process.nextTick callback uncorks every corked socket once the current synchronous work (the
 * fan-out of a whole group-commit batch, say) has run. Each socket then gets a single writev with
 * all its frames of that turn. The bytes and their order are unchanged; they leave a few
 * microseconds later, before any I/O is polled again.
 */
const corked: Connection[] = [];
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  const list = corked.splice(0);
  for (const conn of list) conn.uncork();
}

/**
 * One device's live socket. Holds what the transport knows of it: who it is, its rate budget,
 * its liveness for heartbeats. Everything it sends goes through `sendRaw`, which enforces the
 * send-buffer bound: a client that cannot keep up is cut off with 4009 and resyncs, instead of
 * making the server buffer without limit.
 */
export class Connection {
  actor: Actor | null = null;
  alive = true;
  closed = false;
  /** The device's session ended; the socket closes on the next turn and reads nothing more. */
  revoked = false;
  /** Consecutive-ish invalid frames; decays by one with each valid frame. */
  garbage = 0;
  /** Requests refused for rate in a row; past a bound the socket is closed. */
  throttled = 0;
  expiryTimer: NodeJS.Timeout | undefined;
  authTimer: NodeJS.Timeout | undefined;
  private budget: number;
  private refilledAt: number;
  private corked = false;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly log: Logger,
    readonly address: string | null,
    private readonly limits: ConnectionLimits,
    private readonly stats?: TransportStats,
  ) {
    this.budget = limits.opsBurst;
    this.refilledAt = Date.now();
  }

  /** Takes one op from the token bucket; false when the client is over its rate. */
  takeBudget(now: number): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.budget = Math.min(this.limits.opsBurst, this.budget + (elapsed * this.limits.opsPerSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.budget < 1) return false;
    this.budget -= 1;
    return true;
  }

  /** Sends pre-serialized bytes (shared between recipients of one event). */
  sendRaw(data: string | Buffer): boolean {
    if (this.closed || this.slowConsumer()) return false;
    if (!this.corked) this.cork();
    this.socket.send(data, { binary: false });
    return true;
  }

  /**
   * Sends a frame already encoded for the wire by `textFrame`: the fan-out encodes each event
   * once and writes the same bytes to every recipient's socket, instead of having the ws library
   * build a header and two writes per recipient. What ws.send does besides is kept: nothing is
   * sent unless the socket is open (ws drops sends after a close), and the same bound applies.
   */
  sendWire(wire: Buffer): boolean {
    if (this.closed || this.socket.readyState !== 1) return false;
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    if (!raw || this.slowConsumer()) return false;
    if (!this.corked) this.cork();
    raw.write(wire);
    return true;
  }

  /** The send-buffer bound: past it, the client is cut off (4009) and resyncs. */
  private slowConsumer(): boolean {
    if (this.socket.bufferedAmount <= this.limits.sendBufferBytes) return false;
    this.log.warn({ buffered: this.socket.bufferedAmount }, "slow consumer: closing");
    if (this.stats) this.stats.slowConsumerCuts++;
    this.close(CloseCode.slowConsumer, "slow consumer: reconnect and resync");
    return true;
  }

  /** Holds this turn's writes to the socket until uncorkAll runs (see above). */
  private cork(): void {
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    if (!raw) return;
    raw.cork();
    this.corked = true;
    corked.push(this);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      process.nextTick(uncorkAll);
    }
  }

  uncork(): void {
    this.corked = false;
    (this.socket as unknown as { _socket?: Socket })._socket?.uncork();
  }

  reply(id: string | number, result: unknown): void {
    this.sendRaw(JSON.stringify({ id, ok: true, result }));
  }

  replyError(id: string | number | null, error: WireError): void {
    this.sendRaw(JSON.stringify({ id, ok: false, error }));
  }

  push(name: string, data: unknown): void {
    this.sendRaw(JSON.stringify({ push: name, data }));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.authTimer);
    this.socket.close(code, reason);
    // A peer that never answers the close handshake must not hold the socket open.
    setTimeout(() => this.socket.terminate(), 2000).unref();
  }
}

/**
 * A text message as one unfragmented, unmasked, uncompressed WebSocket frame (RFC 6455 5.2):
 * the bytes ws itself would write for `send(payload, { binary: false })` on a server socket
 * without permessage-deflate (which the transport turns off).
 */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81; // FIN, opcode 1 (text)
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(out, head);
  return out;
}

export { CloseCode };
