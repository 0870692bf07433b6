import { ParleyError } from "../errors.ts";
import { isAdminRole, type RoomState } from "../rooms/types.ts";

/** The most people one message may mention (beyond that, @all is the tool). */
export const maxMentions = 50;

// "@name" at the start or after a character that cannot be part of an address or a word, so that
// "bob@example.org" mentions no one. Usernames are 3 to 32 of [a-z0-9._-], starting alphanumeric.
const mentionToken = /(?:^|[^\p{L}\p{N}_@.-])@([\p{L}\p{N}][\p{L}\p{N}._-]{0,63})/gu;
const allTokens = new Set(["all", "everyone"]);

/**
 * Which members a message mentions, as user ids. A client may send the ids it resolved itself
 * (`requested`, from its member picker), and the server also reads `@username` tokens of its own
 * users in the text, so that a client that sends only text still mentions people. Either way only
 * current members of the room are kept (never the sender): a mention cannot reach, or name, an
 * outsider. In the announcement group a member who is not an admin may mention only admins: its
 * member list is private, and a mention that kept a member's id would tell the sender that they are
 * in the community.
 *
 * `@all` (or `@everyone`) mentions every member and is the admins': asked for explicitly
 * (`mentionAll`) by anyone else it is refused with `room.forbidden`; written in the text by anyone
 * else it is only text, as people write "@all" casually.
 */
export function resolveMentions(input: {
  state: RoomState;
  sender: string;
  serverName: string;
  body: string | undefined;
  requested?: string[];
  requestAll?: boolean;
}): { mentions: string[]; mentionAll: boolean } {
  const { state, sender } = input;
  // Most messages mention no one: nothing asked for and no "@" in the text.
  if (!input.requestAll && !input.requested?.length && !input.body?.includes("@")) return { mentions: [], mentionAll: false };
  const senderIsAdmin = isAdminRole(state.members.get(sender));
  if (input.requestAll && !senderIsAdmin) throw new ParleyError("room.forbidden", "Only admins may mention everyone.");
  let mentionAll = input.requestAll === true;
  const candidates: string[] = [...(input.requested ?? [])];
  for (const m of (input.body ?? "").matchAll(mentionToken)) {
    // A sentence's full stop or a dash after a name is not part of it: "@bob." mentions bob.
    const name = m[1].normalize("NFKC").toLowerCase().replace(/[._-]+$/, "");
    if (allTokens.has(name)) {
      if (senderIsAdmin) mentionAll = true;
      continue;
    }
    candidates.push(`@${name}:${input.serverName}`);
  }
  const canName = (userId: string): boolean => {
    const role = state.members.get(userId);
    if (role === undefined || userId === sender) return false;
    return state.kind !== "community" || senderIsAdmin || isAdminRole(role);
  };
  const mentions = [...new Set(candidates)].filter(canName).slice(0, maxMentions);
  return { mentions, mentionAll };
}
