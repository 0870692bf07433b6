import type { Storage } from "../storage/database.ts";
import type { Logger } from "../logger.ts";
import type { Hub } from "../ws/transport.ts";

interface DueRow {
  id: number;
  room_id: string;
  event_seq: number;
  offset_seconds: number;
  due_at: number;
  title: string | null;
  starts_at: number | null;
  cancelled_at: number | null;
  deleted_at: number | null;
}

/**
 * The durable reminder scheduler. The schedule is a table (a projection of the room log), so it
 * survives restarts. One timer points at the earliest pending reminder. A due reminder is
 * marked done *before* its push goes out, so it is never sent twice; one that fell due while
 * the server was down is sent at start if the event has not begun, and skipped otherwise.
 * Only this server's users are reminded: a user of another server who answered an event of a
 * room replicated there is reminded by their own server, from its copy of the log.
 */
export function createReminderScheduler(deps: {
  storage: Storage;
  hub: () => Hub;
  log: Logger;
  now?: () => number;
  /** This server's name: users of other servers (`@name:other`) are theirs to remind. */
  self: string;
  /** Also tells a user with no connected device by Web Push (the push area). */
  remindOffline?: (userId: string, data: Record<string, unknown>) => void;
}) {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    due: db.prepare(`
      SELECT r.id, r.room_id, r.event_seq, r.offset_seconds, r.due_at, c.title, c.starts_at, c.cancelled_at, m.deleted_at
      FROM reminders r
      LEFT JOIN calendar_events c ON c.room_id = r.room_id AND c.seq = r.event_seq
      LEFT JOIN messages m ON m.room_id = r.room_id AND m.seq = r.event_seq
      WHERE r.done_at IS NULL AND r.due_at <= ? ORDER BY r.due_at LIMIT 500`),
    next: db.prepare("SELECT min(due_at) AS at FROM reminders WHERE done_at IS NULL"),
    keep: db.prepare("INSERT INTO pending_pushes (user_id, frame, expires_at, created_at) VALUES (?, ?, ?, ?)"),
    pendingFor: db.prepare("SELECT id, frame FROM pending_pushes WHERE user_id = ? AND expires_at > ? ORDER BY id"),
    dropFor: db.prepare("DELETE FROM pending_pushes WHERE user_id = ? OR expires_at <= ?"),
    finish: db.prepare("UPDATE reminders SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL"),
    audience: db.prepare(`
      SELECT v.user_id FROM rsvps v JOIN room_members m ON m.room_id = v.room_id AND m.user_id = v.user_id
      WHERE v.room_id = ? AND v.event_seq = ? AND v.answer IN ('going', 'maybe')
        AND substr(v.user_id, instr(v.user_id, ':') + 1) = ?`),
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function runDue(): { sent: number; skipped: number } {
    let sent = 0;
    let skipped = 0;
    for (;;) {
      const at = now();
      const rows = s.due.all(at) as DueRow[];
      if (rows.length === 0) break;
      for (const r of rows) {
        // A reminder at the start itself (offset 0) falls due as the event begins: on time (within
        // a minute) it still goes; otherwise one whose event has begun is skipped.
        const begun = r.starts_at !== null && at >= r.starts_at && !(r.offset_seconds === 0 && at - r.due_at < 60_000);
        const live = r.starts_at !== null && r.cancelled_at === null && r.deleted_at === null && !begun;
        if (s.finish.run(at, live ? "sent" : "skipped", r.id).changes === 0) continue;
        if (!live) {
          skipped++;
          continue;
        }
        const users = (s.audience.all(r.room_id, r.event_seq, deps.self) as { user_id: string }[]).map((u) => u.user_id);
        const data = { roomId: r.room_id, seq: r.event_seq, title: r.title, start: r.starts_at, offsetSeconds: r.offset_seconds };
        const frame = JSON.stringify({ push: "event.reminder", data });
        const hub = deps.hub();
        for (const user of users) {
          // Someone offline gets it when they next connect, as long as the event has not begun.
          if (hub.connectionsOf(user)?.size) hub.sendToUsers([user], frame);
          else {
            s.keep.run(user, frame, r.starts_at, at);
            deps.remindOffline?.(user, data);
          }
        }
        sent++;
      }
    }
    if (sent || skipped) log.info({ sent, skipped }, "reminders processed");
    return { sent, skipped };
  }

  function arm(): void {
    clearTimeout(timer);
    if (stopped) return;
    const next = (s.next.get() as { at: number | null }).at;
    if (next === null) return;
    const delay = Math.max(0, Math.min(next - now(), 2 ** 31 - 1));
    timer = setTimeout(() => {
      try {
        runDue();
      } catch (err) {
        log.error({ err }, "reminder run failed");
      }
      arm();
    }, delay);
    timer.unref();
  }

  return {
    /** Sends what is due now (also what fell due while the server was down), then re-arms. */
    start(): void {
      runDue();
      arm();
    },
    /** Delivers what was kept for a user while they were offline (on their authentication). */
    deliverPending(userId: string): number {
      const at = now();
      const rows = s.pendingFor.all(userId, at) as { id: number; frame: string }[];
      if (rows.length === 0) return 0;
      const hub = deps.hub();
      for (const r of rows) hub.sendToUsers([userId], r.frame);
      s.dropFor.run(userId, at);
      return rows.length;
    },
    /** Re-reads the schedule after a change (a new, edited, cancelled or deleted event). */
    reschedule: arm,
    /** Runs due reminders now: for tests with a controlled clock, and for start. */
    runDue,
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export type ReminderScheduler = ReturnType<typeof createReminderScheduler>;
