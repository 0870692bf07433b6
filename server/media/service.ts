import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readdirSync } from "node:fs";
import { rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import { ParleyError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { MediaRow, MediaStore } from "./store.ts";

export interface MediaInfo {
  mediaId: string;
  size: number;
  mime: string;
  width: number | null;
  height: number | null;
  hasPreview: boolean;
}

/** Raster images a browser may show inline; everything else is served as an attachment. */
export const inlineTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "audio/mpeg", "audio/ogg", "audio/wav", "video/mp4", "video/webm"]);
const previewable = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/tiff"]);
const sniffBytes = 4100;

export const infoOf = (r: MediaRow): MediaInfo => ({ mediaId: r.id, size: r.size, mime: r.mime, width: r.width, height: r.height, hasPreview: r.has_preview === 1 });

/** Guesses text for files no signature matches: valid UTF-8 without NUL bytes. */
function looksLikeText(head: Buffer): boolean {
  if (head.length === 0 || head.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 4)));
    return true;
  } catch {
    return false;
  }
}

/**
 * The file store. Uploads stream to a temporary file while being hashed and counted (never held
 * whole in memory); past the size limit the stream is cut and the temporary file removed. The
 * finished file is stored under its SHA-256, once, whoever uploads it again. Its type is sniffed
 * from its first bytes; images get their dimensions and a small JPEG preview (sharp).
 */
export function createMediaService(deps: {
  store: MediaStore;
  dataDir: string;
  maxBytes: number;
  quotaBytes: number;
  blockedTypes: string[];
  previewPixels: number;
  graceMs: number;
  log: Logger;
  now?: () => number;
}) {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const root = join(deps.dataDir, "media");
  const tmp = join(root, "tmp");
  mkdirSync(tmp, { recursive: true });
  // Leftovers of uploads interrupted by a crash: never referenced, safe to drop.
  for (const f of readdirSync(tmp)) void rm(join(tmp, f), { force: true });
  const blocked = new Set(deps.blockedTypes);

  /**
   * Bytes of each user's uploads in progress (received, not yet recorded): counted against the
   * quota with what is stored, so that uploads running side by side cannot together pass it.
   */
  const receiving = new Map<string, number>();
  const receive = (userId: string, bytes: number): void => {
    const n = (receiving.get(userId) ?? 0) + bytes;
    if (n === 0) receiving.delete(userId);
    else receiving.set(userId, n);
  };
  /** Files other servers hold, vouched for in a proposal being run: `userId mediaId` -> info. */
  const vouched = new Map<string, MediaInfo & { origin: string }>();
  const pathOf = (id: string) => join(root, id.slice(0, 2), id);
  const previewPathOf = (id: string) => `${pathOf(id)}.preview.jpg`;

  /**
   * Moves a finished temporary file (hashed: `id`) to its content-addressed place: its type sniffed
   * from its first bytes, blocked types refused, images measured and given a preview; records the
   * row. Whose quota it counts against is the caller's business (an upload's row in `uploads`).
   */
  async function place(tmpPath: string, id: string, size: number, sniffHead: Buffer): Promise<MediaRow> {
    const mime = (await fileTypeFromBuffer(sniffHead))?.mime ?? (looksLikeText(sniffHead) ? "text/plain" : "application/octet-stream");
    if (blocked.has(mime)) throw new ParleyError("media.type_blocked", undefined, { type: mime });
    const finalPath = pathOf(id);
    mkdirSync(join(root, id.slice(0, 2)), { recursive: true });
    await rename(tmpPath, finalPath);
    let width: number | null = null;
    let height: number | null = null;
    let hasPreview = false;
    if (previewable.has(mime)) {
      try {
        const meta = await sharp(finalPath).metadata();
        width = meta.width ?? null;
        height = meta.height ?? null;
        await sharp(finalPath).rotate().resize(deps.previewPixels, deps.previewPixels, { fit: "inside", withoutEnlargement: true }).jpeg({ quality: 70 }).toFile(previewPathOf(id));
        hasPreview = true;
      } catch (err) {
        // A file that claims to be an image but does not decode is kept as a plain file.
        log.info({ mediaId: id, err: (err as Error).message }, "no preview for image");
      }
    }
    const row: MediaRow = { id, size, mime, width, height, has_preview: hasPreview ? 1 : 0, created_at: now() };
    store.insert(row);
    return row;
  }

  return {
    pathOf,
    previewPathOf,

    async ingest(userId: string, name: string, body: Readable, declaredLength: number | null): Promise<MediaInfo> {
      if (declaredLength !== null && declaredLength > deps.maxBytes) throw new ParleyError("media.too_large", undefined, { limit: deps.maxBytes });
      // No quota check here, before the bytes: only their hash tells whether the user already
      // stores this file, which costs nothing more (a re-upload with Content-Length was refused
      // over quota while the same bytes without it were accepted). The quota is checked at the end.
      const hash = createHash("sha256");
      const head: Buffer[] = [];
      let headLength = 0;
      let size = 0;
      let counted = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > deps.maxBytes) return cb(new ParleyError("media.too_large", undefined, { limit: deps.maxBytes }));
          // Counted as this user's bytes in progress; the quota is checked once the file's hash
          // is known (a file the user already has costs nothing).
          counted += chunk.length;
          receive(userId, chunk.length);
          hash.update(chunk);
          if (headLength < sniffBytes) {
            head.push(chunk.subarray(0, sniffBytes - headLength));
            headLength += Math.min(chunk.length, sniffBytes - headLength);
          }
          cb(null, chunk);
        },
      });
      const tmpPath = join(tmp, randomBytes(12).toString("hex"));
      // Until the upload is recorded (or refused), its bytes stay counted in `receiving`.
      const release = () => {
        if (counted) receive(userId, -counted);
        counted = 0;
      };
      try {
        await pipeline(body, meter, createWriteStream(tmpPath, { flags: "wx" }));
      } catch (err) {
        release();
        await rm(tmpPath, { force: true });
        if (err instanceof ParleyError) throw err;
        // The client went away mid-upload: nothing half-written stays behind.
        throw new ParleyError("bad_request", "The upload was interrupted.");
      }
      try {
        if (size === 0) throw new ParleyError("media.empty");
        const id = hash.digest("hex");
        const existing = store.get(id);
        // Stored usage now (uploads that finished meanwhile included), plus every upload of the
        // user in progress, this one included; a file the user already has costs nothing more.
        const usedNow = store.usage(userId);
        if (!store.uploadedBy(userId, id) && usedNow + (receiving.get(userId) ?? 0) > deps.quotaBytes) {
          throw new ParleyError("media.quota_exceeded", undefined, { quota: deps.quotaBytes, used: usedNow });
        }
        if (existing) {
          await rm(tmpPath, { force: true });
          store.recordUpload(userId, id, name, now());
          release();
          return infoOf(existing);
        }
        const row = await place(tmpPath, id, size, Buffer.concat(head));
        store.recordUpload(userId, id, name, now());
        release();
        return infoOf(row);
      } finally {
        release();
        await rm(tmpPath, { force: true });
      }
    },

    /**
     * Stores a file fetched from the server holding it (federation/media.ts): kept only when the
     * SHA-256 of the bytes is `id` (media.origin_mismatch otherwise, nothing written), under the
     * same checks as an upload (size limit, blocked types), counted against no user's quota (no
     * `uploads` row: the room's message keeps it, like any shared file).
     */
    async adopt(id: string, bytes: Buffer): Promise<MediaInfo> {
      if (bytes.length === 0) throw new ParleyError("media.empty");
      if (bytes.length > deps.maxBytes) throw new ParleyError("media.too_large", undefined, { limit: deps.maxBytes });
      if (createHash("sha256").update(bytes).digest("hex") !== id) throw new ParleyError("media.origin_mismatch");
      const existing = store.get(id);
      if (existing) return infoOf(existing);
      const tmpPath = join(tmp, randomBytes(12).toString("hex"));
      try {
        await writeFile(tmpPath, bytes, { flag: "wx" });
        return infoOf(await place(tmpPath, id, bytes.length, bytes.subarray(0, sniffBytes)));
      } finally {
        await rm(tmpPath, { force: true });
      }
    },

    /**
     * A file another server holds, described by that server in a proposal of its user (federation
     * `propose` with `file`): usable by that user for the one proposal, as if shared with them.
     * Returns the function that forgets it again.
     */
    vouch(userId: string, info: MediaInfo & { origin: string }): () => void {
      const key = `${userId} ${info.mediaId}`;
      vouched.set(key, info);
      return () => void vouched.delete(key);
    },

    /** Bytes of all uploads in progress (for the metrics; 0 when none is running). */
    receivingBytes(): number {
      let n = 0;
      for (const bytes of receiving.values()) n += bytes;
      return n;
    },

    info(id: string): MediaInfo | undefined {
      const row = store.get(id);
      return row ? infoOf(row) : undefined;
    },

    /** Whether the user may fetch (and so also share) a file: they uploaded it, or it is shared with them. */
    canRead(userId: string, id: string): boolean {
      return store.uploadedBy(userId, id) || store.readableBy(userId, id);
    },

    /**
     * A file the user may attach, use as a picture or as an avatar. Throws media.not_found. A file
     * held by another server (vouched for by it) comes with its `origin`.
     */
    requireUsable(userId: string, id: string): MediaInfo & { origin?: string } {
      const remote = vouched.get(`${userId} ${id}`);
      if (remote) return remote;
      const row = store.get(id);
      if (!row || !(store.uploadedBy(userId, id) || store.readableBy(userId, id))) throw new ParleyError("media.not_found");
      return infoOf(row);
    },

    setAvatar: (userId: string, id: string | null) => store.setAvatar(userId, id),

    /** Deletes files nothing references any more, after the grace period. Returns how many. */
    async collectGarbage(): Promise<number> {
      const before = now() - deps.graceMs;
      let collected = 0;
      for (const id of store.garbage(before)) {
        // Rows first (re-checked atomically), then the bytes: a file is never referenced while
        // its bytes are gone.
        if (!store.forgetIfGarbage(id, before)) continue;
        await rm(pathOf(id), { force: true });
        await rm(previewPathOf(id), { force: true });
        collected++;
      }
      if (collected) log.info({ count: collected }, "unreferenced files collected");
      return collected;
    },

    /** A file usable as a picture or avatar: an image the actor may use. */
    requireImage(userId: string, id: string): MediaInfo {
      const info = this.requireUsable(userId, id);
      if (!inlineTypes.has(info.mime) || !info.mime.startsWith("image/")) throw new ParleyError("media.not_image");
      return info;
    },

    async exists(id: string): Promise<boolean> {
      try {
        await stat(pathOf(id));
        return true;
      } catch {
        return false;
      }
    },
  };
}

export type MediaService = ReturnType<typeof createMediaService>;
