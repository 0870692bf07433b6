/**
 * People: what I can do about a person from their profile (message them privately, block or
 * unblock, report them to the admins of a room we share), "Reply privately" to a group message,
 * the people search and my blocked list, and the direct chats on the rail.
 */
import { useEffect } from "preact/hooks";
import { signal, useSignal } from "@preact/signals";
import type { MessageView, OpResult } from "../../../sdk/index.ts";
import { call, me, connection, nameOf, rooms, refreshRooms, toast } from "../state.ts";
import { navigate, routes, onLink } from "../router.ts";
import { plural } from "../i18n.ts";
import { f, words } from "./strings.ts";
import { dialog } from "./messages.tsx";
import { onNewSession } from "./store.ts";
import { Dialog } from "./Dialog.tsx";
import { arrange, MentionBadge } from "./rooms.tsx";

/** Whom I blocked (user.blocks), read once and kept as I block and unblock. */
export const blocked = signal<ReadonlySet<string> | null>(null);
onNewSession(() => (blocked.value = null));
async function loadBlocks(): Promise<void> {
  const ids = new Set<string>();
  let after: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await call("user.blocks", { limit: 500, ...(after ? { after } : {}) });
    for (const b of page.blocks) ids.add(b.userId);
    if (page.next === null) break;
    after = page.next;
  }
  blocked.value = ids;
}

/** Opens (or reopens) the direct chat with a person and goes there. */
export async function openDirect(userId: string): Promise<void> {
  try {
    const r = await call("direct.open", { userId });
    await refreshRooms();
    navigate(routes.room(r.roomId));
  } catch (err) {
    toast.value = words(err);
  }
}

async function setBlocked(userId: string, block: boolean): Promise<void> {
  try {
    if (block) await call("user.block", { userId });
    else await call("user.unblock", { userId });
    const next = new Set(blocked.value ?? []);
    if (block) next.add(userId);
    else next.delete(userId);
    blocked.value = next;
  } catch (err) {
    toast.value = words(err);
  }
}

export function PersonActions({ userId }: { userId: string }) {
  const shared = useSignal<{ roomId: string; name: string }[]>([]);
  const room = useSignal("");
  useEffect(() => {
    if (connection.value !== "online" || userId === me()) return;
    if (blocked.value === null) void loadBlocks().catch(() => undefined);
    call("user.common_groups", { userId }).then(
      (r) => {
        shared.value = r.groups.map((g) => ({ roomId: g.roomId, name: g.name }));
        room.value = shared.value[0]?.roomId ?? "";
      },
      () => undefined,
    );
  }, [userId, connection.value === "online"]);
  if (userId === me()) return null;
  const isBlocked = blocked.value?.has(userId) ?? false;
  return (
    <div class="x-person-actions">
      {isBlocked ? <p class="muted" data-blocked="true">{f("blockedNote")}</p> : null}
      <p class="inline">
        <button type="button" onClick={() => void openDirect(userId)}>{f("direct")}</button>
        <button type="button" aria-pressed={isBlocked} onClick={() => void setBlocked(userId, !isBlocked)}>{isBlocked ? f("unblock") : f("block")}</button>
      </p>
      {shared.value.length ? (
        <p class="inline">
          {shared.value.length > 1 ? (
            <label>
              {f("inRoomFilter")}
              <select value={room.value} onChange={(e) => (room.value = (e.currentTarget as HTMLSelectElement).value)}>
                {shared.value.map((g) => (
                  <option key={g.roomId} value={g.roomId}>{g.name}</option>
                ))}
              </select>
            </label>
          ) : null}
          <button type="button" onClick={() => (dialog.value = { kind: "reportUser", roomId: room.value, userId })}>{f("reportPerson")}</button>
        </p>
      ) : null}
    </div>
  );
}

/** The rail's direct chats (pinned first, archived apart), named after the other person. */
export function DirectChats({ current }: { current: string }) {
  const list = arrange(rooms.value.filter((r) => r.kind === "direct"));
  if (!list.length) return null;
  return (
    <>
      <h2 class="x-rail-heading">{f("directChats")}</h2>
      <ul>
        {list.map((r) => {
          const name = r.peer?.displayName ?? r.name;
          return (
            <li key={r.roomId}>
              <a href={routes.room(r.roomId)} onClick={onLink} aria-current={current === r.roomId ? "page" : undefined} data-room={r.roomId}>
                <span class="avatar" aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>
                <span class="name">{name}</span>
                {/* A pair's second chat, closed (room.tombstone): listed for what was said in it. */}
                {r.replacedBy ? <span class="muted" data-moved-chat> · {f("chatMoved")}</span> : null}
                {r.unread ? <span class="badge" aria-label={plural("unread", r.unread)}>{r.unread}</span> : null}
                <MentionBadge roomId={r.roomId} />
              </a>
            </li>
          );
        })}
      </ul>
    </>
  );
}

let txn = 0;
/** "Reply privately": the first message of the direct chat, quoting a group message. */
export function ReplyPrivatelyDialog({ m, onClose }: { m: MessageView; onClose: () => void }) {
  const body = useSignal("");
  const error = useSignal<string | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    try {
      const r = await call("direct.open", { userId: m.sender, replyTo: { roomId: m.roomId, seq: m.seq }, body: body.value.trim(), txnId: `dm-${Date.now().toString(36)}-${++txn}` });
      onClose();
      await refreshRooms();
      navigate(routes.room(r.roomId));
    } catch (err) {
      error.value = words(err);
    }
  }
  return (
    <Dialog title={`${f("replyPrivately")}: ${nameOf(m.sender)}`} onClose={onClose}>
      <blockquote class="quote">{m.body}</blockquote>
      <form onSubmit={submit} class="stack">
        <label>
          {f("privateMessage")}
          <textarea rows={3} required value={body.value} onInput={(e) => (body.value = (e.currentTarget as HTMLTextAreaElement).value)} />
        </label>
        {error.value ? <p class="error" role="alert">{error.value}</p> : null}
        <p>
          <button type="submit">{f("send")}</button> <button type="button" onClick={onClose}>{f("cancel")}</button>
        </p>
      </form>
    </Dialog>
  );
}

type Found = OpResult<"user.search">["users"];

/** The people search (display names and usernames), and whom I blocked. */
export function PeopleSearch() {
  const query = useSignal("");
  const found = useSignal<Found | null>(null);
  const next = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  useEffect(() => {
    if (connection.value === "online" && blocked.value === null) void loadBlocks().catch(() => undefined);
  }, [connection.value === "online"]);
  async function search(after?: string) {
    try {
      const r = await call("user.search", { query: query.value.trim(), limit: 20, ...(after ? { after } : {}) });
      found.value = after ? [...(found.value ?? []), ...r.users] : r.users;
      next.value = r.next;
      error.value = null;
    } catch (err) {
      error.value = words(err);
    }
  }
  return (
    <section aria-labelledby="people-title">
      <h2 id="people-title">{f("searchPeople")}</h2>
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <label>
          {f("query")}
          <input type="search" required maxLength={100} value={query.value} onInput={(e) => (query.value = (e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit">{f("search")}</button>
      </form>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {found.value && !found.value.length ? <p role="status">{f("noResults")}</p> : null}
      <ul class="cards">
        {(found.value ?? []).map((u) => (
          <li key={u.userId} class="card" data-person={u.userId}>
            <a href={routes.user(u.userId)} onClick={onLink}>{u.displayName}</a> <span class="muted">{u.userId}</span>
            {u.commonGroups.length ? <span class="muted">· {u.commonGroups.map((g) => g.name).join(", ")}</span> : null}
            <button type="button" aria-label={`${f("direct")}: ${u.displayName}`} onClick={() => void openDirect(u.userId)}>{f("direct")}</button>
          </li>
        ))}
      </ul>
      {next.value ? <button type="button" onClick={() => void search(next.value!)}>{f("older")}</button> : null}
      <h2>{f("blocked")}</h2>
      {blocked.value && !blocked.value.size ? <p>{f("noBlocked")}</p> : null}
      <ul class="list">
        {[...(blocked.value ?? [])].map((userId) => (
          <li key={userId} data-blocked-user={userId}>
            <a href={routes.user(userId)} onClick={onLink}>{nameOf(userId)}</a>{" "}
            <button type="button" aria-label={`${f("unblock")}: ${nameOf(userId)}`} onClick={() => void setBlocked(userId, false)}>{f("unblock")}</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
