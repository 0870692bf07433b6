import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import type { Storage } from "../storage/database.ts";
import type { OpRegistry } from "../ws/ops.ts";
import { defaultNotifySettings, type NotifyLevel, type NotifySettings } from "./policy.ts";

/** How many rooms one person may pin to the top of their list (as WhatsApp: three). */
export const maxPinnedRooms = 3;

/**
 * Each person's private settings of their rooms: notification level and mute, pinned to the top,
 * archived. Kept beside the log (they are nobody else's business and need no ordering), in
 * `room_prefs`; the room list reads them in the same query as the unread counts.
 */
export function createNotifyService(deps: { storage: Storage; core: RoomCore; now?: () => number }) {
  const db = deps.storage.sqlite;
  const now = deps.now ?? Date.now;
  const s = {
    get: db.prepare("SELECT level, muted_until AS mutedUntil FROM room_prefs WHERE user_id = ? AND room_id = ?"),
    setNotify: db.prepare(
      "INSERT INTO room_prefs (user_id, room_id, level, muted_until) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, room_id) DO UPDATE SET level = excluded.level, muted_until = excluded.muted_until",
    ),
    pinnedCount: db.prepare("SELECT count(*) AS n FROM room_prefs p JOIN room_members m ON m.room_id = p.room_id AND m.user_id = p.user_id WHERE p.user_id = ? AND p.pinned_at IS NOT NULL AND p.room_id <> ?"),
    setPinned: db.prepare("INSERT INTO room_prefs (user_id, room_id, pinned_at) VALUES (?, ?, ?) ON CONFLICT (user_id, room_id) DO UPDATE SET pinned_at = CASE WHEN excluded.pinned_at IS NULL THEN NULL ELSE coalesce(room_prefs.pinned_at, excluded.pinned_at) END"),
    setArchived: db.prepare("INSERT INTO room_prefs (user_id, room_id, archived_at) VALUES (?, ?, ?) ON CONFLICT (user_id, room_id) DO UPDATE SET archived_at = CASE WHEN excluded.archived_at IS NULL THEN NULL ELSE coalesce(room_prefs.archived_at, excluded.archived_at) END"),
  };

  function requireMember(userId: string, roomId: string): void {
    const st = deps.core.state(roomId);
    if (!st || !st.members.has(userId)) throw new ParleyError("room.not_found");
  }

  return {
    /** The user's notification settings of a room (the defaults when never set). */
    settingsOf(userId: string, roomId: string): NotifySettings {
      return (s.get.get(userId, roomId) as NotifySettings | undefined) ?? defaultNotifySettings;
    },

    setNotify(userId: string, roomId: string, level: NotifyLevel, mutedUntil: number | null): { roomId: string; notify: NotifySettings } {
      requireMember(userId, roomId);
      s.setNotify.run(userId, roomId, level, mutedUntil);
      return { roomId, notify: { level, mutedUntil } };
    },

    /** Pins keep their first time, so re-pinning does not reorder the list. */
    setPinned(userId: string, roomId: string, pinned: boolean): { roomId: string; pinned: boolean } {
      requireMember(userId, roomId);
      return deps.storage.write(() => {
        // Pins of rooms the user has left do not count (they stay in the table, unseen).
        if (pinned && (s.pinnedCount.get(userId, roomId) as { n: number }).n >= maxPinnedRooms) throw new ParleyError("room.pin_limit");
        s.setPinned.run(userId, roomId, pinned ? now() : null);
        return { roomId, pinned };
      });
    },

    setArchived(userId: string, roomId: string, archived: boolean): { roomId: string; archived: boolean } {
      requireMember(userId, roomId);
      s.setArchived.run(userId, roomId, archived ? now() : null);
      return { roomId, archived };
    },
  };
}

export type NotifyService = ReturnType<typeof createNotifyService>;

/** WebSocket ops of a person's room settings. */
export function defineNotifyOps(ops: OpRegistry, notify: NotifyService): void {
  // op: room.notify.set
  ops.define<{ roomId: string; level: NotifyLevel; mutedUntil?: number | null }>("room.notify.set", ({ actor }, p) =>
    notify.setNotify(actor.userId, p.roomId, p.level, p.mutedUntil ?? null),
  );
  // op: room.pin
  ops.define<{ roomId: string; pinned: boolean }>("room.pin", ({ actor }, p) => notify.setPinned(actor.userId, p.roomId, p.pinned));
  // op: room.archive
  ops.define<{ roomId: string; archived: boolean }>("room.archive", ({ actor }, p) => notify.setArchived(actor.userId, p.roomId, p.archived));
}
