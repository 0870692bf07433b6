import { ParleyError } from "../errors.ts";

/**
 * Names no user may take: they would impersonate the server, its operators or a mention
 * keyword in a chat ("@everyone").
 */
export const reservedUsernames = new Set([
  "admin", "administrator", "root", "system", "server", "parley", "support", "help", "moderator", "mod",
  "owner", "staff", "security", "abuse", "postmaster", "hostmaster", "webmaster", "noreply", "no-reply",
  "everyone", "here", "channel", "all", "announcements", "api", "federation", "bot", "null", "undefined",
]);

const usernamePattern = /^[a-z0-9][a-z0-9._-]{2,31}$/;

/**
 * Normalises a username the way every later lookup does: Unicode NFKC (so look-alike compatibility
 * characters fold together), trimmed, lower case. Also accepts a full local user id
 * ("@alice:school.example") for logins.
 */
export function normaliseUsername(input: string, serverName?: string): string {
  let name = input.normalize("NFKC").trim().toLowerCase();
  if (serverName && name.startsWith("@") && name.endsWith(`:${serverName}`)) {
    name = name.slice(1, -(serverName.length + 1));
  }
  return name;
}

/** Throws `username.invalid` or `username.reserved`; returns the normalised name. */
export function validateUsername(input: string): string {
  const name = normaliseUsername(input);
  if (!usernamePattern.test(name) || /[._-]{2}/.test(name)) throw new ParleyError("username.invalid");
  if (reservedUsernames.has(name)) throw new ParleyError("username.reserved");
  return name;
}

export function userIdOf(username: string, serverName: string): string {
  return `@${username}:${serverName}`;
}

/** Splits "@alice:school.example" into its parts; null when it is not a user id. */
export function parseUserId(userId: string): { username: string; server: string } | null {
  const m = /^@([^:]+):(.+)$/.exec(userId);
  return m ? { username: m[1], server: m[2] } : null;
}
