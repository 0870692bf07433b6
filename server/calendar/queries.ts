import type { Storage } from "../storage/database.ts";
import type { Answer } from "./service.ts";

/** Read-side SQL of calendar events. */
export function createCalendarQueries(storage: Storage) {
  const rsvps = storage.sqlite.prepare("SELECT user_id AS userId, answer FROM rsvps WHERE room_id = ? AND event_seq = ? ORDER BY at");
  return {
    rsvps: (roomId: string, seq: number) => rsvps.all(roomId, seq) as { userId: string; answer: Answer }[],
  };
}
