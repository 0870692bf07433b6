/**
 * Where a member's reading of a room begins. Members read what was said since the join that began
 * their current membership, not before (as in WhatsApp): history, the room list's last message
 * and counts, saved messages, file downloads, acts on a message (a reply, a reaction, a vote),
 * and the federation endpoints that serve a reader all cut at the same seq. It is the seq of the
 * event that opened the member's open span (`member_spans.from_seq`, or the seq at `from_pos` for
 * spans recorded before that column); NULL when they have no open span (not a member).
 *
 * One definition, as an SQL subquery over the SQL expressions naming the room and the user
 * (`?`, `@user`, or a column of the enclosing query), so that each read applies it in its own SQL.
 */
export function readingStartSql(room: string, user: string): string {
  return `(SELECT coalesce(sp.from_seq, e.seq) FROM member_spans sp LEFT JOIN room_events e ON e.pos = sp.from_pos
    WHERE sp.room_id = ${room} AND sp.user_id = ${user} AND sp.to_pos IS NULL ORDER BY sp.id DESC LIMIT 1)`;
}
