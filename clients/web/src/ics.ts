/**
 * Calendar helpers, all client-side: an RFC 5545 .ics file for an event, and the conversion
 * between a wall-clock time in a named time zone (what a datetime-local input holds) and UTC.
 */

/** The offset (ms) of a time zone from UTC at a given instant. */
function offsetAt(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/** "2026-12-01T18:30" in `timeZone` -> ms since the epoch. */
export function zonedToUtc(local: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) throw new Error(`not a local date-time: ${local}`);
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = wall - offsetAt(wall, timeZone);
  utc = wall - offsetAt(utc, timeZone); // once more, across a DST change
  return utc;
}

/** ms since the epoch -> "2026-12-01T18:30" as the wall clock in `timeZone`. */
export function utcToZonedInput(utcMs: number, timeZone: string): string {
  return new Date(utcMs + offsetAt(utcMs, timeZone)).toISOString().slice(0, 16);
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
const escapeText = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/([,;])/g, "\\$1");

/** Folds a content line at 75 octets (RFC 5545 3.1). */
function fold(line: string): string {
  const bytes = new TextEncoder().encode(line);
  if (bytes.length <= 75) return line;
  const out: string[] = [];
  let cur = "";
  let len = 0;
  for (const ch of line) {
    const n = new TextEncoder().encode(ch).length;
    if (len + n > (out.length ? 74 : 75)) {
      out.push(cur);
      cur = "";
      len = 0;
    }
    cur += ch;
    len += n;
  }
  out.push(cur);
  return out.join("\r\n ");
}

export function buildIcs(e: { roomId: string; seq: number; title: string; description: string; start: number; end: number | null; place: string | null; link: string | null; status: string }, host: string): string {
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Parley//Web client//EN",
    "BEGIN:VEVENT",
    `UID:${e.seq}-${e.roomId.replace(/[^A-Za-z0-9]/g, "")}@${host}`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(e.start)}`,
    `DTEND:${stamp(e.end ?? e.start + 3_600_000)}`,
    `SUMMARY:${escapeText(e.title)}`,
    ...(e.description ? [`DESCRIPTION:${escapeText(e.description)}`] : []),
    ...(e.place ? [`LOCATION:${escapeText(e.place)}`] : []),
    ...(e.link ? [`URL:${e.link}`] : []),
    ...(e.status === "cancelled" ? ["STATUS:CANCELLED"] : []),
    "END:VEVENT",
    "END:VCALENDAR",
  ];
  return lines.map(fold).join("\r\n") + "\r\n";
}
