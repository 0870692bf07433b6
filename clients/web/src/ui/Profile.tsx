import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { OpResult } from "../../../sdk/index.ts";
import { t, errorWords, formatTime } from "../i18n.ts";
import { call, me, profiles, toast, connection } from "../state.ts";
import { upload, mediaUrl } from "../files.ts";
import { pushState, enableNotifications, disableNotifications, readPushState } from "../push.ts";
import { routes, onLink } from "../router.ts";
// web-extra: report a person (and, with the direct-search ops, direct chats and blocks).
import { PersonActions } from "../features/people.tsx";

type Device = OpResult<"device.list">["devices"][number];

function Avatar({ mediaId, name }: { mediaId: string | null; name: string }) {
  const src = useSignal<string | null>(null);
  useEffect(() => {
    if (mediaId) void mediaUrl(mediaId, true).then((u) => (src.value = u), () => undefined);
  }, [mediaId]);
  return src.value ? <img class="avatar big" src={src.value} alt={name} width={64} height={64} /> : <span class="avatar big" aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>;
}

/** My profile (display name, about, avatar) and my devices, each revocable. */
export function Me() {
  const devices = useSignal<Device[]>([]);
  const saved = useSignal(false);
  const p = profiles.value[me()];
  async function load() {
    if (connection.value !== "online") return;
    try {
      const mine = await call("profile.get", {});
      profiles.value = { ...profiles.value, [mine.userId]: mine };
      devices.value = (await call("device.list", {})).devices;
    } catch (err) {
      toast.value = errorWords(err);
    }
  }
  useEffect(() => void load(), [connection.value === "online"]);
  async function save(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      const file = f.get("avatar");
      let avatar: string | undefined;
      if (file instanceof File && file.size) avatar = (await upload(file, file.name, () => undefined)).mediaId;
      const next = await call("profile.update", { displayName: String(f.get("displayName")), about: String(f.get("about") ?? ""), ...(avatar ? { avatar } : {}) });
      profiles.value = { ...profiles.value, [next.userId]: next };
      saved.value = true;
    } catch (err) {
      toast.value = errorWords(err);
    }
  }
  return (
    <section aria-labelledby="me-title">
      <h2 id="me-title">{t("profile.title")}</h2>
      {p ? (
        <form onSubmit={save} class="stack" key={p.userId}>
          <Avatar mediaId={p.avatar} name={p.displayName} />
          <label>{t("auth.displayName")}<input name="displayName" required defaultValue={p.displayName} maxLength={64} /></label>
          <label>{t("profile.about")}<textarea name="about" rows={3} defaultValue={p.about} /></label>
          <label>{t("profile.avatar")}<input name="avatar" type="file" accept="image/*" /></label>
          <button type="submit">{t("profile.save")}</button>
          {saved.value ? <span role="status">{t("profile.saved")}</span> : null}
        </form>
      ) : null}
      <Notifications />
      <h2>{t("devices.title")}</h2>
      <ul class="devices">
        {devices.value.map((d) => (
          <li key={d.deviceId} data-device={d.deviceId}>
            <strong>{d.name}</strong> {d.current ? <span class="muted">({t("devices.current")})</span> : null}{" "}
            <span class="muted">{t("devices.lastSeen", { when: formatTime(d.lastSeenAt) })}</span>{" "}
            {!d.current ? (
              <button
                type="button"
                aria-label={`${t("devices.revoke")}: ${d.name}`}
                onClick={async () => {
                  try {
                    await call("device.revoke", { deviceId: d.deviceId });
                    await load();
                  } catch (err) {
                    toast.value = errorWords(err);
                  }
                }}
              >
                {t("devices.revoke")}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Someone's profile, with the groups we have in common. */
export function UserProfile({ userId }: { userId: string }) {
  const common = useSignal<OpResult<"user.common_groups">["groups"]>([]);
  const p = profiles.value[userId];
  useEffect(() => {
    if (connection.value !== "online") return;
    call("profile.get", { userId }).then((x) => (profiles.value = { ...profiles.value, [x.userId]: x }), (err) => (toast.value = errorWords(err)));
    call("user.common_groups", { userId }).then((r) => (common.value = r.groups), () => undefined);
  }, [userId, connection.value === "online"]);
  if (!p) return <p aria-busy="true">…</p>;
  return (
    <section aria-labelledby="user-title">
      <Avatar mediaId={p.avatar} name={p.displayName} />
      <h2 id="user-title">{p.displayName}</h2>
      <p class="muted">{p.userId}</p>
      {p.about ? <p>{p.about}</p> : null}
      <PersonActions userId={userId} />
      <h3>{t("profile.common")}</h3>
      <ul class="common">
        {common.value.map((g) => (
          <li key={g.roomId}><a href={routes.room(g.roomId)} onClick={onLink}>{g.name}</a></li>
        ))}
      </ul>
    </section>
  );
}

/** Notifications on this device: Web Push through the service worker. */
function Notifications() {
  const busy = useSignal(false);
  useEffect(() => void readPushState().catch(() => undefined), []);
  const state = pushState.value;
  async function toggle() {
    busy.value = true;
    try {
      if (state === "on") await disableNotifications();
      else await enableNotifications();
    } catch (err) {
      toast.value = errorWords(err);
    } finally {
      busy.value = false;
    }
  }
  return (
    <>
      <h2>{t("push.title")}</h2>
      <p data-push={state}>
        {t(state === "on" ? "push.on" : state === "denied" ? "push.denied" : state === "unsupported" ? "push.unsupported" : "push.off")}{" "}
        {state === "on" || state === "off" ? (
          <button type="button" disabled={busy.value} onClick={() => void toggle()}>
            {state === "on" ? t("push.disable") : t("push.enable")}
          </button>
        ) : null}
      </p>
    </>
  );
}
