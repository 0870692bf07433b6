import webpush from "web-push";
import { ParleyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Committed } from "../rooms/core.ts";
import type { RoomState } from "../rooms/types.ts";
import type { Storage } from "../storage/database.ts";
import type { Hub } from "../ws/transport.ts";
import { shouldNotify, type NotifyReason, type NotifySettings } from "../notify/policy.ts";

/** A browser's push subscription, as `PushSubscription.toJSON()` gives it. */
export interface SubscriptionInput {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

interface SubscriptionRow {
  endpoint: string;
  user_id: string;
  device_id: string;
  p256dh: string;
  auth: string;
}

/** The most subscriptions one user keeps (browsers and devices); the oldest goes first. */
const maxSubscriptionsPerUser = 20;
/** Push services accept about 4 KB of payload; message texts are cut well below that. */
const maxBodyChars = 200;

/**
 * Web Push (RFC 8030, with VAPID, RFC 8292, and aes128gcm payload encryption, RFC 8291). The
 * server's VAPID key pair is made at first start and kept in the `secrets` table, so every
 * subscription stays valid across restarts. The `web-push` package encrypts and signs each
 * request; it is sent with fetch, so that the timeout, redirects (refused) and retries are ours.
 *
 * Who is pushed, as WhatsApp does it: a user with no open connection, and only what the
 * notification policy allows (notify/policy.ts). A user with a connected device gets the live
 * WebSocket push instead and no notification.
 */
export function createPushService(deps: {
  storage: Storage;
  hub: () => Hub;
  log: Logger;
  serverName: string;
  publicUrl: string;
  ttlSeconds: number;
  retryDelaysMs: number[];
  allowHttpEndpoints: boolean;
  now?: () => number;
  /** What the message dispatch needs to know of rooms, settings and names. */
  roomState: (roomId: string) => RoomState | undefined;
  settingsOf: (userId: string, roomId: string) => NotifySettings;
  senderOf: (roomId: string, seq: number) => string | undefined;
}) {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    secret: db.prepare("SELECT value FROM secrets WHERE name = 'vapid'"),
    putSecret: db.prepare("INSERT OR IGNORE INTO secrets (name, value, created_at) VALUES ('vapid', ?, ?)"),
    upsert: db.prepare(
      "INSERT INTO push_subscriptions (endpoint, user_id, device_id, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, device_id = excluded.device_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at",
    ),
    ofUser: db.prepare("SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY created_at"),
    remove: db.prepare("DELETE FROM push_subscriptions WHERE endpoint = ? AND user_id = ?"),
    drop: db.prepare("DELETE FROM push_subscriptions WHERE endpoint = ?"),
    dropDevice: db.prepare("DELETE FROM push_subscriptions WHERE device_id = ?"),
    users: db.prepare("SELECT DISTINCT user_id FROM push_subscriptions"),
    countOf: db.prepare("SELECT count(*) AS n FROM push_subscriptions WHERE user_id = ?"),
    displayName: db.prepare("SELECT display_name AS name FROM accounts WHERE id = ?"),
  };

  // The VAPID key pair: made once, at first start, and kept (INSERT OR IGNORE: a second process
  // starting at the same moment keeps the first pair).
  if (!s.secret.get()) s.putSecret.run(JSON.stringify(webpush.generateVAPIDKeys()), now());
  const vapid = JSON.parse((s.secret.get() as { value: string }).value) as { publicKey: string; privateKey: string };
  // Push services want to reach the operator: the server's https address, else a mailto.
  const subject = deps.publicUrl.startsWith("https://") ? deps.publicUrl : `mailto:postmaster@${deps.serverName.replace(/:\d+$/, "")}`;

  /** Users with at least one subscription: the dispatch skips everyone else without a query. */
  const subscribed = new Set((s.users.all() as { user_id: string }[]).map((r) => r.user_id));
  const inFlight = new Set<Promise<void>>();
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  function refreshSubscribed(userId: string): void {
    if ((s.countOf.get(userId) as { n: number }).n > 0) subscribed.add(userId);
    else subscribed.delete(userId);
  }

  function validate(sub: SubscriptionInput): void {
    let url: URL;
    try {
      url = new URL(sub.endpoint);
    } catch {
      throw new ParleyError("push.invalid_subscription");
    }
    // An http endpoint would let any user make the server send requests in the clear to any
    // address; real push services are https. Tests and development may allow it.
    if (url.protocol !== "https:" && !(deps.allowHttpEndpoints && url.protocol === "http:")) throw new ParleyError("push.invalid_subscription");
    const key = Buffer.from(sub.keys.p256dh, "base64url");
    const auth = Buffer.from(sub.keys.auth, "base64url");
    // An uncompressed P-256 point and a 16-byte authentication secret (RFC 8291).
    if (key.length !== 65 || key[0] !== 4 || auth.length !== 16) throw new ParleyError("push.invalid_subscription");
  }

  /** Sends one payload to one subscription, retrying what may pass later; never throws. */
  async function sendTo(row: SubscriptionRow, payload: string, urgency: webpush.Urgency): Promise<void> {
    const details = webpush.generateRequestDetails({ endpoint: row.endpoint, keys: { p256dh: row.p256dh, auth: row.auth } }, payload, {
      vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      TTL: deps.ttlSeconds,
      urgency,
      contentEncoding: "aes128gcm",
    });
    for (let attempt = 0; ; attempt++) {
      let status: number | null = null;
      let failure: unknown = null;
      try {
        const res = await fetch(details.endpoint, {
          method: details.method,
          headers: details.headers as Record<string, string>,
          body: new Uint8Array(details.body as Buffer),
          redirect: "error",
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        failure = err;
      }
      if (status !== null && status >= 200 && status < 300) return;
      if (status === 404 || status === 410) {
        // The push service says the subscription is gone (unsubscribed, expired): forget it.
        s.drop.run(row.endpoint);
        refreshSubscribed(row.user_id);
        log.info({ user: row.user_id, status }, "push subscription gone; dropped");
        return;
      }
      const retriable = status === null || status === 429 || status >= 500;
      if (!retriable || attempt >= deps.retryDelaysMs.length || closed) {
        log.warn({ user: row.user_id, status, err: failure ?? undefined, attempts: attempt + 1 }, "push delivery failed");
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, deps.retryDelaysMs[attempt]);
        timer.unref();
        timers.set(timer, resolve);
      });
      if (closed) return;
    }
  }

  /** Sends a notification to every subscription of a user (in the background). */
  function deliver(userId: string, data: Record<string, unknown>, urgency: webpush.Urgency = "normal"): void {
    if (closed || !subscribed.has(userId)) return;
    const payload = JSON.stringify(data);
    for (const row of s.ofUser.all(userId) as SubscriptionRow[]) {
      const p = sendTo(row, payload, urgency).catch((err) => log.error({ err }, "push send failed"));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }

  const isOffline = (userId: string) => !deps.hub().connectionsOf(userId)?.size;

  function preview(content: Record<string, unknown>): string {
    const body = typeof content.body === "string" ? content.body : "";
    const file = content.file as { name?: string } | undefined;
    const text = body || file?.name || "";
    return [...text].length > maxBodyChars ? `${[...text].slice(0, maxBodyChars - 1).join("")}…` : text;
  }

  return {
    vapidPublicKey: () => vapid.publicKey,

    /** push.subscribe: the subscription belongs to the actor's device (dropped with it). */
    subscribe(actor: { userId: string; deviceId: string }, sub: SubscriptionInput): { endpoint: string } {
      validate(sub);
      deps.storage.write(() => {
        s.upsert.run(sub.endpoint, actor.userId, actor.deviceId, sub.keys.p256dh, sub.keys.auth, now());
        const rows = s.ofUser.all(actor.userId) as SubscriptionRow[];
        for (const old of rows.slice(0, Math.max(0, rows.length - maxSubscriptionsPerUser))) s.drop.run(old.endpoint);
      });
      subscribed.add(actor.userId);
      return { endpoint: sub.endpoint };
    },

    /** push.unsubscribe: only one's own subscription; a missing one is not an error. */
    unsubscribe(userId: string, endpoint: string): { endpoint: string; removed: boolean } {
      const removed = s.remove.run(endpoint, userId).changes > 0;
      refreshSubscribed(userId);
      return { endpoint, removed };
    },

    /** A revoked or logged-out device gets no more notifications. */
    dropDevice(userId: string, deviceId: string): void {
      s.dropDevice.run(deviceId);
      refreshSubscribed(userId);
    },

    deliver,

    /**
     * Tells users something that is not a room event (a report's outcome, a new report): a live
     * push to their connected devices, a Web Push to those who have none.
     */
    tell(userIds: Iterable<string>, push: string, data: Record<string, unknown>): void {
      const frame = JSON.stringify({ push, data });
      for (const userId of userIds) {
        if (isOffline(userId)) deliver(userId, { type: push, ...data }, "high");
        else deps.hub().sendToUsers([userId], frame);
      }
    },

    /** The Web Push of a reminder, for a user with no connected device. */
    remindOffline(userId: string, data: Record<string, unknown>): void {
      deliver(userId, { type: "event.reminder", ...data }, "high");
    },

    /** After each commit: notifications of new messages for members with no open connection. */
    dispatch(batch: readonly Committed[]): void {
      if (subscribed.size === 0) return;
      const at = now();
      for (const { event, members: frozen } of batch) {
        if (event.type !== "message") continue;
        const st = deps.roomState(event.roomId);
        const members = frozen ?? st?.members;
        if (!st || !members) continue;
        const threadRoot = event.content.threadRoot as number | undefined;
        let threadRootSender: string | null | undefined;
        let senderName: string | undefined;
        for (const userId of members.keys()) {
          if (userId === event.sender || !subscribed.has(userId) || !isOffline(userId)) continue;
          if (threadRoot !== undefined && threadRootSender === undefined) threadRootSender = deps.senderOf(event.roomId, threadRoot) ?? null;
          const reason: NotifyReason | null = shouldNotify(deps.settingsOf(userId, event.roomId), { ...event, threadRootSender }, userId, at);
          if (!reason) continue;
          senderName ??= (s.displayName.get(event.sender) as { name: string } | undefined)?.name ?? event.sender;
          deliver(
            userId,
            { type: "message", reason, roomId: event.roomId, roomName: st.name, seq: event.seq, sender: event.sender, senderName, kind: event.content.kind, body: preview(event.content), ts: event.ts },
            reason === "message" ? "normal" : "high",
          );
        }
      }
    },

    /** Resolves when every send begun so far has finished (tests, shutdown). */
    async idle(): Promise<void> {
      while (inFlight.size) await Promise.all([...inFlight]);
    },

    close(): void {
      closed = true;
      // Retries waiting for their turn give up now (their promises settle, nothing is sent).
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve();
      }
      timers.clear();
    },
  };
}

export type PushService = ReturnType<typeof createPushService>;
