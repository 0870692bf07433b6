/**
 * Proposals answered once. A proposal may carry a `proposalId` (the proposing server keeps an op
 * under it while the home is unreachable, and proposes it again until it has an answer): the home
 * records what it did under (origin, proposalId) and answers the same proposal again from that
 * record instead of running the op twice. This makes kept ops without a txnId (an edit, a
 * reaction, a vote, a deletion, an answer) applied once when the first answer was lost (a timeout,
 * a SIGKILL of the proposing server before it deleted its row).
 *
 * The record of an op that changes a room is written **in the op's own transaction**, through the
 * room core's command hook (core.within): each command the op queues records its value, under
 * `proposalId` for the first and `proposalId#n` for the n-th (a `#` never occurs in a proposalId),
 * in the savepoint of its events, so the record exists exactly when the events do; a home killed
 * at any moment has either both or neither. A repeat runs the op's handler again with every
 * recorded command answering its recorded value instead of running: the handler makes the same
 * answer from it, and nothing is appended. A refusal changes nothing, so it is recorded after the
 * fact (`{ok: false, ...}`), as is the answer of an op that queued no command before its first
 * await. Records are kept for 8 days: a proposal older than 7 is refused anyway
 * (federation.proposal_expired).
 */
import type { Storage } from "../server/storage/database.ts";
import type { CommandHook, RoomCore } from "../server/rooms/core.ts";
import { errorCatalogue, ParleyError, type ErrorCode } from "../server/errors.ts";
import { pendingMaxAgeMs } from "./pending.ts";

const keptMs = pendingMaxAgeMs + 86_400_000;

/** A final answer (a refusal, or the result of an op that queued no command), or a command's value. */
type Entry = { ok: true; result: unknown } | { ok: false; code: string; message: string; details?: Record<string, unknown> } | { step: unknown };

export function createProposalLog(storage: Storage, rooms: Pick<RoomCore, "within">, now: () => number = Date.now) {
  const db = storage.sqlite;
  const s = {
    get: db.prepare("SELECT answer FROM federation_proposals WHERE origin = ? AND proposal_id = ?"),
    put: db.prepare("INSERT INTO federation_proposals (origin, proposal_id, answer, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
    forget: db.prepare("DELETE FROM federation_proposals WHERE created_at < ?"),
  };
  /** Proposals running now: a repeat that arrives meanwhile waits for the first one's answer. */
  const running = new Map<string, Promise<unknown>>();
  let writes = 0;

  function replay(answer: Entry): unknown {
    if ("ok" in answer && answer.ok) return answer.result;
    if ("ok" in answer) {
      const code = Object.hasOwn(errorCatalogue, answer.code) ? (answer.code as ErrorCode) : "internal";
      throw new ParleyError(code, answer.message, answer.details);
    }
    return undefined;
  }

  function read(origin: string, id: string): Entry | undefined {
    const row = s.get.get(origin, id) as { answer: string } | undefined;
    return row ? (JSON.parse(row.answer) as Entry) : undefined;
  }

  function write(origin: string, id: string, record: Entry): void {
    s.put.run(origin, id, JSON.stringify(record), now());
    if (++writes % 500 === 0) s.forget.run(now() - keptMs);
  }

  /** The n-th command of a proposal, recorded in that command's transaction. */
  function hookOf(origin: string, proposalId: string): CommandHook {
    const idOf = (step: number) => (step === 0 ? proposalId : `${proposalId}#${step}`);
    return {
      recorded(step) {
        const r = read(origin, idOf(step));
        return r && "step" in r ? { value: r.step } : undefined;
      },
      record(step, value) {
        write(origin, idOf(step), { step: value ?? null });
      },
    };
  }

  return {
    /** Runs `run` once per (origin, proposalId); a repeat gets the same answer (or error). */
    async once(origin: string, proposalId: string, run: () => unknown): Promise<unknown> {
      const key = `${origin} ${proposalId}`;
      const inFlight = running.get(key);
      if (inFlight) return inFlight;
      const first = read(origin, proposalId);
      if (first && !("step" in first)) return replay(first);
      const p = (async () => {
        let commands = 0;
        try {
          // The handler is called inside the hook's scope: the commands it queues before its
          // first await record themselves in their own transactions (or answer from a record).
          const started = rooms.within(hookOf(origin, proposalId), run);
          commands = started.commands;
          const result = await started.value;
          if (commands === 0) write(origin, proposalId, { ok: true, result: result ?? null });
          return result;
        } catch (err) {
          // A refusal is an answer; a failure of this server (5xx) is not, and may be tried again.
          // (Under a command already recorded, a later refusal is not written: a repeat replays
          // that command and runs the rest again.)
          if (err instanceof ParleyError && err.status < 500) write(origin, proposalId, { ok: false, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
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
