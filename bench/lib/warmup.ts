/**
 * A warm-up round before the measured one: the window pattern of the measured round (each sender
 * keeps at most `window` messages without its own echo), `msgs` messages per sender, until every
 * member has received every one of them. Used by bench/load.ts fanout and bench/federation-f1.ts
 * with `--warmup-msgs N` (0: none, as the anchor's A1 runs).
 *
 * Why: a server starts cold. V8 optimizes a function only after it has run often enough, and
 * again after each new shape it sees, so code that runs per message is compiled within
 * milliseconds while code that runs per federation request (a few hundred a second) runs in the
 * interpreter for the first 10–15 s of a run. A half-second round then measures the warm-up as
 * much as the server; a round after a warm-up measures a server as it runs for days.
 */
import type { BenchClient } from "./client.ts";

export interface WarmupResult {
  msgs_per_sender: number;
  deliveries: number;
  seconds: number;
  status: "complete" | "timeout" | "send-error";
}

export async function warmUp(conns: BenchClient[], roomId: string, o: { senders: number; msgs: number; window: number; timeoutS: number; tag: string }): Promise<WarmupResult> {
  const { senders: S, msgs: M, window: W } = o;
  const N = conns.length;
  const expected = N * S * M;
  const prefix = `${o.tag}|`;
  const sent = new Int32Array(S);
  let deliveries = 0;
  let done!: (s: WarmupResult["status"]) => void;
  const finished = new Promise<WarmupResult["status"]>((r) => (done = r));
  const sendOne = (s: number) => {
    const seq = sent[s]++;
    conns[s].sendMessage(roomId, `${prefix}${s}|${seq}`, `w${s}-${seq}`);
  };
  for (let r = 0; r < N; r++) {
    const rIdx = r;
    conns[r].onGroupMessage = (body) => {
      if (!body.startsWith(prefix)) return;
      deliveries++;
      if (rIdx < S && sent[rIdx] < M && Number(body.slice(prefix.length, body.indexOf("|", prefix.length))) === rIdx) sendOne(rIdx);
      if (deliveries === expected) done("complete");
    };
    conns[r].onSendError = () => done("send-error");
  }
  const t0 = performance.now();
  const hard = setTimeout(() => done("timeout"), o.timeoutS * 1000);
  for (let s = 0; s < S; s++) for (let k = 0; k < Math.min(W, M); k++) sendOne(s);
  const status = await finished;
  clearTimeout(hard);
  for (const c of conns) {
    c.onGroupMessage = null;
    c.onSendError = null;
  }
  return { msgs_per_sender: M, deliveries, seconds: (performance.now() - t0) / 1000, status };
}
