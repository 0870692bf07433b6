import type { OpRegistry } from "../ws/ops.ts";
import type { MessageService } from "./service.ts";
import type { Sync } from "../rooms/sync.ts";

type Target = { roomId: string; seq: number };

/** WebSocket ops of messages, receipts, typing and the sync stream. */
export function defineMessageOps(ops: OpRegistry, messages: MessageService, sync: Sync): void {
  // op: message.send
  ops.define<{ roomId: string; body?: string; file?: { mediaId: string; name: string }; txnId: string; replyTo?: number; threadRoot?: number; mentions?: string[]; mentionAll?: boolean }>("message.send", async ({ actor }, p) => {
    const { event, duplicate } = await messages.send(actor.userId, p);
    return { event, duplicate };
  });
  // op: message.edit
  ops.define<Target & { body: string }>("message.edit", async ({ actor }, p) => ({ event: await messages.edit(actor.userId, p.roomId, p.seq, p.body) }));
  // op: message.delete
  ops.define<Target & { forEveryone: boolean }>("message.delete", async ({ actor }, p) =>
    p.forEveryone ? { event: await messages.deleteForEveryone(actor.userId, p.roomId, p.seq) } : { hidden: messages.deleteForMe(actor.userId, p.roomId, p.seq) },
  );
  // op: message.react
  ops.define<Target & { emoji: string | null }>("message.react", async ({ actor }, p) => ({ event: await messages.react(actor.userId, p.roomId, p.seq, p.emoji) }));
  // op: message.history
  ops.define<{ roomId: string; before?: number; after?: number; limit?: number }>("message.history", ({ actor }, p) =>
    messages.history(actor.userId, p.roomId, { before: p.before, after: p.after, limit: p.limit ?? 50 }),
  );
  // op: message.get
  ops.define<Target>("message.get", ({ actor }, p) => ({ message: messages.get(actor.userId, p.roomId, p.seq) }));
  // op: message.thread
  ops.define<{ roomId: string; root: number; after?: number; limit?: number }>("message.thread", ({ actor }, p) =>
    messages.thread(actor.userId, p.roomId, p.root, p.after ?? 0, p.limit ?? 50),
  );
  // op: message.reactions
  ops.define<Target>("message.reactions", ({ actor }, p) => messages.reactions(actor.userId, p.roomId, p.seq));
  // op: receipt.read
  ops.define<Target>("receipt.read", ({ actor }, p) => messages.markReceipt(actor.userId, p.roomId, p.seq, "read"));
  // op: receipt.delivered
  ops.define<Target>("receipt.delivered", ({ actor }, p) => messages.markReceipt(actor.userId, p.roomId, p.seq, "delivered"));
  // op: receipt.get
  ops.define<Target>("receipt.get", ({ actor }, p) => messages.receipts(actor.userId, p.roomId, p.seq));
  // op: typing.set
  ops.define<{ roomId: string; typing: boolean }>("typing.set", ({ actor }, p) => messages.typing(actor.userId, p.roomId, p.typing));
  // op: sync
  ops.define<{ since?: number; limit?: number }>("sync", ({ actor }, p) =>
    p.since === undefined ? { events: [], pos: sync.head(), more: false } : sync.since(actor.userId, p.since, p.limit ?? 500),
  );
}
