/**
 * Proposals answered once. A proposal may carry a `proposalId` (the proposing server keeps an op
 * under it while the home is unreachable, and proposes it again until it has an answer): the home
 * records the answer it gave under (origin, proposalId) and gives the same answer to the same
 * proposal again instead of running the op twice. This makes ops without a txnId (an edit, a
 * reaction, a vote, a deletion) applied once when the first answer was lost (a timeout, a SIGKILL
 * of the proposing server before it deleted its row). Answers are kept for 8 days: a proposal
 * older than 7 is refused anyway (federation.proposal_expired).
 */
import type { Storage } from "../server/storage/database.ts";
import { errorCatalogue, ParleyError, type ErrorCode } from "../server/errors.ts";
import { pendingMaxAgeMs } from "./pending.ts";

const keptMs = pendingMaxAgeMs + 86_400_000;

type Answer = { ok: true; result: unknown } | { ok: false; code: string; message: string; details?: Record<string, unknown> };

export function createProposalLog(storage: Storage, now: () => number = Date.now) {
  const db = storage.sqlite;
  const s = {
    get: db.prepare("SELECT answer FROM federation_proposals WHERE origin = ? AND proposal_id = ?"),
    put: db.prepare("INSERT INTO federation_proposals (origin, proposal_id, answer, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
    forget: db.prepare("DELETE FROM federation_proposals WHERE created_at < ?"),
  };
  /** Proposals running now: a repeat that arrives meanwhile waits for the first one's answer. */
  const running = new Map<string, Promise<unknown>>();
  let writes = 0;

  function replay(answer: Answer): unknown {
    if (answer.ok) return answer.result;
    const code = Object.hasOwn(errorCatalogue, answer.code) ? (answer.code as ErrorCode) : "internal";
    throw new ParleyError(code, answer.message, answer.details);
  }

  function record(origin: string, proposalId: string, answer: Answer): void {
    s.put.run(origin, proposalId, JSON.stringify(answer), now());
    if (++writes % 500 === 0) s.forget.run(now() - keptMs);
  }

  return {
    /** Runs `run` once per (origin, proposalId); a repeat gets the recorded answer (or error). */
    async once(origin: string, proposalId: string, run: () => unknown): Promise<unknown> {
      const key = `${origin} ${proposalId}`;
      const inFlight = running.get(key);
      if (inFlight) return inFlight;
      const row = s.get.get(origin, proposalId) as { answer: string } | undefined;
      if (row) return replay(JSON.parse(row.answer) as Answer);
      const p = (async () => {
        try {
          const result = await run();
          record(origin, proposalId, { ok: true, result: result ?? null });
          return result;
        } catch (err) {
          // A refusal is an answer; a failure of this server (5xx) is not, and may be tried again.
          if (err instanceof ParleyError && err.status < 500) record(origin, proposalId, { ok: false, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
          throw err;
        }
      })();
      running.set(key, p);
      try {
        return await p;
      } finally {
        running.delete(key);
      }
    },
  };
}

export type ProposalLog = ReturnType<typeof createProposalLog>;
