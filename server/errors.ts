/**
 * The one error catalogue. Every refusal a client can see, over HTTP or WebSocket, has a code
 * here with its HTTP status and a message. Internal errors never leak their details: anything
 * that is not a ParleyError is reported as `internal` and logged server-side only.
 */
export const errorCatalogue = {
  // framing and validation
  "bad_request": { status: 400, message: "The request is malformed." },
  "invalid_json": { status: 400, message: "The frame is not valid JSON." },
  "invalid_frame": { status: 400, message: "The frame does not match the protocol's frame schema." },
  "invalid_params": { status: 400, message: "The parameters do not match the op's schema." },
  "unknown_op": { status: 404, message: "There is no such op." },
  "frame_too_large": { status: 413, message: "The frame is larger than the server's frame limit." },
  "payload_too_large": { status: 413, message: "The request body is larger than the server allows." },
  "rate_limited": { status: 429, message: "Too many requests; slow down and retry later." },
  "not_found": { status: 404, message: "Not found." },
  "internal": { status: 500, message: "The server failed to handle the request." },
  "unavailable": { status: 503, message: "The server is not ready." },
  // authentication
  "auth.required": { status: 401, message: "Authentication is required." },
  "auth.invalid_token": { status: 401, message: "The access token is invalid, expired or revoked." },
  "auth.invalid_credentials": { status: 401, message: "The username or password is wrong." },
  "auth.invalid_refresh_token": { status: 401, message: "The refresh token is invalid, expired or revoked." },
  "auth.refresh_token_reused": { status: 401, message: "The refresh token was already used; the session has been revoked." },
  "auth.too_many_attempts": { status: 429, message: "Too many failed attempts; try again later." },
  "auth.account_disabled": { status: 403, message: "The account is disabled." },
  // registration
  "registration.closed": { status: 403, message: "Registration is closed on this server." },
  "registration.token_required": { status: 403, message: "Registration on this server needs a valid invite token." },
  "registration.invalid_token": { status: 403, message: "The registration token is invalid, expired or used up." },
  "username.invalid": { status: 400, message: "Usernames are 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit." },
  "username.reserved": { status: 400, message: "That username is reserved." },
  "username.taken": { status: 409, message: "That username is taken." },
  "password.too_weak": { status: 400, message: "Passwords need at least 8 characters." },
  "password.too_long": { status: 400, message: "Passwords may have at most 1024 characters." },
  // rooms: communities and groups
  "room.not_found": { status: 404, message: "There is no such room, or you are not a member of it." },
  "room.forbidden": { status: 403, message: "Your role in this room does not allow that." },
  "room.already_member": { status: 409, message: "The user is already a member." },
  "room.not_member": { status: 404, message: "The user is not a member of this room." },
  "room.banned": { status: 403, message: "The user is banned from this room." },
  "room.full": { status: 409, message: "The room has reached its member limit." },
  "room.admin_limit": { status: 409, message: "The community has reached its admin limit." },
  "room.group_limit": { status: 409, message: "The community has reached its group limit." },
  "room.deactivated": { status: 410, message: "The community is deactivated." },
  "room.owner_must_transfer": { status: 409, message: "The owner must transfer ownership before leaving." },
  "room.approval_required": { status: 403, message: "This room requires approval to join; send a join request." },
  "room.no_approval_needed": { status: 409, message: "This room does not require approval; join directly." },
  "room.not_invited": { status: 404, message: "There is no pending invitation." },
  "room.no_request": { status: 404, message: "There is no pending join request." },
  "room.request_pending": { status: 409, message: "A join request is already pending." },
  "room.already_invited": { status: 409, message: "The user is already invited." },
  "room.not_in_community": { status: 403, message: "Join the community first." },
  "room.group_linked": { status: 409, message: "The group is already linked to a community." },
  "room.server_denied": { status: 403, message: "This community does not accept users of your server." },
  "room.acl_denies_home": { status: 400, message: "A community's server access list cannot shut out the community's own server." },
  "room.invalid": { status: 400, message: "That change is not valid for this room." },
  "room.replaced": { status: 410, message: "This room was replaced by another; write there." },
  "room.remote_home": { status: 409, message: "This room is hosted on another server; changes to it from this server are not supported yet." },
  "announcement.admins_only": { status: 403, message: "Only community admins post announcements; members may reply under one." },
  "announcement.replies_off": { status: 403, message: "Replies to announcements are turned off." },
  "message.not_found": { status: 404, message: "There is no such message." },
  "message.too_long": { status: 400, message: "The message is longer than the server's limit." },
  "message.not_editable": { status: 403, message: "Only the sender may edit a message, and not after it was deleted." },
  "message.pending": { status: 202, message: "The room's home server cannot be reached: your message, edit, reaction or vote is kept and sent when it returns (a message.outcome push tells how it went)." },
  "message.delete_window_passed": { status: 403, message: "The time to delete this message for everyone has passed." },
  "invite.invalid": { status: 404, message: "The invite link is invalid, expired, revoked or used up." },
  // media
  "media.too_large": { status: 413, message: "The file is larger than the server's upload limit." },
  "media.quota_exceeded": { status: 413, message: "The upload would exceed your storage quota." },
  "media.type_blocked": { status: 415, message: "Files of this type are not accepted." },
  "media.not_found": { status: 404, message: "There is no such file, or you may not fetch it." },
  "media.not_image": { status: 400, message: "Pictures and avatars must be PNG, JPEG, GIF, WebP or AVIF images." },
  "media.empty": { status: 400, message: "The upload is empty." },
  "media.origin_mismatch": { status: 502, message: "The server holding the file sent bytes that do not match its id; nothing was stored." },
  // polls and calendar events
  "poll.not_found": { status: 404, message: "There is no such poll." },
  "poll.closed": { status: 409, message: "The poll is closed." },
  "poll.invalid_choice": { status: 400, message: "The choice does not fit the poll (unknown option, or several on a single-choice poll)." },
  "event.not_found": { status: 404, message: "There is no such event." },
  "event.cancelled": { status: 409, message: "The event was cancelled." },
  "event.invalid_time": { status: 400, message: "The event must end after it starts." },
  // mentions, notification settings, pinned and saved messages, forwarding, reports, Web Push
  "message.already_pinned": { status: 409, message: "The message is already pinned." },
  "message.not_pinned": { status: 404, message: "The message is not pinned." },
  "message.pin_limit": { status: 409, message: "The room has as many pinned messages as it may; unpin one first." },
  "message.not_forwardable": { status: 400, message: "Only text and file messages can be forwarded." },
  "room.pin_limit": { status: 409, message: "You have pinned as many rooms as you may; unpin one first." },
  "report.not_found": { status: 404, message: "There is no such report, or it is not yours to handle." },
  "report.resolved": { status: 409, message: "The report was already resolved." },
  "push.invalid_subscription": { status: 400, message: "The push subscription is not valid (the endpoint must be an https URL)." },
  // devices and profile
  "device.not_found": { status: 404, message: "There is no such device." },
  "user.not_found": { status: 404, message: "There is no such user." },
  // server administration
  "admin.forbidden": { status: 403, message: "Only the server's admins may do this." },
  "admin.self": { status: 409, message: "A server admin cannot do this to their own account; ask another admin or use the command line." },
  "registration_token.not_found": { status: 404, message: "There is no such registration token." },
  // direct chats, blocks and search
  "user.self": { status: 400, message: "That cannot be done with yourself." },
  "user.blocked": { status: 403, message: "You blocked this person; unblock them to message them." },
  "direct.not_allowed": { status: 403, message: "You cannot message this person directly." },
  "search.invalid_query": { status: 400, message: "The search needs at least one word." },
  // federation (server-to-server requests: each refusal names what failed)
  "federation.disabled": { status: 404, message: "Federation is turned off on this server." },
  "federation.server_denied": { status: 403, message: "This server does not federate with yours." },
  "federation.signature_missing": { status: 401, message: "The request carries no Parley signature (Signature-Input and Signature, label \"parley\")." },
  "federation.signature_malformed": { status: 401, message: "The signature does not cover the required components and parameters." },
  "federation.signature_invalid": { status: 401, message: "The signature does not verify." },
  "federation.unknown_key": { status: 401, message: "The key id is not one the origin server publishes." },
  "federation.key_retired": { status: 401, message: "The key is retired: it verifies old events, not new requests." },
  "federation.wrong_destination": { status: 401, message: "The request is addressed to another server." },
  "federation.stale": { status: 401, message: "The signature's created time is outside the allowed window, or it has expired." },
  "federation.replayed": { status: 401, message: "The signature's nonce was already used." },
  "federation.digest_mismatch": { status: 401, message: "The Content-Digest does not match the body received." },
  "federation.sender_not_of_origin": { status: 401, message: "A server speaks only for its own users: the user is not of the origin server." },
  "federation.unreachable": { status: 502, message: "The other server could not be reached." },
  "federation.proposal_expired": { status: 410, message: "The proposal was made too long ago (more than 7 days) to be applied now." },
  "federation.batch_too_large": { status: 413, message: "The batch holds more proposals than the server accepts in one request (200)." },
  // federation: per-event results of a `send` batch (docs/federation.md, "The inbox")
  "federation.not_home": { status: 403, message: "Only a room's home server sends its events." },
  "federation.bad_checkpoint": { status: 401, message: "The room's checkpoint is missing, not signed by its home, or not over this batch's events." },
  "federation.event_forged": { status: 400, message: "The event's hash or content does not match what it claims." },
  "federation.chain_broken": { status: 409, message: "The event does not follow the room's previous event." },
  "federation.gap": { status: 409, message: "Events before this one are missing." },
  "federation.not_subscribed": { status: 403, message: "None of this server's users is in that room: it does not replicate it." },
  "federation.conflict": { status: 409, message: "Another event is already held at this seq." },
  "federation.withheld_malformed": { status: 400, message: "The event is neither whole (with its content) nor well-formed withheld (no content, marked withheld, of a type that may be withheld)." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** A refusal the client is meant to see. `message` defaults to the catalogue's. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? errorCatalogue[code].message);
    this.name = "ParleyError";
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.details = details;
  }
}

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Whether SQLite stayed busy past the connection's busy timeout (another connection, the WAL
 * checkpointer or a CLI command, held the lock): nothing was written, and the same request is
 * safe to repeat a moment later, so it is answered `unavailable` (HTTP 503 with Retry-After),
 * not `internal`.
 */
export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED");
}

const busyMessage = "The server is busy; retry in a moment.";

/** Maps anything thrown to what goes on the wire; a busy database is `unavailable`, other unknown errors `internal`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof ParleyError) {
    return err.details ? { code: err.code, message: err.message, details: err.details } : { code: err.code, message: err.message };
  }
  if (isDatabaseBusy(err)) return { code: "unavailable", message: busyMessage };
  return { code: "internal", message: errorCatalogue.internal.message };
}

export function statusOf(err: unknown): number {
  return err instanceof ParleyError ? err.status : isDatabaseBusy(err) ? errorCatalogue.unavailable.status : 500;
}
