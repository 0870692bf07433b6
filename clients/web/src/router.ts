/** A small router over the History API: the path is a signal; links call navigate(). */
import { signal } from "@preact/signals";

export const path = signal(location.pathname);

addEventListener("popstate", () => (path.value = location.pathname));

export function navigate(to: string, replace = false): void {
  if (to === location.pathname) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.value = to;
}

/** App routes (the server answers each with index.html). */
export const routes = {
  home: () => "/",
  room: (roomId: string) => `/r/${encodeURIComponent(roomId)}`,
  community: (roomId: string) => `/c/${encodeURIComponent(roomId)}`,
  admin: (roomId: string) => `/admin/${encodeURIComponent(roomId)}`,
  invite: (token: string) => `/i/${encodeURIComponent(token)}`,
  me: () => "/me",
  user: (userId: string) => `/u/${encodeURIComponent(userId)}`,
  create: () => "/new",
};

export type Route =
  | { name: "home" }
  | { name: "room" | "community" | "admin"; roomId: string }
  | { name: "invite"; token: string }
  | { name: "me" }
  | { name: "user"; userId: string }
  | { name: "create"; communityId?: string };

export function parse(p: string): Route {
  const m = /^\/(r|c|admin|i|u)\/([^/]+)$/.exec(p);
  if (m) {
    const arg = decodeURIComponent(m[2]);
    if (m[1] === "r") return { name: "room", roomId: arg };
    if (m[1] === "c") return { name: "community", roomId: arg };
    if (m[1] === "admin") return { name: "admin", roomId: arg };
    if (m[1] === "i") return { name: "invite", token: arg };
    return { name: "user", userId: arg };
  }
  if (p === "/me") return { name: "me" };
  const n = /^\/new(?:\/([^/]+))?$/.exec(p);
  if (n) return { name: "create", communityId: n[1] ? decodeURIComponent(n[1]) : undefined };
  return { name: "home" };
}

/** Click handler for in-app links: keeps modified clicks (new tab) to the browser. */
export function onLink(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement);
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? "/");
}
