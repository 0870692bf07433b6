/**
 * Client ops on rooms hosted elsewhere. A local user's op whose room (the `roomId` param, or the
 * `server` of a `link.join`) is hosted on another server is not run here: this server signs it
 * as a proposal on the user's behalf and sends it to the room's home, which runs it through its
 * own op handler, rules and write path; the home's answer (result or coded refusal) is the op's.
 * The events it makes come back through replication. The client uses the same ops as for a local
 * room.
 */
import { randomBytes } from "node:crypto";
import { ParleyError } from "../server/errors.ts";
import type { OpRegistry } from "../server/ws/ops.ts";
import { originOf } from "../server/rooms/hash.ts";
import { refusalOf, type Federation } from "./service.ts";
import { proposableOps } from "./routes.ts";
import { keptWhenDown, type PendingSends } from "./pending.ts";
import type { Outbox } from "./outbox.ts";
import type { Storage } from "../server/storage/database.ts";
import type { MediaInfo, MediaService } from "../server/media/service.ts";
import type { RemoteMedia } from "./media.ts";
import type { RemoteProfiles } from "./profiles.ts";
import type { Arrivals } from "./arrivals.ts";

/**
 * The file a proposal carries, described as this server holds it (the proposal's `file`):
 * - a `message.send`'s attachment: the home records this server as the file's origin, and the
 *   bytes stay here. Throws media.not_found when the user may not use the file.
 * - a `room.update`'s new picture: the home fetches the file from here while the proposal runs
 *   and keeps its own copy. Undefined when this server does not hold an image the user may use
 *   (the home then decides with what it holds itself); media.not_image for a file that is no image.
 */
export function proposedFile(media: MediaService, sender: string, op: string, params: Record<string, unknown>): MediaInfo | undefined {
  if (op === "room.update") {
    if (typeof params.picture !== "string") return undefined;
    try {
      const { mediaId, size, mime, width, height, hasPreview } = media.requireImage(sender, params.picture);
      return { mediaId, size, mime, width, height, hasPreview };
    } catch (err) {
      if (err instanceof ParleyError && err.code === "media.not_found") return undefined;
      throw err;
    }
  }
  const file = params.file as { mediaId?: unknown } | undefined;
  if (op !== "message.send" || !file || typeof file.mediaId !== "string") return undefined;
  const { mediaId, size, mime, width, height, hasPreview } = media.requireUsable(sender, file.mediaId);
  return { mediaId, size, mime, width, height, hasPreview };
}

export function forwardRemoteOps(ops: OpRegistry, federation: Federation, pending: PendingSends, storage: Storage, media: MediaService, arrivals: Arrivals, remoteMedia?: RemoteMedia): void {
  const insertSubscription = storage.sqlite.prepare("INSERT INTO federation_rooms (room_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING");
  // Recorded once per room and process, not written again (a transaction of its own) on every op.
  const subscribed = new Set<string>();
  const subscribe = (roomId: string) => {
    if (subscribed.has(roomId)) return;
    insertSubscription.run(roomId, Date.now());
    subscribed.add(roomId);
  };
  for (const name of proposableOps) {
    const def = ops.get(name);
    if (!def) continue;
    const local = def.handler;
    def.handler = async (ctx, params: Record<string, unknown>) => {
      const home = name === "link.join" && typeof params.server === "string" ? params.server : typeof params.roomId === "string" ? originOf(params.roomId) : null;
      if (!home || home === federation.self) {
        if (name === "link.join" && "server" in params) {
          const { server: _own, ...rest } = params;
          return local(ctx, rest);
        }
        return local(ctx, params);
      }
      const { server: _home, ...rest } = params;
      const file = proposedFile(media, ctx.actor.userId, name, params);
      const keep = keptWhenDown.has(name);
      // A kept op carries one proposalId from its first attempt on: a first attempt the home
      // applied but whose answer was lost is not applied again when it is proposed from the queue.
      // Ops with a txnId (a send, a new poll or calendar event) need none: the home answers a
      // repeated txnId with the event it stored, and recording an answer per send would cost the
      // home a write of its own for every remote message.
      const proposalId = keep && typeof params.txnId !== "string" ? randomBytes(16).toString("base64url") : undefined;
      // Kept ops queue behind earlier pending ones to the same home, so that their order holds (an
      // edit never overtakes the send it edits).
      if (keep && pending.hasPending(home)) pending.keep(home, ctx.actor.userId, name, params, proposalId);
      // Other ops wait for the user's kept ones to reach the home first (a leave never overtakes
      // the message written before it); when they cannot, the op fails as for a home that is down.
      if (!keep && !(await pending.settle(home, ctx.actor.userId))) {
        throw new ParleyError("federation.unreachable", `Your earlier ops are still waiting for ${home}; this one would overtake them. Try again once they are delivered.`);
      }
      // A new room picture: the home fetches it from here while it runs the proposal.
      const withdraw = file && name === "room.update" ? remoteMedia?.grant(file.mediaId, home) : undefined;
      let res;
      try {
        res = await federation.propose(home, { sender: ctx.actor.userId, op: name, params: name === "link.join" ? rest : params, proposedAt: Date.now(), ...(proposalId ? { proposalId } : {}), ...(file ? { file } : {}) });
      } catch (err) {
        if (keep && err instanceof ParleyError && err.code === "federation.unreachable") pending.keep(home, ctx.actor.userId, name, params, proposalId);
        throw err;
      } finally {
        withdraw?.();
      }
      if (keep && (res.status === 502 || res.status === 503 || res.status === 504)) pending.keep(home, ctx.actor.userId, name, params, proposalId);
      // The home answered: whatever is kept for it need not wait for its retry timer.
      if (res.status < 500 && pending.hasPending(home)) pending.kick(home);
      if (res.status === 200) {
        // The room (the op's, or the one a link joined) is one this server now replicates.
        const roomId = typeof params.roomId === "string" ? params.roomId : res.body?.result?.roomId;
        if (typeof roomId === "string" && originOf(roomId) === home) subscribe(roomId);
        const result = res.body?.result;
        // The home's event has the home's stream position: the reply carries this server's copy's,
        // once replication has brought it (arrivals.ts). Without it in time, this server's
        // position now: the client has had every push up to it, and the event follows as a push.
        const event = result?.event as { eventId?: unknown; roomId?: unknown; seq?: unknown; sender?: unknown } | undefined;
        if (event && typeof event.eventId === "string" && typeof event.roomId === "string" && typeof event.seq === "number" && originOf(event.roomId) === home && event.sender === ctx.actor.userId) {
          const pos = await arrivals.pos(event.eventId, event.roomId, event.seq);
          return { ...result, event: { ...event, pos: pos ?? arrivals.head() } };
        }
        return result;
      }
      // The home's details travel with its refusal (room.replaced names the room to write in).
      throw refusalOf(home, res);
    };
  }
}

/**
 * Typing and receipts of local users in rooms with members on other servers: after the local
 * op (which pushes to this server's members), the entry goes to the other servers as an
 * ephemeral entry of the next `send` batch.
 */
export function relayEphemeralOps(ops: OpRegistry, outbox: Outbox): void {
  const kinds: Record<string, "typing" | "read" | "delivered"> = { "typing.set": "typing", "receipt.read": "read", "receipt.delivered": "delivered" };
  for (const [name, kind] of Object.entries(kinds)) {
    const def = ops.get(name);
    if (!def) continue;
    const local = def.handler;
    def.handler = async (ctx, params: Record<string, unknown>) => {
      const result = (await local(ctx, params)) as { roomId: string; seq?: number };
      const roomId = params.roomId as string;
      if (kind === "typing") outbox.relayEphemeral({ kind, roomId, userId: ctx.actor.userId, typing: params.typing as boolean });
      else outbox.relayEphemeral({ kind, roomId, userId: ctx.actor.userId, seq: result.seq });
      return result;
    };
  }
}

/**
 * Profiles of users of other servers: `profile.get` with a remote `userId` is answered from
 * `remote_profiles` (federation/profiles.ts): the stored profile while fresh, else the user's
 * server's answer (`profile`, signed, on behalf of the asking user), else the stored one. The
 * avatar it names is a claim (federation/media.ts): the client downloads it from this server,
 * which fetches it from the user's server.
 */
export function forwardRemoteProfiles(ops: OpRegistry, federation: Federation, profiles: RemoteProfiles): void {
  // Inviting a user of another server to a room here: their server must know them.
  const invite = ops.get("member.invite");
  if (invite) {
    const localInvite = invite.handler;
    invite.handler = async (ctx, params: { roomId: string; userId: string }) => {
      const server = originOf(params.userId);
      if (originOf(params.roomId) === federation.self && server !== federation.self) {
        // Asked as the server itself (the inviter may be a remote user acting through a proposal).
        if (!(await profiles.confirm(params.userId))) throw new ParleyError("user.not_found");
      }
      return localInvite(ctx, params);
    };
  }
  const def = ops.get("profile.get");
  if (!def) return;
  const local = def.handler;
  def.handler = async (ctx, params: { userId?: string }) => {
    const userId = params.userId;
    if (!userId || originOf(userId) === federation.self) return local(ctx, params);
    return profiles.get(userId, ctx.actor.userId);
  };
}
