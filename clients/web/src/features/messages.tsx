/**
 * Message features that hook into the conversation: a message's text with its mentions
 * highlighted and a "Forwarded" mark, the extra actions of a message's menu (pin, save,
 * forward, report), the pinned messages at the top of a room, and the dialogs they open.
 */
import { useEffect } from "preact/hooks";
import { createPortal } from "preact/compat";
import { signal, useSignal } from "@preact/signals";
import type { MessageView } from "../../../sdk/index.ts";
import { call, me, nameOf, rooms, toast, loadUntil, connection, timelines } from "../state.ts";
import { formatTime } from "../i18n.ts";
import { f, words } from "./strings.ts";
import { pinsVersion, note, usernameOf, onNewSession } from "./store.ts";
import { ReplyPrivatelyDialog } from "./people.tsx";
import { Dialog } from "./Dialog.tsx";
import "./features.css";

/** Seqs pinned in each room (room.get's pinnedMessages), kept fresh by the PinnedBar. */
export const pinnedIn = signal<Record<string, number[]>>({});
/** `roomId/seq` of my saved messages (message.saved), read once and kept as I save and unsave. */
export const savedKeys = signal<ReadonlySet<string> | null>(null);
/** The dialog open now (forward or report), outside any menu so that closing the menu keeps it. */
export const dialog = signal<{ kind: "forward" | "report" | "replyPrivately"; m: MessageView } | { kind: "reportUser"; roomId: string; userId: string } | null>(null);
onNewSession(() => ((savedKeys.value = null), (pinnedIn.value = {}), (dialog.value = null)));
/** A message to show once its room's conversation is open (from search results). */
export const jumpTarget = signal<{ roomId: string; seq: number } | null>(null);

const token = /@([\p{L}\p{N}._-]+)/gu;

/**
 * A message's text: its mentions highlighted (of me most), and "Forwarded" above a forwarded one.
 * Both come from the view (the server's `mentions`, `mentionAll` and `forwarded`), so history
 * shows them as the live message did, on every device.
 */
export function MessageText({ m }: { m: MessageView }) {
  const mentions = m.mentions ?? [];
  const body = m.body ?? "";
  const parts: (string | preact.JSX.Element)[] = [];
  let last = 0;
  for (const match of body.matchAll(token)) {
    const name = match[1].toLowerCase().replace(/[._-]+$/, "");
    const all = name === "all" || name === "everyone";
    const user = all ? undefined : mentions.find((u) => usernameOf(u).toLowerCase() === name);
    if (all ? m.mentionAll !== true : user === undefined) continue;
    const isMe = user === me();
    const at = match.index ?? 0;
    const text = `@${match[1].slice(0, name.length)}`;
    parts.push(body.slice(last, at));
    parts.push(
      isMe || all ? (
        <mark class="x-mention x-me" key={at}>{text}</mark>
      ) : (
        <span class="x-mention" key={at}>{text}</span>
      ),
    );
    last = at + text.length;
  }
  parts.push(body.slice(last));
  // A private reply's quote (direct chats).
  const quote = m.quote as { sender: string; body: string | null } | undefined;
  return (
    <>
      {m.forwarded ? <p class="x-forwarded muted">↪ {f("forwarded")}</p> : null}
      {quote ? (
        <blockquote class="quote x-quote">
          <span class="sr">{f("quoted")}</span> <strong>{nameOf(quote.sender)}</strong> {quote.body ?? ""}
        </blockquote>
      ) : null}
      <p class="body">{parts}</p>
    </>
  );
}

function isDirect(roomId: string): boolean {
  return rooms.value.find((r) => r.roomId === roomId)?.kind === "direct";
}

async function attempt(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    toast.value = words(err);
    return false;
  }
}

async function loadSaved(): Promise<void> {
  const keys = new Set<string>();
  let before: number | undefined;
  for (let i = 0; i < 5; i++) {
    const page = await call("message.saved", { limit: 200, ...(before ? { before } : {}) });
    for (const s of page.saved) keys.add(`${s.message.roomId}/${s.message.seq}`);
    if (page.next === null) break;
    before = page.next;
  }
  savedKeys.value = keys;
}

/** The extra buttons of a message's menu: pin/unpin (admins), save/unsave, forward, report. */
export function MessageActions({ m, isAdmin, inThread, onDone }: { m: MessageView; isAdmin: boolean; inThread?: boolean; onDone: () => void }) {
  useEffect(() => {
    if (savedKeys.value === null) void loadSaved().catch(() => undefined);
  }, []);
  const key = `${m.roomId}/${m.seq}`;
  const isPinned = (pinnedIn.value[m.roomId] ?? []).includes(m.seq);
  const isSaved = savedKeys.value?.has(key) ?? false;
  const act = (fn: () => Promise<unknown>) => {
    onDone();
    void attempt(fn);
  };
  return (
    <>
      {isAdmin && !inThread ? (
        <button type="button" onClick={() => act(() => call(isPinned ? "message.unpin" : "message.pin", { roomId: m.roomId, seq: m.seq }).then((r) => note(r.event)))}>
          {isPinned ? f("unpinMessage") : f("pinMessage")}
        </button>
      ) : null}
      <button
        type="button"
        aria-pressed={isSaved}
        onClick={() =>
          act(async () => {
            const r = isSaved ? await call("message.unsave", { roomId: m.roomId, seq: m.seq }) : await call("message.save", { roomId: m.roomId, seq: m.seq });
            const next = new Set(savedKeys.value ?? []);
            if (r.saved) next.add(key);
            else next.delete(key);
            savedKeys.value = next;
            toast.value = r.saved ? f("saved") : null;
          })
        }
      >
        {isSaved ? f("unsaveMessage") : f("saveMessage")}
      </button>
      {m.kind === "text" || m.kind === "file" ? (
        <button type="button" onClick={() => (onDone(), (dialog.value = { kind: "forward", m }))}>{f("forward")}</button>
      ) : null}
      {m.sender !== me() && !isDirect(m.roomId) ? (
        <button type="button" onClick={() => (onDone(), (dialog.value = { kind: "replyPrivately", m }))}>{f("replyPrivately")}</button>
      ) : null}
      {m.sender !== me() ? <button type="button" onClick={() => (onDone(), (dialog.value = { kind: "report", m }))}>{f("report")}</button> : null}
    </>
  );
}

/** The pinned messages of a room, at the top of its conversation; admins unpin from here. */
export function PinnedBar({ roomId, isAdmin }: { roomId: string; isAdmin: boolean }) {
  const list = useSignal<MessageView[]>([]);
  const version = pinsVersion.value[roomId] ?? 0;
  useEffect(() => {
    if (connection.value !== "online") return;
    let live = true;
    void (async () => {
      try {
        const seqs = (await call("room.get", { roomId })).pinnedMessages ?? [];
        pinnedIn.value = { ...pinnedIn.value, [roomId]: [...seqs] };
        const views: MessageView[] = [];
        for (const seq of seqs) {
          try {
            views.push((await call("message.get", { roomId, seq })).message);
          } catch {
            /* not readable to me (before I joined): not shown */
          }
        }
        if (live) list.value = views;
      } catch {
        /* the room itself says why */
      }
    })();
    return () => void (live = false);
  }, [roomId, version, connection.value === "online"]);
  useEffect(() => {
    const j = jumpTarget.value;
    if (!j || j.roomId !== roomId || connection.value !== "online") return;
    jumpTarget.value = null;
    void show(j.seq);
  }, [jumpTarget.value, roomId, connection.value === "online"]);
  if (!list.value.length) return null;
  async function show(seq: number) {
    // The conversation opens its timeline after this bar's effects ran: wait for its first page.
    for (let i = 0; i < 100 && (!timelines.value[roomId] || timelines.value[roomId].loading); i++) await new Promise((r) => setTimeout(r, 100));
    await loadUntil(roomId, seq);
    requestAnimationFrame(() => {
      const el = document.querySelector<HTMLElement>(`.conversation [role=log] [data-seq="${seq}"]`);
      el?.scrollIntoView({ block: "center" });
      el?.focus();
    });
  }
  return (
    <section class="x-pinned" aria-label={f("pinned")}>
      <ul>
        {list.value.map((m) => (
          <li key={m.seq} data-pinned={m.seq}>
            <span aria-hidden="true">📌</span>{" "}
            <button type="button" class="link" onClick={() => void show(m.seq)}>
              <strong>{nameOf(m.sender)}</strong>: {m.deleted ? "…" : (m.body ?? "")}
            </button>{" "}
            {isAdmin ? (
              <button type="button" aria-label={`${f("unpinMessage")}: ${m.body ?? ""}`} onClick={() => void attempt(() => call("message.unpin", { roomId, seq: m.seq }).then((r) => note(r.event)))}>
                {f("unpinMessage")}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * The open dialog, if any: forward a message, report a message or a person, reply privately.
 * Rendered into the body (a portal), so that it shows even where its host (the rail) is hidden.
 */
export function FeatureDialogs() {
  const d = dialog.value;
  if (!d) return null;
  return createPortal(<OpenDialog />, document.body);
}

function OpenDialog() {
  const d = dialog.value;
  if (!d) return null;
  const close = () => (dialog.value = null);
  if (d.kind === "replyPrivately") return <ReplyPrivatelyDialog m={d.m} onClose={close} />;
  if (d.kind === "reportUser") return <ReportDialog roomId={d.roomId} userId={d.userId} about={nameOf(d.userId)} onClose={close} />;
  if (d.kind === "report") return <ReportDialog roomId={d.m.roomId} seq={d.m.seq} about={`${nameOf(d.m.sender)}: ${d.m.body ?? ""}`} onClose={close} />;
  return <ForwardDialog m={d.m} onClose={close} />;
}

let txn = 0;
function ForwardDialog({ m, onClose }: { m: MessageView; onClose: () => void }) {
  // Rooms I might post in: groups, and communities whose announcements I may post (admins).
  const targets = rooms.value.filter((r) => !r.archived && (r.kind === "group" || r.role === "owner" || r.role === "admin"));
  const to = useSignal(targets.find((r) => r.roomId !== m.roomId)?.roomId ?? targets[0]?.roomId ?? "");
  const error = useSignal<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const r = await call("message.forward", { from: { roomId: m.roomId, seq: m.seq }, to: to.value, txnId: `fw-${Date.now().toString(36)}-${++txn}` });
      note(r.event);
      toast.value = f("forwardDone", { room: rooms.value.find((x) => x.roomId === to.value)?.name ?? "" });
      onClose();
    } catch (err) {
      error.value = words(err);
    }
  }
  return (
    <Dialog title={f("forward")} onClose={onClose}>
      <blockquote class="quote">{m.body}</blockquote>
      <form onSubmit={submit} class="stack">
        <label>
          {f("forwardTo")}
          <select value={to.value} onChange={(e) => (to.value = (e.currentTarget as HTMLSelectElement).value)}>
            {targets.map((r) => (
              <option key={r.roomId} value={r.roomId}>{r.name}</option>
            ))}
          </select>
        </label>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <p>
          <button type="submit">{f("forward")}</button> <button type="button" onClick={onClose}>{f("cancel")}</button>
        </p>
      </form>
    </Dialog>
  );
}

function ReportDialog({ roomId, seq, userId, about, onClose }: { roomId: string; seq?: number; userId?: string; about: string; onClose: () => void }) {
  const reason = useSignal("");
  const error = useSignal<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const r = await call("report.create", { roomId, reason: reason.value.trim(), ...(seq !== undefined ? { seq } : { userId: userId! }) });
      toast.value = r.duplicate ? f("reportDuplicate") : f("reportSent");
      onClose();
    } catch (err) {
      error.value = words(err);
    }
  }
  return (
    <Dialog title={seq !== undefined ? f("reportMessage") : f("reportPerson")} onClose={onClose}>
      <blockquote class="quote">{about}</blockquote>
      <form onSubmit={submit} class="stack">
        <label>
          {f("reason")}
          <textarea rows={3} required maxLength={1000} value={reason.value} onInput={(e) => (reason.value = (e.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <p>
          <button type="submit">{f("send")}</button> <button type="button" onClick={onClose}>{f("cancel")}</button>
        </p>
      </form>
    </Dialog>
  );
}

/** When a message was saved, for the saved list. */
export function savedWhen(ts: number): string {
  return f("savedAt", { when: formatTime(ts) });
}
