import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import { t, plural, errorWords } from "../i18n.ts";
import { call, session, refreshRooms, connection } from "../state.ts";
import { httpRequest } from "../../../sdk/index.ts";
import { navigate, routes } from "../router.ts";

type Preview = { name: string; description: string; kind: "community" | "group"; memberCount: number; joinApproval: boolean; roomId?: string };

/** An invite link opened in the app: what it joins, and a join (or ask-to-join) button. */
export function InviteLanding({ token }: { token: string }) {
  const preview = useSignal<Preview | null>(null);
  const error = useSignal<string | null>(null);
  const requested = useSignal(false);
  useEffect(() => {
    httpRequest<Preview>(location.origin, "GET", `/api/v1/invites/${encodeURIComponent(token)}`).then((p) => (preview.value = p), (err) => (error.value = errorWords(err)));
  }, [token]);
  async function join() {
    try {
      const res = await call("link.join", { token });
      await refreshRooms();
      if (res.status === "requested") requested.value = true;
      else navigate(res.room.kind === "community" ? routes.community(res.roomId) : routes.room(res.roomId), true);
    } catch (err) {
      error.value = errorWords(err);
    }
  }
  const p = preview.value;
  return (
    <section class="invite" aria-labelledby="invite-title">
      <h2 id="invite-title">{t("invite.title")}</h2>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {p ? (
        <>
          <h3>{p.name}</h3>
          {p.description ? <p>{p.description}</p> : null}
          <p class="muted">{p.kind === "community" ? t("create.community") : t("create.group")} · {plural("members", p.memberCount)}</p>
          {!session.value ? (
            <p>{t("invite.signInFirst")}</p>
          ) : requested.value ? (
            <p role="status">{t("invite.requested")}</p>
          ) : (
            <button type="button" disabled={connection.value !== "online"} onClick={() => void join()}>
              {p.joinApproval ? t("invite.request") : t("invite.join")}
            </button>
          )}
        </>
      ) : null}
    </section>
  );
}
