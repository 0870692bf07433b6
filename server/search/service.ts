import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import type { CommunityQueries } from "../communities/queries.ts";
import type { SearchQueries } from "./queries.ts";

/** The most words one search takes; more are ignored. */
const maxWords = 8;
/**
 * How many positions of the server's stream one page of a search made only of short words scans
 * (within the searcher's rooms): the bound on its cost. A page may then hold fewer results than
 * asked, or none, with a `next` to scan on from.
 */
export const fallbackWindow = 20_000;
/** The longest snippet, in characters, around the first match. */
const snippetChars = 160;

/**
 * Splits a search into lower-cased words (on white space; quotes dropped), each kept once, and
 * sorts them by what can serve them: the trigram index needs at least three characters.
 */
export function parseQuery(query: string): { long: string[]; short: string[] } {
  const words = [...new Set(query.toLowerCase().replace(/"/g, " ").split(/\s+/u).filter((w) => w.length > 0))].slice(0, maxWords);
  const long = words.filter((w) => [...w].length >= 3);
  const short = words.filter((w) => [...w].length < 3);
  return { long, short };
}

/**
 * The snippet shown for a hit and where the words are in it: at most `snippetChars` characters
 * starting a little before the first match, and the matches as [start, end) offsets into the
 * snippet, in UTF-16 code units (JavaScript string indices), merged where they overlap.
 */
export function markMatches(body: string, words: string[]): { snippet: string; highlights: [number, number][] } {
  const lower = body.toLowerCase();
  const ranges: [number, number][] = [];
  // toLowerCase keeps the length of nearly all text; where it does not, offsets follow the body.
  const sameLength = lower.length === body.length;
  for (const w of words) {
    if (!sameLength) break;
    for (let i = lower.indexOf(w); i !== -1; i = lower.indexOf(w, i + 1)) ranges.push([i, i + w.length]);
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  if (body.length <= snippetChars) return { snippet: body, highlights: merged };
  let start = Math.max(0, (merged[0]?.[0] ?? 0) - 40);
  // Do not cut a surrogate pair in two.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(body[start])) start--;
  let end = Math.min(body.length, start + snippetChars);
  if (end < body.length && /[\uDC00-\uDFFF]/.test(body[end])) end++;
  return {
    snippet: body.slice(start, end),
    highlights: merged.filter(([a, b]) => a >= start && b <= end).map(([a, b]) => [a - start, b - start] as [number, number]),
  };
}

/** Finding people (among those one shares a community with) and messages (among those one may read). */
export function createSearchService(deps: {
  core: RoomCore;
  queries: SearchQueries;
  communities: CommunityQueries;
  openTo: "community" | "server";
  serverName: string;
  /**
   * Names of users of other servers, as stored from their servers' answers (federation/profiles.ts,
   * when federation is on); a user whose server never answered is shown by their id.
   */
  remoteNames?: (userIds: string[]) => Promise<Map<string, { displayName: string; avatar: string | null }>>;
  /** Brings the search index up to the log (it is written in batches behind it: RoomStore.indexSearch). */
  indexSearch: () => void;
}) {
  const { core, queries } = deps;
  const headPos = () => queries.head();
  return {
    /**
     * user.search: by display name or username; users of other servers one shares a community or
     * group with (known from the rooms held here), by their id's local part or the display name
     * their server last gave; each with the groups we share. The server's `open_to = "server"` policy widens the search to its own accounts only.
     */
    async people(actor: string, input: { query: string; after?: string; limit: number }) {
      const q = input.query.trim().toLowerCase();
      if (!q) throw new ParleyError("search.invalid_query");
      const after = input.after ?? "";
      const local = queries.people(actor, q, deps.openTo === "server", after, input.limit + 1);
      const remote = queries.remotePeople(actor, deps.serverName, q, after, input.limit + 1);
      const names = remote.length && deps.remoteNames ? await deps.remoteNames(remote) : new Map<string, { displayName: string; avatar: string | null }>();
      const rows = [...local, ...remote.map((userId) => ({ userId, displayName: names.get(userId)?.displayName ?? userId, avatar: names.get(userId)?.avatar ?? null }))]
        .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
        .slice(0, input.limit + 1);
      const more = rows.length > input.limit;
      if (more) rows.pop();
      return {
        users: rows.map((r) => ({ ...r, commonGroups: deps.communities.commonGroups(actor, r.userId) })),
        next: more ? rows[rows.length - 1].userId : null,
      };
    },

    /** message.search: newest first, paged by `before` (the `next` of the previous page). */
    messages(actor: string, input: { query: string; roomId?: string; sender?: string; before?: number; limit: number }) {
      const { long, short } = parseQuery(input.query);
      if (long.length + short.length === 0) throw new ParleyError("search.invalid_query");
      if (input.roomId !== undefined) {
        const st = core.state(input.roomId);
        if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      }
      // Long words go through the index: it finds everything committed before this search.
      if (long.length) deps.indexSearch();
      const before = Math.min(input.before ?? Number.MAX_SAFE_INTEGER, headPos() + 1);
      const floor = long.length ? undefined : Math.max(0, before - fallbackWindow);
      const hits = queries.messages({ userId: actor, long, short, roomId: input.roomId, sender: input.sender, before, floor, limit: input.limit + 1 });
      const more = hits.length > input.limit;
      if (more) hits.pop();
      const words = [...long, ...short];
      // A scan that ended at its window's floor goes on below it on the next page.
      const next = more ? hits[hits.length - 1].pos : floor !== undefined && floor > 1 ? floor : null;
      return {
        results: hits.map((h) => ({ roomId: h.roomId, seq: h.seq, sender: h.sender, ts: h.ts, kind: h.kind, ...markMatches(h.body, words) })),
        next,
      };
    },
  };
}

export type SearchService = ReturnType<typeof createSearchService>;
