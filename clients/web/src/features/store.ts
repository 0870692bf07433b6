/**
 * State of the everyday features, kept beside state.ts (which it reads, never changes): what the
 * live events say that a MessageView does not (forwarded, mentions), pins changing, the report
 * pushes, whether I am a server admin, and room members for the mention picker.
 */
import { signal } from "@preact/signals";
import type { RoomEvent } from "../../../sdk/index.ts";
import { call, sdk, toast, me, session, rooms } from "../state.ts";
import { f } from "./strings.ts";

/** `roomId/seq` of messages known to be forwarded (from their event's content). */
export const forwarded = signal<ReadonlySet<string>>(new Set());
// A MessageView does not say "forwarded": what this device saw is kept (the newest 500).
const forwardedKey = () => `parley.forwarded.${session.value?.userId ?? ""}`;
function loadForwarded(): void {
  try {
    forwarded.value = new Set(JSON.parse(localStorage.getItem(forwardedKey()) ?? "[]") as string[]);
  } catch {
    forwarded.value = new Set();
  }
}
/** `roomId/seq` -> user ids the server kept as mentioned (from the event's content). */
export const mentioned = signal<Record<string, { users: string[]; all: boolean }>>({});
/** `roomId/seq` -> the quote of a private reply (from the live event's content). */
export const quotes = signal<Record<string, { sender: string; body: string | null }>>({});
/** Bumped per room when a message.pin / message.unpin (or a delete) arrives. */
export const pinsVersion = signal<Record<string, number>>({});
/** True when session.info says I am a server admin. */
export const serverAdmin = signal(false);
/** Bumped when a report of mine is resolved or a report arrives for a room I moderate. */
export const reportsVersion = signal(0);

let watching: object | null = null;
/** What each feature forgets when another account signs in on this tab. */
const resets: (() => void)[] = [];
export function onNewSession(fn: () => void): void {
  resets.push(fn);
}
const offs: (() => void)[] = [];

/** Starts following the pushes these features need (once per client: a new sign-in is a new one). */
export function watch(): void {
  if (!session.value) return;
  let c: ReturnType<typeof sdk>;
  try {
    c = sdk();
  } catch {
    return;
  }
  if (watching === c) return;
  for (const off of offs.splice(0)) off();
  watching = c;
  serverAdmin.value = false;
  members.clear();
  for (const reset of resets) reset();
  loadForwarded();
  {
    offs.push(c.on("room.event", (e) => note(e)));
    offs.push(
      c.on("report.resolved", (d) => {
        reportsVersion.value += 1;
        toast.value = f("reportResolved", { outcome: f(`outcome.${d.outcome}`) });
      }),
    );
    offs.push(
      c.on("report.created", (d) => {
        reportsVersion.value += 1;
        const room = rooms.value.find((r) => r.roomId === d.scopeId)?.name ?? "";
        toast.value = f("reportCreated", { room });
      }),
    );
    offs.push(c.on("connected", () => void readAdmin()));
    if (c.connected) void readAdmin();
  }
}

async function readAdmin(): Promise<void> {
  try {
    serverAdmin.value = (await call("session.info", {})).isAdmin;
  } catch {
    /* keep what we knew */
  }
}

/** Records what an event's content says that views do not carry. */
export function note(e: RoomEvent): void {
  const c = e.content as Record<string, unknown>;
  if (e.type === "message") {
    const key = `${e.roomId}/${e.seq}`;
    if (c.forwarded === true && !forwarded.value.has(key)) {
      forwarded.value = new Set([...forwarded.value, key]);
      localStorage.setItem(forwardedKey(), JSON.stringify([...forwarded.value].slice(-500)));
    }
    const q = c.quote as { sender: string; body: string | null } | undefined;
    if (q) quotes.value = { ...quotes.value, [key]: q };
    const users = Array.isArray(c.mentions) ? (c.mentions as string[]) : [];
    if (users.length || c.mentionAll) mentioned.value = { ...mentioned.value, [key]: { users, all: c.mentionAll === true } };
  } else if (e.type === "message.pin" || e.type === "message.unpin" || e.type === "message.delete") {
    pinsVersion.value = { ...pinsVersion.value, [e.roomId]: (pinsVersion.value[e.roomId] ?? 0) + 1 };
  }
}

export function isMe(userId: string): boolean {
  return userId === me();
}

/** Members of a room (for the mention picker), fetched once per room and kept. */
const members = new Map<string, Promise<string[]>>();
export function membersOf(roomId: string): Promise<string[]> {
  let p = members.get(roomId);
  if (!p) {
    p = call("room.members", { roomId }).then((r) => r.members?.map((m) => m.userId) ?? r.admins);
    p.catch(() => members.delete(roomId));
    members.set(roomId, p);
  }
  return p;
}

/** A user id's local part (what `@name` in a message's text means). */
export function usernameOf(userId: string): string {
  return userId.slice(1).split(":")[0];
}
