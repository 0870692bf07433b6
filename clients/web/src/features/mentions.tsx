/**
 * The composer's @mention picker: typing `@` and a few letters lists the room's members (and
 * "@all" for the room's admins) as an ARIA combobox; arrows move, Enter or Tab picks, Escape
 * closes. What is inserted is `@username`, which the server reads as the mention.
 */
import { useEffect, useRef } from "preact/hooks";
import { signal, useSignal } from "@preact/signals";
import { nameOf, me, rooms } from "../state.ts";
import { f } from "./strings.ts";
import { membersOf, usernameOf, onNewSession } from "./store.ts";

/** Members of rooms whose list was read (for the picker and to highlight mentions in history). */
export const knownMembers = signal<Record<string, string[]>>({});
onNewSession(() => (knownMembers.value = {}));

type Props = {
  id: string;
  roomId: string;
  value: string;
  placeholder: string;
  rows: number;
  onInput: (e: Event) => void;
  onKeyDown: (e: KeyboardEvent) => void;
  /** Sets the text (after a pick). */
  onPick: (text: string) => void;
};

export function MentionTextarea(props: Props) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const query = useSignal<{ at: number; q: string } | null>(null);
  const active = useSignal(0);
  useEffect(() => {
    void membersOf(props.roomId).then((list) => (knownMembers.value = { ...knownMembers.value, [props.roomId]: list }), () => undefined);
  }, [props.roomId]);

  const role = rooms.value.find((r) => r.roomId === props.roomId)?.role;
  const isAdmin = role === "owner" || role === "admin";
  const members = (knownMembers.value[props.roomId] ?? []).filter((u) => u !== me());
  const q = query.value?.q.toLowerCase() ?? "";
  const options: { userId: string | null; label: string; insert: string }[] = query.value
    ? [
        ...(isAdmin && "all".startsWith(q) ? [{ userId: null, label: `@all · ${f("everyone")}`, insert: "all" }] : []),
        ...members
          .filter((u) => usernameOf(u).toLowerCase().startsWith(q) || nameOf(u).toLowerCase().includes(q))
          .slice(0, 8)
          .map((u) => ({ userId: u, label: `${nameOf(u)} · @${usernameOf(u)}`, insert: usernameOf(u) })),
      ]
    : [];
  const open = options.length > 0;
  const listId = `${props.id}-mentions`;

  function track(el: HTMLTextAreaElement) {
    const before = el.value.slice(0, el.selectionStart ?? el.value.length);
    const m = /(^|\s)@([\p{L}\p{N}._-]*)$/u.exec(before);
    query.value = m ? { at: before.length - m[2].length - 1, q: m[2] } : null;
    active.value = 0;
  }

  function pick(i: number) {
    const o = options[i];
    const el = ref.current;
    if (!o || !el || !query.value) return;
    const start = query.value.at;
    const end = el.selectionStart ?? el.value.length;
    const text = `${el.value.slice(0, start)}@${o.insert} ${el.value.slice(end)}`;
    // The box and its caret change now, in this key's handler: a caret set a frame later would
    // move back over what a fast typist wrote in between. The state then follows (same value).
    const caret = start + o.insert.length + 2;
    el.value = text;
    el.setSelectionRange(caret, caret);
    props.onPick(text);
    query.value = null;
  }

  function onKeyDown(e: KeyboardEvent) {
    if (open && !e.isComposing && e.keyCode !== 229) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active.value = (active.value + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(active.value);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        query.value = null;
        return;
      }
    }
    props.onKeyDown(e);
  }

  return (
    <div class="x-mention-box">
      <textarea
        ref={ref}
        id={props.id}
        rows={props.rows}
        value={props.value}
        placeholder={props.placeholder}
        aria-autocomplete="list"
        aria-controls={listId}
        aria-activedescendant={open ? `${listId}-${active.value}` : undefined}
        onInput={(e) => {
          props.onInput(e);
          track(e.currentTarget as HTMLTextAreaElement);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => (query.value = null), 150)}
      />
      <ul id={listId} role="listbox" aria-label={f("suggestions")} class="x-suggestions" hidden={!open}>
        {options.map((o, i) => (
          <li
            key={o.insert}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active.value}
            onMouseDown={(e) => {
              e.preventDefault();
              pick(i);
            }}
          >
            {o.label}
          </li>
        ))}
      </ul>
    </div>
  );
}
