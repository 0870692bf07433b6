/**
 * My room list: the mention count beside the unread count, pinned rooms first and archived ones
 * apart (with a screen of their own), and each room's notification level, timed mute, pin and
 * archive switches.
 */
import { useSignal } from "@preact/signals";
import { call, rooms, refreshRooms, toast, type RailRoom } from "../state.ts";
import { formatTime, plural } from "../i18n.ts";
import { routes, onLink } from "../router.ts";
import { f, words } from "./strings.ts";

/** A room's title: a direct chat is named after the other person (from my room list). */
export function roomTitle(r: { roomId: string; name: string }): string {
  return rooms.value.find((x) => x.roomId === r.roomId)?.peer?.displayName ?? r.name;
}

/** Pinned rooms first (in the server's order), archived rooms left out. */
export function arrange<T extends { roomId: string }>(list: T[]): T[] {
  const by = new Map(rooms.value.map((r) => [r.roomId, r]));
  const shown = list.filter((r) => !by.get(r.roomId)?.archived);
  return [...shown.filter((r) => by.get(r.roomId)?.pinned), ...shown.filter((r) => !by.get(r.roomId)?.pinned)];
}

/** Unread mentions of me in a room (or a community with its groups), as a badge. */
export function MentionBadge({ roomId, withGroups }: { roomId: string; withGroups?: boolean }) {
  const n = rooms.value.reduce((s, r) => s + (r.roomId === roomId || (withGroups && r.communityId === roomId) ? r.mentions : 0), 0);
  const r = rooms.value.find((x) => x.roomId === roomId);
  return (
    <>
      {r?.pinned ? <span class="x-flag" title={f("pinnedRoom")} aria-label={f("pinnedRoom")}>📌</span> : null}
      {r && mutedNow(r) ? <span class="x-flag" title={f("muted")} aria-label={f("muted")}>🔕</span> : null}
      {n ? (
        <span class="badge x-mentions" aria-label={f(n === 1 ? "mentionsBadge.one" : "mentionsBadge", { n })}>@{n}</span>
      ) : null}
    </>
  );
}

function mutedNow(r: RailRoom): boolean {
  return r.notify.level === "none" || (r.notify.mutedUntil !== null && r.notify.mutedUntil > Date.now());
}

/** The room's settings of mine: notification level, timed mute, pin to the top, archive. */
export function RoomSettings({ roomId }: { roomId: string }) {
  const open = useSignal(false);
  const r = rooms.value.find((x) => x.roomId === roomId);
  if (!r) return null;
  async function attempt(fn: () => Promise<unknown>) {
    try {
      await fn();
      await refreshRooms();
      return true;
    } catch (err) {
      toast.value = words(err);
      return false;
    }
  }
  async function saveNotify(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const level = String(form.get("level")) as "all" | "mentions" | "none";
    const hours = Number(form.get("mute") ?? 0);
    if (await attempt(() => call("room.notify.set", { roomId, level, mutedUntil: hours ? Date.now() + hours * 3600_000 : null }))) toast.value = f("saved");
  }
  const id = `x-room-settings-${roomId.replace(/[^A-Za-z0-9]/g, "")}`;
  return (
    <div class="x-room-settings" onKeyDown={(e) => e.key === "Escape" && (open.value = false)}>
      <button type="button" aria-expanded={open.value} aria-controls={id} onClick={() => (open.value = !open.value)}>
        {f("roomSettings")}
      </button>
      {open.value ? (
        <div id={id} class="x-popover">
          <form onSubmit={saveNotify} class="stack" aria-label={f("roomSettings")}>
            <label>
              {f("notifyLevel")}
              <select name="level" value={r.notify.level}>
                <option value="all">{f("notify.all")}</option>
                <option value="mentions">{f("notify.mentions")}</option>
                <option value="none">{f("notify.none")}</option>
              </select>
            </label>
            <label>
              {f("muteFor")}
              <select name="mute">
                <option value="0">{f("mute.0")}</option>
                <option value="1">{f("mute.1")}</option>
                <option value="8">{f("mute.8")}</option>
                <option value="168">{f("mute.168")}</option>
              </select>
            </label>
            {r.notify.mutedUntil !== null && r.notify.mutedUntil > Date.now() ? (
              <p class="muted" data-muted-until={r.notify.mutedUntil}>{f("mutedUntil", { when: formatTime(r.notify.mutedUntil) })}</p>
            ) : null}
            <button type="submit">{f("save")}</button>
          </form>
          <p>
            <button type="button" aria-pressed={r.pinned} onClick={() => void attempt(() => call("room.pin", { roomId, pinned: !r.pinned }))}>
              {r.pinned ? f("unpinRoom") : f("pinRoom")}
            </button>{" "}
            <button type="button" aria-pressed={r.archived} onClick={() => void attempt(() => call("room.archive", { roomId, archived: !r.archived }))}>
              {r.archived ? f("unarchive") : f("archive")}
            </button>
          </p>
        </div>
      ) : null}
    </div>
  );
}

/** The archived rooms, each with a way back. */
export function ArchivedRooms() {
  const list = rooms.value.filter((r) => r.archived);
  return (
    <section aria-labelledby="archived-title">
      <h2 id="archived-title">{f("archivedTitle")}</h2>
      {list.length ? (
        <ul class="cards">
          {list.map((r) => (
            <li key={r.roomId} class="card" data-archived={r.roomId}>
              <a href={r.kind === "community" ? routes.community(r.roomId) : routes.room(r.roomId)} onClick={onLink}>{r.name}</a>
              {r.unread ? <span class="badge" aria-label={plural("unread", r.unread)}>{r.unread}</span> : null}
              <MentionBadge roomId={r.roomId} />
              <button
                type="button"
                aria-label={`${f("unarchive")}: ${r.name}`}
                onClick={() => void call("room.archive", { roomId: r.roomId, archived: false }).then(refreshRooms, (err) => (toast.value = words(err)))}
              >
                {f("unarchive")}
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="empty">{f("noArchived")}</p>
      )}
    </section>
  );
}
