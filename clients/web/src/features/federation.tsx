/**
 * Federation in the everyday screens: users of other servers are shown with their full id
 * beside their name (two Bobs of two servers must not look alike), and a link made by another
 * server can be joined from here ("Join with a link", link.join with `server`).
 */
import { useSignal } from "@preact/signals";
import { t, errorWords } from "../i18n.ts";
import { call, me, refreshRooms, connection } from "../state.ts";
import { navigate, routes } from "../router.ts";

const serverOf = (userId: string) => userId.slice(userId.indexOf(":") + 1);

/** The full id of a user of another server (shown beside their name), or null for a user of mine. */
export function remoteIdOf(userId: string): string | null {
  const mine = me();
  return mine && serverOf(userId) !== serverOf(mine) ? userId : null;
}

/** A user's full id after their name when they are of another server. */
export function RemoteId({ userId }: { userId: string }) {
  const id = remoteIdOf(userId);
  return id ? <span class="muted remote-id" data-remote-id={id}> {id}</span> : null;
}

/**
 * What a pasted link names: its token, and the server that made it when that is not this one.
 * Links read `<public URL>/join/<token>` (or the app's `/i/<token>`); the server is taken from
 * the link's address, which the person may correct when that server's name differs from it.
 */
export function parseInviteLink(text: string): { token: string; server: string | null } | null {
  const raw = text.trim();
  if (/^[A-Za-z0-9_-]{8,64}$/.test(raw)) return { token: raw, server: null };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const m = /\/(?:join|i)\/([A-Za-z0-9_-]{8,64})\/?$/.exec(url.pathname);
  if (!m) return null;
  return { token: m[1], server: url.origin === location.origin ? null : url.host.toLowerCase() };
}

/**
 * A room joined on another server is read here from this server's copy, which arrives with the
 * home's first batch just after the join: wait for it (a bounded number of tries) before opening
 * the room, or the room would open as "no such room".
 */
async function replicated(roomId: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      await call("room.get", { roomId });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** "Join with a link": a link of this server or of another one, joined through this server. */
export function JoinWithLink() {
  const link = useSignal("");
  const server = useSignal("");
  const error = useSignal<string | null>(null);
  const requested = useSignal(false);
  const busy = useSignal(false);
  const waiting = useSignal<string | null>(null);
  function onLinkInput(value: string) {
    link.value = value;
    error.value = null;
    requested.value = false;
    const parsed = parseInviteLink(value);
    server.value = parsed?.server ?? "";
  }
  async function join(e: Event) {
    e.preventDefault();
    const parsed = parseInviteLink(link.value);
    if (!parsed) return void (error.value = t("joinLink.invalid"));
    const other = server.value.trim().toLowerCase();
    busy.value = true;
    try {
      const res = await call("link.join", { token: parsed.token, ...(other ? { server: other } : {}) });
      if (other && res.status === "joined") {
        waiting.value = other;
        await replicated(res.roomId);
        waiting.value = null;
      }
      await refreshRooms();
      link.value = "";
      server.value = "";
      if (res.status === "requested") requested.value = true;
      else navigate(res.room.kind === "community" ? routes.community(res.roomId) : routes.room(res.roomId));
    } catch (err) {
      error.value = errorWords(err);
    } finally {
      busy.value = false;
      waiting.value = null;
    }
  }
  return (
    <form class="stack join-link" onSubmit={join} aria-labelledby="join-link-title">
      <h3 id="join-link-title">{t("joinLink.title")}</h3>
      <label>
        {t("joinLink.link")}
        <input type="text" inputMode="url" required autoComplete="off" spellcheck={false} placeholder="https://school.example/join/…" value={link.value} onInput={(e) => onLinkInput((e.currentTarget as HTMLInputElement).value)} />
      </label>
      {server.value || parseInviteLink(link.value)?.server ? (
        <label>
          {t("joinLink.server")}
          <input type="text" autoComplete="off" spellcheck={false} aria-describedby="join-link-server-help" value={server.value} onInput={(e) => (server.value = (e.currentTarget as HTMLInputElement).value)} />
          <span id="join-link-server-help" class="muted">{t("joinLink.serverHelp")}</span>
        </label>
      ) : null}
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {requested.value ? <p role="status">{t("invite.requested")}</p> : null}
      {waiting.value ? <p role="status" aria-busy="true">{t("joinLink.waiting", { server: waiting.value })}</p> : null}
      <button type="submit" disabled={busy.value || connection.value !== "online"}>{t("joinLink.join")}</button>
    </form>
  );
}
