/**
 * The admin panel, loaded lazily (its own chunk): join requests, members and roles, invite
 * links with QR codes, settings and profile, linked groups, deactivation, the audit log, and for
 * a community its server access list (community.servers.set).
 */
import { useEffect, useRef } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { OpResult, RoomSummary, InviteLink } from "../../../sdk/index.ts";
import { errorWords, formatTime, lang } from "../i18n.ts";
import { call, nameOf, toast, refreshRooms, connection, rooms, discovery } from "../state.ts";
import { routes, onLink, navigate } from "../router.ts";
import { a } from "./strings.ts";
import { lazy, Suspense } from "preact/compat";
import { f } from "../features/strings.ts";

// web-extra: the moderation queue (reports), a chunk of its own.
const Moderation = lazy(() => import("../features/Moderation.tsx"));

/** The default of rooms.admins_per_community, for a server whose discovery document predates it. */
export const ADMIN_CAP = 20;

/** The server's configured cap (discovery's limits.adminsPerCommunity); it refuses past it (room.admin_limit). */
function adminCap(): number {
  return discovery.value?.limits.adminsPerCommunity ?? ADMIN_CAP;
}

type Member = { userId: string; role: "owner" | "admin" | "member" };
type Audit = OpResult<"audit.list">["entries"];

async function attempt(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    toast.value = errorWords(err);
    return false;
  }
}

export default function AdminPanel({ roomId }: { roomId: string }) {
  const room = useSignal<RoomSummary | null>(null);
  const tab = useSignal<"requests" | "members" | "links" | "settings" | "servers" | "audit" | "reports">("requests");
  const load = async () => void (connection.value === "online" && (await attempt(async () => (room.value = await call("room.get", { roomId })))));
  useEffect(() => void load(), [roomId, connection.value === "online"]);
  const r = room.value;
  if (!r) return <p aria-busy="true">…</p>;
  const tabs = [
    ["requests", a("requests")],
    ["members", a("members")],
    ["links", a("links")],
    ["settings", a("settings")],
    ...(r.kind === "community" ? ([["servers", a("servers")]] as const) : []),
    ["audit", a("audit")],
    ["reports", f("moderation")],
  ] as const;
  return (
    <section class="admin" aria-labelledby="admin-title">
      <header class="room-head">
        <a class="back" href={r.kind === "community" ? routes.community(roomId) : routes.room(roomId)} onClick={onLink} aria-label={r.name}>←</a>
        <h2 id="admin-title">{a("title")}: {r.name}</h2>
      </header>
      <div role="tablist" aria-label={a("title")} class="tabs">
        {tabs.map(([id, label]) => (
          <button key={id} role="tab" type="button" id={`tab-${id}`} aria-selected={tab.value === id} aria-controls={`panel-${id}`} onClick={() => (tab.value = id)}>
            {label}
            {id === "requests" && r.pendingRequests ? ` (${r.pendingRequests})` : ""}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab.value}`} aria-labelledby={`tab-${tab.value}`}>
        {tab.value === "requests" ? <Requests roomId={roomId} onChange={load} /> : null}
        {tab.value === "members" ? <Members room={r} /> : null}
        {tab.value === "links" ? <Links roomId={roomId} /> : null}
        {tab.value === "settings" ? <Settings room={r} onChange={load} /> : null}
        {tab.value === "servers" && r.kind === "community" ? <ServerAccess room={r} onChange={load} /> : null}
        {tab.value === "audit" ? <AuditLog roomId={roomId} /> : null}
        {tab.value === "reports" ? (
          <Suspense fallback={<p aria-busy="true">…</p>}>
            <Moderation roomId={roomId} />
          </Suspense>
        ) : null}
      </div>
    </section>
  );
}

function Requests({ roomId, onChange }: { roomId: string; onChange: () => void }) {
  const requests = useSignal<{ userId: string; at: number }[]>([]);
  const picked = useSignal<string[]>([]);
  const load = async () => void (await attempt(async () => (requests.value = (await call("join.requests", { roomId })).requests)));
  useEffect(() => void load(), [roomId]);
  async function answer(userIds: string[], approve: boolean) {
    for (const userId of userIds) await attempt(() => call(approve ? "join.approve" : "join.reject", { roomId, userId }));
    picked.value = [];
    await load();
    onChange();
  }
  if (!requests.value.length) return <p>{a("noRequests")}</p>;
  return (
    <div>
      <ul class="list">
        {requests.value.map((q) => (
          <li key={q.userId} data-request={q.userId}>
            <label>
              <input type="checkbox" checked={picked.value.includes(q.userId)} onChange={(e) => (picked.value = (e.currentTarget as HTMLInputElement).checked ? [...picked.value, q.userId] : picked.value.filter((u) => u !== q.userId))} />{" "}
              {nameOf(q.userId)} <span class="muted">{q.userId} · {formatTime(q.at)}</span>
            </label>{" "}
            <button type="button" onClick={() => void answer([q.userId], true)} aria-label={`${a("approve")}: ${nameOf(q.userId)}`}>{a("approve")}</button>{" "}
            <button type="button" onClick={() => void answer([q.userId], false)} aria-label={`${a("reject")}: ${nameOf(q.userId)}`}>{a("reject")}</button>
          </li>
        ))}
      </ul>
      <p>
        <button type="button" onClick={() => void answer(requests.value.map((q) => q.userId), true)}>{a("approveAll")}</button>{" "}
        <button type="button" disabled={!picked.value.length} onClick={() => void answer(picked.value, true)}>{a("approvePicked")}</button>{" "}
        <button type="button" disabled={!picked.value.length} onClick={() => void answer(picked.value, false)}>{a("rejectPicked")}</button>
      </p>
    </div>
  );
}

function Members({ room }: { room: RoomSummary }) {
  const members = useSignal<Member[]>([]);
  const query = useSignal("");
  const unban = useSignal("");
  const roomId = room.roomId;
  const load = async () => void (await attempt(async () => (members.value = (await call("room.members", { roomId })).members ?? [])));
  useEffect(() => void load(), [roomId]);
  const admins = members.value.filter((m) => m.role !== "member").length;
  const atCap = room.kind === "community" && admins >= adminCap();
  const iOwn = room.myRole === "owner";
  const q = query.value.toLowerCase();
  const shown = members.value.filter((m) => !q || m.userId.toLowerCase().includes(q) || nameOf(m.userId).toLowerCase().includes(q));
  const act = async (fn: () => Promise<unknown>) => (await attempt(fn)) && load();
  return (
    <div>
      <label>
        {a("search")}
        <input type="search" value={query.value} onInput={(e) => (query.value = (e.currentTarget as HTMLInputElement).value)} />
      </label>
      {room.kind === "community" ? (
        <p class={atCap ? "error" : "muted"} data-admin-count={admins}>
          {a("adminCount", { n: admins, cap: adminCap() })} {atCap ? a("adminCapReached") : ""}
        </p>
      ) : null}
      <ul class="list">
        {shown.map((m) => (
          <li key={m.userId} data-member={m.userId}>
            <a href={routes.user(m.userId)} onClick={onLink}>{nameOf(m.userId)}</a> <span class="muted">{m.userId} · {a(m.role)}</span>{" "}
            {m.role === "member" ? (
              <button type="button" disabled={atCap} title={atCap ? a("adminCapReached") : undefined} onClick={() => void act(() => call("member.role", { roomId, userId: m.userId, role: "admin" }))} aria-label={`${a("promote")}: ${nameOf(m.userId)}`}>{a("promote")}</button>
            ) : null}
            {m.role === "admin" ? <button type="button" onClick={() => void act(() => call("member.role", { roomId, userId: m.userId, role: "member" }))} aria-label={`${a("demote")}: ${nameOf(m.userId)}`}>{a("demote")}</button> : null}
            {iOwn && m.role !== "owner" ? <button type="button" onClick={() => confirm(a("transferConfirm", { name: nameOf(m.userId) })) && void act(() => call("member.role", { roomId, userId: m.userId, role: "owner" }))} aria-label={`${a("transfer")}: ${nameOf(m.userId)}`}>{a("transfer")}</button> : null}
            {m.role !== "owner" ? (
              <>
                <button type="button" onClick={() => void act(() => call("member.remove", { roomId, userId: m.userId }))} aria-label={`${a("remove")}: ${nameOf(m.userId)}`}>{a("remove")}</button>
                <button type="button" onClick={() => void act(() => call("member.ban", { roomId, userId: m.userId }))} aria-label={`${a("ban")}: ${nameOf(m.userId)}`}>{a("ban")}</button>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(() => call("member.unban", { roomId, userId: unban.value.trim() })).then(() => (unban.value = ""));
        }}
      >
        <label>
          {a("unbanWho")}
          <input value={unban.value} placeholder="@name:server" onInput={(e) => (unban.value = (e.currentTarget as HTMLInputElement).value)} />
        </label>
        <button type="submit">{a("unban")}</button>
      </form>
    </div>
  );
}

function Links({ roomId }: { roomId: string }) {
  const links = useSignal<InviteLink[]>([]);
  const qr = useSignal<InviteLink | null>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), [qr.value]);
  const load = async () => void (await attempt(async () => (links.value = (await call("link.list", { roomId })).links)));
  useEffect(() => void load(), [roomId]);
  async function create(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const hours = Number(f.get("hours") || 0);
    const uses = Number(f.get("uses") || 0);
    if (await attempt(() => call("link.create", { roomId, ...(hours ? { expiresInSeconds: hours * 3600 } : {}), ...(uses ? { maxUses: uses } : {}) }))) await load();
  }
  return (
    <div>
      <form onSubmit={create} class="inline">
        <label>{a("expiresHours")}<input name="hours" type="number" min={0} inputMode="numeric" /></label>
        <label>{a("maxUses")}<input name="uses" type="number" min={0} inputMode="numeric" /></label>
        <button type="submit">{a("createLink")}</button>
      </form>
      <ul class="list">
        {links.value.map((l) => (
          <li key={l.linkId} data-link={l.linkId} class={l.revoked ? "muted" : ""}>
            <code>{l.url}</code>{" "}
            <span class="muted">
              {a(new Intl.PluralRules(lang.value).select(l.uses) === "one" ? "uses.one" : "uses.other", { n: l.uses })}
              {l.maxUses ? ` / ${l.maxUses}` : ""}
              {l.expiresAt ? ` · ${a("expires")} ${formatTime(l.expiresAt)}` : ""}
              {l.revoked ? ` · ${a("revoked")}` : ""}
            </span>{" "}
            {!l.revoked ? (
              <>
                <button type="button" onClick={() => void navigator.clipboard?.writeText(l.url).then(() => (toast.value = a("copied")), () => (toast.value = l.url))}>{a("copy")}</button>
                <button type="button" onClick={() => (qr.value = l)}>{a("qr")}</button>
                <button type="button" onClick={() => void attempt(() => call("link.revoke", { roomId, linkId: l.linkId })).then(load)}>{a("revoke")}</button>
                <button type="button" onClick={() => void attempt(() => call("link.reset", { roomId, linkId: l.linkId })).then(load)}>{a("reset")}</button>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      {qr.value ? (
        <div class="qr" role="dialog" aria-modal="true" aria-label={a("qr")} onKeyDown={(e) => e.key === "Escape" && (qr.value = null)}>
          <img src={`/api/v1/invites/${encodeURIComponent(qr.value.token)}/qr.svg`} alt={`${a("qr")}: ${qr.value.url}`} width={240} height={240} />
          <p><code>{qr.value.url}</code></p>
          <button type="button" onClick={() => print()}>{a("print")}</button>{" "}
          <button type="button" ref={closeRef} onClick={() => (qr.value = null)}>{a("close")}</button>
        </div>
      ) : null}
    </div>
  );
}

/** The entries of a list as typed, one per line (or separated by commas or spaces). */
const entriesOf = (text: string) => [...new Set(text.split(/[\s,]+/).map((x) => x.trim().toLowerCase()).filter(Boolean))];
/** What community.servers.set accepts as an entry: a server name, or a pattern with `*` and `?`. */
const aclEntry = /^[a-zA-Z0-9.:*?-]{1,255}$/;

/**
 * A community's server access list (`room.server_acl`): which servers' users the community and
 * its groups accept. Admins edit it; a member sees it read-only. Saving removes the members of
 * servers it now denies (the answer says whom); a list that would shut out the community's own
 * server is refused by the server (`room.acl_denies_home`), and the refusal is shown in words.
 */
function ServerAccess({ room, onChange }: { room: RoomSummary; onChange: () => void }) {
  // What a save answered, until room.get agrees: in a community hosted on another server, this
  // server's copy of the list arrives with the home's next batch, after the answer.
  const saved = useSignal<{ roomId: string; acl: NonNullable<RoomSummary["serverAcl"]> } | null>(null);
  const acl = saved.value?.roomId === room.roomId ? saved.value.acl : (room.serverAcl ?? null);
  useEffect(() => {
    if (saved.value && JSON.stringify(saved.value.acl) === JSON.stringify(room.serverAcl)) saved.value = null;
  }, [JSON.stringify(room.serverAcl)]);
  const home = room.roomId.slice(room.roomId.indexOf(":") + 1);
  const canEdit = room.myRole === "owner" || room.myRole === "admin";
  const deny = useSignal((acl?.deny ?? []).join("\n"));
  const allow = useSignal((acl?.allow ?? []).join("\n"));
  const noIps = useSignal(acl?.allowIpLiterals === false);
  const refusal = useSignal("");
  useEffect(() => {
    deny.value = (acl?.deny ?? []).join("\n");
    allow.value = (acl?.allow ?? []).join("\n");
    noIps.value = acl?.allowIpLiterals === false;
  }, [room.roomId, JSON.stringify(acl)]);
  async function save(e: Event) {
    e.preventDefault();
    refusal.value = "";
    const denyList = entriesOf(deny.value);
    const allowList = entriesOf(allow.value);
    const bad = [...denyList, ...allowList].filter((x) => !aclEntry.test(x));
    if (bad.length) return void (refusal.value = a("aclBadEntry", { entries: bad.join(", ") }));
    if ((denyList.length || noIps.value) && !confirm(a("aclConfirm"))) return;
    try {
      const r = await call("community.servers.set", { roomId: room.roomId, deny: denyList, ...(allowList.length ? { allow: allowList } : {}), ...(noIps.value ? { allowIpLiterals: false } : {}) });
      saved.value = { roomId: room.roomId, acl: { ...(r.allow ? { allow: r.allow } : {}), deny: r.deny, ...(r.allowIpLiterals ? {} : { allowIpLiterals: false as const }) } };
      toast.value = r.removed.length ? a("aclSavedRemoved", { n: r.removed.length }) : a("saved");
      onChange();
    } catch (err) {
      const code = (err as { code?: string }).code;
      refusal.value = code === "room.acl_denies_home" ? a("aclDeniesHome", { server: home }) : code === "room.forbidden" ? a("aclForbidden") : errorWords(err);
    }
  }
  const current = (
    <div class="x-server-acl" data-acl={JSON.stringify(acl)}>
      {!acl || (!acl.deny.length && !acl.allow && acl.allowIpLiterals !== false) ? <p data-acl-open>{a("aclOpen")}</p> : null}
      {acl?.allow ? (
        <p>{a("aclAllowOnly")} <code data-acl-allow>{acl.allow.join(", ")}</code></p>
      ) : null}
      {acl?.deny.length ? (
        <p>{a("aclDenied")} <code data-acl-deny>{acl.deny.join(", ")}</code></p>
      ) : null}
      {acl?.allowIpLiterals === false ? <p data-acl-no-ip-literals>{a("aclNoIpLiterals")}</p> : null}
    </div>
  );
  return (
    <section class="stack" aria-labelledby="acl-title">
      <h3 id="acl-title">{a("servers")}</h3>
      <p class="muted">{a("aclHelp", { server: home })}</p>
      {current}
      {canEdit ? (
        <form class="stack" onSubmit={save} aria-labelledby="acl-title">
          <label>
            {a("aclDenyLabel")}
            <textarea name="deny" rows={3} spellcheck={false} aria-describedby="acl-patterns" value={deny.value} onInput={(e) => (deny.value = (e.currentTarget as HTMLTextAreaElement).value)} />
          </label>
          <label>
            {a("aclAllowLabel")}
            <textarea name="allow" rows={3} spellcheck={false} aria-describedby="acl-patterns" value={allow.value} onInput={(e) => (allow.value = (e.currentTarget as HTMLTextAreaElement).value)} />
          </label>
          <p id="acl-patterns" class="muted">{a("aclPatterns")}</p>
          <label>
            <input type="checkbox" name="noIpLiterals" checked={noIps.value} onChange={(e) => (noIps.value = (e.currentTarget as HTMLInputElement).checked)} /> {a("aclIpLiterals")}
          </label>
          {refusal.value ? <p class="error" role="alert" data-acl-refusal>{refusal.value}</p> : null}
          <button type="submit">{a("save")}</button>
        </form>
      ) : (
        <p class="muted">{a("aclReadOnly")}</p>
      )}
    </section>
  );
}

function Settings({ room, onChange }: { room: RoomSummary; onChange: () => void }) {
  const roomId = room.roomId;
  const s = room.settings;
  const linkable = rooms.value.filter((x) => x.kind === "group" && !x.communityId && (x.role === "owner" || x.role === "admin"));
  async function saveSettings(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const policy = (k: string) => (f.get(k) === "admins" ? "admins" : "all") as "admins" | "all";
    const next = {
      ...(room.kind === "group" ? { sendPolicy: policy("sendPolicy") } : {}),
      editInfoPolicy: policy("editInfoPolicy"),
      addMembersPolicy: policy("addMembersPolicy"),
      joinApproval: f.get("joinApproval") === "on",
      ...(room.kind === "community" ? { announcementReplies: f.get("announcementReplies") === "on" } : {}),
    };
    if (await attempt(() => call("room.settings.update", { roomId, ...next }))) {
      toast.value = a("saved");
      onChange();
    }
  }
  async function saveProfile(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    if (await attempt(() => call("room.update", { roomId, name: String(f.get("name")), description: String(f.get("description") ?? ""), rules: String(f.get("rules") ?? "") }))) {
      toast.value = a("saved");
      await refreshRooms();
      onChange();
    }
  }
  const Policy = ({ name, value, label }: { name: string; value: string; label: string }) => (
    <label>
      {label}
      <select name={name}>
        <option value="all" selected={value === "all"}>{a("everyone")}</option>
        <option value="admins" selected={value === "admins"}>{a("adminsOnly")}</option>
      </select>
    </label>
  );
  return (
    <div class="stack">
      <form onSubmit={saveSettings} class="stack" aria-label={a("settings")}>
        {room.kind === "group" ? <Policy name="sendPolicy" value={s.sendPolicy} label={a("whoSends")} /> : null}
        <Policy name="editInfoPolicy" value={s.editInfoPolicy} label={a("whoEdits")} />
        <Policy name="addMembersPolicy" value={s.addMembersPolicy} label={a("whoAdds")} />
        <label><input type="checkbox" name="joinApproval" defaultChecked={s.joinApproval} /> {a("approval")}</label>
        {room.kind === "community" ? <label><input type="checkbox" name="announcementReplies" defaultChecked={s.announcementReplies} /> {a("replies")}</label> : null}
        <button type="submit">{a("save")}</button>
      </form>
      <form onSubmit={saveProfile} class="stack" aria-label={a("profile")}>
        <label>{a("name")}<input name="name" required defaultValue={room.name} /></label>
        <label>{a("description")}<textarea name="description" rows={2} defaultValue={room.description} /></label>
        <label>{a("rules")}<textarea name="rules" rows={3} defaultValue={room.rules} /></label>
        <button type="submit">{a("save")}</button>
      </form>
      {room.kind === "community" ? (
        <>
          <h3>{a("linkedGroups")}</h3>
          <ul class="list">
            {(room.groups ?? []).map((g) => (
              <li key={g}>
                {rooms.value.find((x) => x.roomId === g)?.name ?? g}{" "}
                <button type="button" onClick={() => void attempt(() => call("community.unlink", { roomId, groupId: g })).then(onChange)}>{a("unlink")}</button>
              </li>
            ))}
          </ul>
          {linkable.length ? (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                const groupId = String(new FormData(e.currentTarget as HTMLFormElement).get("group"));
                void attempt(() => call("community.link", { roomId, groupId })).then(async () => (await refreshRooms(), onChange()));
              }}
            >
              <label>
                {a("linkGroup")}
                <select name="group">{linkable.map((g) => <option key={g.roomId} value={g.roomId}>{g.name}</option>)}</select>
              </label>
              <button type="submit">{a("link")}</button>
            </form>
          ) : null}
          {room.myRole === "owner" ? (
            <p>
              <button type="button" class="danger" onClick={() => confirm(a("deactivateConfirm")) && void attempt(() => call("community.deactivate", { roomId })).then(async (ok) => ok && (await refreshRooms(), navigate("/")))}>
                {a("deactivate")}
              </button>
            </p>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

function AuditLog({ roomId }: { roomId: string }) {
  const entries = useSignal<Audit>([]);
  const more = useSignal(false);
  /** The community's home could not be asked: the entries are those this server holds. */
  const incomplete = useSignal(false);
  const actor = useSignal("");
  const action = useSignal("");
  const since = useSignal("");
  async function load(before?: number) {
    await attempt(async () => {
      const page = await call("audit.list", { roomId, limit: 100, ...(before ? { before } : {}) });
      entries.value = before ? [...entries.value, ...page.entries] : page.entries;
      more.value = page.more;
      incomplete.value = page.incomplete === true;
    });
  }
  useEffect(() => void load(), [roomId]);
  const sinceMs = since.value ? new Date(since.value).getTime() : 0;
  const shown = entries.value.filter((e) => (!actor.value || e.actor.includes(actor.value) || nameOf(e.actor).includes(actor.value)) && (!action.value || e.action === action.value) && (!sinceMs || e.at >= sinceMs));
  const actions = [...new Set(entries.value.map((e) => e.action))].sort();
  return (
    <div>
      <div class="inline">
        <label>{a("actor")}<input value={actor.value} onInput={(e) => (actor.value = (e.currentTarget as HTMLInputElement).value)} /></label>
        <label>
          {a("action")}
          <select value={action.value} onChange={(e) => (action.value = (e.currentTarget as HTMLSelectElement).value)}>
            <option value="">{a("any")}</option>
            {actions.map((x) => <option key={x} value={x}>{x}</option>)}
          </select>
        </label>
        <label>{a("since")}<input type="date" value={since.value} onInput={(e) => (since.value = (e.currentTarget as HTMLInputElement).value)} /></label>
      </div>
      {incomplete.value ? <p class="muted x-incomplete">{a("auditIncomplete")}</p> : null}
      <table class="audit">
        <caption class="sr">{a("audit")}</caption>
        <thead><tr><th scope="col">{a("when")}</th><th scope="col">{a("actor")}</th><th scope="col">{a("action")}</th><th scope="col">{a("target")}</th></tr></thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id} data-audit={e.action}>
              <td>{formatTime(e.at)}</td>
              <td>{nameOf(e.actor)}</td>
              <td>{e.action}</td>
              <td>{e.target ? (e.target.startsWith("@") ? nameOf(e.target) : e.target) : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more.value ? <button type="button" onClick={() => void load(entries.value[entries.value.length - 1]?.id)}>{a("more")}</button> : null}
    </div>
  );
}
