/**
 * Files across servers. A file stays on the server that holds it (its uploader's, or one that
 * fetched and stored it). That server serves it (`media`) to a server with a member who reads a
 * message that shared it (from the join that began their current membership) or is in a room
 * whose picture it is; a server whose local user downloads a file of a replicated room
 * that it does not hold fetches it once from the file's origin, checks its SHA-256 against the
 * mediaId, stores it content-addressed (on no user's quota), then serves it like its own.
 *
 * Avatars: a server serves its own users' current avatars to any peer it federates with (an
 * avatar is as public as the profile that names it). A profile of a remote user, as stored in
 * `remote_profiles` (federation/profiles.ts), is only a claim that its avatar is some mediaId: the
 * viewer's server records the avatar (and so lets its users download it) only once the user's
 * server has sent bytes with that hash, so that a server cannot make another one show a file by
 * naming it as its user's avatar. Claims are stored: they survive a restart.
 *
 * Room pictures set by a remote admin: while the admin's server proposes the `room.update`, it
 * grants the room's home the file; the home fetches it from there at once and keeps its own copy.
 */
import { rm } from "node:fs/promises";
import { ParleyError } from "../server/errors.ts";
import type { Committed } from "../server/rooms/core.ts";
import type { Logger } from "../server/logger.ts";
import type { MediaInfo, MediaService } from "../server/media/service.ts";
import type { Storage } from "../server/storage/database.ts";
import { originOf } from "../server/rooms/hash.ts";
import type { Federation } from "./service.ts";
import { readingStartSql } from "../server/rooms/reading.ts";

/**
 * SQL: the seq from which the member `m.user_id` reads the room `r.room_id` (the join that began
 * their current membership, as `message.get` and history use it); null when they have no open span.
 */
const readsFromSql = readingStartSql("r.room_id", "m.user_id");

export function createRemoteMedia(deps: { federation: Federation; media: MediaService; storage: Storage; maxBytes: number; log: Logger }) {
  const { federation, media, log } = deps;
  const db = deps.storage.sqlite;
  const s = {
    // The rooms where the user may see the file (messages from their current membership's join
    // on, and room pictures), with the message.
    refsFor: db.prepare(`
      SELECT r.kind, r.room_id, r.seq FROM media_refs r JOIN room_members m ON m.room_id = r.room_id AND m.user_id = @user
      WHERE r.media_id = @media AND r.kind IN ('message', 'room') AND (r.kind = 'room' OR r.seq >= ${readsFromSql})
      ORDER BY r.seq DESC`),
    contentAt: db.prepare("SELECT content FROM room_events WHERE room_id = ? AND seq = ?"),
    // Whether a server has a member (the server part of the user id) who may see the file: in a
    // room whose picture it is, or who reads a message that shared it (their current membership
    // began at or before it).
    sharedWith: db.prepare(`
      SELECT 1 FROM media_refs r JOIN room_members m ON m.room_id = r.room_id
      WHERE r.media_id = @media AND r.kind IN ('message', 'room') AND substr(m.user_id, instr(m.user_id, ':') + 1) = @server
        AND (r.kind = 'room' OR r.seq >= ${readsFromSql})
      LIMIT 1`),
    // Whether the file is the current avatar of a user of this server.
    ownAvatar: db.prepare("SELECT 1 FROM media_refs WHERE media_id = ? AND kind = 'avatar' AND substr(user_id, instr(user_id, ':') + 1) = ? LIMIT 1"),
    // Remote users whose stored profile (federation/profiles.ts) claims the file as their avatar.
    claimants: db.prepare("SELECT user_id FROM remote_profiles WHERE avatar = ? ORDER BY fetched_at DESC LIMIT 20"),
    claims: db.prepare("SELECT 1 FROM remote_profiles WHERE user_id = ? AND avatar = ?"),
  };
  const d = {
    // The file a message shared (kept in its row when the message is deleted for everyone).
    fileOf: db.prepare("SELECT json_extract(file, '$.mediaId') AS mediaId FROM messages WHERE room_id = ? AND seq = ?"),
    // A copy held for no local user (no upload of it here) that nothing here uses any more.
    unused: db.prepare(
      "SELECT 1 FROM media m WHERE m.id = ? AND NOT EXISTS (SELECT 1 FROM media_refs r WHERE r.media_id = m.id) AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.media_id = m.id)",
    ),
    forget: db.prepare("DELETE FROM media WHERE id = ?"),
  };

  /**
   * Deletes a copy of a file that this server holds for no user of its own (fetched from the
   * server holding it for a download, or a room picture fetched for a proposal) once nothing here
   * uses it any more: its row and its bytes now, not at the next hourly collection. The row first,
   * checked and deleted in one transaction (a message that took the file up meanwhile keeps it),
   * then the bytes, as the collection does. A local user's upload is left to the collection (its
   * grace period lets the uploader use it again).
   */
  async function dropUnused(mediaId: string, why: string): Promise<boolean> {
    const gone = deps.storage.write(() => {
      if (d.unused.get(mediaId) === undefined) return false;
      d.forget.run(mediaId);
      return true;
    });
    if (!gone) return false;
    await rm(media.pathOf(mediaId), { force: true });
    await rm(media.previewPathOf(mediaId), { force: true });
    log.info({ mediaId, why }, "copy of a file of another server dropped: nothing here uses it");
    return true;
  }

  /** Files granted to a server for a proposal under way (`mediaId server` -> how many). */
  const grants = new Map<string, number>();
  /** Fetches under way, by mediaId: concurrent downloads of one file fetch it once. */
  const inflight = new Map<string, Promise<MediaInfo>>();

  /**
   * The servers that hold a file, as the user's rooms name them: a message's file `origin`, else
   * the room's home (where a local file was attached, or a room picture set). This server left out.
   */
  function originsFor(userId: string, mediaId: string): string[] {
    const out = new Set<string>();
    for (const r of s.refsFor.all({ media: mediaId, user: userId }) as { kind: string; room_id: string; seq: number | null }[]) {
      let origin = originOf(r.room_id);
      if (r.kind === "message" && r.seq !== null) {
        const row = s.contentAt.get(r.room_id, r.seq) as { content: string } | undefined;
        const file = row ? (JSON.parse(row.content) as { file?: { mediaId?: string; origin?: string } }).file : undefined;
        if (file?.mediaId === mediaId && typeof file.origin === "string") origin = file.origin;
      }
      if (origin !== federation.self) out.add(origin);
    }
    return [...out];
  }

  async function fetchFrom(origin: string, mediaId: string): Promise<MediaInfo> {
    const res = await federation.requestBytes(origin, `/media/${mediaId}`, deps.maxBytes);
    if (res.status === 404 && res.body?.error?.code === "media.not_found") throw new ParleyError("media.not_found");
    if (res.status !== 200) throw new ParleyError("federation.unreachable", `${origin} answered ${res.status}${res.body?.error?.code ? ` (${res.body.error.code})` : ""}.`);
    try {
      const info = await media.adopt(mediaId, res.bytes);
      log.info({ peer: origin, mediaId, size: info.size }, "file fetched from its server");
      return info;
    } catch (err) {
      if (err instanceof ParleyError && err.code === "media.origin_mismatch") log.warn({ peer: origin, mediaId }, "a server sent a file whose hash is not its id");
      // A file this server's own upload rules refuse (an empty file, a blocked type) is one it
      // cannot have, whoever holds it: the downloader (or the proposal) is told so alike.
      if (err instanceof ParleyError && (err.code === "media.empty" || err.code === "media.too_large" || err.code === "media.type_blocked")) {
        log.info({ peer: origin, mediaId, refusal: err.code }, "a file of another server refused by this server's upload rules");
        throw new ParleyError("media.not_found", "This server does not accept that file.");
      }
      throw err;
    }
  }

  return {
    dropUnused,

    /**
     * A publish subscriber: a message deleted for everyone (here or at its home, replicated)
     * re-checks the file it shared. A copy this server fetched for its users, that no other
     * message, picture or avatar here uses, is deleted at once: the file was withdrawn from the
     * room, and a copy held only for that room has no reason to stay on disk until the next
     * collection.
     */
    onBatch(batch: readonly Committed[]): void {
      for (const c of batch) {
        if (c.event.type !== "message.delete") continue;
        const target = (c.event.content as { target?: unknown }).target;
        if (typeof target !== "number") continue;
        const mediaId = (d.fileOf.get(c.event.roomId, target) as { mediaId: string | null } | undefined)?.mediaId;
        if (mediaId) dropUnused(mediaId, "message deleted").catch((err) => log.warn({ mediaId, err: (err as Error).message }, "dropping a file's copy failed"));
      }
    },

    /**
     * Whether this server serves a file to a peer: the peer has a member who reads a message that
     * shared the file (their current membership began at or before it) or is in a room whose
     * picture it is, the file is a local user's avatar, or a proposal of a local user to the peer
     * grants it. A file shared only before every member of the peer joined is refused as one that
     * does not exist.
     */
    sharedWith: (mediaId: string, server: string) =>
      s.sharedWith.get({ media: mediaId, server }) !== undefined || s.ownAvatar.get(mediaId, federation.self) !== undefined || grants.has(`${mediaId} ${server}`),

    /**
     * Grants a server a file while a local user's proposal to it runs (a room picture the user
     * sets in a room hosted there). Returns the function that withdraws the grant.
     */
    grant(mediaId: string, server: string): () => void {
      const key = `${mediaId} ${server}`;
      grants.set(key, (grants.get(key) ?? 0) + 1);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const n = (grants.get(key) ?? 1) - 1;
        if (n > 0) grants.set(key, n);
        else grants.delete(key);
      };
    },

    /**
     * Fetches a file from the server proposing it (a picture its user sets in a room hosted here),
     * checked against its hash and sniffed here; throws media.not_found, media.origin_mismatch or
     * federation.unreachable (and the upload rules' codes) when it cannot be had.
     */
    fetchProposed: (origin: string, mediaId: string) => fetchFrom(origin, mediaId),

    /**
     * Fetches a file that remote profiles name as their user's avatar from that user's server
     * (even when this server holds the bytes: the user's server proves it has them), then records
     * it as the avatar, so that every local user may download it from this server's copy.
     * Undefined when no remote profile claims the file.
     */
    async fetchAvatar(mediaId: string): Promise<MediaInfo | undefined> {
      if (!federation.enabled) return undefined;
      const users = (s.claimants.all(mediaId) as { user_id: string }[]).map((r) => r.user_id);
      if (!users.length) return undefined;
      const key = `avatar ${mediaId}`;
      let running = inflight.get(key);
      if (!running) {
        running = (async () => {
          let last: unknown;
          for (const userId of users) {
            try {
              const info = await fetchFrom(originOf(userId), mediaId);
              // Still their claim (their profile may have changed while the file came).
              if (s.claims.get(userId, mediaId) !== undefined) media.setAvatar(userId, mediaId);
              return info;
            } catch (err) {
              last = err;
            }
          }
          throw last;
        })().finally(() => inflight.delete(key));
        inflight.set(key, running);
      }
      return running;
    },

    /**
     * Fetches a file the user may see but this server does not hold from the server holding it;
     * undefined when no room of the user names another server for it. Tries each origin in turn
     * and throws the last one's refusal (media.not_found, media.origin_mismatch,
     * federation.unreachable) when none gives it.
     */
    async fetchFor(userId: string, mediaId: string): Promise<MediaInfo | undefined> {
      if (!federation.enabled) return undefined;
      const origins = originsFor(userId, mediaId);
      if (!origins.length) return undefined;
      let running = inflight.get(mediaId);
      if (!running) {
        running = (async () => {
          let last: unknown;
          for (const origin of origins) {
            try {
              return await fetchFrom(origin, mediaId);
            } catch (err) {
              last = err;
            }
          }
          throw last;
        })().finally(() => inflight.delete(mediaId));
        inflight.set(mediaId, running);
      }
      return running;
    },
  };
}

export type RemoteMedia = ReturnType<typeof createRemoteMedia>;
