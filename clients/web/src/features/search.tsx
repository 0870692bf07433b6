/**
 * The message search: words across every room I may read (or one room, or one sender), newest
 * first, each result's snippet with its matches marked, leading to the message in its room.
 */
import { useSignal } from "@preact/signals";
import type { OpResult } from "../../../sdk/index.ts";
import { call, nameOf, rooms } from "../state.ts";
import { formatTime } from "../i18n.ts";
import { navigate, routes } from "../router.ts";
import { f, words } from "./strings.ts";
import { jumpTarget } from "./messages.tsx";

type Result = OpResult<"message.search">["results"][number];

/** A snippet with its [start, end) highlights as <mark>s. */
export function Highlighted({ text, marks }: { text: string; marks: number[][] }) {
  const out: (string | preact.JSX.Element)[] = [];
  let at = 0;
  for (const [start, end] of marks) {
    if (start < at) continue;
    out.push(text.slice(at, start), <mark key={start}>{text.slice(start, end)}</mark>);
    at = end;
  }
  out.push(text.slice(at));
  return <>{out}</>;
}

export function MessageSearch() {
  const query = useSignal("");
  const roomId = useSignal("");
  const sender = useSignal("");
  const results = useSignal<Result[] | null>(null);
  const next = useSignal<number | null>(null);
  /** The room's home could not be asked: the results are of what this server holds. */
  const incomplete = useSignal(false);
  const error = useSignal<string | null>(null);
  async function search(before?: number) {
    try {
      const r = await call("message.search", {
        query: query.value,
        limit: 20,
        ...(roomId.value ? { roomId: roomId.value } : {}),
        ...(sender.value.trim() ? { sender: sender.value.trim() } : {}),
        ...(before ? { before } : {}),
      });
      results.value = before ? [...(results.value ?? []), ...r.results] : r.results;
      next.value = r.next;
      incomplete.value = r.incomplete === true;
      error.value = null;
    } catch (err) {
      error.value = words(err);
    }
  }
  const nameOfRoom = (id: string) => {
    const r = rooms.value.find((x) => x.roomId === id);
    return r?.peer?.displayName ?? r?.name ?? "";
  };
  return (
    <section aria-labelledby="search-title">
      <h2 id="search-title">{f("searchMessages")}</h2>
      <form
        class="stack"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <label>
          {f("query")}
          <input type="search" required maxLength={200} value={query.value} onInput={(e) => (query.value = (e.currentTarget as HTMLInputElement).value)} />
        </label>
        <div class="inline">
          <label>
            {f("inRoomFilter")}
            <select value={roomId.value} onChange={(e) => (roomId.value = (e.currentTarget as HTMLSelectElement).value)}>
              <option value="">{f("anyRoom")}</option>
              {rooms.value.map((r) => (
                <option key={r.roomId} value={r.roomId}>{r.peer?.displayName ?? r.name}</option>
              ))}
            </select>
          </label>
          <label>
            {f("fromFilter")}
            <input value={sender.value} placeholder="@name:server" onInput={(e) => (sender.value = (e.currentTarget as HTMLInputElement).value)} />
          </label>
        </div>
        <button type="submit">{f("search")}</button>
      </form>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      {results.value ? <p role="status">{results.value.length ? f("results", { n: results.value.length }) : f("noResults")}</p> : null}
      {results.value && incomplete.value ? <p class="muted x-incomplete">{f("searchIncomplete")}</p> : null}
      <ul class="cards">
        {(results.value ?? []).map((r) => (
          <li key={`${r.roomId}/${r.seq}`} class="card x-hit" data-hit={`${r.roomId}/${r.seq}`}>
            <div>
              <strong>{nameOf(r.sender)}</strong> <span class="muted">{nameOfRoom(r.roomId)} · {formatTime(r.ts)}</span>
              <p class="x-snippet"><Highlighted text={r.snippet} marks={r.highlights} /></p>
            </div>
            <button
              type="button"
              aria-label={`${f("jump")}: ${r.snippet.slice(0, 40)}`}
              onClick={() => {
                jumpTarget.value = { roomId: r.roomId, seq: r.seq };
                navigate(routes.room(r.roomId));
              }}
            >
              {f("jump")}
            </button>
          </li>
        ))}
      </ul>
      {next.value !== null ? <button type="button" onClick={() => void search(next.value!)}>{f("older")}</button> : null}
    </section>
  );
}
