import type { OpRegistry } from "../ws/ops.ts";
import type { SearchService } from "./service.ts";

/** WebSocket ops of search. */
export function defineSearchOps(ops: OpRegistry, search: SearchService): void {
  // op: user.search
  ops.define<{ query: string; after?: string; limit?: number }>("user.search", ({ actor }, p) => search.people(actor.userId, { ...p, limit: p.limit ?? 20 }));
  // op: message.search
  ops.define<{ query: string; roomId?: string; sender?: string; before?: number; limit?: number }>("message.search", ({ actor }, p) =>
    search.messages(actor.userId, { ...p, limit: p.limit ?? 20 }),
  );
}
