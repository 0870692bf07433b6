/** The admin panel's words (English, Simplified Chinese): kept in its own chunk. */
import { lang } from "../i18n.ts";

const en = {
  title: "Admin", requests: "Join requests", members: "Members", links: "Invite links", settings: "Settings", audit: "Audit log",
  noRequests: "No pending join requests.", approve: "Approve", reject: "Reject", approveAll: "Approve all", approvePicked: "Approve selected", rejectPicked: "Reject selected",
  search: "Search members", adminCount: "{n} of {cap} admins", adminCapReached: "The admin limit is reached: demote an admin before promoting another.",
  owner: "owner", admin: "admin", member: "member", promote: "Make admin", demote: "Remove admin", transfer: "Make owner", transferConfirm: "Make {name} the owner? You will become an admin.",
  remove: "Remove", ban: "Ban", unban: "Unban", unbanWho: "Unban a user (their id)",
  expiresHours: "Expires after (hours, empty for never)", maxUses: "Use limit (empty for none)", createLink: "Create link", expires: "expires", revoked: "revoked",
  copy: "Copy", copied: "Link copied", qr: "QR code", print: "Print", close: "Close", revoke: "Revoke", reset: "Reset",
  whoSends: "Who may send", whoEdits: "Who may edit info", whoAdds: "Who may add members", everyone: "Everyone", adminsOnly: "Admins only",
  approval: "Admins approve new members", replies: "Members may reply under announcements", save: "Save", saved: "Saved",
  profile: "Profile and rules", name: "Name", description: "Description", rules: "Rules",
  linkedGroups: "Linked groups", unlink: "Unlink", linkGroup: "Link one of your groups", link: "Link",
  deactivate: "Deactivate community", deactivateConfirm: "Deactivate this community? Its groups are unlinked and it becomes read-only.",
  actor: "Who", action: "Action", since: "Since", any: "Any", when: "When", target: "Whom", more: "Older entries",
  "uses.one": "{n} use", "uses.other": "{n} uses",
  servers: "Servers", aclHelp: "Which servers' users may be in this community and its groups. Its own server, {server}, is always in.",
  aclOpen: "Users of every server may join.", aclAllowOnly: "Only users of these servers:", aclDenied: "Refused:",
  aclDenyLabel: "Refuse these servers (one per line)", aclAllowLabel: "Only these servers (one per line; empty: every server)",
  aclPatterns: "A server name such as spam.example, or a pattern: * for any run of characters (*.example), ? for one character.",
  aclConfirm: "Members of the servers you refuse are removed from the community and its groups. Save?",
  aclSavedRemoved: "Saved; {n} members of refused servers were removed.", aclBadEntry: "Not a server name or pattern: {entries}",
  aclDeniesHome: "This list would shut out {server}, the community's own server, which keeps its history: leave it off the refused list and, with an allow list, include it.",
  aclForbidden: "Only the community's admins may change its server list.", aclReadOnly: "Only the community's admins may change this.",
  aclIpLiterals: "Refuse servers named by an IP address (such as 203.0.113.7 or [2001:db8::7])", aclNoIpLiterals: "Servers named by an IP address are refused.",
  auditIncomplete: "The server hosting this room cannot be reached now: these are the entries this server holds, and older ones may be missing.",
} as const;
type K = keyof typeof en;
const zh: Record<K, string> = {
  title: "管理", requests: "加入申请", members: "成员", links: "邀请链接", settings: "设置", audit: "审计日志",
  noRequests: "没有待处理的加入申请。", approve: "批准", reject: "拒绝", approveAll: "全部批准", approvePicked: "批准所选", rejectPicked: "拒绝所选",
  search: "搜索成员", adminCount: "管理员 {n} / {cap}", adminCapReached: "管理员已达上限：先取消一位管理员再任命新的。",
  owner: "所有者", admin: "管理员", member: "成员", promote: "设为管理员", demote: "取消管理员", transfer: "设为所有者", transferConfirm: "把 {name} 设为所有者？你将成为管理员。",
  remove: "移除", ban: "封禁", unban: "解除封禁", unbanWho: "解除封禁（用户 ID）",
  expiresHours: "有效期（小时，留空为永久）", maxUses: "使用次数上限（留空为不限）", createLink: "创建链接", expires: "到期", revoked: "已撤销",
  copy: "复制", copied: "链接已复制", qr: "二维码", print: "打印", close: "关闭", revoke: "撤销", reset: "重置",
  whoSends: "谁可以发言", whoEdits: "谁可以编辑资料", whoAdds: "谁可以添加成员", everyone: "所有人", adminsOnly: "仅管理员",
  approval: "新成员需管理员批准", replies: "成员可以在公告下回复", save: "保存", saved: "已保存",
  profile: "资料和规则", name: "名称", description: "简介", rules: "规则",
  linkedGroups: "关联的群组", unlink: "取消关联", linkGroup: "关联你的一个群组", link: "关联",
  deactivate: "停用社区", deactivateConfirm: "停用此社区？其群组将被取消关联，社区变为只读。",
  actor: "操作人", action: "操作", since: "起始日期", any: "全部", when: "时间", target: "对象", more: "更早的记录",
  "uses.one": "已用 {n} 次", "uses.other": "已用 {n} 次",
  servers: "服务器", aclHelp: "哪些服务器的用户可以加入此社区及其群组。社区自己的服务器 {server} 始终可以。",
  aclOpen: "所有服务器的用户都可以加入。", aclAllowOnly: "仅限这些服务器的用户：", aclDenied: "已拒绝：",
  aclDenyLabel: "拒绝这些服务器（每行一个）", aclAllowLabel: "仅允许这些服务器（每行一个；留空为所有服务器）",
  aclPatterns: "服务器名称如 spam.example，或模式：* 表示任意字符串（*.example），? 表示一个字符。",
  aclConfirm: "被拒绝服务器的成员将被移出社区及其群组。保存？",
  aclSavedRemoved: "已保存；{n} 位被拒绝服务器的成员已被移除。", aclBadEntry: "不是服务器名称或模式：{entries}",
  aclDeniesHome: "此名单会把社区自己的服务器 {server} 排除在外，而它保存着社区的记录：不要拒绝它；使用允许名单时请包含它。",
  aclForbidden: "只有社区管理员可以更改服务器名单。", aclReadOnly: "只有社区管理员可以更改此项。",
  aclIpLiterals: "拒绝以 IP 地址命名的服务器（例如 203.0.113.7 或 [2001:db8::7]）", aclNoIpLiterals: "以 IP 地址命名的服务器已被拒绝。",
  auditIncomplete: "暂时无法连接这个房间所在的服务器：以下是本服务器保存的条目，可能缺少较早的条目。",
};

export function a(key: K, vars: Record<string, string | number> = {}): string {
  const s = (lang.value === "zh-CN" ? zh : en)[key];
  return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}
