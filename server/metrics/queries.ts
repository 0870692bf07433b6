import type { Storage } from "../storage/database.ts";

/** The metrics area's SQL: aggregates read when /metrics is scraped, each one indexed query. */
export function createMetricQueries(storage: Storage) {
  const db = storage.sqlite;
  const s = {
    reminders: db.prepare("SELECT count(*) AS n FROM reminders WHERE done_at IS NULL"),
    pendingPushes: db.prepare("SELECT count(*) AS n FROM pending_pushes"),
    media: db.prepare("SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM media"),
  };
  return {
    reminderQueue: () => ({
      reminders: (s.reminders.get() as { n: number }).n,
      pendingPushes: (s.pendingPushes.get() as { n: number }).n,
    }),
    mediaStore: () => s.media.get() as { files: number; bytes: number },
  };
}
