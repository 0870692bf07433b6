import { randomBytes } from "node:crypto";
import { ParleyError } from "../errors.ts";
import type { Storage } from "../storage/database.ts";
import type { RoomCore } from "../rooms/core.ts";
import { scopeOf } from "../rooms/project.ts";
import { isAdminRole } from "../rooms/types.ts";
import type { CommunityService } from "../communities/service.ts";
import { memberState } from "../communities/service.ts";

interface LinkRow {
  id: string;
  token: string;
  room_id: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  max_uses: number | null;
  uses: number;
  revoked_at: number | null;
}

export interface InviteLink {
  linkId: string;
  roomId: string;
  token: string;
  url: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  revoked: boolean;
}

/**
 * Invite links: a token that lets whoever holds it join a community or a group (or ask to,
 * where approval is on). Admins create, list, revoke and reset them; every change is audited.
 * The link's bookkeeping is written inside the same group-commit transaction as the join.
 */
export function createInviteService(deps: { storage: Storage; core: RoomCore; communities: CommunityService; publicUrl: string }) {
  const { core, communities, publicUrl } = deps;
  const db = deps.storage.sqlite;
  const s = {
    insert: db.prepare("INSERT INTO invite_links (id, token, room_id, created_by, created_at, expires_at, max_uses, uses) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"),
    byToken: db.prepare("SELECT * FROM invite_links WHERE token = ?"),
    byId: db.prepare("SELECT * FROM invite_links WHERE id = ? AND room_id = ?"),
    list: db.prepare("SELECT * FROM invite_links WHERE room_id = ? AND revoked_at IS NULL ORDER BY created_at DESC"),
    revoke: db.prepare("UPDATE invite_links SET revoked_at = ? WHERE id = ? AND room_id = ? AND revoked_at IS NULL"),
    use: db.prepare("UPDATE invite_links SET uses = uses + 1 WHERE id = ?"),
  };

  const urlOf = (token: string) => `${publicUrl}/join/${token}`;
  const view = (r: LinkRow): InviteLink => ({
    linkId: r.id,
    roomId: r.room_id,
    token: r.token,
    url: urlOf(r.token),
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    maxUses: r.max_uses,
    uses: r.uses,
    revoked: r.revoked_at !== null,
  });

  function usable(r: LinkRow | undefined, at: number): r is LinkRow {
    return !!r && r.revoked_at === null && (r.expires_at === null || r.expires_at > at) && (r.max_uses === null || r.uses < r.max_uses);
  }

  function requireAdmin(tx: { state: RoomCore["state"] }, roomId: string, actor: string) {
    const st = memberState(tx, roomId, actor);
    if (!isAdminRole(st.members.get(actor))) throw new ParleyError("room.forbidden");
    if (st.deactivated) throw new ParleyError("room.deactivated");
    return st;
  }

  function insertLink(roomId: string, actor: string, at: number, expiresAt: number | null, maxUses: number | null): LinkRow {
    const row: LinkRow = {
      id: `ln_${randomBytes(6).toString("base64url")}`,
      token: randomBytes(16).toString("base64url"),
      room_id: roomId,
      created_by: actor,
      created_at: at,
      expires_at: expiresAt,
      max_uses: maxUses,
      uses: 0,
      revoked_at: null,
    };
    s.insert.run(row.id, row.token, roomId, actor, at, expiresAt, maxUses);
    return row;
  }

  return {
    urlOf,

    create(actor: string, roomId: string, opts: { expiresInSeconds?: number; maxUses?: number }): Promise<InviteLink> {
      return core.transact((tx) => {
        const st = requireAdmin(tx, roomId, actor);
        const row = insertLink(roomId, actor, tx.now, opts.expiresInSeconds ? tx.now + opts.expiresInSeconds * 1000 : null, opts.maxUses ?? null);
        tx.store.audit(scopeOf(st), roomId, actor, "link.create", row.id, { expiresAt: row.expires_at, maxUses: row.max_uses }, tx.now);
        return view(row);
      });
    },

    list(actor: string, roomId: string): { roomId: string; links: InviteLink[] } {
      requireAdmin(core, roomId, actor);
      return { roomId, links: (s.list.all(roomId) as LinkRow[]).map(view) };
    },

    revoke(actor: string, roomId: string, linkId: string): Promise<{ linkId: string }> {
      return core.transact((tx) => {
        const st = requireAdmin(tx, roomId, actor);
        if (s.revoke.run(tx.now, linkId, roomId).changes === 0) throw new ParleyError("invite.invalid");
        tx.store.audit(scopeOf(st), roomId, actor, "link.revoke", linkId, {}, tx.now);
        return { linkId };
      });
    },

    /** Reset: revoke a link and issue a new token with the same limits (for a leaked link). */
    reset(actor: string, roomId: string, linkId: string): Promise<InviteLink> {
      return core.transact((tx) => {
        const st = requireAdmin(tx, roomId, actor);
        const old = s.byId.get(linkId, roomId) as LinkRow | undefined;
        if (!old || old.revoked_at !== null) throw new ParleyError("invite.invalid");
        s.revoke.run(tx.now, linkId, roomId);
        const ttl = old.expires_at === null ? null : Math.max(0, old.expires_at - old.created_at);
        const row = insertLink(roomId, actor, tx.now, ttl === null ? null : tx.now + ttl, old.max_uses);
        tx.store.audit(scopeOf(st), roomId, actor, "link.reset", row.id, { replaced: linkId }, tx.now);
        return view(row);
      });
    },

    /** Joins (or asks to join) the link's room. Each successful use counts once. */
    join(actor: string, token: string) {
      return core.transact((tx) => {
        const row = s.byToken.get(token) as LinkRow | undefined;
        if (!usable(row, tx.now)) throw new ParleyError("invite.invalid");
        const st = tx.state(row.room_id);
        if (!st || st.deactivated) throw new ParleyError("invite.invalid");
        const alreadyIn = st.members.has(actor) || st.requests.has(actor);
        const outcome = communities.joinByLink(tx, actor, row.room_id);
        if (!alreadyIn) s.use.run(row.id);
        return { ...outcome, roomId: row.room_id };
      });
    },

    /** What the landing page and a client show before joining: no member list, just counts. */
    preview(token: string) {
      const row = s.byToken.get(token) as LinkRow | undefined;
      // The same clock as link.join, so that a link the landing page shows is one that works.
      if (!usable(row, core.now())) throw new ParleyError("invite.invalid");
      const st = core.state(row.room_id);
      if (!st || st.deactivated) throw new ParleyError("invite.invalid");
      return {
        roomId: st.id,
        kind: st.kind,
        name: st.name,
        description: st.description,
        picture: st.picture,
        memberCount: st.members.size,
        joinApproval: st.settings.joinApproval,
        url: urlOf(token),
      };
    },
  };
}

export type InviteService = ReturnType<typeof createInviteService>;
