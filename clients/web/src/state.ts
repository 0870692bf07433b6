/**
 * The app's state, as signals the screens read, kept by the SDK: the session (persisted, so a
 * reload stays signed in), the connection, the rail of rooms with unread counts, each open
 * room's timeline (paged history plus live events), typing, receipts, and the outbox of sends
 * not yet acknowledged. The screens call the functions here; none speaks the wire itself.
 */
import { signal, computed } from "@preact/signals";
import { ParleyClient, httpRequest, type Session, type RoomEvent, type MessageView, type OpResult, type OpParams, type OpName } from "../../sdk/index.ts";
import { Outbox, type PendingSend, type SendParams } from "../../sdk/outbox.ts";

export type RailRoom = OpResult<"room.list">["rooms"][number];
export type Profile = OpResult<"profile.get">;
export type Discovery = { registration: "open" | "invite-only" | "closed"; server: string; limits: { uploadBytes: number; messageChars: number; adminsPerCommunity?: number } };

const SESSION_KEY = "parley.session";
const base = () => location.origin;

export const session = signal<Session | null>(loadSession());
export const connection = signal<"connecting" | "online" | "offline">("connecting");
export const rooms = signal<RailRoom[]>([]);
export const pending = signal<readonly PendingSend[]>([]);
export const profiles = signal<Record<string, Profile>>({});
export const discovery = signal<Discovery | null>(null);
export const toast = signal<string | null>(null);

/** Invitations I have received and not answered, from the sync stream (persisted). */
export interface Invitation {
  roomId: string;
  by: string;
  ts: number;
  name: string;
  kind: "community" | "group" | "direct";
}
export const invitations = signal<Invitation[]>([]);

export interface Timeline {
  messages: MessageView[];
  more: boolean;
  loading: boolean;
  /** The read marker when the room was opened: messages after it are unread. */
  readSeq: number;
}
export const timelines = signal<Record<string, Timeline>>({});
export const typing = signal<Record<string, string[]>>({});
/** Bumped when a room's receipts change, so "seen by" re-reads. */
export const receiptsVersion = signal(0);
/** The last `message`-type event seen per room + seq whose view changed (edits, votes, RSVPs). */
export const changed = signal<Record<string, number>>({});
/**
 * Rooms replaced by another, as their `room.tombstone` events arrive (a pair's second direct
 * chat, closed by its home): room id -> the room the conversation goes on in. room.get's
 * `replacedBy` says the same for a room opened later.
 */
export const replaced = signal<Record<string, string>>({});

let client: ParleyClient | null = null;
let outbox: Outbox | null = null;

function loadSession(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
  } catch {
    return null;
  }
}
function saveSession(s: Session | null): void {
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
  session.value = s;
}

export function me(): string {
  return session.value?.userId ?? "";
}

export function sdk(): ParleyClient {
  if (!client) throw Object.assign(new Error("not signed in"), { code: "auth.required" });
  return client;
}

/** A request through the SDK; refusals reject with a ParleyRequestError (code + words). */
export function call<K extends OpName>(op: K, params: OpParams<K>): Promise<OpResult<K>> {
  return sdk().request(op, params);
}

/**
 * Whether a request failed only because the connection dropped while it was out: a screen keeps
 * what it shows (and its composer) and asks again when the connection is back, rather than
 * replacing itself with an error.
 */
export function lostConnection(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "disconnected";
}

export async function loadDiscovery(): Promise<Discovery> {
  const d = await httpRequest<Discovery>(base(), "GET", "/.well-known/parley");
  discovery.value = d;
  return d;
}

export async function signIn(username: string, password: string): Promise<void> {
  const c = await ParleyClient.login({ baseUrl: base(), onSession: saveSession }, { username, password, deviceName: deviceName() });
  await start(c);
}

export async function signUp(body: { username: string; password: string; displayName?: string; registrationToken?: string }): Promise<void> {
  const c = await ParleyClient.register({ baseUrl: base(), onSession: saveSession }, { ...body, deviceName: deviceName() });
  await start(c);
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  return `${browser} (web)`;
}

/** On load: resume the saved session (refreshing its tokens when the access token is stale). */
export async function resume(): Promise<boolean> {
  const s = session.value;
  if (!s) return false;
  const saved = Number(localStorage.getItem(`parley.pos.${s.userId}`));
  const c = new ParleyClient(s, { baseUrl: base(), onSession: saveSession, ...(saved > 0 ? { syncFrom: saved } : {}) });
  try {
    if (s.accessTokenExpiresAt - Date.now() < 30_000) await c.refresh();
  } catch (err) {
    if ((err as { status?: number }).status === 401) {
      saveSession(null);
      return false;
    }
    // Offline at load: keep the session, connect when the network returns.
  }
  await start(c);
  return true;
}

async function start(c: ParleyClient): Promise<void> {
  client = c;
  invitations.value = JSON.parse(localStorage.getItem(`parley.invites.${c.userId}`) ?? "[]") as Invitation[];
  const firstOnThisDevice = !localStorage.getItem(`parley.pos.${c.userId}`);
  outbox = new Outbox(c, localStorage);
  pending.value = outbox.pending;
  outbox.subscribe((entries) => (pending.value = entries));
  outbox.onAcknowledged((_entry, result) => applyEvent(result.event));
  c.on("room.event", (e) => applyEvent(e));
  c.on("room.typing", (d) => {
    const cur = typing.value[d.roomId] ?? [];
    const next = d.typing ? [...new Set([...cur, d.userId])] : cur.filter((u) => u !== d.userId);
    typing.value = { ...typing.value, [d.roomId]: next.filter((u) => u !== me()) };
  });
  c.on("room.receipt", () => (receiptsVersion.value += 1));
  c.on("profile.updated", (p) => (profiles.value = { ...profiles.value, [p.userId]: p }));
  c.on("connected", () => {
    connection.value = "online";
    savePos();
    void refreshRooms();
  });
  c.on("event.reminder", (d) => {
    const words = `${d.title}: ${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(d.start))}`;
    toast.value = words;
    if (typeof Notification !== "undefined" && Notification.permission === "granted") new Notification(d.title, { body: words, tag: `${d.roomId}/${d.seq}` });
  });
  c.on("disconnected", () => {
    connection.value = navigator.onLine ? "connecting" : "offline";
  });
  c.on("session.revoked", () => {
    void signOutLocal();
  });
  addEventListener("offline", goOffline);
  addEventListener("online", goOnline);
  if (!navigator.onLine) {
    connection.value = "offline";
    return;
  }
  try {
    await c.connect();
  } catch {
    connection.value = navigator.onLine ? "connecting" : "offline";
  }
  if (firstOnThisDevice) void findInvitations(c);
}

/** The stream position is saved (at most every second) so that a reload resumes from it. */
let posTimer: ReturnType<typeof setTimeout> | undefined;
function savePos(): void {
  if (posTimer) return;
  posTimer = setTimeout(() => {
    posTimer = undefined;
    if (client && client.pos !== null) localStorage.setItem(`parley.pos.${client.userId}`, String(client.pos));
  }, 1000);
}

/**
 * A device's first sign-in starts the stream at "now": invitations sent before it are found by
 * reading the stream's older events once, in the background (at most 10,000 events).
 */
async function findInvitations(c: ParleyClient): Promise<void> {
  let since = 0;
  try {
    for (let i = 0; i < 20 && c === client; i++) {
      const page = await c.request("sync", { since, limit: 500 });
      for (const e of page.events) trackInvitation(e);
      since = page.pos;
      if (!page.more) break;
    }
  } catch {
    /* offline: invitations arriving later still show */
  }
}

function saveInvitations(list: Invitation[]): void {
  invitations.value = list;
  localStorage.setItem(`parley.invites.${me()}`, JSON.stringify(list));
}

function trackInvitation(e: RoomEvent): void {
  const c = e.content as { userId?: string };
  if (c.userId !== me()) return;
  if (e.type === "member.invite") {
    if (invitations.value.some((i) => i.roomId === e.roomId)) return;
    const entry: Invitation = { roomId: e.roomId, by: e.sender, ts: e.ts, name: "", kind: "group" };
    saveInvitations([...invitations.value, entry]);
    call("room.get", { roomId: e.roomId }).then(
      (r) => saveInvitations(invitations.value.map((i) => (i.roomId === e.roomId ? { ...i, name: r.name, kind: r.kind } : i))),
      () => undefined,
    );
  } else if (e.type === "member.join" || e.type === "member.invite.decline" || e.type === "member.ban" || e.type === "member.remove") {
    if (invitations.value.some((i) => i.roomId === e.roomId)) saveInvitations(invitations.value.filter((i) => i.roomId !== e.roomId));
  }
}

export async function answerInvitation(roomId: string, accept: boolean): Promise<void> {
  if (accept) await call("invite.accept", { roomId });
  else await call("invite.decline", { roomId });
  saveInvitations(invitations.value.filter((i) => i.roomId !== roomId));
  await refreshRooms();
}

// A browser that loses its network does not always close its sockets: close ours at once, and
// open a new one (which resumes the sync stream from the last position) when it is back.
function goOffline(): void {
  connection.value = "offline";
  client?.close(4000);
}
function goOnline(): void {
  connection.value = "connecting";
  client?.connect().catch(() => undefined);
}

export async function signOut(): Promise<void> {
  try {
    await sdk().logout();
  } catch {
    /* signed out locally whatever the server said */
  }
  await signOutLocal();
}

async function signOutLocal(): Promise<void> {
  client?.close();
  client = null;
  outbox = null;
  removeEventListener("offline", goOffline);
  removeEventListener("online", goOnline);
  if (session.value) {
    localStorage.removeItem(`parley.pos.${session.value.userId}`);
    localStorage.removeItem(`parley.invites.${session.value.userId}`);
  }
  rooms.value = [];
  invitations.value = [];
  timelines.value = {};
  saveSession(null);
}

let roomsTimer: ReturnType<typeof setTimeout> | undefined;
export async function refreshRooms(): Promise<void> {
  clearTimeout(roomsTimer);
  if (!client?.connected) return;
  rooms.value = (await call("room.list", {})).rooms;
}
function refreshRoomsSoon(): void {
  clearTimeout(roomsTimer);
  roomsTimer = setTimeout(() => void refreshRooms().catch(() => undefined), 150);
}

export async function profileOf(userId: string): Promise<Profile> {
  const known = profiles.value[userId];
  if (known) return known;
  const p = await call("profile.get", { userId });
  profiles.value = { ...profiles.value, [userId]: p };
  return p;
}

/** The name to show for a user: the display name once known (fetched on first sight). */
const asked = new Set<string>();
export function nameOf(userId: string): string {
  const p = profiles.value[userId];
  if (p) return p.displayName;
  if (!asked.has(userId) && client?.connected) {
    asked.add(userId);
    profileOf(userId).catch(() => asked.delete(userId));
  }
  return userId.slice(1).split(":")[0];
}

// ---- timelines ----

const PAGE = 50;

export function viewOf(e: RoomEvent): MessageView {
  const c = e.content as Record<string, any>;
  const kind = (c.kind ?? "text") as MessageView["kind"];
  return {
    roomId: e.roomId,
    seq: e.seq,
    eventId: e.eventId,
    sender: e.sender,
    body: c.redacted ? null : (c.body ?? c.question ?? c.title ?? c.file?.name ?? null),
    replyTo: c.replyTo ?? null,
    threadRoot: c.threadRoot ?? null,
    replyCount: 0,
    ts: e.ts,
    edited: false,
    deleted: !!c.redacted,
    reactions: [],
    myReaction: null,
    kind,
    file: c.file ?? null,
    // As the server's views: forwarded, mentions and a private reply's quote from the content.
    forwarded: c.forwarded === true,
    ...(Array.isArray(c.mentions) && c.mentions.length ? { mentions: c.mentions as string[] } : {}),
    ...(c.mentionAll === true ? { mentionAll: true as const } : {}),
    ...(c.quote && !c.redacted ? { quote: c.quote } : {}),
  };
}

function setTimeline(roomId: string, fn: (t: Timeline) => Timeline): void {
  const cur = timelines.value[roomId];
  if (!cur) return;
  timelines.value = { ...timelines.value, [roomId]: fn(cur) };
}

function upsert(list: MessageView[], m: MessageView): MessageView[] {
  const i = list.findIndex((x) => x.seq === m.seq);
  if (i >= 0) {
    const next = list.slice();
    next[i] = m;
    return next;
  }
  if (!list.length || list[list.length - 1].seq < m.seq) return [...list, m];
  return [...list, m].sort((a, b) => a.seq - b.seq);
}

/** Targets of events that change an earlier message's view. */
function targetOf(e: RoomEvent): number | null {
  const c = e.content as Record<string, any>;
  switch (e.type) {
    case "message.edit":
    case "message.delete":
    case "reaction":
    case "event.update":
    case "event.cancel":
    case "event.rsvp":
      return c.target ?? null;
    case "poll.vote":
    case "poll.close":
    case "poll.tally":
      return c.poll ?? null;
    default:
      return null;
  }
}

function applyEvent(e: RoomEvent): void {
  refreshRoomsSoon();
  savePos();
  if (e.type.startsWith("member.")) trackInvitation(e);
  if (e.type === "room.tombstone") {
    replaced.value = { ...replaced.value, [e.roomId]: (e.content as { replacement: string }).replacement };
    return;
  }
  const tl = timelines.value[e.roomId];
  if (e.type === "message") {
    const view = viewOf(e);
    if (tl) {
      if (view.threadRoot !== null) {
        // A reply under an announcement: the root's count grows; the thread panel re-reads.
        void refreshMessage(e.roomId, view.threadRoot);
      } else setTimeline(e.roomId, (t) => ({ ...t, messages: upsert(t.messages, view) }));
    }
    changed.value = { ...changed.value, [`${e.roomId}/${view.threadRoot ?? e.seq}`]: e.seq };
    if (e.sender !== me()) typing.value = { ...typing.value, [e.roomId]: (typing.value[e.roomId] ?? []).filter((u) => u !== e.sender) };
    return;
  }
  const target = targetOf(e);
  if (target !== null) {
    changed.value = { ...changed.value, [`${e.roomId}/${target}`]: e.seq };
    if (tl) void refreshMessage(e.roomId, target);
  }
}

async function refreshMessage(roomId: string, seq: number): Promise<void> {
  try {
    const { message } = await call("message.get", { roomId, seq });
    setTimeline(roomId, (t) => (t.messages.some((m) => m.seq === seq) ? { ...t, messages: upsert(t.messages, message) } : t));
  } catch {
    /* gone (deleted for me) or not visible: leave the list as it is */
  }
}

/** The page being fetched per room: a second caller waits for it instead of returning at once. */
const inFlight = new Map<string, Promise<void>>();

/** Opens a room: its newest page of history (kept while the app runs; live events extend it). */
export async function openRoom(roomId: string): Promise<void> {
  const readSeq = rooms.value.find((r) => r.roomId === roomId)?.readSeq ?? 0;
  if (timelines.value[roomId]) return;
  timelines.value = { ...timelines.value, [roomId]: { messages: [], more: true, loading: true, readSeq } };
  const first = (async () => {
    try {
      const page = await call("message.history", { roomId, limit: PAGE });
      setTimeline(roomId, (t) => ({ ...t, messages: mergePage(t.messages, page.messages), more: page.more, loading: false }));
    } catch (err) {
      const next = { ...timelines.value };
      delete next[roomId];
      timelines.value = next;
      throw err;
    } finally {
      inFlight.delete(roomId);
    }
  })();
  inFlight.set(roomId, first);
  await first;
}

function mergePage(list: MessageView[], page: MessageView[]): MessageView[] {
  let out = list;
  for (const m of page) if (m.threadRoot === null) out = upsert(out, m);
  return out;
}

/** Pages older history in (scrolling up). Resolves when the page (this call's or one already in flight) is merged. */
export function loadOlder(roomId: string): Promise<void> {
  const running = inFlight.get(roomId);
  if (running) return running;
  const tl = timelines.value[roomId];
  if (!tl || !tl.more) return Promise.resolve();
  setTimeline(roomId, (t) => ({ ...t, loading: true }));
  const before = tl.messages[0]?.seq;
  const page = (async () => {
    try {
      const res = await call("message.history", { roomId, limit: PAGE, ...(before ? { before } : {}) });
      setTimeline(roomId, (t) => ({ ...t, messages: mergePage(t.messages, res.messages), more: res.more, loading: false }));
    } catch (err) {
      setTimeline(roomId, (t) => ({ ...t, loading: false }));
      throw err;
    } finally {
      inFlight.delete(roomId);
    }
  })();
  inFlight.set(roomId, page);
  return page;
}

/** Pages until message `seq` is loaded (or the room's start is reached). */
export async function loadUntil(roomId: string, seq: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const opening = inFlight.get(roomId);
    if (opening) await opening;
    const tl = timelines.value[roomId];
    if (!tl || !tl.more || (tl.messages[0] && tl.messages[0].seq <= seq)) return;
    await loadOlder(roomId);
  }
}

export function forgetRoom(roomId: string): void {
  const next = { ...timelines.value };
  delete next[roomId];
  timelines.value = next;
}

/** Queues a send in the outbox: shown as pending until the server acknowledges it. */
export function send(params: SendParams): PendingSend {
  if (!outbox) throw new Error("not signed in");
  return outbox.enqueue(params);
}
export function discardPending(txnId: string): void {
  outbox?.discard(txnId);
}

export async function hideForMe(roomId: string, seq: number): Promise<void> {
  await call("message.delete", { roomId, seq, forEveryone: false });
  setTimeline(roomId, (t) => ({ ...t, messages: t.messages.filter((m) => m.seq !== seq) }));
}

export async function markRead(roomId: string, seq: number): Promise<void> {
  const r = rooms.value.find((x) => x.roomId === roomId);
  if (r && r.readSeq >= seq) return;
  await call("receipt.read", { roomId, seq });
  rooms.value = rooms.value.map((x) => (x.roomId === roomId ? { ...x, readSeq: seq, unread: 0 } : x));
}

/** Communities on the rail, each with the unread messages of its announcements and my groups in it. */
export const railCommunities = computed(() =>
  rooms.value
    .filter((r) => r.kind === "community")
    .map((c) => ({ ...c, unread: rooms.value.reduce((n, r) => n + (r.roomId === c.roomId || r.communityId === c.roomId ? r.unread : 0), 0) })),
);
export const railGroups = computed(() => rooms.value.filter((r) => r.kind === "group" && !r.communityId));

// ---- drafts: what is typed survives a reload ----

export function draftOf(key: string): string {
  return localStorage.getItem(`parley.draft.${key}`) ?? "";
}
export function saveDraft(key: string, text: string): void {
  if (text) localStorage.setItem(`parley.draft.${key}`, text);
  else localStorage.removeItem(`parley.draft.${key}`);
}
