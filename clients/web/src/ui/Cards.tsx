import { useEffect } from "preact/hooks";
import { useSignal, useComputed } from "@preact/signals";
import type { OpResult } from "../../../sdk/index.ts";
import { newTxnId } from "../../../sdk/outbox.ts";
import { t, plural, formatDateTime, errorWords } from "../i18n.ts";
import { call, me, nameOf, changed, toast } from "../state.ts";
import { buildIcs, zonedToUtc, utcToZonedInput } from "../ics.ts";

type Poll = OpResult<"poll.get">;
type CalEvent = OpResult<"event.get">;

async function tryIt(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    toast.value = errorWords(err);
  }
}

/** A poll: vote, change, withdraw; live counts (only counts when anonymous); close. */
export function PollCard({ roomId, seq, isAdmin }: { roomId: string; seq: number; isAdmin: boolean }) {
  const poll = useSignal<Poll | null>(null);
  const choice = useSignal<number[]>([]);
  const version = useComputed(() => changed.value[`${roomId}/${seq}`]);
  useEffect(() => {
    call("poll.get", { roomId, seq }).then((p) => ((poll.value = p), (choice.value = p.myVote)), () => undefined);
  }, [seq, version.value]);
  const p = poll.value;
  if (!p) return <p class="body">…</p>;
  const name = `poll-${roomId}-${seq}`;
  const total = Math.max(1, p.counts.reduce((a, b) => a + b, 0));
  const vote = (options: number[]) => tryIt(async () => {
    const r = await call("poll.vote", { roomId, seq, options: options as never });
    poll.value = r;
    choice.value = r.myVote;
  });
  return (
    <form class="poll" data-poll={seq} onSubmit={(e) => (e.preventDefault(), void vote(choice.value))}>
      <fieldset disabled={p.closed}>
        <legend>{p.question} {p.closed ? <span class="muted">({t("poll.closed")})</span> : null}</legend>
        {p.options.map((o, i) => (
          <div class="option" key={i}>
            <label>
              <input
                type={p.multiple ? "checkbox" : "radio"}
                name={name}
                checked={choice.value.includes(i)}
                onChange={(e) => {
                  const on = (e.currentTarget as HTMLInputElement).checked;
                  choice.value = p.multiple ? (on ? [...choice.value, i].sort() : choice.value.filter((x) => x !== i)) : [i];
                }}
              />{" "}
              {o}
            </label>
            <meter min={0} max={total} value={p.counts[i]} aria-label={`${o}: ${p.counts[i]}`} />
            <span class="count">{p.counts[i]}</span>
            {p.votes ? <span class="muted voters"> {p.votes.filter((v) => v.options.includes(i)).map((v) => nameOf(v.userId)).join(", ")}</span> : null}
          </div>
        ))}
        <p class="muted">{plural("poll.voters", p.voters)}</p>
        <button type="submit">{t("poll.vote")}</button>{" "}
        {p.myVote.length ? <button type="button" onClick={() => void vote([])}>{t("poll.withdraw")}</button> : null}{" "}
        {p.createdBy === me() || isAdmin ? (
          <button type="button" onClick={() => void tryIt(async () => (poll.value = await call("poll.close", { roomId, seq })))}>{t("poll.close")}</button>
        ) : null}
      </fieldset>
    </form>
  );
}

export function PollForm({ roomId, onDone }: { roomId: string; onDone: () => void }) {
  return (
    <form
      class="card-form"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget as HTMLFormElement);
        const options = String(f.get("options") ?? "").split("\n").map((s) => s.trim()).filter(Boolean);
        void tryIt(async () => {
          await call("poll.create", { roomId, txnId: newTxnId(), question: String(f.get("question")), options: options as never, multiple: f.get("multiple") === "on", anonymous: f.get("anonymous") === "on" });
          onDone();
        });
      }}
    >
      <label>{t("poll.question")}<input name="question" required /></label>
      <label>{t("poll.options")}<textarea name="options" rows={3} required /></label>
      <label><input type="checkbox" name="multiple" /> {t("poll.multiple")}</label>
      <label><input type="checkbox" name="anonymous" /> {t("poll.anonymous")}</label>
      <button type="submit">{t("poll.create")}</button> <button type="button" onClick={onDone}>{t("conv.cancel")}</button>
    </form>
  );
}

const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
const zones = (): string[] => {
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  return all.length ? all : [localZone(), "UTC"];
};

/** A calendar event: when (in its time zone), RSVP, who answered, edit, cancel, .ics. */
export function EventCard({ roomId, seq, isAdmin }: { roomId: string; seq: number; isAdmin: boolean }) {
  const ev = useSignal<CalEvent | null>(null);
  const editing = useSignal(false);
  const version = useComputed(() => changed.value[`${roomId}/${seq}`]);
  useEffect(() => {
    call("event.get", { roomId, seq }).then((e) => (ev.value = e), () => undefined);
  }, [seq, version.value]);
  const e = ev.value;
  if (!e) return <p class="body">…</p>;
  const cancelled = e.status === "cancelled";
  const rsvp = (answer: CalEvent["myAnswer"]) => tryIt(async () => {
    await call("event.rsvp", { roomId, seq, answer });
    ev.value = await call("event.get", { roomId, seq });
  });
  function download() {
    const blob = new Blob([buildIcs(e!, location.host)], { type: "text/calendar" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${e!.title.replace(/[^\p{L}\p{N} _-]/gu, "").trim() || "event"}.ics`;
    a.click();
  }
  const canEdit = e.createdBy === me() || isAdmin;
  return (
    <div class="event" data-event={seq}>
      <h4>{e.title} {cancelled ? <span class="muted">({t("event.cancelled")})</span> : null}</h4>
      <p>
        <time dateTime={new Date(e.start).toISOString()}>{formatDateTime(e.start, e.timeZone)}</time> <span class="muted">({e.timeZone})</span>
        {e.place ? <> · {e.place}</> : null}
      </p>
      {e.description ? <p>{e.description}</p> : null}
      {!cancelled ? (
        <div class="rsvp" role="group" aria-label="RSVP">
          {(["going", "maybe", "not_going"] as const).map((a) => (
            <button key={a} type="button" aria-pressed={e.myAnswer === a} onClick={() => void rsvp(e.myAnswer === a ? null : a)}>
              {t(a === "going" ? "event.going" : a === "maybe" ? "event.maybe" : "event.notGoing")} ({a === "going" ? e.counts.going : a === "maybe" ? e.counts.maybe : e.counts.notGoing})
            </button>
          ))}
        </div>
      ) : null}
      {e.answers && e.answers.length ? (
        <details>
          <summary>{t("event.answers")}</summary>
          <ul>
            {e.answers.map((a) => <li key={a.userId}>{nameOf(a.userId)}: {t(a.answer === "going" ? "event.going" : a.answer === "maybe" ? "event.maybe" : "event.notGoing")}</li>)}
          </ul>
        </details>
      ) : null}
      <p>
        <button type="button" onClick={download}>{t("event.ics")}</button>{" "}
        {canEdit && !cancelled ? (
          <>
            <button type="button" onClick={() => (editing.value = !editing.value)}>{t("event.edit")}</button>{" "}
            <button type="button" onClick={() => void tryIt(() => call("event.cancel", { roomId, seq }))}>{t("event.cancel")}</button>
          </>
        ) : null}
      </p>
      {editing.value ? <EventForm roomId={roomId} existing={e} onDone={() => (editing.value = false)} /> : null}
    </div>
  );
}

export function EventForm({ roomId, existing, onDone }: { roomId: string; existing?: CalEvent; onDone: () => void }) {
  const tz = existing?.timeZone ?? localZone();
  return (
    <form
      class="card-form"
      onSubmit={(ev) => {
        ev.preventDefault();
        const f = new FormData(ev.currentTarget as HTMLFormElement);
        const timeZone = String(f.get("timeZone"));
        const start = zonedToUtc(String(f.get("start")), timeZone);
        const endText = String(f.get("end") ?? "");
        const end = endText ? zonedToUtc(endText, timeZone) : null;
        const fields = { title: String(f.get("title")), start, end, timeZone, place: String(f.get("place") ?? "") || null };
        void tryIt(async () => {
          if (existing) await call("event.update", { roomId, seq: existing.seq, ...fields });
          else await call("event.create", { roomId, txnId: newTxnId(), ...fields, reminders: [3600] });
          onDone();
        });
      }}
    >
      <label>{t("event.title")}<input name="title" required defaultValue={existing?.title} /></label>
      <label>{t("event.start")}<input name="start" type="datetime-local" required defaultValue={existing ? utcToZonedInput(existing.start, tz) : undefined} /></label>
      <label>{t("event.end")}<input name="end" type="datetime-local" defaultValue={existing?.end ? utcToZonedInput(existing.end, tz) : undefined} /></label>
      <label>
        {t("event.timeZone")}
        <select name="timeZone">
          {zones().map((z) => <option key={z} value={z} selected={z === tz}>{z}</option>)}
        </select>
      </label>
      <label>{t("event.place")}<input name="place" defaultValue={existing?.place ?? undefined} /></label>
      <button type="submit">{existing ? t("conv.save") : t("event.create")}</button> <button type="button" onClick={onDone}>{t("conv.cancel")}</button>
    </form>
  );
}
