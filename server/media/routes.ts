import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { send } from "@fastify/send";
import { ParleyError } from "../errors.ts";
import type { AccountService } from "../accounts/service.ts";
import { requireActor } from "../accounts/routes.ts";
import { inlineTypes, type MediaInfo, type MediaService } from "./service.ts";

/** The path parameters' schema, from protocol/http (which the OpenAPI document shows too). */
const idParams = (name: string) => ({ $ref: `https://parley.chat/schema/http/${name}#/$defs/params` });

/**
 * HTTP routes of media: upload (streamed), download with ranges, previews. Downloads are for
 * members of a room the file was shared in (and its uploader). User files are never rendered
 * by the browser as a page: only raster images, audio and video are inline; everything else
 * (HTML, SVG, PDF, scripts) is an attachment, with nosniff and a sandboxing CSP on every file.
 */
export async function registerMediaRoutes(
  app: FastifyInstance,
  deps: {
    accounts: AccountService;
    media: MediaService;
    /** Seconds an upload may send nothing before it is cut (timeouts.upload_idle_seconds). */
    uploadIdleSeconds: number;
    /** Counts each upload's outcome (null: accepted) for the metrics. */
    observeUpload?: (refusal: unknown, bytes: number) => void;
    /**
     * Fetches a file the user may see but this server does not hold from the server holding it
     * (federation/media.ts); undefined when no other server holds it.
     */
    fetchRemote?: (userId: string, mediaId: string) => Promise<MediaInfo | undefined>;
    /**
     * Fetches a file a remote user's profile names as their avatar from their server, which then
     * makes it an avatar here (federation/media.ts); undefined when no remote profile names it.
     */
    fetchAvatar?: (mediaId: string) => Promise<MediaInfo | undefined>;
  },
): Promise<void> {
  const { accounts, media } = deps;

  await app.register(async (scope) => {
    // The upload body is the file itself, of any type: take it as a stream, unparsed.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null));

    // route: POST /api/v1/media
    scope.post<{ Querystring: { name?: string } }>(
      "/api/v1/media",
      { schema: { querystring: { $ref: "https://parley.chat/schema/http/media.upload#/$defs/query" } } },
      async (request, reply) => {
        const socket = request.raw.socket;
        const cut = () => {
          request.log.info({ idleSeconds: deps.uploadIdleSeconds }, "upload stalled: connection cut");
          socket.destroy();
        };
        try {
          const actor = await requireActor(accounts, request);
          const declared = request.headers["content-length"] ? Number(request.headers["content-length"]) : null;
          // A client that stops sending mid-upload would otherwise hold the connection, the
          // temporary file and its quota reservation until the whole-request timeout (minutes).
          // Past the idle bound the socket is destroyed: the body stream fails, ingest removes the
          // temporary file and releases the reservation, and no answer is owed to a silent peer.
          socket.setTimeout(deps.uploadIdleSeconds * 1000, cut);
          // Once the whole body is in, the bound no longer applies: hashing, sniffing and making
          // a preview take the time they take, and the client is then rightly silent.
          request.raw.once("end", () => socket.setTimeout(0));
          const info = await media.ingest(actor.userId, request.query.name ?? "file", request.raw, Number.isFinite(declared) ? declared : null);
          deps.observeUpload?.(null, info.size);
          return reply.code(201).send(info);
        } catch (err) {
          deps.observeUpload?.(err, 0);
          // A refused upload leaves its body unread (or cut off mid-stream) on the connection: a
          // kept-alive connection would then hang the client's next request until the keep-alive
          // timeout. Answer with `Connection: close` instead (and never drain a huge body).
          reply.raw.shouldKeepAlive = false;
          throw err;
        } finally {
          // Back to the server's own socket timeout (none: the keep-alive and request timeouts).
          socket.setTimeout(0);
          socket.off("timeout", cut);
        }
      },
    );
  });

  async function serve(request: FastifyRequest, reply: FastifyReply, preview: boolean) {
    // On refusals too: no answer from the media routes is ever sniffed into something else.
    reply.header("x-content-type-options", "nosniff");
    const actor = await requireActor(accounts, request);
    const { mediaId: id } = request.params as { mediaId: string };
    let info = media.info(id);
    // Shared in a room replicated from another server and not held here: fetched once from there.
    if (!info && deps.fetchRemote && media.canRead(actor.userId, id)) info = await deps.fetchRemote(actor.userId, id);
    // A remote user's avatar (named by their profile): fetched from their server, then public here.
    if (deps.fetchAvatar && !media.canRead(actor.userId, id)) info = (await deps.fetchAvatar(id)) ?? info;
    if (!info || !media.canRead(actor.userId, id) || (preview && !info.hasPreview)) throw new ParleyError("media.not_found");
    return sendMediaFile(media, request, reply, info, preview, "private, max-age=86400, immutable");
  }

  // route: GET /api/v1/media/:mediaId
  app.get("/api/v1/media/:mediaId", { schema: { params: idParams("media.download") } }, (request, reply) => serve(request, reply, false));
  // route: GET /api/v1/media/:mediaId/preview
  app.get("/api/v1/media/:mediaId/preview", { schema: { params: idParams("media.preview") } }, (request, reply) => serve(request, reply, true));
}

/**
 * Sends a stored file (or its preview) whose access the caller has checked: HTTP ranges and
 * ETags, the type the bytes were sniffed as, inline only for raster images, audio and video, and
 * nosniff with a sandboxing CSP on everything.
 */
export async function sendMediaFile(media: MediaService, request: FastifyRequest, reply: FastifyReply, info: MediaInfo, preview: boolean, cacheControl: string) {
  reply.header("x-content-type-options", "nosniff");
  const path = preview ? media.previewPathOf(info.mediaId) : media.pathOf(info.mediaId);
  const result = await send(request.raw, path, { acceptRanges: true, cacheControl: false, etag: true, lastModified: false, dotfiles: "allow" });
  if (result.type !== "file") {
    if (result.statusCode >= 400 && result.statusCode !== 416) throw new ParleyError("media.not_found");
  }
  const mime = preview ? "image/jpeg" : info.mime;
  const inline = preview || inlineTypes.has(mime);
  reply.code(result.statusCode);
  for (const [k, v] of Object.entries(result.headers)) reply.header(k, v);
  reply.header("content-type", inline ? mime : "application/octet-stream");
  reply.header("content-disposition", inline ? "inline" : "attachment");
  reply.header("content-security-policy", "default-src 'none'; sandbox");
  reply.header("cache-control", cacheControl);
  return reply.send(result.stream);
}
