/**
 * The server-to-server endpoints under /_parley/federation/v1. Every route in this scope:
 *   onRequest   federation on? the origin named and permitted by the server's policy? (before
 *               the body is read: a denied server cannot make this server read its bytes)
 *   body        read raw (a Buffer), so that the Content-Digest is checked over the bytes received
 *   preHandler  the RFC 9421 signature (federation/signatures.ts); then the JSON is parsed and
 *               validated against protocol/federation/<name>.json
 * A refusal is a coded error and changes nothing.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ParleyError, statusOf, toWireError, type WireError } from "../server/errors.ts";
import type { Protocol } from "../protocol/index.ts";
import type { AccountService, Profile } from "../server/accounts/service.ts";
import type { Federation } from "./service.ts";
import type { Inbox } from "./inbox.ts";
import type { EphemeralEntry, Outbox, WireEvent } from "./outbox.ts";
import type { Checkpoint, Snapshot } from "./events.ts";
import type { OpRegistry } from "../server/ws/ops.ts";
import type { RoomCore } from "../server/rooms/core.ts";
import type { Storage } from "../server/storage/database.ts";
import { signCheckpoint } from "./events.ts";
import { originOf } from "../server/rooms/hash.ts";
import { aclDenies } from "../server/rooms/types.ts";
import type { ServerKeys } from "./keys.ts";
import { keptWhenDown, pendingMaxAgeMs, type PendingSends } from "./pending.ts";
import { federationPrefix, isServerName } from "./peers.ts";
import type { MediaInfo, MediaService } from "../server/media/service.ts";
import { sendMediaFile } from "../server/media/routes.ts";
import { createErrorRecorder } from "../server/error-log.ts";
import type { RemoteMedia } from "./media.ts";
import type { GapFill } from "./gapfill.ts";
import { createProposalLog } from "./proposals.ts";
import type { DirectService, Quote } from "../server/direct/service.ts";
import type { RemotePeopleService } from "./direct.ts";
import type { RemoteProfiles } from "./profiles.ts";
import type { AccountNotices } from "./accounts.ts";
import { createWithholding } from "./withheld.ts";
import { readingStartSql } from "../server/rooms/reading.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified origin server of a federation request. */
    peer?: string;
    federationBody?: unknown;
  }
}

/** A proposal (protocol/federation/propose.json): a command of a user of the signing server. */
interface Proposal {
  sender: string;
  op: string;
  params: Record<string, unknown>;
  proposedAt?: number;
  proposalId?: string;
  file?: MediaInfo;
  quote?: Quote;
}

/** One answer of a `propose-batch`: the status and body a single `propose` would have had. */
type BatchAnswer = { status: number; result: unknown } | { status: number; error: WireError };

/** A plain send (no file): its command is queued in the room core as soon as it starts. */
function groupable(p: Proposal): boolean {
  return p.op === "message.send" && !p.file && (p.params as { file?: unknown }).file === undefined;
}

/** Largest body a peer may send in one request (a batch of events). */
export const federationBodyLimit = 8 * 1024 * 1024;

/**
 * The client ops a remote user's server may propose on the user's behalf: they run through the
 * same op handlers (and so the same services, rules and write path) as a local client's.
 */
export const proposableOps = new Set([
  "link.join",
  "group.join",
  "join.request",
  "join.cancel",
  "invite.accept",
  "invite.decline",
  "room.leave",
  "message.send",
  "message.edit",
  "message.delete",
  "message.react",
  "poll.create",
  "poll.vote",
  "poll.close",
  "event.create",
  "event.update",
  "event.cancel",
  "event.rsvp",
  "join.approve",
  "join.reject",
  "member.invite",
  "member.remove",
  "member.ban",
  "member.unban",
  "member.role",
  "room.update",
  "room.settings.update",
  "community.servers.set",
  // Only a private reply in the pair's direct chat hosted here (server/direct/service.ts).
  "direct.open",
]);

/**
 * Reads a remote member's server asks the home for, on the member's behalf, because its own copy
 * cannot answer them: a community's groups list (its groups the member's server holds no copy
 * of); and, on a copy begun from a join snapshot, the audit log (which begins at the snapshot
 * there), the reactions and receipts of a message older than the copy, and a search of one room
 * whose copy lacks history the member may read (federation/history.ts). Each names its room. They
 * run the op's own handler with the member as the actor, so the home applies the same rules:
 * membership, role, and what the member may read (nothing before their membership began).
 */
export const proposableReads = new Set(["community.groups", "audit.list", "message.reactions", "receipt.get", "message.search"]);

export interface FederationRouteDeps {
  federation: Federation;
  protocol: Protocol;
  accounts: AccountService;
  inbox: Inbox;
  outbox: Outbox;
  ops: OpRegistry;
  rooms: RoomCore;
  storage: Storage;
  keys: ServerKeys;
  pending: PendingSends;
  media: MediaService;
  remoteMedia: RemoteMedia;
  direct: DirectService;
  remotePeople: RemotePeopleService;
  remoteProfiles: RemoteProfiles;
  accountNotices: AccountNotices;
  gapFill: GapFill;
}

export async function registerFederationRoutes(app: FastifyInstance, deps: FederationRouteDeps): Promise<void> {
  const { federation, protocol, accounts, inbox, outbox, ops, rooms, keys, pending, media, remoteMedia, direct, remotePeople, remoteProfiles, accountNotices, gapFill } = deps;
  const eventsRange = deps.storage.sqlite.prepare(
    "SELECT room_id, seq, event_id, type, sender, ts, content, content_hash, hash FROM room_events WHERE room_id = ? AND seq >= ? AND seq <= ? ORDER BY seq",
  );
  const hashAt = deps.storage.sqlite.prepare("SELECT hash FROM room_events WHERE room_id = ? AND seq = ?");
  const cursorOf = deps.storage.sqlite.prepare("SELECT 1 FROM federation_cursors WHERE destination = ? AND room_id = ?");
  const proposals = createProposalLog(deps.storage, rooms);
  const withholding = createWithholding(deps.storage);
  // Where a member's reading begins: the seq of the join that began their current membership.
  const readsFrom = deps.storage.sqlite.prepare(`SELECT ${readingStartSql("?", "?")} AS seq`);
  // The error contract (npm test): each refused proposal of a batch is an answer of `propose`.
  const recordError = createErrorRecorder();

  /** Whether the server access list of the room's community (its own, or its group's) denies `server`. */
  function deniedIn(roomId: string, server: string): boolean {
    const st = rooms.state(roomId);
    if (!st) return false;
    const acl = st.kind === "community" ? st.serverAcl : st.communityId ? rooms.state(st.communityId)?.serverAcl : null;
    return aclDenies(acl, server);
  }

  function body<T>(request: FastifyRequest, name: string): T {
    const raw = request.body as Buffer | undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw && raw.length ? raw.toString("utf8") : "null");
    } catch {
      throw new ParleyError("bad_request", "The body is not valid JSON.");
    }
    const validate = protocol.validator(`federation/${name}#/$defs/request`);
    if (!validate(parsed)) {
      const v = validate.errors![0];
      if (name === "propose-batch" && v.keyword === "maxItems" && v.instancePath === "/proposals") throw new ParleyError("federation.batch_too_large");
      throw new ParleyError("bad_request", `body${v.instancePath} ${v.message}`, { path: v.instancePath || "/", reason: v.message });
    }
    return parsed as T;
  }

  /**
   * Runs one proposal of a user of `peer` (the `propose` endpoint, and each of a `propose-batch`):
   * the op's own handler with the user as the actor. Resolves with the op's result; throws its
   * coded refusal. Its checks before the handler are synchronous, so a plain send's command is
   * queued in the room core before this returns.
   */
  async function runProposal(peer: string, proposal: Proposal): Promise<unknown> {
    const { sender, op, params, proposedAt, proposalId, file, quote } = proposal;
    federation.requireOwnUser(peer, sender);
    // A pending send delivered long after it was made is refused with a clear code.
    if (proposedAt !== undefined && Date.now() - proposedAt > pendingMaxAgeMs) throw new ParleyError("federation.proposal_expired");
    const def = ops.get(op);
    if (!def || !(proposableOps.has(op) || proposableReads.has(op))) throw new ParleyError("unknown_op", `${op} cannot be proposed by another server.`);
    // A read is of one room hosted here (a search across every room of the user is not asked).
    if (proposableReads.has(op) && typeof params.roomId !== "string") throw new ParleyError("invalid_params", `${op} is proposed for one room: params.roomId.`);
    // Only for rooms hosted here: this server relays nobody's proposals to a third one.
    if ((typeof params.roomId === "string" && originOf(params.roomId) !== federation.self) || "server" in params) throw new ParleyError("room.not_found");
    // A community's server access list refuses its denied servers' users before anything runs
    // (the room core's rules refuse them too, for every write).
    if (typeof params.roomId === "string" && deniedIn(params.roomId, peer)) throw new ParleyError("room.server_denied");
    if (!def.validateParams(params)) {
      const v = def.validateParams.errors![0];
      throw new ParleyError("invalid_params", `params${v.instancePath} ${v.message}`);
    }
    const actor = { userId: sender, deviceId: `federation:${peer}`, expiresAt: Number.MAX_SAFE_INTEGER, isAdmin: false };
    // A file the proposing server holds: usable by its user for this proposal, and recorded
    // as held there (the message's file `origin`); its bytes stay there.
    let forget: (() => void) | undefined;
    let fetched: string | undefined;
    if (file && op === "room.update") {
      // A new room picture held by the proposing server: fetched from it now (it grants this
      // server the file while its user's proposal runs), checked against its hash, sniffed
      // and kept here; the room's picture is then this server's copy. Not fetched for a
      // sender who is not in the room (the op refuses them) or a file they may use already.
      if (params.picture !== file.mediaId) throw new ParleyError("media.not_found", "`file` describes no picture of the proposed update.");
      const roomId = params.roomId as string;
      if (rooms.state(roomId)?.members.has(sender) && !media.canRead(sender, file.mediaId)) {
        const held = await remoteMedia.fetchProposed(peer, file.mediaId);
        forget = media.vouch(sender, { ...held, origin: peer });
        fetched = file.mediaId;
      }
    } else if (file) {
      if (op !== "message.send" || (params.file as { mediaId?: string } | undefined)?.mediaId !== file.mediaId) throw new ParleyError("media.not_found", "`file` describes no file of the proposed message.");
      forget = media.vouch(sender, { ...file, origin: peer });
    }
    // A private reply's quote, vouched for by the sender's server (the quoted room may not be
    // held here): direct.open takes it for this one proposal.
    let unvouch: (() => void) | undefined;
    if (quote && op === "direct.open" && typeof params.txnId === "string") unvouch = direct.vouchQuote(sender, params.txnId, quote);
    try {
      // A kept op named by its server (proposed again until answered) runs once (proposals.ts);
      // the name means nothing on other ops, which are never kept.
      const ctx = { actor, connection: null as never };
      return proposalId && keptWhenDown.has(op) ? await proposals.once(peer, proposalId, () => def.handler(ctx, params)) : await def.handler(ctx, params);
    } catch (err) {
      // A picture fetched for an update that was then refused: the copy is not kept for nothing.
      if (fetched) {
        forget?.();
        forget = undefined;
        await remoteMedia.dropUnused(fetched, "room.update refused").catch(() => false);
      }
      throw err;
    } finally {
      forget?.();
      unvouch?.();
    }
  }

  await app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: federationBodyLimit }, (_req, payload, done) => done(null, payload));
      scope.addHook("onRequest", async (request) => {
        if (!federation.enabled) throw new ParleyError("federation.disabled");
        const origin = request.headers["parley-origin"];
        if (typeof origin !== "string" || !isServerName(origin)) throw new ParleyError("federation.signature_missing", "The request names no origin server (parley-origin).");
        if (!federation.policy.permits(origin)) {
          request.log.info({ peer: origin }, "federation request from a server not permitted");
          throw new ParleyError("federation.server_denied");
        }
      });
      scope.addHook("preHandler", async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const { origin } = await federation.verify({ method: request.method, url: request.url, headers: request.headers, body: raw });
        request.peer = origin;
      });

      // federation: profile
      scope.post("/profile", async (request) => {
        const { requester, userIds } = body<{ requester: string; userIds: string[] }>(request, "profile");
        federation.requireOwnUser(request.peer!, requester);
        const profiles: Profile[] = [];
        for (const id of userIds) {
          try {
            profiles.push(accounts.getProfile(id));
          } catch (err) {
            if (!(err instanceof ParleyError && err.code === "user.not_found")) throw err;
          }
        }
        return { profiles };
      });

      // federation: profile-update
      scope.post("/profile-update", async (request) => {
        const { profiles, gone } = body<{ profiles: Profile[]; gone: string[] }>(request, "profile-update");
        // A server speaks only for its own users: one stranger refuses the whole notice.
        for (const id of [...profiles.map((p) => p.userId), ...gone]) federation.requireOwnUser(request.peer!, id);
        remoteProfiles.applyNotice(profiles, gone);
        return {};
      });

      // federation: block
      scope.post("/block", async (request) => {
        const { blocker, userId, blocked, at } = body<{ blocker: string; userId: string; blocked: boolean; at: number }>(request, "block");
        federation.requireOwnUser(request.peer!, blocker);
        if (originOf(userId) !== federation.self) throw new ParleyError("user.not_found");
        accounts.getProfile(userId); // user.not_found when there is no such account
        direct.applyRemoteBlock(blocker, userId, blocked, at);
        return {};
      });

      // federation: send
      scope.post("/send", async (request) => {
        const { events, checkpoints, ephemeral, snapshots } = body<{ events: WireEvent[]; checkpoints: Checkpoint[]; ephemeral?: EphemeralEntry[]; snapshots?: Snapshot[] }>(request, "send");
        // Hearing from a peer is a reason to try it early, never to reset its failures.
        outbox.probe(request.peer!);
        const results = await inbox.receive(request.peer!, events, checkpoints, snapshots ?? []);
        // A run that begins past what a replica holds: fetch the missing range from the home.
        gapFill.afterBatch(request.peer!, events, results);
        // Ephemeral entries after the events, so that a receipt finds the message it points at.
        inbox.receiveEphemeral(request.peer!, ephemeral ?? []);
        return { results };
      });

      // federation: backfill
      scope.post("/backfill", async (request) => {
        const { roomId, to, requester } = body<{ roomId: string; from: number; to: number; requester?: string }>(request, "backfill");
        let { from } = body<{ from: number }>(request, "backfill");
        const state = rooms.state(roomId);
        const peer = request.peer!;
        if (requester !== undefined) federation.requireOwnUser(peer, requester);
        // Only the home serves a room's log, and only to a server that has (or had) a member in it.
        const entitled = state && originOf(roomId) === federation.self && !deniedIn(roomId, peer) && ([...state.members.keys()].some((u) => originOf(u) === peer) || cursorOf.get(peer, roomId));
        if (!entitled) throw new ParleyError("room.not_found");
        if (requester !== undefined) {
          // On a reader's behalf: what they may read, as here (nothing before their join).
          const since = (readsFrom.get(roomId, requester) as { seq: number | null } | undefined)?.seq;
          if (!state!.members.has(requester) || since == null) throw new ParleyError("room.not_found");
          from = Math.max(from, since);
        }
        const last = Math.min(to, from + 499, state!.seq);
        const rows = eventsRange.all(roomId, from, last) as { room_id: string; seq: number; event_id: string; type: string; sender: string; ts: number; content: string; content_hash: string; hash: string }[];
        let prev = from > 1 ? ((hashAt.get(roomId, from - 1) as { hash: string | null } | undefined)?.hash ?? null) : null;
        const log: WireEvent[] = rows.map((r) => {
          const e = { roomId, seq: r.seq, eventId: r.event_id, type: r.type, sender: r.sender, origin: originOf(r.sender), ts: r.ts, content: JSON.parse(r.content), contentHash: r.content_hash, prev, hash: r.hash };
          prev = r.hash;
          return e;
        });
        // As the outbox sends: content only from times the asking server had a member (withheld.ts).
        const events = withholding.page(peer, roomId, log);
        const tail = rows[rows.length - 1];
        const checkpoint = tail ? signCheckpoint({ server: federation.self, roomId, seq: tail.seq, hash: tail.hash, ts: Date.now() }, keys.current()) : null;
        return { events, checkpoint };
      });

      // federation: wake
      scope.post("/wake", async (request) => {
        body<Record<string, never>>(request, "wake");
        outbox.probe(request.peer!);
        pending.kick(request.peer!);
        remotePeople.kick(request.peer!);
        accountNotices.kick(request.peer!);
        return {};
      });

      // federation: propose
      scope.post("/propose", async (request) => {
        const proposal = body<Proposal>(request, "propose");
        return { result: (await runProposal(request.peer!, proposal)) ?? null };
      });

      // federation: propose-batch
      scope.post("/propose-batch", async (request) => {
        const { proposals } = body<{ proposals: Proposal[] }>(request, "propose-batch");
        const peer = request.peer!;
        const answers: BatchAnswer[] = new Array(proposals.length);
        const settle = (i: number, run: Promise<unknown>) =>
          run.then(
            (result) => {
              answers[i] = { status: 200, result: result ?? null };
            },
            (err) => {
              if (!(err instanceof ParleyError)) request.log.error({ err, op: proposals[i].op }, "proposal failed");
              const error = toWireError(err);
              recordError?.("http", "federation/propose", error.code);
              answers[i] = { status: statusOf(err), error };
            },
          );
        // In order, each through the same code as a single `propose`. A run of plain sends is
        // started back to back, so that their commands reach the room core in the same turn and
        // commit together (each in its own savepoint, as a client's pipelined sends do); any other
        // proposal waits for everything before it and runs alone.
        let run: Promise<void>[] = [];
        for (let i = 0; i < proposals.length; i++) {
          const p = proposals[i];
          if (groupable(p)) {
            run.push(settle(i, runProposal(peer, p)));
            continue;
          }
          if (run.length) await Promise.all(run);
          run = [];
          await settle(i, runProposal(peer, p));
        }
        await Promise.all(run);
        return { answers };
      });

      // federation: media
      scope.get("/media/:mediaId", async (request, reply) => {
        const validate = protocol.validator("federation/media#/$defs/params");
        if (!validate(request.params)) throw new ParleyError("bad_request", "The mediaId is not a SHA-256 in hex.");
        const { mediaId } = request.params as { mediaId: string };
        const info = media.info(mediaId);
        // Only to a server with a member in a room where the file was shared; a file that is not
        // here and one the server may not have are not told apart.
        if (!info || !remoteMedia.sharedWith(mediaId, request.peer!)) throw new ParleyError("media.not_found");
        return sendMediaFile(media, request, reply, info, false, "private, max-age=86400, immutable");
      });
    },
    { prefix: federationPrefix },
  );
}
