import { ParleyError } from "../errors.ts";
import type { RoomCore } from "../rooms/core.ts";
import { scopeOf } from "../rooms/project.ts";
import { isAdminRole, type RoomState } from "../rooms/types.ts";
import type { Storage } from "../storage/database.ts";
import type { OpRegistry } from "../ws/ops.ts";
import type { CommunityService } from "../communities/service.ts";
import type { MessageQueries } from "../messages/queries.ts";
import type { MessageService } from "../messages/service.ts";

export type ReportAction = "dismiss" | "delete" | "remove" | "ban";

interface ReportRow {
  id: number;
  scope_id: string;
  room_id: string;
  seq: number | null;
  target_user: string;
  reporter: string;
  reason: string;
  snapshot: string | null;
  status: "open" | "resolved";
  action: ReportAction | null;
  resolved_by: string | null;
  resolved_at: number | null;
  created_at: number;
}

/** Messages shown on each side of a reported one. */
const contextSize = 2;

/**
 * The moderation queue. A member reports a message or a person to the admins of the room's
 * community (or of the group, when it stands alone: the audit scope); the admins see open
 * reports with the message in context and resolve them, each action executed through the
 * existing services (so through the room core and its rules) and recorded in the scope's audit
 * log; the reporter is told the outcome. Reports are kept beside the log, not in it: a room event
 * would be seen by the room's members and say who reported whom.
 *
 * The reported person never learns who reported: the events of an action are said by the admin
 * who resolved the report, the audit entry names no reporter, and an admin who is reported does
 * not see reports about themselves (nor is told of them).
 */
export function createReportService(deps: {
  storage: Storage;
  core: RoomCore;
  messages: MessageService;
  queries: MessageQueries;
  communities: CommunityService;
  /** Tells users something live, or by Web Push when they have no connected device. */
  tell: (userIds: Iterable<string>, push: string, data: Record<string, unknown>) => void;
  userExists: (userId: string) => boolean;
  now?: () => number;
}) {
  const { core, messages, queries } = deps;
  const now = deps.now ?? Date.now;
  const db = deps.storage.sqlite;
  const s = {
    insert: db.prepare(
      "INSERT INTO reports (scope_id, room_id, seq, target_user, reporter, reason, snapshot, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
    ),
    openOfMessage: db.prepare("SELECT * FROM reports WHERE reporter = ? AND room_id = ? AND seq = ? AND status = 'open'"),
    openOfPerson: db.prepare("SELECT * FROM reports WHERE reporter = ? AND scope_id = ? AND target_user = ? AND seq IS NULL AND status = 'open'"),
    one: db.prepare("SELECT * FROM reports WHERE id = ?"),
    list: db.prepare("SELECT * FROM reports WHERE scope_id = ? AND status = ? AND target_user <> ? AND id < ? ORDER BY id DESC LIMIT ?"),
    mine: db.prepare("SELECT * FROM reports WHERE reporter = ? AND id < ? ORDER BY id DESC LIMIT ?"),
    resolve: db.prepare("UPDATE reports SET status = 'resolved', action = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND status = 'open'"),
    before: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"),
    after: db.prepare("SELECT * FROM messages WHERE room_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?"),
    roomName: db.prepare("SELECT name FROM rooms WHERE id = ?"),
  };

  const adminsOf = (scope: RoomState) => [...scope.members].filter(([, r]) => isAdminRole(r)).map(([u]) => u);

  /** The scope a report goes to, which the actor must administer; refusals do not say whether the report exists. */
  function handledBy(actor: string, reportId: number): { row: ReportRow; scope: RoomState } {
    const row = s.one.get(reportId) as ReportRow | undefined;
    const scope = row ? core.state(row.scope_id) : undefined;
    if (!row || !scope || !isAdminRole(scope.members.get(actor)) || row.target_user === actor) throw new ParleyError("report.not_found");
    return { row, scope };
  }

  function excerpt(r: { room_id: string; seq: number; sender: string; kind: string; body: string | null; file: string | null; ts: number; deleted_at: number | null }) {
    return {
      seq: r.seq,
      sender: r.sender,
      kind: r.kind,
      body: r.deleted_at ? null : r.body,
      file: r.deleted_at || !r.file ? null : (JSON.parse(r.file) as Record<string, unknown>),
      ts: r.ts,
      deleted: r.deleted_at !== null,
    };
  }

  /** What the admins see: the report, the message as reported, and the messages around it now. */
  function adminView(row: ReportRow) {
    let context: ReturnType<typeof excerpt>[] = [];
    if (row.seq !== null) {
      const before = (s.before.all(row.room_id, row.seq, contextSize) as Parameters<typeof excerpt>[0][]).reverse();
      const self = queries.findMessage(row.room_id, row.seq);
      const after = s.after.all(row.room_id, row.seq, contextSize) as Parameters<typeof excerpt>[0][];
      context = [...before, ...(self ? [self] : []), ...after].map(excerpt);
    }
    return {
      reportId: row.id,
      scopeId: row.scope_id,
      roomId: row.room_id,
      roomName: (s.roomName.get(row.room_id) as { name: string } | undefined)?.name ?? "",
      seq: row.seq,
      userId: row.target_user,
      reporter: row.reporter,
      reason: row.reason,
      status: row.status,
      action: row.action,
      resolvedBy: row.resolved_by,
      resolvedAt: row.resolved_at,
      createdAt: row.created_at,
      message: row.snapshot ? (JSON.parse(row.snapshot) as Record<string, unknown>) : null,
      context,
    };
  }

  /** What the reporter sees of their own report: never who resolved it. */
  function reporterView(row: ReportRow) {
    return { reportId: row.id, roomId: row.room_id, seq: row.seq, userId: row.target_user, reason: row.reason, status: row.status, outcome: row.action, createdAt: row.created_at, resolvedAt: row.resolved_at };
  }

  return {
    /** report.create: a message the reporter can read, or a person, with a reason. */
    create(actor: string, input: { roomId: string; seq?: number; userId?: string; reason: string }): { report: ReturnType<typeof reporterView>; duplicate: boolean } {
      const st = core.state(input.roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const scopeId = scopeOf(st);
      const reason = input.reason.trim();
      if (!reason) throw new ParleyError("invalid_params", "Give a reason.");
      let target: string;
      let snapshot: string | null = null;
      if (input.seq !== undefined) {
        const view = messages.get(actor, input.roomId, input.seq);
        if (view.deleted) throw new ParleyError("message.not_found");
        target = view.sender;
        snapshot = JSON.stringify({ seq: view.seq, sender: view.sender, kind: view.kind, body: view.body, file: view.file, ts: view.ts, edited: view.edited });
      } else {
        target = input.userId!;
        if (!deps.userExists(target)) throw new ParleyError("user.not_found");
      }
      if (target === actor) throw new ParleyError("room.invalid", "You cannot report yourself.");
      const earlier = (input.seq !== undefined ? s.openOfMessage.get(actor, input.roomId, input.seq) : s.openOfPerson.get(actor, scopeId, target)) as ReportRow | undefined;
      if (earlier) return { report: reporterView(earlier), duplicate: true };
      const id = Number(s.insert.run(scopeId, input.roomId, input.seq ?? null, target, actor, reason, snapshot, now()).lastInsertRowid);
      const row = s.one.get(id) as ReportRow;
      const scope = core.state(scopeId);
      if (scope) deps.tell(adminsOf(scope).filter((u) => u !== target && u !== actor), "report.created", { reportId: id, scopeId, roomId: input.roomId });
      return { report: reporterView(row), duplicate: false };
    },

    /** report.list: the scope's reports (open by default), newest first, with their messages in context. */
    list(actor: string, roomId: string, status: "open" | "resolved", before: number | undefined, limit: number) {
      const st = core.state(roomId);
      if (!st || !st.members.has(actor)) throw new ParleyError("room.not_found");
      const scopeId = scopeOf(st);
      const scope = core.state(scopeId);
      if (!scope || !isAdminRole(scope.members.get(actor))) throw new ParleyError("room.forbidden");
      const rows = s.list.all(scopeId, status, actor, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as ReportRow[];
      const more = rows.length > limit;
      if (more) rows.pop();
      return { scopeId, reports: rows.map(adminView), more };
    },

    /** report.mine: the actor's own reports and their outcomes. */
    mine(actor: string, before: number | undefined, limit: number) {
      const rows = s.mine.all(actor, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as ReportRow[];
      const more = rows.length > limit;
      if (more) rows.pop();
      return { reports: rows.map(reporterView), more };
    },

    /**
     * report.resolve: executes the action through the existing services, then marks the report
     * resolved with an audit entry. A refused action (an admin removing another admin, say) leaves
     * the report open. Removing and banning act on the whole scope (the community with all its
     * groups, or the standalone group), as the community's own member.remove and member.ban do.
     */
    async resolve(actor: string, reportId: number, action: ReportAction) {
      const { row, scope } = handledBy(actor, reportId);
      if (row.status !== "open") throw new ParleyError("report.resolved");
      if (action === "delete") {
        if (row.seq === null) throw new ParleyError("room.invalid", "A report of a person has no message to delete.");
        const seq = row.seq;
        await core.transact((tx) => {
          const room = tx.state(row.room_id);
          const msg = queries.findMessage(row.room_id, seq);
          if (!room || !msg) throw new ParleyError("message.not_found");
          if (msg.deleted_at !== null) return; // already gone (its sender or another admin deleted it)
          const target = { sender: msg.sender, ts: msg.ts, deleted: false, threadRoot: msg.thread_root, kind: msg.kind };
          // A community admin need not be in the group; the rules let them delete there as
          // moderation (authorize.ts), given their role in the community.
          const communityRole = room.members.has(actor) ? undefined : scope.members.get(actor);
          tx.append({ roomId: row.room_id, type: "message.delete", sender: actor, content: { target: seq, bySender: msg.sender === actor } }, { target, communityRole });
        });
      } else if (action === "remove" || action === "ban") {
        await deps.communities.remove(actor, scope.id, row.target_user, action === "ban");
      }
      const resolved = await core.transact((tx) => {
        if (s.resolve.run(action, actor, now(), reportId).changes === 0) throw new ParleyError("report.resolved");
        tx.store.audit(scope.id, row.room_id, actor, "report.resolve", row.target_user, { reportId, action, ...(row.seq !== null ? { seq: row.seq } : {}) }, now());
        return s.one.get(reportId) as ReportRow;
      });
      deps.tell([row.reporter], "report.resolved", { reportId, outcome: action, roomId: row.room_id, ...(row.seq !== null ? { seq: row.seq } : {}) });
      return { report: adminView(resolved) };
    },
  };
}

export type ReportService = ReturnType<typeof createReportService>;

/** WebSocket ops of the moderation queue. */
export function defineReportOps(ops: OpRegistry, reports: ReportService): void {
  // op: report.create
  ops.define<{ roomId: string; seq?: number; userId?: string; reason: string }>("report.create", ({ actor }, p) => reports.create(actor.userId, p));
  // op: report.list
  ops.define<{ roomId: string; status?: "open" | "resolved"; before?: number; limit?: number }>("report.list", ({ actor }, p) =>
    reports.list(actor.userId, p.roomId, p.status ?? "open", p.before, p.limit ?? 50),
  );
  // op: report.mine
  ops.define<{ before?: number; limit?: number }>("report.mine", ({ actor }, p) => reports.mine(actor.userId, p.before, p.limit ?? 50));
  // op: report.resolve
  ops.define<{ reportId: number; action: ReportAction }>("report.resolve", ({ actor }, p) => reports.resolve(actor.userId, p.reportId, p.action));
}
