/**
 * Web Push on this device: the service worker that shows notifications, the browser's
 * permission and push subscription, and the server's `push.subscribe`/`push.unsubscribe`.
 */
import { signal } from "@preact/signals";
import { sdk } from "./state.ts";

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export const pushState = signal<"unsupported" | "off" | "on" | "denied">("off");

/** Registers the service worker (it shows notifications); resolves with its registration. */
export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  return navigator.serviceWorker.register("/sw.js", { scope: "/" });
}

/**
 * Turns on notifications for this device: the browser's permission, the service worker, a
 * subscription to the browser's push service with the server's VAPID key, and `push.subscribe`.
 */
export async function enableNotifications(): Promise<void> {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || typeof Notification === "undefined") {
    pushState.value = "unsupported";
    return;
  }
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    pushState.value = "denied";
    return;
  }
  const reg = await registerServiceWorker();
  await navigator.serviceWorker.ready;
  const { publicKey } = await sdk().request("push.vapid_key", {});
  const sub = (await reg!.pushManager.getSubscription()) ?? (await reg!.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }));
  const json = sub.toJSON();
  const keys = json.keys ?? {};
  await sdk().request("push.subscribe", { subscription: { endpoint: sub.endpoint, expirationTime: sub.expirationTime, keys: { p256dh: keys.p256dh ?? "", auth: keys.auth ?? "" } } });
  pushState.value = "on";
}

export async function disableNotifications(): Promise<void> {
  const reg = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration("/") : undefined;
  const sub = await reg?.pushManager.getSubscription();
  if (sub) {
    await sdk().request("push.unsubscribe", { endpoint: sub.endpoint }).catch(() => undefined);
    await sub.unsubscribe();
  }
  pushState.value = "off";
}

export async function readPushState(): Promise<void> {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || typeof Notification === "undefined") {
    pushState.value = "unsupported";
    return;
  }
  if (Notification.permission === "denied") {
    pushState.value = "denied";
    return;
  }
  const reg = await navigator.serviceWorker.getRegistration("/");
  pushState.value = (await reg?.pushManager.getSubscription()) ? "on" : "off";
}
