import type { OpRegistry } from "../ws/ops.ts";
import type { Answer, CalendarFieldsInput, CalendarService } from "./service.ts";

/** WebSocket ops of calendar events. */
export function defineCalendarOps(ops: OpRegistry, calendar: CalendarService): void {
  // op: event.create
  ops.define<{ roomId: string; txnId: string } & CalendarFieldsInput>("event.create", ({ actor }, p) => calendar.create(actor.userId, p));
  // op: event.update
  ops.define<{ roomId: string; seq: number } & Partial<CalendarFieldsInput>>("event.update", async ({ actor }, { roomId, seq, ...patch }) => ({
    event: await calendar.update(actor.userId, roomId, seq, patch),
  }));
  // op: event.cancel
  ops.define<{ roomId: string; seq: number }>("event.cancel", async ({ actor }, p) => ({ event: await calendar.cancel(actor.userId, p.roomId, p.seq) }));
  // op: event.rsvp
  ops.define<{ roomId: string; seq: number; answer: Answer | null }>("event.rsvp", async ({ actor }, p) => ({ event: await calendar.rsvp(actor.userId, p.roomId, p.seq, p.answer) }));
  // op: event.get
  ops.define<{ roomId: string; seq: number }>("event.get", ({ actor }, p) => calendar.get(actor.userId, p.roomId, p.seq));
}
