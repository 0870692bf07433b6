/**
 * State of the everyday features, kept beside state.ts (which it reads, never changes): pins
 * changing, the report pushes, whether I am a server admin, and room members for the mention
 * picker. (Forwarded marks, mentions and quotes are in each MessageView, live or from history.)
 */
import { signal } from "@preact/signals";
import type { RoomEvent } from "../../../sdk/index.ts";
import { call, sdk, toast, me, session, rooms } from "../state.ts";
import { f } from "./strings.ts";

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

/** Notes what a live event changes beyond its message: the pinned messages of its room. */
export function note(e: RoomEvent): void {
  if (e.type === "message.pin" || e.type === "message.unpin" || e.type === "message.delete") {
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
