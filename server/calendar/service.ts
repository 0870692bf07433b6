import { ParleyError } from "../errors.ts";
import type { RoomCore, Tx } from "../rooms/core.ts";
import type { CalendarFields, CalendarRow } from "../rooms/store.ts";
import { isAdminRole, type RoomEvent } from "../rooms/types.ts";
import { memberState } from "../communities/service.ts";
import type { MessageService, PostInput } from "../messages/service.ts";

export type Answer = "going" | "maybe" | "not_going";

/** The fields of a calendar event as requests give them: the same shape the store writes. */
export type CalendarFieldsInput = CalendarFields;

export interface CalendarView {
  roomId: string;
  seq: number;
  title: string;
  description: string;
  start: number;
  end: number | null;
  timeZone: string;
  place: string | null;
  link: string | null;
  reminders: number[];
  createdBy: string;
  status: "upcoming" | "ongoing" | "ended" | "cancelled";
  counts: { going: number; maybe: number; notGoing: number };
  /** Who answered what; null in the announcement group for members (its member list is private). */
  answers: { userId: string; answer: Answer }[] | null;
  myAnswer: Answer | null;
}

/** Rejects a time zone the runtime's ICU does not know, and an end before the start. */
export function checkTimes(timeZone: string | undefined, start: number, end: number | null | undefined): void {
  if (timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone });
    } catch {
      throw new ParleyError("invalid_params", `Unknown time zone "${timeZone}".`);
    }
  }
  if (end !== undefined && end !== null && end <= start) throw new ParleyError("event.invalid_time");
}

/**
 * Calendar events: a message of kind "event" in a room's log, with `event.update`,
 * `event.cancel` and `event.rsvp` events after it. The reminder schedule is a projection of
 * those events (see rooms/project.ts); the scheduler in reminders.ts sends them.
 */
export function createCalendarService(core: RoomCore, messages: MessageService, queries: { rsvps(roomId: string, seq: number): { userId: string; answer: Answer }[] }, now: () => number = Date.now) {
  /**
   * The calendar event at `seq` with what the rules need. `actor`, when acting on it (an update,
   * a cancellation, an answer): an event from before their current membership's join is not
   * theirs to see, nor to act on.
   */
  function context(tx: Pick<Tx, "store">, roomId: string, seq: number, actor?: string) {
    if (actor !== undefined && seq < messages.readsFrom(actor, roomId)) throw new ParleyError("event.not_found");
    const row = tx.store.findCalendarEvent(roomId, seq);
    const message = tx.store.findMessage(roomId, seq);
    if (!row || !message) throw new ParleyError("event.not_found");
    return {
      row,
      ctx: {
        calendar: { createdBy: row.created_by, cancelled: row.cancelled_at !== null },
        target: { sender: message.sender, ts: message.ts, deleted: message.deleted_at !== null, threadRoot: message.thread_root },
      },
    };
  }

  function statusOf(row: CalendarRow, at: number): CalendarView["status"] {
    if (row.cancelled_at !== null) return "cancelled";
    if (at < row.starts_at) return "upcoming";
    // Without an end time an event counts as ongoing for an hour after it starts.
    return at < (row.ends_at ?? row.starts_at + 3_600_000) ? "ongoing" : "ended";
  }

  return {
    create(actor: string, input: PostInput & CalendarFieldsInput): Promise<{ event: RoomEvent; duplicate: boolean }> {
      checkTimes(input.timeZone, input.start, input.end);
      const { roomId: _r, txnId: _t, replyTo: _p, threadRoot: _h, ...fields } = input;
      return messages.post(actor, { roomId: input.roomId, txnId: input.txnId }, { kind: "event", ...fields, reminders: fields.reminders ?? [3600] });
    },

    /** Edits an event (its creator or an admin). Changing the time reschedules its reminders. */
    update(actor: string, roomId: string, seq: number, patch: Partial<CalendarFieldsInput>): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        const { row, ctx } = context(tx, roomId, seq, actor);
        checkTimes(patch.timeZone, patch.start ?? row.starts_at, patch.end !== undefined ? patch.end : row.ends_at);
        return tx.append({ roomId, type: "event.update", sender: actor, content: { target: seq, ...patch } }, ctx);
      });
    },

    /** Cancels an event: everyone in the room sees it, and its reminders are dropped. */
    cancel(actor: string, roomId: string, seq: number): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        return tx.append({ roomId, type: "event.cancel", sender: actor, content: { target: seq } }, context(tx, roomId, seq, actor).ctx);
      });
    },

    /** Answers going / maybe / not going; null withdraws the answer. */
    rsvp(actor: string, roomId: string, seq: number, answer: Answer | null): Promise<RoomEvent> {
      return core.transact((tx) => {
        memberState(tx, roomId, actor);
        return tx.append({ roomId, type: "event.rsvp", sender: actor, content: { target: seq, answer } }, context(tx, roomId, seq, actor).ctx);
      });
    },

    get(actor: string, roomId: string, seq: number): CalendarView {
      const st = memberState(core, roomId, actor);
      // As its message: a calendar event from before the reader's join is not theirs to read.
      if (seq < messages.readsFrom(actor, roomId)) throw new ParleyError("event.not_found");
      const { row, ctx } = context(core.storeView(), roomId, seq);
      // An event deleted for everyone is gone, its title and answers with it.
      if (ctx.target.deleted) throw new ParleyError("event.not_found");
      const answers = queries.rsvps(roomId, seq);
      const count = (a: Answer) => answers.filter((r) => r.answer === a).length;
      const seeNames = st.kind !== "community" || isAdminRole(st.members.get(actor));
      return {
        roomId,
        seq,
        title: row.title,
        description: row.description,
        start: row.starts_at,
        end: row.ends_at,
        timeZone: row.time_zone,
        place: row.place,
        link: row.link,
        reminders: JSON.parse(row.reminders) as number[],
        createdBy: row.created_by,
        status: statusOf(row, now()),
        counts: { going: count("going"), maybe: count("maybe"), notGoing: count("not_going") },
        answers: seeNames ? answers : null,
        myAnswer: answers.find((r) => r.userId === actor)?.answer ?? null,
      };
    },
  };
}

export type CalendarService = ReturnType<typeof createCalendarService>;
