import { lazy, Suspense } from "preact/compat";
import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import { t, plural, lang, setLang, type Lang } from "../i18n.ts";
import { session, connection, railCommunities, railGroups, resume, loadDiscovery, toast, signOut, invitations } from "../state.ts";
import { path, parse, routes, onLink } from "../router.ts";
import { Auth } from "./Auth.tsx";
import { Conversation } from "./Conversation.tsx";
import { CommunityHome, CreateRoom, HomeScreen } from "./Home.tsx";
import { Me, UserProfile } from "./Profile.tsx";
import { InviteLanding } from "./Invite.tsx";
// web-extra: saved/archived/reports screens, the server-admin area, pinned rooms and mention counts.
import { RailExtras, ExtraScreen, parseExtra } from "../features/screens.tsx";
import { arrange, MentionBadge } from "../features/rooms.tsx";

// The admin panel is a separate chunk, fetched the first time an admin opens it.
const AdminPanel = lazy(() => import("../admin/Admin.tsx"));

export function App() {
  const ready = useSignal(false);
  useEffect(() => {
    void loadDiscovery().catch(() => undefined);
    resume().finally(() => (ready.value = true));
  }, []);
  if (!ready.value) return <main class="center" aria-busy="true"><p>{t("conn.connecting")}</p></main>;
  const route = parse(path.value);
  if (!session.value) {
    return (
      <div class="signed-out">
        <LangSwitch />
        {route.name === "invite" ? <InviteLanding token={route.token} /> : null}
        <Auth />
      </div>
    );
  }
  const focused = route.name !== "home" || parseExtra(path.value) !== null;
  return (
    <div class={`shell ${focused ? "focused" : ""}`}>
      <a class="skip" href="#main">Skip to content</a>
      <Rail current={"roomId" in route ? route.roomId : ""} />
      <main id="main" tabIndex={-1}>
        {connection.value !== "online" ? (
          <p class="banner" role="status">
            {connection.value === "offline" ? t("conn.offline") : t("conn.connecting")}
          </p>
        ) : null}
        {toast.value ? (
          <p class="toast" role="alert">
            {toast.value} <button type="button" onClick={() => (toast.value = null)}>{t("conv.close")}</button>
          </p>
        ) : null}
        {route.name === "room" ? <Conversation key={route.roomId} roomId={route.roomId} /> : null}
        {route.name === "community" ? <CommunityHome key={route.roomId} roomId={route.roomId} /> : null}
        {route.name === "admin" ? (
          <Suspense fallback={<p>{t("conn.connecting")}</p>}>
            <AdminPanel key={route.roomId} roomId={route.roomId} />
          </Suspense>
        ) : null}
        {route.name === "invite" ? <InviteLanding token={route.token} /> : null}
        {route.name === "me" ? <Me /> : null}
        {route.name === "user" ? <UserProfile key={route.userId} userId={route.userId} /> : null}
        {route.name === "create" ? <CreateRoom communityId={route.communityId} /> : null}
        {route.name === "home" ? (parseExtra(path.value) ? <ExtraScreen path={path.value} /> : <HomeScreen />) : null}
      </main>
    </div>
  );
}

export function LangSwitch() {
  return (
    <label class="lang">
      {t("lang.label")}{" "}
      <select value={lang.value} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        <option value="en">English</option>
        <option value="zh-CN">简体中文</option>
      </select>
    </label>
  );
}

function Rail({ current }: { current: string }) {
  return (
    <nav class="rail" aria-label={t("nav.rooms")}>
      <h1 class="brand">
        <a href="/" onClick={onLink}>{t("app.name")}</a>
      </h1>
      <ul>
        {arrange(railCommunities.value).map((r) => (
          <li key={r.roomId}>
            <a href={routes.community(r.roomId)} onClick={onLink} aria-current={current === r.roomId ? "page" : undefined} data-room={r.roomId}>
              <span class="avatar" aria-hidden="true">{r.name.slice(0, 1).toUpperCase()}</span>
              <span class="name">{r.name}</span>
              {r.unread ? <span class="badge" aria-label={plural("unread", r.unread)}>{r.unread}</span> : null}
              <MentionBadge roomId={r.roomId} withGroups={r.kind === "community"} />
            </a>
          </li>
        ))}
        {arrange(railGroups.value).map((r) => (
          <li key={r.roomId}>
            <a href={routes.room(r.roomId)} onClick={onLink} aria-current={current === r.roomId ? "page" : undefined} data-room={r.roomId}>
              <span class="avatar group" aria-hidden="true">{r.name.slice(0, 1).toUpperCase()}</span>
              <span class="name">{r.name}</span>
              {r.unread ? <span class="badge" aria-label={plural("unread", r.unread)}>{r.unread}</span> : null}
              <MentionBadge roomId={r.roomId} withGroups={r.kind === "community"} />
            </a>
          </li>
        ))}
      </ul>
      {invitations.value.length ? (
        <p>
          <a href="/" onClick={onLink}>
            {t("home.invitations")} <span class="badge">{invitations.value.length}</span>
          </a>
        </p>
      ) : null}
      <p>
        <a class="button" href={routes.create()} onClick={onLink}>+ {t("nav.new")}</a>
      </p>
      <p>
        <a href={routes.me()} onClick={onLink}>{t("nav.profile")}</a>
      </p>
      <RailExtras current={current} />
      <LangSwitch />
      <p>
        <button type="button" onClick={() => void signOut()}>{t("auth.signOut")}</button>
      </p>
    </nav>
  );
}
