import type { OpRegistry } from "../ws/ops.ts";
import type { PushService, SubscriptionInput } from "./service.ts";

/** WebSocket ops of Web Push subscriptions. */
export function definePushOps(ops: OpRegistry, push: PushService): void {
  // op: push.vapid_key
  ops.define("push.vapid_key", () => ({ publicKey: push.vapidPublicKey() }));
  // op: push.subscribe
  ops.define<{ subscription: SubscriptionInput }>("push.subscribe", ({ actor }, p) => push.subscribe(actor, p.subscription));
  // op: push.unsubscribe
  ops.define<{ endpoint: string }>("push.unsubscribe", ({ actor }, p) => push.unsubscribe(actor.userId, p.endpoint));
}
