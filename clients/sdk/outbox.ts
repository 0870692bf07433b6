/**
 * The outbox: messages a person has sent that the server has not yet acknowledged. Each entry
 * carries the txnId it was first tried with, so a send that reached the server but whose reply
 * was lost is answered with the stored event (`duplicate: true`) on the next try instead of
 * being stored twice. Entries are persisted (browsers pass localStorage) and survive a reload;
 * they are sent in order, one room after another, whenever the client (re)connects.
 *
 * An entry is acknowledged by the send's reply or by its event, whichever comes first: the server
 * tells the sender's own sessions the txnId of their events (the event's `txnId` in the
 * `room.event` push), so the person never sees a message twice, as sent and as sending.
 *
 * A send to a room hosted on another server that cannot be reached is answered `message.pending`:
 * the person's server holds it and proposes it again when the home returns. The entry stays,
 * marked `held` (not sent again from here), until the `message.outcome` push says what became of
 * it: accepted (acknowledged like any send) or refused (marked failed with the home's error).
 */
import { ParleyRequestError, type OpParams, type OpResult, type ParleyClient } from "./index.ts";

/** The part of the Web Storage interface the outbox uses (localStorage, or a Map in Node). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export type SendParams = Omit<OpParams<"message.send">, "txnId">;

export interface PendingSend {
  txnId: string;
  params: SendParams;
  /** When the person pressed send (ms since the epoch). */
  createdAt: number;
  /** The last refusal, when the server said no (the entry stays until dismissed). */
  error?: { code: string; message: string };
  /** The person's server holds the send (`message.pending`): its room's home could not be reached. */
  held?: { pendingId: number; server: string };
}

/** The `message.outcome` push: what became of a held send. */
interface Outcome {
  pendingId: number;
  roomId: string;
  txnId?: string;
  status: "accepted" | "refused";
  event?: OpResult<"message.send">["event"] | null;
  error?: { code: string; message: string };
}

/** Codes after which trying again cannot help: the entry is kept, marked failed, not retried. */
const transient = new Set(["disconnected", "timeout", "rate_limited", "internal", "unavailable"]);

export function newTxnId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return `t_${s}`;
}

export class Outbox {
  private entries: PendingSend[];
  private readonly listeners = new Set<(entries: readonly PendingSend[]) => void>();
  private readonly acked = new Set<(entry: PendingSend, result: OpResult<"message.send">) => void>();
  private flushing: Promise<void> | null = null;
  /** Held entries the home accepted before this server held their event (acknowledged when it comes). */
  private readonly awaitingEvent = new Map<string, PendingSend>();
  private readonly key: string;

  constructor(
    private readonly client: ParleyClient,
    private readonly store: KeyValueStore,
    key = `parley.outbox.${client.userId}`,
  ) {
    this.key = key;
    let loaded: PendingSend[] = [];
    try {
      loaded = JSON.parse(store.getItem(key) ?? "[]") as PendingSend[];
    } catch {
      loaded = [];
    }
    this.entries = Array.isArray(loaded) ? loaded : [];
    client.on("connected", () => void this.flush());
    client.on("message.outcome", (data) => this.settle(data as Outcome));
    // The server tells the sender's sessions the txnId of their own events: an entry whose event
    // is here is acknowledged, even when the event arrives before the send's reply.
    client.on("room.event", (event) => {
      if (event.txnId !== undefined) this.echoed(event as OpResult<"message.send">["event"]);
    });
  }

  /** The pushed event of an entry (matched by room and txnId): acknowledged as its reply would. */
  private echoed(event: OpResult<"message.send">["event"] & { txnId?: string }): void {
    const accepted = this.awaitingEvent.get(event.txnId!);
    if (accepted && accepted.params.roomId === event.roomId) {
      this.awaitingEvent.delete(event.txnId!);
      for (const fn of this.acked) fn(accepted, { event, duplicate: false });
      return;
    }
    const entry = this.entries.find((e) => e.txnId === event.txnId && e.params.roomId === event.roomId);
    if (!entry) return;
    this.entries = this.entries.filter((e) => e !== entry);
    this.save();
    for (const fn of this.acked) fn(entry, { event, duplicate: false });
  }

  /** A held send's outcome: acknowledged like any send, or marked failed with the home's refusal. */
  private settle(o: Outcome): void {
    const entry = this.entries.find((e) => (o.txnId !== undefined ? e.txnId === o.txnId : e.held?.pendingId === o.pendingId) && e.params.roomId === o.roomId);
    if (!entry) return;
    if (o.status === "accepted") {
      this.entries = this.entries.filter((e) => e !== entry);
      this.save();
      if (o.event) for (const fn of this.acked) fn(entry, { event: o.event, duplicate: false });
      // Accepted before this server held the event: it comes as a push with the txnId (echoed).
      else this.awaitingEvent.set(entry.txnId, entry);
      return;
    }
    const error = o.error ?? { code: "federation.unreachable", message: "The other server could not be reached." };
    this.entries = this.entries.map((e) => (e === entry ? { txnId: e.txnId, params: e.params, createdAt: e.createdAt, error } : e));
    this.save();
  }

  /** The entries in the order they were sent. */
  get pending(): readonly PendingSend[] {
    return this.entries;
  }

  /** Called with the entries whenever they change. Returns an unsubscribe. */
  subscribe(fn: (entries: readonly PendingSend[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called once for each entry the server acknowledged, with its stored event. */
  onAcknowledged(fn: (entry: PendingSend, result: OpResult<"message.send">) => void): () => void {
    this.acked.add(fn);
    return () => this.acked.delete(fn);
  }

  /** Queues a send (persisted at once) and tries it if connected. Resolves with the entry. */
  enqueue(params: SendParams): PendingSend {
    const entry: PendingSend = { txnId: newTxnId(), params, createdAt: Date.now() };
    this.entries = [...this.entries, entry];
    this.save();
    void this.flush();
    return entry;
  }

  /** Drops an entry (a failed send the person gave up on). */
  discard(txnId: string): void {
    this.entries = this.entries.filter((e) => e.txnId !== txnId);
    this.save();
  }

  /** Sends pending entries in order until one cannot go now. Concurrent calls share one run. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    let run: Promise<void> | null = null;
    run = (async () => {
      await Promise.resolve(); // so that `flushing` is set before the loop can end
      try {
        for (;;) {
          const entry = this.entries.find((e) => !e.error && !e.held);
          if (!entry || !this.client.connected) return;
          try {
            const result = await this.client.request("message.send", { ...entry.params, txnId: entry.txnId } as OpParams<"message.send">);
            // Acknowledged already when its event came first (echoed).
            if (!this.entries.some((e) => e.txnId === entry.txnId)) continue;
            this.entries = this.entries.filter((e) => e.txnId !== entry.txnId);
            this.save();
            for (const fn of this.acked) fn(entry, result);
          } catch (err) {
            const code = err instanceof ParleyRequestError ? err.code : "disconnected";
            if (transient.has(code)) return; // tried again on the next connect
            if (code === "message.pending") {
              // The server holds it and sends it on when the home returns; the outcome is pushed.
              const d = (err as ParleyRequestError).details ?? {};
              const roomId = String(entry.params.roomId);
              const held = { pendingId: Number(d.pendingId), server: roomId.slice(roomId.indexOf(":") + 1) };
              this.entries = this.entries.map((e) => (e.txnId === entry.txnId ? { ...e, held } : e));
              this.save();
              continue;
            }
            this.entries = this.entries.map((e) => (e.txnId === entry.txnId ? { ...e, error: { code, message: (err as Error).message } } : e));
            this.save();
          }
        }
      } finally {
        if (this.flushing === run) this.flushing = null;
      }
    })();
    this.flushing = run;
    return run;
  }

  private save(): void {
    if (this.entries.length) this.store.setItem(this.key, JSON.stringify(this.entries));
    else this.store.removeItem(this.key);
    for (const fn of this.listeners) fn(this.entries);
  }
}
