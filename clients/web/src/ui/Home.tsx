import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { OpResult, RoomSummary } from "../../../sdk/index.ts";
import { t, plural, errorWords, formatTime } from "../i18n.ts";
import { call, rooms, refreshRooms, toast, connection, invitations, answerInvitation, nameOf, lostConnection } from "../state.ts";
import { upload } from "../files.ts";
import { navigate, routes, onLink } from "../router.ts";
// web-extra: unread mentions beside the unread counts.
import { MentionBadge } from "../features/rooms.tsx";
import { JoinWithLink } from "../features/federation.tsx";

type Groups = OpResult<"community.groups">["groups"];

/** A community's home: its announcements first, then my groups, then groups I may join. */
export function CommunityHome({ roomId }: { roomId: string }) {
  const room = useSignal<RoomSummary | null>(null);
  const groups = useSignal<Groups>([]);
  const error = useSignal<string | null>(null);
  async function load() {
    if (connection.value !== "online") return;
    try {
      room.value = await call("room.get", { roomId });
      groups.value = (await call("community.groups", { roomId })).groups;
      error.value = null;
    } catch (err) {
      // Cut off while loading: asked again when the connection is back.
      if (!lostConnection(err)) error.value = errorWords(err);
    }
  }
  useEffect(() => void load(), [roomId, connection.value === "online", rooms.value.length]);
  if (error.value) return <p class="error" role="alert">{error.value}</p>;
  const r = room.value;
  if (!r) return <p aria-busy="true">…</p>;
  const rail = rooms.value.find((x) => x.roomId === roomId);
  const isAdmin = r.myRole === "owner" || r.myRole === "admin";
  const mine = groups.value.filter((g) => g.joined);
  const others = groups.value.filter((g) => !g.joined);
  async function join(groupId: string) {
    try {
      const res = await call("group.join", { roomId: groupId });
      await refreshRooms();
      if (res.status === "joined") navigate(routes.room(groupId));
      else await load();
    } catch (err) {
      toast.value = errorWords(err);
    }
  }
  return (
    <section class="community" aria-labelledby="community-title">
      <header class="room-head">
        <h2 id="community-title">{r.name}</h2>
        <span class="muted">{plural("members", r.memberCount)}</span>
        {isAdmin && !r.deactivated ? <a class="button" href={routes.admin(roomId)} onClick={onLink}>{t("community.admin")}</a> : null}
      </header>
      {r.deactivated ? <p role="status" data-deactivated>{t("community.deactivated")}</p> : null}
      {r.description ? <p>{r.description}</p> : null}
      <h3>{t("community.announcements")}</h3>
      <a class="card" href={routes.room(roomId)} onClick={onLink} data-announcements={roomId}>
        <strong>{t("community.announcements")}</strong>
        {rail?.unread ? <span class="badge" aria-label={plural("unread", rail.unread)}>{rail.unread}</span> : null}
        <MentionBadge roomId={roomId} />
        {rail?.lastMessage?.body ? (
          <span class="muted"> {rail.lastMessage.body} · {formatTime(rail.lastMessage.ts)}</span>
        ) : null}
      </a>
      <h3>{t("community.myGroups")}</h3>
      <ul class="cards">
        {mine.map((g) => {
          const unread = rooms.value.find((x) => x.roomId === g.roomId)?.unread ?? 0;
          return (
            <li key={g.roomId}>
              <a class="card" href={routes.room(g.roomId)} onClick={onLink}>
                <strong>{g.name}</strong> <span class="muted">{plural("members", g.memberCount)}</span>
                {unread ? <span class="badge" aria-label={plural("unread", unread)}>{unread}</span> : null}
                <MentionBadge roomId={g.roomId} />
              </a>
            </li>
          );
        })}
      </ul>
      {others.length ? (
        <>
          <h3>{t("community.otherGroups")}</h3>
          <ul class="cards">
            {others.map((g) => (
              <li key={g.roomId} class="card">
                <strong>{g.name}</strong> <span class="muted">{plural("members", g.memberCount)}</span>{" "}
                {g.requested ? (
                  <span class="muted">{t("community.requested")}</span>
                ) : (
                  <button type="button" onClick={() => void join(g.roomId)} aria-label={`${g.joinApproval ? t("community.ask") : t("community.join")}: ${g.name}`}>
                    {g.joinApproval ? t("community.ask") : t("community.join")}
                  </button>
                )}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {isAdmin ? (
        <p>
          <a class="button" href={`/new/${encodeURIComponent(roomId)}`} onClick={onLink}>+ {t("community.newGroup")}</a>
        </p>
      ) : null}
    </section>
  );
}

/** Create a community (name, description, picture, rules) or a group (in a community or not). */
export function CreateRoom({ communityId }: { communityId?: string }) {
  const kind = useSignal<"community" | "group">(communityId ? "group" : "community");
  const busy = useSignal(false);
  async function submit(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const name = String(f.get("name") ?? "").trim();
    const description = String(f.get("description") ?? "");
    busy.value = true;
    try {
      const file = f.get("picture");
      let picture: string | undefined;
      if (file instanceof File && file.size) picture = (await upload(file, file.name, () => undefined)).mediaId;
      const room =
        kind.value === "community"
          ? await call("community.create", { name, description, rules: String(f.get("rules") ?? ""), ...(picture ? { picture } : {}) })
          : await call("group.create", { name, description, ...(picture ? { picture } : {}), ...(communityId ? { communityId } : {}) });
      await refreshRooms();
      navigate(room.kind === "community" ? routes.community(room.roomId) : routes.room(room.roomId));
    } catch (err) {
      toast.value = errorWords(err);
    } finally {
      busy.value = false;
    }
  }
  return (
    <section aria-labelledby="create-title">
      <h2 id="create-title">{t("create.title")}</h2>
      <form onSubmit={submit} class="stack">
        {!communityId ? (
          <fieldset>
            <legend>{t("create.kind")}</legend>
            <label><input type="radio" name="kind" checked={kind.value === "community"} onChange={() => (kind.value = "community")} /> {t("create.community")}</label>
            <label><input type="radio" name="kind" checked={kind.value === "group"} onChange={() => (kind.value = "group")} /> {t("create.group")}</label>
          </fieldset>
        ) : null}
        <label>{t("create.name")}<input name="name" required maxLength={100} /></label>
        <label>{t("create.description")}<textarea name="description" rows={2} /></label>
        {kind.value === "community" ? <label>{t("create.rules")}<textarea name="rules" rows={3} /></label> : null}
        <label>{t("create.picture")}<input name="picture" type="file" accept="image/*" /></label>
        <button type="submit" disabled={busy.value}>{t("create.submit")}</button>
      </form>
    </section>
  );
}

/** The home screen: invitations waiting for an answer, else a hint; and "Join with a link". */
export function HomeScreen() {
  const list = invitations.value;
  async function answer(roomId: string, kind: string, accept: boolean) {
    try {
      await answerInvitation(roomId, accept);
      if (accept) navigate(kind === "community" ? routes.community(roomId) : routes.room(roomId));
    } catch (err) {
      toast.value = errorWords(err);
    }
  }
  return (
    <section aria-labelledby="home-title">
      <h2 id="home-title" class={list.length ? "" : "sr"}>{t("home.invitations")}</h2>
      {list.length ? (
        <ul class="cards">
          {list.map((i) => (
            <li key={i.roomId} class="card" data-invitation={i.roomId}>
              <strong>{i.name || "…"}</strong> <span class="muted">{nameOf(i.by)} · {formatTime(i.ts)}</span>{" "}
              <button type="button" onClick={() => void answer(i.roomId, i.kind, true)} aria-label={`${t("home.accept")}: ${i.name}`}>{t("home.accept")}</button>
              <button type="button" onClick={() => void answer(i.roomId, i.kind, false)} aria-label={`${t("home.decline")}: ${i.name}`}>{t("home.decline")}</button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="empty">{t("home.empty")}</p>
      )}
      <JoinWithLink />
    </section>
  );
}
