/**
 * Per-destination delivery that loses nothing, for what a server keeps to tell its peers beside
 * the room logs: kept ops (pending.ts), block notices (direct.ts), profile notices (accounts.ts).
 * One delivery runs at a time per destination; `send` gives the destination what waits for it and
 * says whether everything went ("done": the failure count starts over) or something must be tried
 * again ("later": after the outbox's backoff, from 1 s, doubling with jitter, capped at an hour).
 * A destination's `wake` (kick) tries at once. The room logs' own delivery is the outbox.
 */
import { retryDelay } from "./outbox.ts";

export type Outcome = "done" | "later";

export function createRetryLoop(send: (destination: string) => Promise<Outcome>) {
  const running = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;

  /** Tries `destination` again after its backoff (one timer per destination). */
  function later(destination: string): void {
    if (stopped || timers.has(destination)) return;
    const n = (failures.get(destination) ?? 0) + 1;
    failures.set(destination, n);
    const t = setTimeout(() => {
      timers.delete(destination);
      void flush(destination);
    }, Math.max(1000, retryDelay(n)));
    t.unref();
    timers.set(destination, t);
  }

  /** Delivers to `destination` now, unless a delivery to it is already running. */
  async function flush(destination: string): Promise<void> {
    if (stopped || running.has(destination)) return;
    running.add(destination);
    try {
      if ((await send(destination)) === "done") failures.delete(destination);
      else later(destination);
    } finally {
      running.delete(destination);
    }
  }

  return {
    flush,
    later,
    /** The destination is back (its wake) or may be: try now, not at its timer. */
    kick(destination: string): void {
      const t = timers.get(destination);
      if (t) {
        clearTimeout(t);
        timers.delete(destination);
      }
      void flush(destination);
    },
    get stopped(): boolean {
      return stopped;
    },
    stop(): void {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
