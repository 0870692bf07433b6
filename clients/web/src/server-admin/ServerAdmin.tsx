/**
 * The server-admin area (lazily loaded, for accounts whose session.info says isAdmin): users
 * (search, details, disable/enable, a new password, the server-admin flag, purge), registration
 * tokens (list, create, revoke), communities (sizes, deactivate), federation (peers, the server
 * lists, the signing key and its rotation) and the server's audit log. It
 * speaks the HTTP admin API, POST /api/v1/admin/<name>, through the SDK's httpRequest.
 */
import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import { httpRequest, type Protocol } from "../../../sdk/index.ts";
import { sdk, toast, connection } from "../state.ts";
import { formatTime, formatBytes } from "../i18n.ts";
import { words } from "../features/strings.ts";
import { serverAdmin } from "../features/store.ts";
import { s } from "./strings.ts";

type Http = Protocol["http"];
type AdminName = Extract<keyof Http, `admin.${string}`>;
type Req<K extends AdminName> = Http[K] extends { request?: infer R } ? NonNullable<R> : Record<string, never>;
type Res<K extends AdminName> = Http[K] extends { response: infer R } ? R : unknown;

/** POST /api/v1/admin/<name> with my access token (refreshed once if it went stale). */
export async function adminCall<K extends AdminName>(name: K, body: Req<K>): Promise<Res<K>> {
  const path = `/api/v1/admin/${name.slice("admin.".length)}`;
  try {
    return await httpRequest<Res<K>>(location.origin, "POST", path, body, sdk().session.accessToken);
  } catch (err) {
    if ((err as { status?: number }).status !== 401) throw err;
    await sdk().refresh();
    return httpRequest<Res<K>>(location.origin, "POST", path, body, sdk().session.accessToken);
  }
}

async function attempt<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    toast.value = words(err);
    return undefined;
  }
}

const tabs = ["users", "tokens", "communities", "federation", "audit"] as const;
type Tab = (typeof tabs)[number];

export default function ServerAdmin() {
  const tab = useSignal<Tab>("users");
  if (!serverAdmin.value) return <p class="error" role="alert">{words({ code: "admin.forbidden", message: "Only server admins may do this." })}</p>;
  return (
    <section class="admin x-server-admin" aria-labelledby="sa-title">
      <h2 id="sa-title">{s("title")}</h2>
      <div role="tablist" aria-label={s("title")} class="tabs">
        {tabs.map((id) => (
          <button key={id} role="tab" type="button" id={`sa-tab-${id}`} aria-selected={tab.value === id} aria-controls={`sa-panel-${id}`} onClick={() => (tab.value = id)}>
            {s(id)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`sa-panel-${tab.value}`} aria-labelledby={`sa-tab-${tab.value}`}>
        {tab.value === "users" ? <Users /> : null}
        {tab.value === "tokens" ? <Tokens /> : null}
        {tab.value === "communities" ? <Communities /> : null}
        {tab.value === "federation" ? <Federation /> : null}
        {tab.value === "audit" ? <Audit /> : null}
      </div>
    </section>
  );
}

type User = Res<"admin.users.list">["users"][number];
type Shown = Res<"admin.user.show">;

function Users() {
  const query = useSignal("");
  const list = useSignal<User[]>([]);
  const more = useSignal(false);
  const open = useSignal<Shown | null>(null);
  async function load(offset = 0) {
    const page = await attempt(() => adminCall("admin.users.list", { limit: 50, offset, ...(query.value ? { query: query.value } : {}) }));
    if (!page) return;
    list.value = offset ? [...list.value, ...page.users] : page.users;
    more.value = page.more;
  }
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  async function show(userId: string) {
    if (open.value?.userId === userId) return void (open.value = null);
    const u = await attempt(() => adminCall("admin.user.show", { userId }));
    if (u) open.value = u;
  }
  async function then(done: string | undefined, userId: string) {
    if (done === undefined) return;
    toast.value = done;
    await load();
    if (open.value?.userId === userId) open.value = (await attempt(() => adminCall("admin.user.show", { userId }))) ?? null;
  }
  const name = (u: User) => `${u.displayName} (${u.username})`;
  return (
    <div>
      <SearchForm label={s("searchUsers")} query={query} onSearch={() => void load()} />
      {!list.value.length ? <p>{s("empty")}</p> : null}
      <ul class="list">
        {list.value.map((u) => (
          <li key={u.userId} data-user={u.userId} data-disabled={String(u.disabled)} data-admin={String(u.isAdmin)}>
            <strong>{u.displayName}</strong> <span class="muted">{u.userId}</span>{" "}
            <span class="muted">
              · {u.disabled ? s("disabled") : s("active")}
              {u.isAdmin ? ` · ${s("admin")}` : ""} · {s("devices")}: {u.devices} · {s("rooms")}: {u.rooms} · {formatTime(u.createdAt)}
            </span>{" "}
            <span class="inline">
              <button type="button" aria-expanded={open.value?.userId === u.userId} aria-label={`${s("show")}: ${name(u)}`} onClick={() => void show(u.userId)}>{s("show")}</button>
              {u.disabled ? (
                <button type="button" aria-label={`${s("enable")}: ${name(u)}`} onClick={async () => then((await attempt(() => adminCall("admin.user.enable", { userId: u.userId }))) && s("enabledDone", { name: u.displayName }), u.userId)}>{s("enable")}</button>
              ) : (
                <button
                  type="button"
                  aria-label={`${s("disable")}: ${name(u)}`}
                  onClick={async () => {
                    if (!confirm(s("disableConfirm", { name: u.displayName }))) return;
                    const r = await attempt(() => adminCall("admin.user.disable", { userId: u.userId }));
                    await then(r && s("disabledDone", { name: u.displayName, n: r.revokedDevices }), u.userId);
                  }}
                >
                  {s("disable")}
                </button>
              )}
              <button
                type="button"
                aria-label={`${u.isAdmin ? s("unmakeAdmin") : s("makeAdmin")}: ${name(u)}`}
                onClick={async () => {
                  const r = await attempt(() => adminCall("admin.user.admin", { userId: u.userId, admin: !u.isAdmin }));
                  await then(r && s(r.isAdmin ? "adminDone" : "unadminDone", { name: u.displayName }), u.userId);
                }}
              >
                {u.isAdmin ? s("unmakeAdmin") : s("makeAdmin")}
              </button>
              <button
                type="button"
                class="danger"
                aria-label={`${s("purge")}: ${name(u)}`}
                onClick={async () => {
                  if (!confirm(s("purgeConfirm", { name: u.displayName }))) return;
                  const r = await attempt(() => adminCall("admin.user.purge", { userId: u.userId }));
                  await then(r && s("purgedDone", { name: u.displayName, n: r.removedFrom.length }), u.userId);
                }}
              >
                {s("purge")}
              </button>
            </span>
            {open.value?.userId === u.userId ? <UserDetails u={open.value} onDone={(msg) => void then(msg, u.userId)} /> : null}
          </li>
        ))}
      </ul>
      {more.value ? <button type="button" onClick={() => void load(list.value.length)}>{s("more")}</button> : null}
    </div>
  );
}

function UserDetails({ u, onDone }: { u: Shown; onDone: (msg: string) => void }) {
  const pw = useSignal("");
  const id = `sa-pw-${u.username}`;
  return (
    <div class="x-user-details">
      <h3>{s("deviceList")}</h3>
      {u.devices.length ? (
        <ul>
          {u.devices.map((d) => (
            <li key={d.deviceId}>{d.name} <span class="muted">{s("lastSeen", { when: formatTime(d.lastSeenAt) })}{d.lastAddress ? ` · ${d.lastAddress}` : ""}</span></li>
          ))}
        </ul>
      ) : (
        <p>{s("none")}</p>
      )}
      <h3>{s("roomList")}</h3>
      {u.rooms.length ? (
        <ul>
          {u.rooms.map((r) => (
            <li key={r.roomId}>{r.name} <span class="muted">{r.kind} · {r.role}</span></li>
          ))}
        </ul>
      ) : (
        <p>{s("none")}</p>
      )}
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await attempt(() => adminCall("admin.user.password", { userId: u.userId, password: pw.value }));
          if (r) {
            pw.value = "";
            onDone(s("passwordSet", { n: r.revokedDevices }));
          }
        }}
      >
        <label for={id}>{s("newPassword")}</label>
        <input id={id} type="password" autoComplete="new-password" required value={pw.value} onInput={(e) => (pw.value = (e.currentTarget as HTMLInputElement).value)} />
        <button type="submit">{s("setPassword")}</button>
      </form>
    </div>
  );
}

type Token = Res<"admin.registration_tokens.list">["tokens"][number];

function Tokens() {
  const list = useSignal<Token[]>([]);
  const created = useSignal<string | null>(null);
  const load = async () => {
    const r = await attempt(() => adminCall("admin.registration_tokens.list", {}));
    if (r) list.value = r.tokens;
  };
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  async function create(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const uses = Number(form.get("uses") || 0);
    const days = Number(form.get("days") || 0);
    const r = await attempt(() => adminCall("admin.registration_tokens.create", { ...(uses ? { uses } : {}), ...(days ? { expiresInDays: days } : {}) }));
    if (r) {
      created.value = r.token;
      await load();
    }
  }
  return (
    <div>
      <form class="inline" onSubmit={create}>
        <label>{s("uses")}<input name="uses" type="number" min={1} inputMode="numeric" /></label>
        <label>{s("expiresInDays")}<input name="days" type="number" min={1} inputMode="numeric" /></label>
        <button type="submit">{s("createToken")}</button>
      </form>
      {created.value ? <p role="status" data-new-token={created.value}>{s("tokenCreated", { token: created.value })}</p> : null}
      {!list.value.length ? <p>{s("empty")}</p> : null}
      <ul class="list">
        {list.value.map((tk) => (
          <li key={tk.id} data-token={tk.id} data-usable={String(tk.usable)}>
            <code>{tk.id}</code>{" "}
            <span class="muted">
              {s("usesLeft", { n: tk.usesLeft })} · {tk.expiresAt ? s("expires", { when: formatTime(tk.expiresAt) }) : s("never")} · {tk.usable ? s("usable") : s("unusable")}
            </span>{" "}
            {
              <button
                type="button"
                aria-label={`${s("revoke")}: ${tk.id}`}
                onClick={async () => {
                  if (await attempt(() => adminCall("admin.registration_tokens.revoke", { id: tk.id }))) {
                    toast.value = s("revoked");
                    await load();
                  }
                }}
              >
                {s("revoke")}
              </button>
            }
          </li>
        ))}
      </ul>
    </div>
  );
}

type Community = Res<"admin.communities.list">["communities"][number];

function Communities() {
  const query = useSignal("");
  const list = useSignal<Community[]>([]);
  const more = useSignal(false);
  async function load(offset = 0) {
    const r = await attempt(() => adminCall("admin.communities.list", { limit: 50, offset, ...(query.value ? { query: query.value } : {}) }));
    if (!r) return;
    list.value = offset ? [...list.value, ...r.communities] : r.communities;
    more.value = r.more;
  }
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  return (
    <div>
      <SearchForm label={s("searchCommunities")} query={query} onSearch={() => void load()} />
      {!list.value.length ? <p>{s("empty")}</p> : null}
      <ul class="list">
        {list.value.map((c) => (
          <li key={c.roomId} data-community={c.roomId} data-deactivated={String(c.deactivated)}>
            <strong>{c.name}</strong>{" "}
            <span class="muted">
              {s("members", { n: c.members })} · {s("groups", { n: c.groups })} · {s("size", { events: formatBytes(c.eventBytes), media: formatBytes(c.mediaBytes) })} · {formatTime(c.createdAt)}
              {c.deactivated ? ` · ${s("deactivated")}` : ""}
            </span>{" "}
            {!c.deactivated ? (
              <button
                type="button"
                class="danger"
                aria-label={`${s("deactivate")}: ${c.name}`}
                onClick={async () => {
                  if (!confirm(s("deactivateConfirm", { name: c.name }))) return;
                  if (await attempt(() => adminCall("admin.community.deactivate", { roomId: c.roomId }))) {
                    toast.value = s("deactivatedDone", { name: c.name });
                    await load();
                  }
                }}
              >
                {s("deactivate")}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {more.value ? <button type="button" onClick={() => void load(list.value.length)}>{s("more")}</button> : null}
    </div>
  );
}

type FederationStatus = Res<"admin.federation.status">;
type ServerLists = Res<"admin.federation.servers.list">;

/**
 * Federation, as `parley federation status|policy|allow|deny|unlist|rotate-key`: the peers, the
 * ops kept for home servers that cannot be reached, the server lists (the config file's read-only, the database's editable) and the signing key.
 */
function Federation() {
  const status = useSignal<FederationStatus | null>(null);
  const lists = useSignal<ServerLists | null>(null);
  const server = useSignal("");
  const list = useSignal<"allow" | "deny">("deny");
  const load = async () => {
    const [st, ls] = await Promise.all([attempt(() => adminCall("admin.federation.status", {})), attempt(() => adminCall("admin.federation.servers.list", {}))]);
    if (st) status.value = st;
    if (ls) lists.value = ls;
  };
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  async function setList(target: string, to: "allow" | "deny" | null) {
    const r = await attempt(() => adminCall("admin.federation.servers.set", { server: target, list: to }));
    if (!r) return false;
    lists.value = r;
    toast.value = to ? s(to === "allow" ? "allowedDone" : "deniedDone", { server: target }) : s("unlistedDone", { server: target });
    return true;
  }
  const when = (ms: number | null) => (ms ? formatTime(ms) : "—");
  const st = status.value;
  const ls = lists.value;
  return (
    <div class="x-federation">
      <section aria-labelledby="sa-fed-peers">
        <h3 id="sa-fed-peers">{s("peers")}</h3>
        {st && !st.enabled ? <p role="note">{s("federationOff")}</p> : null}
        {st && !st.peers.length ? <p>{s("noPeers")}</p> : null}
        {st?.peers.length ? (
          <div class="scroll-x" role="region" aria-labelledby="sa-fed-peers" tabIndex={0}>
          <table class="audit">
            <caption class="sr">{s("peers")}</caption>
            <thead>
              <tr>
                <th scope="col">{s("peer")}</th><th scope="col">{s("rooms")}</th><th scope="col">{s("backlog")}</th><th scope="col">{s("failures")}</th>
                <th scope="col">{s("lastSuccess")}</th><th scope="col">{s("nextAttempt")}</th><th scope="col">{s("dormant")}</th><th scope="col">{s("lastError")}</th>
              </tr>
            </thead>
            <tbody>
              {st.peers.map((p) => (
                <tr key={p.server} data-peer={p.server} data-backlog={p.backlog} data-failures={p.failures} data-dormant={String(p.dormant)}>
                  <th scope="row">{p.server}</th>
                  <td>{p.rooms}</td>
                  <td>{p.backlog}</td>
                  <td>{p.failures}</td>
                  <td>{when(p.lastSuccessAt)}</td>
                  <td>{p.nextAttemptAt ? formatTime(p.nextAttemptAt) : s("now")}</td>
                  <td>{p.dormant ? s("yes") : s("no")}</td>
                  <td>{p.lastError ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        ) : null}
        <button type="button" onClick={() => void load()}>{s("refresh")}</button>
      </section>

      <section aria-labelledby="sa-fed-kept">
        <h3 id="sa-fed-kept">{s("kept")}</h3>
        <p class="muted">{s("keptHelp")}</p>
        {st && !st.kept.length ? <p data-kept="none">{s("noKept")}</p> : null}
        {st?.kept.length ? (
          <div class="scroll-x" role="region" aria-labelledby="sa-fed-kept" tabIndex={0}>
          <table class="audit">
            <caption class="sr">{s("kept")}</caption>
            <thead>
              <tr><th scope="col">{s("home")}</th><th scope="col">{s("keptOps")}</th><th scope="col">{s("oldestKept")}</th></tr>
            </thead>
            <tbody>
              {st.kept.map((k) => (
                <tr key={k.server} data-kept-home={k.server} data-kept-ops={k.ops}>
                  <th scope="row">{k.server}</th>
                  <td>{k.ops}</td>
                  <td>{formatTime(k.oldestAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        ) : null}
      </section>

      <section aria-labelledby="sa-fed-lists">
        <h3 id="sa-fed-lists">{s("serverLists")}</h3>
        <p class="muted">{s("listsHelp")}</p>
        {ls && !ls.config.allow.length && !ls.config.deny.length && !ls.database.length ? <p>{s("noLists")}</p> : null}
        <ul class="list">
          {ls?.config.allow.map((name) => <li key={`ca-${name}`} data-listed={name} data-list="allow" data-source="config">{name} <span class="muted">· {s("allowList")} · {s("fromConfig")}</span></li>)}
          {ls?.config.deny.map((name) => <li key={`cd-${name}`} data-listed={name} data-list="deny" data-source="config">{name} <span class="muted">· {s("denyList")} · {s("fromConfig")}</span></li>)}
          {ls?.database.map((r) => (
            <li key={`db-${r.server}`} data-listed={r.server} data-list={r.list} data-source="database">
              {r.server} <span class="muted">· {r.list === "allow" ? s("allowList") : s("denyList")}</span>{" "}
              <button type="button" aria-label={`${s("unlist")}: ${r.server}`} onClick={() => void setList(r.server, null)}>{s("unlist")}</button>
            </li>
          ))}
        </ul>
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const name = server.value.trim().toLowerCase();
            if (await setList(name, list.value)) server.value = "";
          }}
        >
          <label>
            {s("serverName")}
            <input type="text" required autoComplete="off" spellcheck={false} placeholder="spam.example" value={server.value} onInput={(e) => (server.value = (e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label for="sa-fed-list">{s("whichList")}</label>
          <select id="sa-fed-list" value={list.value} onChange={(e) => (list.value = (e.currentTarget as HTMLSelectElement).value as "allow" | "deny")}>
              <option value="deny">{s("denyList")}</option>
              <option value="allow">{s("allowList")}</option>
          </select>
          <button type="submit">{s("addToList")}</button>
        </form>
      </section>

      <section aria-labelledby="sa-fed-key">
        <h3 id="sa-fed-key">{s("signingKey")}</h3>
        {st?.key.current ? (
          <p data-key={st.key.current.keyId}>
            <code>{st.key.current.keyId}</code> <span class="muted">· {s("validFrom", { when: formatTime(st.key.current.validFrom) })}</span>
          </p>
        ) : null}
        {st?.key.retired.length ? (
          <details>
            <summary>{s("retiredKeys", { n: st.key.retired.length })}</summary>
            <ul>
              {st.key.retired.map((k) => (
                <li key={k.keyId} data-retired-key={k.keyId}><code>{k.keyId}</code> <span class="muted">· {formatTime(k.validFrom)} – {formatTime(k.validUntil)}</span></li>
              ))}
            </ul>
          </details>
        ) : null}
        <p class="muted">{s("rotateHelp")}</p>
        <button
          type="button"
          class="danger"
          onClick={async () => {
            if (!confirm(s("rotateConfirm"))) return;
            const r = await attempt(() => adminCall("admin.federation.rotate_key", {}));
            if (!r) return;
            toast.value = s("rotatedDone", { key: r.current });
            await load();
          }}
        >
          {s("rotate")}
        </button>
      </section>
    </div>
  );
}

type Entry = Res<"admin.audit.list">["entries"][number];

function Audit() {
  const list = useSignal<Entry[]>([]);
  const more = useSignal(false);
  async function load(before?: number) {
    const r = await attempt(() => adminCall("admin.audit.list", { limit: 100, ...(before ? { before } : {}) }));
    if (!r) return;
    list.value = before ? [...list.value, ...r.entries] : r.entries;
    more.value = r.more;
  }
  useEffect(() => void (connection.value === "online" && load()), [connection.value === "online"]);
  return (
    <div>
      <table class="audit">
        <caption class="sr">{s("audit")}</caption>
        <thead>
          <tr><th scope="col">{s("when")}</th><th scope="col">{s("actor")}</th><th scope="col">{s("action")}</th><th scope="col">{s("target")}</th><th scope="col">{s("details")}</th></tr>
        </thead>
        <tbody>
          {list.value.map((e) => (
            <tr key={e.id} data-audit={e.action}>
              <td>{formatTime(e.at)}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td>{e.target ?? ""}</td>
              <td><code>{Object.keys(e.details).length ? JSON.stringify(e.details) : ""}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      {more.value ? <button type="button" onClick={() => void load(list.value[list.value.length - 1]?.id)}>{s("more")}</button> : null}
    </div>
  );
}

/** The search box of a list: its query as a signal, searched on submit. */
function SearchForm({ label, query, onSearch }: { label: string; query: { value: string }; onSearch: () => void }) {
  return (
    <form
      class="inline"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch();
      }}
    >
      <label>
        {label}
        <input type="search" value={query.value} onInput={(e) => (query.value = (e.currentTarget as HTMLInputElement).value)} />
      </label>
      <button type="submit">{s("search")}</button>
    </form>
  );
}
