import { originOf } from "../rooms/hash.ts";
import type { FastifyInstance } from "fastify";
import QRCode from "qrcode";
import { ParleyError } from "../errors.ts";
import { sendMediaFile } from "../media/routes.ts";
import type { MediaService } from "../media/service.ts";
import type { OpRegistry } from "../ws/ops.ts";
import type { InviteService } from "./service.ts";

/** WebSocket ops of invite links. */
export function defineInviteOps(ops: OpRegistry, invites: InviteService): void {
  // op: link.create
  ops.define<{ roomId: string; expiresInSeconds?: number; maxUses?: number }>("link.create", ({ actor }, p) => invites.create(actor.userId, p.roomId, p));
  // op: link.list
  ops.define<{ roomId: string }>("link.list", ({ actor }, p) => invites.list(actor.userId, p.roomId));
  // op: link.revoke
  ops.define<{ roomId: string; linkId: string }>("link.revoke", ({ actor }, p) => invites.revoke(actor.userId, p.roomId, p.linkId));
  // op: link.reset
  ops.define<{ roomId: string; linkId: string }>("link.reset", ({ actor }, p) => invites.reset(actor.userId, p.roomId, p.linkId));
  // op: link.join
  ops.define<{ token: string }>("link.join", ({ actor }, p) => invites.join(actor.userId, p.token));
  // op: link.preview
  ops.define<{ token: string }>("link.preview", (_ctx, p) => invites.preview(p.token));
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * HTTP side of invite links: the landing page a shared link opens, a JSON preview, the room's
 * picture, and the link as a QR code (SVG and PNG). None needs authentication: holding the token
 * is the point.
 */
export function registerInviteRoutes(app: FastifyInstance, invites: InviteService, media: MediaService): void {
  // The token's shape is in protocol/http (the same schema documents it in the OpenAPI document).
  const tokenParams = (name: string) => ({ $ref: `https://parley.chat/schema/http/${name}#/$defs/params` });

  // route: GET /api/v1/invites/:token
  app.get<{ Params: { token: string } }>("/api/v1/invites/:token", { schema: { params: tokenParams("invite.preview") } }, async (request) => invites.preview(request.params.token));

  // route: GET /api/v1/invites/:token/picture — what someone about to join sees (its preview).
  app.get<{ Params: { token: string } }>("/api/v1/invites/:token/picture", { schema: { params: tokenParams("invite.picture") } }, async (request, reply) => {
    const { picture } = invites.preview(request.params.token);
    const info = picture ? media.info(picture) : undefined;
    if (!info || !(info.hasPreview || info.mime.startsWith("image/"))) throw new ParleyError("media.not_found");
    // Not cached: revoking the link, or changing the picture, takes effect at once.
    return sendMediaFile(media, request, reply, info, info.hasPreview, "no-store");
  });

  // route: GET /api/v1/invites/:token/qr.svg
  app.get<{ Params: { token: string } }>("/api/v1/invites/:token/qr.svg", { schema: { params: tokenParams("invite.qr.svg") } }, async (request, reply) => {
    const { url } = invites.preview(request.params.token);
    const svg = await QRCode.toString(url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
    return reply.type("image/svg+xml").header("cache-control", "no-store").send(svg);
  });

  // route: GET /api/v1/invites/:token/qr.png
  app.get<{ Params: { token: string } }>("/api/v1/invites/:token/qr.png", { schema: { params: tokenParams("invite.qr.png") } }, async (request, reply) => {
    const { url } = invites.preview(request.params.token);
    const png = await QRCode.toBuffer(url, { type: "png", errorCorrectionLevel: "M", margin: 2, width: 320 });
    return reply.type("image/png").header("cache-control", "no-store").send(png);
  });

  // route: GET /join/:token — what a shared link opens in a browser.
  app.get<{ Params: { token: string } }>("/join/:token", { schema: { params: tokenParams("invite.landing") } }, async (request, reply) => {
    const p = invites.preview(request.params.token);
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Join ${escapeHtml(p.name)} on Parley</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
${p.picture ? `<img alt="" width="96" height="96" style="border-radius:50%;object-fit:cover" src="/api/v1/invites/${escapeHtml(request.params.token)}/picture">` : ""}<h1>${escapeHtml(p.name)}</h1><p>${escapeHtml(p.description)}</p><p>${p.kind === "community" ? "Community" : "Group"} · ${p.memberCount} member${p.memberCount === 1 ? "" : "s"}${p.joinApproval ? " · admins approve new members" : ""}</p>
<p><a href="/i/${escapeHtml(request.params.token)}" style="display:inline-block;padding:.6rem 1.2rem;background:#0b5cad;color:#fff;border-radius:.4rem;text-decoration:none;font-weight:600">Open in Parley to ${p.joinApproval ? "ask to join" : "join"}</a></p>
<p>Or open this link in a Parley app, or give the app this invite code:</p><pre style="font-size:1.2rem">${escapeHtml(request.params.token)}</pre>
<img alt="QR code of this invite" width="240" height="240" src="/api/v1/invites/${escapeHtml(request.params.token)}/qr.svg">
<p>Your account is on another Parley server? In that server's app, paste this link into “Join with a link”; this server's name is <strong>${escapeHtml(originOf(p.roomId))}</strong>.</p></body></html>`;
    return reply.type("text/html; charset=utf-8").header("content-security-policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'").send(html);
  });
}
