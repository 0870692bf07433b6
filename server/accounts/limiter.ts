/**
 * Counts failures per key in a fixed window. Used to slow password guessing per account and per
 * address; kept in memory, so a restart forgets it (acceptable: guessing still costs argon2 time).
 */
export class FailureLimiter {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  isBlocked(key: string): boolean {
    const entry = this.counts.get(key);
    if (!entry) return false;
    if (entry.resetAt <= this.now()) {
      this.counts.delete(key);
      return false;
    }
    return entry.n >= this.max;
  }

  recordFailure(key: string): void {
    const now = this.now();
    const entry = this.counts.get(key);
    if (!entry || entry.resetAt <= now) this.counts.set(key, { n: 1, resetAt: now + this.windowMs });
    else entry.n++;
    if (this.counts.size > 100_000) this.sweep(now);
  }

  reset(key: string): void {
    this.counts.delete(key);
  }

  private sweep(now: number): void {
    for (const [k, v] of this.counts) if (v.resetAt <= now) this.counts.delete(k);
  }
}
