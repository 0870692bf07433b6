/**
 * Message catalogues (English, Simplified Chinese) and Intl formatting. `t(key, vars)` looks a
 * key up in the current language; `{n}`-style placeholders are filled from vars; plural forms
 * are picked with Intl.PluralRules (keys ending in `.one` / `.other`).
 */
import { signal } from "@preact/signals";

export type Lang = "en" | "zh-CN";

const en = {
  "app.name": "Parley",
  "auth.signIn": "Sign in",
  "auth.signUp": "Create account",
  "auth.username": "Username",
  "auth.password": "Password",
  "auth.displayName": "Display name",
  "auth.registrationToken": "Registration token",
  "auth.toSignUp": "New here? Create an account",
  "auth.toSignIn": "Have an account? Sign in",
  "auth.signOut": "Sign out",
  "nav.rooms": "Communities and groups",
  "nav.profile": "Profile and devices",
  "nav.new": "New community or group",
  "nav.home": "Home",
  "lang.label": "Language",
  "conn.offline": "Offline: messages wait and are sent when the connection returns",
  "conn.connecting": "Connecting…",
  "home.empty": "Pick a community or group, or create one.",
  "home.invitations": "Invitations",
  "home.accept": "Accept",
  "home.decline": "Decline",
  "community.announcements": "Announcements",
  "community.myGroups": "My groups",
  "community.otherGroups": "Groups you can join",
  "community.join": "Join",
  "community.ask": "Ask to join",
  "community.requested": "Request sent",
  "community.admin": "Admin panel",
  "community.newGroup": "New group in this community",
  "community.deactivated": "This community was deactivated: it is read-only, and its groups go on by themselves.",
  "members.one": "{n} member",
  "members.other": "{n} members",
  "unread.one": "{n} unread message",
  "unread.other": "{n} unread messages",
  "create.title": "Create",
  "create.kind": "What to create",
  "create.community": "Community",
  "create.group": "Group",
  "create.name": "Name",
  "create.description": "Description",
  "create.rules": "Rules",
  "create.picture": "Picture",
  "create.submit": "Create",
  "conv.messages": "Messages",
  "conv.compose": "Message",
  "conv.send": "Send",
  "conv.pending": "Sending…",
  "conv.failed": "Not sent",
  "conv.held": "Waiting for {server}: it cannot be reached now; your server sends this when it returns",
  "joinLink.title": "Join with a link", "joinLink.link": "Invite link (from this server or another)", "joinLink.server": "Server that made the link",
  "joinLink.serverHelp": "Taken from the link's address; change it if that server's name differs.", "joinLink.join": "Join",
  "joinLink.invalid": "That is not an invite link.", "joinLink.waiting": "Joined; receiving the history from {server}…",
  "conv.discard": "Discard",
  "conv.reply": "Reply",
  "conv.replyTo": "Replying to {name}",
  "conv.cancel": "Cancel",
  "conv.edit": "Edit",
  "conv.save": "Save",
  "conv.edited": "edited",
  "conv.deleted": "This message was deleted",
  "conv.deleteMe": "Delete for me",
  "conv.deleteAll": "Delete for everyone",
  "conv.react": "React",
  "conv.older": "Load earlier messages",
  "conv.firstUnread": "Jump to first unread",
  "conv.newBelow": "New messages",
  "conv.typing.one": "{names} is typing…",
  "conv.typing.other": "{names} are typing…",
  "conv.seen": "Seen by {n} of {m}",
  "conv.seenBy": "Seen by",
  "conv.thread": "Replies",
  "conv.threadCount.one": "{n} reply",
  "conv.threadCount.other": "{n} replies",
  "conv.closeThread": "Close replies",
  "conv.attach": "Attach a file",
  "conv.uploading": "Uploading {name}",
  "conv.download": "Download",
  "conv.viewImage": "View picture",
  "conv.close": "Close",
  "conv.leave": "Leave",
  "conv.readOnly": "Only admins post here.",
  "conv.replaced": "This chat was opened twice at the same time from two servers; it goes on in the other one. What was said here stays.",
  "conv.replacedOpen": "Go to the chat",
  "conv.more": "More actions",
  "poll.new": "Poll",
  "poll.question": "Question",
  "poll.options": "Options, one a line",
  "poll.multiple": "Several answers allowed",
  "poll.anonymous": "Anonymous",
  "poll.create": "Create poll",
  "poll.vote": "Vote",
  "poll.withdraw": "Withdraw my vote",
  "poll.close": "Close poll",
  "poll.closed": "Closed",
  "poll.voters.one": "{n} voter",
  "poll.voters.other": "{n} voters",
  "event.new": "Event",
  "event.title": "Title",
  "event.start": "Starts",
  "event.end": "Ends",
  "event.timeZone": "Time zone",
  "event.place": "Place",
  "event.create": "Create event",
  "event.going": "Going",
  "event.maybe": "Maybe",
  "event.notGoing": "Not going",
  "event.ics": "Add to calendar (.ics)",
  "event.cancel": "Cancel event",
  "event.cancelled": "Cancelled",
  "event.answers": "Who answered",
  "event.edit": "Edit event",
  "profile.title": "Profile",
  "profile.about": "About",
  "profile.avatar": "Avatar",
  "profile.save": "Save profile",
  "profile.saved": "Saved",
  "profile.common": "Groups in common",
  "devices.title": "Devices",
  "devices.current": "this device",
  "devices.revoke": "Revoke",
  "devices.lastSeen": "last seen {when}",
  "invite.title": "You are invited",
  "invite.join": "Join",
  "invite.request": "Ask to join",
  "invite.requested": "Your request was sent; an admin will answer it.",
  "invite.signInFirst": "Sign in or create an account to join.",
  "error.generic": "Something went wrong.",
  "push.title": "Notifications",
  "push.on": "This device is notified of new messages and reminders while Parley is closed.",
  "push.off": "This device is not notified while Parley is closed.",
  "push.denied": "This browser blocks notifications from Parley; allow them in its site settings.",
  "push.unsupported": "This browser cannot show notifications.",
  "push.enable": "Turn on notifications",
  "push.disable": "Turn off notifications",
} as const;

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  "app.name": "Parley",
  "auth.signIn": "登录",
  "auth.signUp": "创建账号",
  "auth.username": "用户名",
  "auth.password": "密码",
  "auth.displayName": "显示名称",
  "auth.registrationToken": "注册邀请码",
  "auth.toSignUp": "第一次来？创建账号",
  "auth.toSignIn": "已有账号？登录",
  "auth.signOut": "退出登录",
  "nav.rooms": "社区和群组",
  "nav.profile": "个人资料和设备",
  "nav.new": "新建社区或群组",
  "nav.home": "首页",
  "lang.label": "语言",
  "conn.offline": "离线：消息会在恢复连接后发送",
  "conn.connecting": "正在连接…",
  "home.empty": "选择一个社区或群组，或新建一个。",
  "home.invitations": "邀请",
  "home.accept": "接受",
  "home.decline": "拒绝",
  "community.announcements": "公告",
  "community.myGroups": "我的群组",
  "community.otherGroups": "可以加入的群组",
  "community.join": "加入",
  "community.ask": "申请加入",
  "community.requested": "已申请",
  "community.admin": "管理面板",
  "community.newGroup": "在此社区新建群组",
  "community.deactivated": "此社区已停用：它变为只读，其群组各自继续。",
  "members.one": "{n} 位成员",
  "members.other": "{n} 位成员",
  "unread.one": "{n} 条未读消息",
  "unread.other": "{n} 条未读消息",
  "create.title": "新建",
  "create.kind": "新建类型",
  "create.community": "社区",
  "create.group": "群组",
  "create.name": "名称",
  "create.description": "简介",
  "create.rules": "规则",
  "create.picture": "图片",
  "create.submit": "创建",
  "conv.messages": "消息",
  "conv.compose": "消息",
  "conv.send": "发送",
  "conv.pending": "发送中…",
  "conv.failed": "未发送",
  "conv.held": "等待 {server}：暂时无法连接；它恢复后你的服务器会发送此消息",
  "joinLink.title": "通过链接加入", "joinLink.link": "邀请链接（本服务器或其他服务器）", "joinLink.server": "创建链接的服务器",
  "joinLink.serverHelp": "取自链接的地址；如该服务器的名称不同，请修改。", "joinLink.join": "加入",
  "joinLink.invalid": "这不是邀请链接。", "joinLink.waiting": "已加入；正在从 {server} 接收记录…",
  "conv.discard": "丢弃",
  "conv.reply": "回复",
  "conv.replyTo": "回复 {name}",
  "conv.cancel": "取消",
  "conv.edit": "编辑",
  "conv.save": "保存",
  "conv.edited": "已编辑",
  "conv.deleted": "此消息已删除",
  "conv.deleteMe": "为我删除",
  "conv.deleteAll": "为所有人删除",
  "conv.react": "回应",
  "conv.older": "加载更早的消息",
  "conv.firstUnread": "跳到第一条未读",
  "conv.newBelow": "新消息",
  "conv.typing.one": "{names} 正在输入…",
  "conv.typing.other": "{names} 正在输入…",
  "conv.seen": "{m} 人中 {n} 人已读",
  "conv.seenBy": "已读",
  "conv.thread": "回复",
  "conv.threadCount.one": "{n} 条回复",
  "conv.threadCount.other": "{n} 条回复",
  "conv.closeThread": "关闭回复",
  "conv.attach": "附加文件",
  "conv.uploading": "正在上传 {name}",
  "conv.download": "下载",
  "conv.viewImage": "查看图片",
  "conv.close": "关闭",
  "conv.leave": "退出",
  "conv.readOnly": "只有管理员可以在这里发言。",
  "conv.replaced": "这个聊天在两台服务器上同时被打开了两次；对话在另一个聊天中继续。这里说过的话会保留。",
  "conv.replacedOpen": "前往该聊天",
  "conv.more": "更多操作",
  "poll.new": "投票",
  "poll.question": "问题",
  "poll.options": "选项，每行一个",
  "poll.multiple": "允许多选",
  "poll.anonymous": "匿名",
  "poll.create": "发起投票",
  "poll.vote": "投票",
  "poll.withdraw": "撤回我的投票",
  "poll.close": "结束投票",
  "poll.closed": "已结束",
  "poll.voters.one": "{n} 人投票",
  "poll.voters.other": "{n} 人投票",
  "event.new": "活动",
  "event.title": "标题",
  "event.start": "开始",
  "event.end": "结束",
  "event.timeZone": "时区",
  "event.place": "地点",
  "event.create": "创建活动",
  "event.going": "参加",
  "event.maybe": "可能",
  "event.notGoing": "不参加",
  "event.ics": "添加到日历 (.ics)",
  "event.cancel": "取消活动",
  "event.cancelled": "已取消",
  "event.answers": "回复情况",
  "event.edit": "编辑活动",
  "profile.title": "个人资料",
  "profile.about": "简介",
  "profile.avatar": "头像",
  "profile.save": "保存资料",
  "profile.saved": "已保存",
  "profile.common": "共同的群组",
  "devices.title": "设备",
  "devices.current": "本设备",
  "devices.revoke": "撤销",
  "devices.lastSeen": "最后活跃于 {when}",
  "invite.title": "你受到了邀请",
  "invite.join": "加入",
  "invite.request": "申请加入",
  "invite.requested": "申请已发送，等待管理员处理。",
  "invite.signInFirst": "请登录或创建账号后加入。",
  "error.generic": "出了点问题。",
  "push.title": "通知",
  "push.on": "Parley 关闭时，此设备会收到新消息和提醒的通知。",
  "push.off": "Parley 关闭时，此设备不会收到通知。",
  "push.denied": "此浏览器阻止了 Parley 的通知；请在网站设置中允许。",
  "push.unsupported": "此浏览器无法显示通知。",
  "push.enable": "开启通知",
  "push.disable": "关闭通知",
};

const catalogs: Record<Lang, Record<Key, string>> = { en, "zh-CN": zh };

function initialLang(): Lang {
  const saved = globalThis.localStorage?.getItem("parley.lang");
  if (saved === "en" || saved === "zh-CN") return saved;
  return globalThis.navigator?.language?.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export const lang = signal<Lang>(initialLang());

export function setLang(l: Lang): void {
  lang.value = l;
  localStorage.setItem("parley.lang", l);
  document.documentElement.lang = l;
}

/** Looks a key up; `{name}` placeholders come from vars. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const s = catalogs[lang.value][key] ?? en[key];
  return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}

/** A counted phrase: base + "." + the plural category of n (one, other). */
export function plural(base: string, n: number, vars: Record<string, string | number> = {}): string {
  const cat = new Intl.PluralRules(lang.value).select(n);
  const key = (`${base}.${cat}` in en ? `${base}.${cat}` : `${base}.other`) as Key;
  return t(key, { n: new Intl.NumberFormat(lang.value).format(n), ...vars });
}

export function formatTime(ts: number): string {
  const d = new Date(ts);
  const sameDay = new Date().toDateString() === d.toDateString();
  return new Intl.DateTimeFormat(lang.value, sameDay ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function formatDateTime(ts: number, timeZone?: string): string {
  return new Intl.DateTimeFormat(lang.value, { dateStyle: "full", timeStyle: "short", timeZone }).format(new Date(ts));
}

export function formatList(items: string[]): string {
  return new Intl.ListFormat(lang.value, { style: "long", type: "conjunction" }).format(items);
}

export function formatBytes(n: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return new Intl.NumberFormat(lang.value, { style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: 1 }).format(v);
}

/**
 * Words for a server refusal: the Chinese catalogue for the common codes, otherwise the
 * server's own catalogue message (English), never the bare code alone.
 */
const zhErrors: Record<string, string> = {
  "auth.invalid_credentials": "用户名或密码错误。",
  "username.taken": "该用户名已被使用。",
  "username.invalid": "用户名为 3 到 32 个字符：字母、数字、'.'、'_' 或 '-'，以字母或数字开头。",
  "password.too_weak": "密码至少需要 8 个字符。",
  "registration.closed": "此服务器已关闭注册。",
  "registration.token_required": "在此服务器注册需要有效的邀请码。",
  "registration.invalid_token": "注册邀请码无效、已过期或已用完。",
  "room.forbidden": "你在此房间的角色不允许这样做。",
  "room.admin_limit": "社区的管理员已达上限。",
  "announcement.admins_only": "只有社区管理员可以发布公告；成员可以在公告下回复。",
  "invite.invalid": "邀请链接无效、已过期、已撤销或已用完。",
  "room.deactivated": "该社区已停用。",
  "room.replaced": "此房间已被另一个取代；请在那里发言。",
  "push.invalid_subscription": "此浏览器的推送订阅无效。",
  "media.too_large": "文件超过了服务器的上传限制。",
  "message.too_long": "消息超过了服务器的长度限制。",
  "rate_limited": "请求太频繁，请稍后再试。",
  disconnected: "连接已断开。",
};
const enErrors: Record<string, string> = { disconnected: "The connection was lost.", timeout: "The server did not answer in time." };

export function errorWords(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const code = e?.code;
  if (code && lang.value === "zh-CN" && zhErrors[code]) return zhErrors[code];
  if (code && enErrors[code]) return enErrors[code];
  const msg = e?.message ?? "";
  // ParleyRequestError messages read "code: words"; keep the words.
  const words = code && msg.startsWith(`${code}: `) ? msg.slice(code.length + 2) : msg;
  return words || t("error.generic");
}
