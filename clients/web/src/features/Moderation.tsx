/**
 * The moderation queue of a community (or a standalone group), in the admin panel and loaded
 * lazily: open reports newest first with the reported message as it was and its context as it
 * is now; each resolved by dismissing it, deleting the message, or removing or banning the person.
 */
import { useEffect } from "preact/hooks";
import { useSignal } from "@preact/signals";
import type { OpResult } from "../../../sdk/index.ts";
import { call, nameOf, toast, connection } from "../state.ts";
import { formatTime } from "../i18n.ts";
import { f, words } from "./strings.ts";
import { reportsVersion } from "./store.ts";

type Report = OpResult<"report.list">["reports"][number];
type Action = "dismiss" | "delete" | "remove" | "ban";

export default function Moderation({ roomId }: { roomId: string }) {
  const status = useSignal<"open" | "resolved">("open");
  const list = useSignal<Report[]>([]);
  const loaded = useSignal(false);
  const error = useSignal<string | null>(null);
  async function load() {
    try {
      list.value = (await call("report.list", { roomId, status: status.value, limit: 100 })).reports;
      loaded.value = true;
      error.value = null;
    } catch (err) {
      error.value = words(err);
    }
  }
  useEffect(() => void (connection.value === "online" && load()), [roomId, status.value, reportsVersion.value, connection.value === "online"]);
  async function resolve(r: Report, action: Action) {
    try {
      await call("report.resolve", { reportId: r.reportId, action });
      toast.value = f("resolvedAs", { outcome: f(`outcome.${action}`) });
      await load();
    } catch (err) {
      toast.value = words(err);
    }
  }
  return (
    <div class="x-moderation">
      <div class="inline" role="group" aria-label={f("moderation")}>
        <button type="button" aria-pressed={status.value === "open"} onClick={() => (status.value = "open")}>{f("openReports")}</button>
        <button type="button" aria-pressed={status.value === "resolved"} onClick={() => (status.value = "resolved")}>{f("resolvedReports")}</button>
      </div>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {loaded.value && !list.value.length ? <p>{status.value === "open" ? f("noOpenReports") : f("noResults")}</p> : null}
      <ul class="list">
        {list.value.map((r) => (
          <li key={r.reportId} class="x-report" data-report={r.reportId}>
            <p>
              <strong>{f("about", { who: nameOf(r.userId) })}</strong>{" "}
              <span class="muted">
                {f("inRoom", { room: r.roomName })} · {f("reportedBy", { who: nameOf(r.reporter) })} · {formatTime(r.createdAt)}
              </span>
            </p>
            <p class="x-reason">{r.reason}</p>
            {r.message ? (
              <>
                <h4>{f("asReported")}</h4>
                <blockquote class="quote" data-reported-seq={r.message.seq}>
                  <strong>{nameOf(r.message.sender)}</strong> {r.message.body ?? r.message.kind}
                </blockquote>
                {r.context.length ? (
                  <>
                    <h4>{f("contextNow")}</h4>
                    <ol class="x-context">
                      {r.context.map((c) => (
                        <li key={c.seq} class={c.seq === r.seq ? "x-reported" : ""}>
                          <strong>{nameOf(c.sender)}</strong> <span class="muted">{formatTime(c.ts)}</span>{" "}
                          {c.deleted ? <em>{f("deletedNow")}</em> : (c.body ?? c.kind)}
                        </li>
                      ))}
                    </ol>
                  </>
                ) : null}
              </>
            ) : null}
            {r.status === "open" ? (
              <p class="inline">
                <button type="button" onClick={() => void resolve(r, "dismiss")}>{f("dismiss")}</button>
                {r.seq !== null ? <button type="button" onClick={() => void resolve(r, "delete")}>{f("deleteMessage")}</button> : null}
                <button type="button" onClick={() => void resolve(r, "remove")}>{f("remove")}</button>
                <button type="button" class="danger" onClick={() => void resolve(r, "ban")}>{f("ban")}</button>
              </p>
            ) : (
              <p data-action={r.action ?? ""}>
                {f("resolvedAs", { outcome: r.action ? f(`outcome.${r.action}`) : "" })} {r.resolvedBy ? `· ${nameOf(r.resolvedBy)}` : ""}
              </p>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
