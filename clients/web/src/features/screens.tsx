/**
 * The screens of the everyday features, under /me/… (routes the server already answers with the
 * app): saved messages, archived rooms, my reports and their outcome, and the server-admin area
 * (loaded lazily, for server admins). Also the rail's links to them and the dialogs' host.
 */
import { lazy, Suspense } from "preact/compat";
import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { MessageView, OpResult } from "../../../sdk/index.ts";
import { call, nameOf, rooms, toast, connection, session } from "../state.ts";
import { formatTime } from "../i18n.ts";
import { routes, onLink } from "../router.ts";
import { f, words } from "./strings.ts";
import { serverAdmin, reportsVersion, watch } from "./store.ts";
import { FeatureDialogs, savedKeys, savedWhen } from "./messages.tsx";
import { ArchivedRooms } from "./rooms.tsx";
import { DirectChats, PeopleSearch } from "./people.tsx";
import { MessageSearch } from "./search.tsx";

// The server-admin area is a chunk of its own, fetched the first time a server admin opens it.
const ServerAdmin = lazy(() => import("../server-admin/ServerAdmin.tsx"));

export const extraRoutes = {
  saved: "/me/saved",
  archived: "/me/archived",
  reports: "/me/reports",
  serverAdmin: "/me/server-admin",
  people: "/me/people",
  search: "/me/search",
} as const;
type Extra = keyof typeof extraRoutes;

/** The feature screen a path names, or null. */
export function parseExtra(path: string): Extra | null {
  for (const [name, p] of Object.entries(extraRoutes)) if (path === p) return name as Extra;
  return null;
}

export function ExtraScreen({ path }: { path: string }) {
  const name = parseExtra(path);
  if (name === "saved") return <SavedMessages />;
  if (name === "archived") return <ArchivedRooms />;
  if (name === "reports") return <MyReports />;
  if (name === "people") return <PeopleSearch />;
  if (name === "search") return <MessageSearch />;
  if (name === "serverAdmin")
    return (
      <Suspense fallback={<p aria-busy="true">…</p>}>
        <ServerAdmin />
      </Suspense>
    );
  return null;
}

/** The rail's links to these screens (the server-admin area only for server admins). */
export function RailExtras({ current = "" }: { current?: string }) {
  useEffect(() => watch(), [session.value?.userId, connection.value]);
  const archived = rooms.value.filter((r) => r.archived).length;
  return (
    <>
      <DirectChats current={current} />
      <ul class="x-rail-links">
        <li><a href={extraRoutes.search} onClick={onLink}>{f("searchMessages")}</a></li>
        <li><a href={extraRoutes.people} onClick={onLink}>{f("searchPeople")}</a></li>
        <li><a href={extraRoutes.saved} onClick={onLink}>{f("savedTitle")}</a></li>
        <li>
          <a href={extraRoutes.archived} onClick={onLink}>
            {f("archived")}
            {archived ? ` (${archived})` : ""}
          </a>
        </li>
        <li><a href={extraRoutes.reports} onClick={onLink}>{f("myReports")}</a></li>
        {serverAdmin.value ? <li><a href={extraRoutes.serverAdmin} onClick={onLink}>{f("serverAdmin")}</a></li> : null}
      </ul>
      <FeatureDialogs />
    </>
  );
}

type Saved = OpResult<"message.saved">["saved"];

function SavedMessages() {
  const list = useSignal<Saved>([]);
  const next = useSignal<number | null>(null);
  const loaded = useSignal(false);
  async function load(before?: number) {
    try {
      const page = await call("message.saved", { limit: 50, ...(before ? { before } : {}) });
      list.value = before ? [...list.value, ...page.saved] : page.saved;
      next.value = page.next;
      loaded.value = true;
    } catch (err) {
      toast.value = words(err);
    }
  }
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  async function unsave(m: MessageView) {
    try {
      await call("message.unsave", { roomId: m.roomId, seq: m.seq });
      list.value = list.value.filter((s) => !(s.message.roomId === m.roomId && s.message.seq === m.seq));
      const keys = new Set(savedKeys.value ?? []);
      keys.delete(`${m.roomId}/${m.seq}`);
      savedKeys.value = keys;
    } catch (err) {
      toast.value = words(err);
    }
  }
  return (
    <section aria-labelledby="saved-title">
      <h2 id="saved-title">{f("savedTitle")}</h2>
      {loaded.value && !list.value.length ? <p class="empty">{f("noSaved")}</p> : null}
      <ul class="cards">
        {list.value.map(({ savedAt, message: m }) => {
          const room = rooms.value.find((r) => r.roomId === m.roomId);
          return (
            <li key={`${m.roomId}/${m.seq}`} class="card x-saved" data-saved={`${m.roomId}/${m.seq}`}>
              <div>
                <strong>{nameOf(m.sender)}</strong> <span class="muted">{room?.name ?? ""} · {formatTime(m.ts)} · {savedWhen(savedAt)}</span>
                <p class="body">{m.body}</p>
              </div>
              <a href={routes.room(m.roomId)} onClick={onLink} aria-label={`${f("open")}: ${room?.name ?? ""}`}>{f("open")}</a>
              <button type="button" aria-label={`${f("unsaveMessage")}: ${m.body ?? ""}`} onClick={() => void unsave(m)}>{f("unsaveMessage")}</button>
            </li>
          );
        })}
      </ul>
      {next.value !== null ? <button type="button" onClick={() => void load(next.value!)}>{f("older")}</button> : null}
    </section>
  );
}

type Mine = OpResult<"report.mine">["reports"];

/** My reports with their status and outcome (never which admin acted). */
function MyReports() {
  const list = useSignal<Mine>([]);
  const loaded = useSignal(false);
  useEffect(() => {
    if (connection.value !== "online") return;
    call("report.mine", { limit: 100 }).then(
      (r) => ((list.value = r.reports), (loaded.value = true)),
      (err) => (toast.value = words(err)),
    );
  }, [connection.value === "online", reportsVersion.value]);
  return (
    <section aria-labelledby="reports-title">
      <h2 id="reports-title">{f("myReports")}</h2>
      {loaded.value && !list.value.length ? <p class="empty">{f("noReports")}</p> : null}
      <ul class="cards">
        {list.value.map((r) => (
          <li key={r.reportId} class="card" data-report={r.reportId} data-status={r.status}>
            <div>
              <strong>{f("about", { who: nameOf(r.userId) })}</strong>{" "}
              <span class="muted">{rooms.value.find((x) => x.roomId === r.roomId)?.name ?? ""} · {formatTime(r.createdAt)}</span>
              <p>{r.reason}</p>
              <p data-outcome={r.outcome ?? ""}>
                {r.status === "open" ? f("status.open") : `${f("status.resolved")}: ${r.outcome ? f(`outcome.${r.outcome}`) : ""}`}
              </p>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
