/**
 * Converts `x-parley.errors` entries written as plain code strings (the old format) into
 * `{ "code", "when" }` objects, with the default "when" below for the code. Re-runnable: entries
 * that are objects already are left alone, and only files with a plain string are rewritten.
 * The defaults are a start: read each converted op and make its "when" say what that op means.
 *
 *   node --import tsx scripts/errors-format.ts
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** What each code usually means for an op or endpoint that declares it, in the client's terms. */
export const defaultWhen: Record<string, string> = {
  "bad_request": "the request is malformed",
  "invalid_params": "the params do not fit the op",
  "unavailable": "the server is starting or shutting down",
  "auth.required": "the request has no `Authorization: Bearer` header",
  "auth.invalid_token": "the access token is invalid, expired, or of a revoked device or disabled account",
  "auth.invalid_credentials": "the username or the password is wrong",
  "auth.invalid_refresh_token": "the refresh token is unknown, expired, or of a revoked device or disabled account",
  "auth.refresh_token_reused": "the refresh token was used before: the device's session is ended",
  "auth.too_many_attempts": "too many failed attempts for this username or from this address, within the window",
  "auth.account_disabled": "the password is right but the account is disabled",
  "registration.closed": "the server's registration policy is `closed`",
  "registration.token_required": "the policy is `invite-only` and no `registrationToken` was given",
  "registration.invalid_token": "the registration token is unknown, expired or used up",
  "username.invalid": "the normalised username breaks the username rules",
  "username.reserved": "the username is reserved",
  "username.taken": "an account has that username",
  "password.too_weak": "the new password has fewer than 8 characters",
  "password.too_long": "the new password has more than 1024 characters",
  "room.not_found": "the room does not exist or you are not a member",
  "room.forbidden": "your role in the room does not allow it",
  "room.already_member": "the user is already a member",
  "room.not_member": "the user is not a member of the room",
  "room.banned": "the user is banned from the room",
  "room.full": "the room has reached its member limit",
  "room.admin_limit": "the community has reached its admin limit",
  "room.group_limit": "the community has reached its group limit",
  "room.deactivated": "the community is deactivated",
  "room.owner_must_transfer": "you own the room (or one of the community's groups)",
  "room.approval_required": "the room requires approval",
  "room.no_approval_needed": "the room does not require approval",
  "room.not_invited": "you have no pending invitation to the room (or it does not exist)",
  "room.no_request": "there is no pending join request (or the room does not exist)",
  "room.request_pending": "you already have a pending join request",
  "room.already_invited": "the user is already invited",
  "room.not_in_community": "you are not a member of the group's community",
  "room.group_linked": "the group is already linked to a community",
  "room.invalid": "the change does not apply to this kind of room",
  "announcement.admins_only": "a member posts at top level in the announcement group",
  "announcement.replies_off": "a member replies under an announcement while `announcementReplies` is off",
  "message.not_found": "there is no message with that `seq` in the room, or it was deleted",
  "message.too_long": "the text is over `limits.messageChars`",
  "message.not_editable": "the message is someone else's, or was deleted",
  "message.delete_window_passed": "you delete your own message for everyone after `rooms.delete_for_everyone_seconds`",
  "invite.invalid": "the invite link is unknown, expired, revoked, used up, or of a deactivated community",
  "media.too_large": "the file is over `limits.uploadBytes`",
  "media.quota_exceeded": "the upload would take you past your storage quota",
  "media.type_blocked": "the server refuses files of this type",
  "media.not_found": "there is no such file, or you may not use it",
  "media.not_image": "the file is not a PNG, JPEG, GIF, WebP or AVIF image",
  "media.empty": "the body is empty",
  "poll.not_found": "there is no poll at that `seq` in the room, or it was deleted for everyone",
  "poll.closed": "the poll is closed",
  "poll.invalid_choice": "an option index is unknown, or several are chosen on a single-choice poll",
  "event.not_found": "there is no calendar event at that `seq` in the room, or it was deleted for everyone",
  "event.cancelled": "the event was cancelled",
  "event.invalid_time": "`end` is not after `start`",
  "device.not_found": "there is no live device of yours with that id",
  "user.not_found": "there is no such user",
};

const protocolDir = fileURLToPath(new URL("../protocol/", import.meta.url));

function listJson(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listJson(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : []));
}

/** Converts one list; returns null when nothing in it was a plain string. */
export function convertErrors(list: unknown[]): unknown[] | null {
  if (!list.some((e) => typeof e === "string")) return null;
  return list.map((e) => (typeof e === "string" ? { code: e, when: defaultWhen[e] ?? "TODO: say when" } : e));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of listJson(protocolDir)) {
    const doc = JSON.parse(readFileSync(file, "utf8"));
    const converted = Array.isArray(doc["x-parley"]?.errors) ? convertErrors(doc["x-parley"].errors) : null;
    if (!converted) continue;
    doc["x-parley"].errors = converted;
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`converted ${file.slice(protocolDir.length)}`);
  }
}
