/**
 * When a person is notified (a Web Push to a device with no open connection). A pure function of
 * their settings for the room, the event and the time, so the rule has one place and one test.
 */

export type NotifyLevel = "all" | "mentions" | "none";

/** A user's notification settings of one room (the defaults when they never set any). */
export interface NotifySettings {
  level: NotifyLevel;
  /** Muted until this time (ms since the epoch); null when not muted for a time. */
  mutedUntil: number | null;
}

export const defaultNotifySettings: NotifySettings = { level: "all", mutedUntil: null };

/** What the policy needs of a room event. */
export interface NotifyEvent {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  /** For a reply under an announcement: who posted the announcement. */
  threadRootSender?: string | null;
}

/** Why someone is notified: the reason goes into the push, so the client can word it. */
export type NotifyReason = "message" | "mention" | "mention_all" | "thread_reply";

/**
 * Returns why `userId` should be notified of `event`, or null if not:
 * - never of their own events, of events that are not messages, or of a redacted message;
 * - a personal mention notifies at every level, even in a muted room (as WhatsApp does by
 *   default): being named is the one thing a person who muted a busy group still wants to know;
 * - while muted (level `none`, or `mutedUntil` in the future) nothing else notifies, @all included;
 * - at `mentions`, a personal mention or an admin's @all;
 * - at `all`, every message; except that in the announcement group a reply under an announcement
 *   notifies only the announcement's author (and the people it mentions), or thousands of members
 *   would be told of every "thank you".
 */
export function shouldNotify(settings: NotifySettings | undefined, event: NotifyEvent, userId: string, now: number): NotifyReason | null {
  if (event.type !== "message" || event.sender === userId) return null;
  const c = event.content;
  if (c.redacted === true) return null;
  const mentions = Array.isArray(c.mentions) ? (c.mentions as string[]) : [];
  if (mentions.includes(userId)) return "mention";
  const s = settings ?? defaultNotifySettings;
  const muted = s.level === "none" || (s.mutedUntil !== null && s.mutedUntil > now);
  if (muted) return null;
  if (c.mentionAll === true) return "mention_all";
  if (s.level === "mentions") return null;
  if (c.threadRoot !== undefined && c.threadRoot !== null) return event.threadRootSender === userId ? "thread_reply" : null;
  return "message";
}
