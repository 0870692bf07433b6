import type { OpRegistry } from "../ws/ops.ts";
import type { PollService } from "./service.ts";

/** WebSocket ops of polls. */
export function definePollOps(ops: OpRegistry, polls: PollService): void {
  // op: poll.create
  ops.define<{ roomId: string; txnId: string; question: string; options: string[]; multiple?: boolean; anonymous?: boolean; threadRoot?: number }>("poll.create", (ctx, p) =>
    polls.create(ctx.actor.userId, p),
  );
  // op: poll.vote
  ops.define<{ roomId: string; seq: number; options: number[] }>("poll.vote", ({ actor }, p) => polls.vote(actor.userId, p.roomId, p.seq, p.options));
  // op: poll.close
  ops.define<{ roomId: string; seq: number }>("poll.close", ({ actor }, p) => polls.close(actor.userId, p.roomId, p.seq));
  // op: poll.get
  ops.define<{ roomId: string; seq: number }>("poll.get", ({ actor }, p) => polls.get(actor.userId, p.roomId, p.seq));
}
