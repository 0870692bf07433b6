import type { OpRegistry } from "../ws/ops.ts";
import type { DirectService, OpenInput } from "./service.ts";

/** WebSocket ops of direct chats and blocks. */
export function defineDirectOps(ops: OpRegistry, direct: DirectService): void {
  // op: direct.open
  ops.define<OpenInput>("direct.open", ({ actor }, p) => direct.open(actor.userId, p));
  // op: user.block
  ops.define<{ userId: string }>("user.block", ({ actor }, p) => direct.block(actor.userId, p.userId));
  // op: user.unblock
  ops.define<{ userId: string }>("user.unblock", ({ actor }, p) => direct.unblock(actor.userId, p.userId));
  // op: user.blocks
  ops.define<{ after?: string; limit?: number }>("user.blocks", ({ actor }, p) => direct.blocks(actor.userId, p.after, p.limit ?? 100));
}
