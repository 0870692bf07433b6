/**
 * Proposals in batches, one request in flight per home. Every op of a local user in a room hosted
 * elsewhere (forward.ts) and every pending send proposed again (pending.ts) goes through
 * `propose(home, proposal)`. At most one `propose-batch` request is in flight to a home at a time;
 * proposals made meanwhile wait and go together in the next request (up to `proposalsPerBatch`
 * proposals and about `batchBytes` of JSON), in the order they were made, which is the order the
 * home runs them in. Each caller gets its own proposal's answer, in the shape of a single
 * `propose` response ({status, body: {result} | {error}}). A home that does not know
 * `propose-batch` (404 not_found: an older server) is sent single `propose` requests, still one
 * at a time, and asked again for batches after a while.
 *
 * Why: per remote message, the home's cost was mostly the HTTP request around it (the HTTP
 * stack, the signature's headers, its Ed25519 check), not the room core; and with one request
 * per op, throughput to a distant home depended on the round-trip time. A batch pays that once
 * for hundreds of proposals, and one request in flight keeps their order without waiting for
 * each answer in turn.
 */
import { ParleyError } from "../server/errors.ts";
import type { PeerResponse } from "./service.ts";

/** A request body already serialised as JSON (batches are made of pieces serialised once). */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A proposal as the `propose` endpoint takes it (protocol/federation/propose.json). */
export interface Proposal {
  sender: string;
  op: string;
  params: Record<string, unknown>;
  proposedAt?: number;
  file?: unknown;
}

/** What a caller gets: the answer a single `propose` request would have had. */
export interface ProposalAnswer {
  status: number;
  body: any;
}

/** The most proposals the home accepts in one `propose-batch` (protocol/federation/propose-batch.json). */
export const proposalsPerBatch = 200;
/** About how much JSON one batch carries; a single larger proposal still goes (alone). */
export const batchBytes = 1024 * 1024;
/** How long a home that answered `propose-batch` with not_found is sent single proposals. */
const legacyRetryMs = 10 * 60_000;

type Request = (destination: string, method: "POST", path: string, body: unknown) => Promise<PeerResponse>;

interface Waiting {
  proposal: Proposal;
  /** The proposal's JSON, made once: its size bounds the batch and the batch's body is made of it. */
  json: string;
  bytes: number;
  resolve: (answer: ProposalAnswer) => void;
  reject: (err: unknown) => void;
}

export function createProposer(request: Request, now: () => number = Date.now) {
  const queues = new Map<string, Waiting[]>();
  const inFlight = new Set<string>();
  /** Homes whose first batch leaves at the end of this turn. */
  const starting = new Set<string>();
  /** Homes without `propose-batch`: until when they are sent single proposals. */
  const legacy = new Map<string, number>();

  /** Takes the next batch off the home's queue: in order, within both bounds. */
  function take(queue: Waiting[]): Waiting[] {
    let n = 0;
    let bytes = 0;
    while (n < queue.length && n < proposalsPerBatch && (n === 0 || bytes + queue[n].bytes <= batchBytes)) bytes += queue[n++].bytes;
    return queue.splice(0, n);
  }

  async function sendSingly(home: string, batch: Waiting[]): Promise<void> {
    for (const w of batch) {
      try {
        const res = await request(home, "POST", "/propose", w.proposal);
        w.resolve({ status: res.status, body: res.body });
      } catch (err) {
        w.reject(err);
      }
    }
  }

  async function sendBatch(home: string, batch: Waiting[]): Promise<void> {
    const until = legacy.get(home);
    if (until !== undefined && until > now()) return sendSingly(home, batch);
    let res: PeerResponse;
    try {
      res = await request(home, "POST", "/propose-batch", new JsonText(`{"proposals":[${batch.map((w) => w.json).join(",")}]}`));
    } catch (err) {
      // The home could not be reached: the proposals queued behind this batch fail with it, rather
      // than reach the home before it (a send kept as pending stays in order, forward.ts).
      for (const w of [...batch, ...(queues.get(home)?.splice(0) ?? [])]) w.reject(err);
      return;
    }
    if (res.status === 404 && res.body?.error?.code === "not_found") {
      legacy.set(home, now() + legacyRetryMs);
      return sendSingly(home, batch);
    }
    legacy.delete(home);
    if (res.status !== 200) {
      // The batch as a whole was refused (unavailable, rate limited, a signature check...): each
      // proposal gets that answer, as its own request would have.
      for (const w of batch) w.resolve({ status: res.status, body: res.body });
      return;
    }
    const answers = res.body?.answers as { status?: unknown; result?: unknown; error?: unknown }[] | undefined;
    if (!Array.isArray(answers) || answers.length !== batch.length) {
      const err = new ParleyError("federation.unreachable", `${home} answered a batch of ${batch.length} proposals with ${Array.isArray(answers) ? answers.length : "no"} answers.`);
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const a = answers[i] ?? {};
      const status = typeof a.status === "number" ? a.status : 502;
      w.resolve({ status, body: status === 200 ? { result: a.result ?? null } : { error: a.error } });
    });
  }

  async function drain(home: string): Promise<void> {
    inFlight.add(home);
    try {
      for (;;) {
        const queue = queues.get(home);
        if (!queue || !queue.length) {
          queues.delete(home);
          return;
        }
        await sendBatch(home, take(queue));
      }
    } finally {
      inFlight.delete(home);
    }
  }

  return {
    /**
     * Proposes `proposal` to `home`, in order after every proposal made before it to the same home.
     * Throws what the signed request throws (federation.unreachable, federation.server_denied...).
     */
    propose(home: string, proposal: Proposal): Promise<ProposalAnswer> {
      return new Promise<ProposalAnswer>((resolve, reject) => {
        let queue = queues.get(home);
        if (!queue) queues.set(home, (queue = []));
        const json = JSON.stringify(proposal);
        queue.push({ proposal, json, bytes: Buffer.byteLength(json), resolve, reject });
        if (inFlight.has(home) || starting.has(home)) return;
        // The first batch to an idle home leaves at the end of this turn, with every proposal
        // the turn's frames made (a burst of sends read from several sockets at once), rather
        // than the first alone and the rest a round trip later.
        starting.add(home);
        setImmediate(() => {
          starting.delete(home);
          if (!inFlight.has(home)) void drain(home);
        });
      });
    },
  };
}

export type Proposer = ReturnType<typeof createProposer>;
