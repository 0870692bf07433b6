/** The server-admin area's words (English, Simplified Chinese): kept in its own chunk. */
import { lang } from "../i18n.ts";

const en = {
  title: "Server administration", users: "Users", tokens: "Registration tokens", communities: "Communities", audit: "Server audit log",
  search: "Search", searchUsers: "Search users (name or username)", searchCommunities: "Search communities", more: "More",
  username: "Username", displayName: "Name", status: "Status", devices: "Devices", rooms: "Rooms", created: "Created", actions: "Actions",
  admin: "server admin", disabled: "disabled", active: "active", show: "Details", hide: "Hide details",
  disable: "Disable", enable: "Enable", makeAdmin: "Make server admin", unmakeAdmin: "Withdraw server admin",
  purge: "Purge", purgeConfirm: "Purge {name}? They are removed from every room and signed out everywhere.",
  disableConfirm: "Disable {name}? They are signed out everywhere and cannot sign in.",
  resetPassword: "Set a new password", newPassword: "New password", setPassword: "Set password",
  passwordSet: "Password set; {n} devices signed out.", disabledDone: "{name} is disabled; {n} devices signed out.", enabledDone: "{name} is enabled.",
  adminDone: "{name} is now a server admin.", unadminDone: "{name} is no longer a server admin.", purgedDone: "{name} was removed from {n} rooms.",
  deviceList: "Devices", roomList: "Rooms", lastSeen: "last seen {when}", none: "None",
  uses: "Uses", expiresInDays: "Expires after (days, empty for never)", createToken: "Create token", tokenCreated: "New token (shown once): {token}",
  usesLeft: "{n} uses left", expires: "expires {when}", never: "never expires", usable: "usable", unusable: "used up or expired", revoke: "Revoke", revoked: "Token revoked.",
  members: "{n} members", groups: "{n} groups", size: "{events} of messages, {media} of files", deactivated: "deactivated",
  deactivate: "Deactivate", deactivateConfirm: "Deactivate {name}? Its groups are unlinked and it becomes read-only.", deactivatedDone: "{name} is deactivated.",
  when: "When", actor: "Who", action: "Action", target: "Whom", details: "Details", empty: "Nothing here.",
  federation: "Federation", peers: "Peers", peer: "Server", backlog: "Backlog", failures: "Failures", lastSuccess: "Last success",
  nextAttempt: "Next attempt", dormant: "Dormant", lastError: "Last error", now: "now", yes: "yes", no: "no", refresh: "Refresh",
  noPeers: "No peers: no room of this server has members on another server yet.",
  kept: "Kept ops", keptHelp: "What this server's users wrote in rooms whose home server cannot be reached: kept here and sent when it returns.",
  noKept: "Nothing waits for a home server.", home: "Home server", keptOps: "Kept ops", oldestKept: "Oldest kept", federationOff: "Federation is turned off in the config (federation.enabled).",
  serverLists: "Server lists", listsHelp: "A server on a deny list is refused; when an allow list has entries, only listed servers federate. Entries from the config file change only with the file.",
  noLists: "No lists: every server may federate.", allowList: "allow list", denyList: "deny list", fromConfig: "config file (read-only)",
  unlist: "Take off the list", serverName: "Server name", whichList: "List", addToList: "Add to list",
  allowedDone: "{server} is on the allow list.", deniedDone: "{server} is on the deny list.", unlistedDone: "{server} is on no list.",
  signingKey: "Signing key", validFrom: "valid since {when}", retiredKeys: "Retired keys ({n})",
  rotateHelp: "Rotating retires this key (it stays published so that what it signed still verifies) and signs with a new one from now on. Do it when the database may have been copied.",
  rotate: "Rotate key", rotateConfirm: "Rotate the server's signing key? Peers fetch the new key on the next request.", rotatedDone: "Now signing with {key}.",
} as const;
type K = keyof typeof en;
const zh: Record<K, string> = {
  title: "服务器管理", users: "用户", tokens: "注册邀请码", communities: "社区", audit: "服务器审计日志",
  search: "搜索", searchUsers: "搜索用户（名称或用户名）", searchCommunities: "搜索社区", more: "更多",
  username: "用户名", displayName: "名称", status: "状态", devices: "设备", rooms: "房间", created: "创建时间", actions: "操作",
  admin: "服务器管理员", disabled: "已停用", active: "正常", show: "详情", hide: "收起详情",
  disable: "停用", enable: "启用", makeAdmin: "设为服务器管理员", unmakeAdmin: "取消服务器管理员",
  purge: "清除", purgeConfirm: "清除 {name}？此人将被移出所有房间并在所有设备上退出登录。",
  disableConfirm: "停用 {name}？此人将在所有设备上退出登录且无法再登录。",
  resetPassword: "设置新密码", newPassword: "新密码", setPassword: "设置密码",
  passwordSet: "密码已设置；{n} 台设备已退出登录。", disabledDone: "{name} 已停用；{n} 台设备已退出登录。", enabledDone: "{name} 已启用。",
  adminDone: "{name} 现在是服务器管理员。", unadminDone: "{name} 不再是服务器管理员。", purgedDone: "{name} 已被移出 {n} 个房间。",
  deviceList: "设备", roomList: "房间", lastSeen: "最近活动 {when}", none: "无",
  uses: "使用次数", expiresInDays: "有效期（天，留空为永久）", createToken: "创建邀请码", tokenCreated: "新邀请码（只显示一次）：{token}",
  usesLeft: "剩余 {n} 次", expires: "{when} 到期", never: "永久有效", usable: "可用", unusable: "已用完或已过期", revoke: "撤销", revoked: "邀请码已撤销。",
  members: "{n} 位成员", groups: "{n} 个群组", size: "消息 {events}，文件 {media}", deactivated: "已停用",
  deactivate: "停用", deactivateConfirm: "停用 {name}？其群组将被取消关联，社区变为只读。", deactivatedDone: "{name} 已停用。",
  when: "时间", actor: "操作人", action: "操作", target: "对象", details: "详情", empty: "这里没有内容。",
  federation: "联邦", peers: "对等服务器", peer: "服务器", backlog: "积压", failures: "失败次数", lastSuccess: "最近成功",
  nextAttempt: "下次尝试", dormant: "休眠", lastError: "最近错误", now: "现在", yes: "是", no: "否", refresh: "刷新",
  noPeers: "没有对等服务器：本服务器的房间还没有其他服务器的成员。",
  kept: "暂存的操作", keptHelp: "本服务器用户在主服务器无法连接的房间里所写的内容：暂存在这里，主服务器恢复后发送。",
  noKept: "没有等待主服务器的操作。", home: "主服务器", keptOps: "暂存数", oldestKept: "最早暂存", federationOff: "配置中已关闭联邦（federation.enabled）。",
  serverLists: "服务器名单", listsHelp: "拒绝名单上的服务器被拒绝；允许名单有条目时，只有名单上的服务器可以联邦。配置文件中的条目只能通过修改文件更改。",
  noLists: "没有名单：所有服务器都可以联邦。", allowList: "允许名单", denyList: "拒绝名单", fromConfig: "配置文件（只读）",
  unlist: "移出名单", serverName: "服务器名称", whichList: "名单", addToList: "加入名单",
  allowedDone: "{server} 已加入允许名单。", deniedDone: "{server} 已加入拒绝名单。", unlistedDone: "{server} 已不在任何名单上。",
  signingKey: "签名密钥", validFrom: "自 {when} 起有效", retiredKeys: "已停用的密钥（{n}）",
  rotateHelp: "轮换会停用此密钥（它仍会公布，以便验证它签过的内容），此后用新密钥签名。数据库可能被他人复制时请轮换。",
  rotate: "轮换密钥", rotateConfirm: "轮换服务器的签名密钥？对等服务器会在下一次请求时获取新密钥。", rotatedDone: "现在使用 {key} 签名。",
};

export function s(key: K, vars: Record<string, string | number> = {}): string {
  const str = (lang.value === "zh-CN" ? zh : en)[key];
  return str.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}
