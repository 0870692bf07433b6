import { useEffect, useRef } from "preact/hooks";
import { useSignal, useComputed } from "@preact/signals";
import type { MessageView, RoomSummary } from "../../../sdk/index.ts";
import { t, plural, formatTime, formatList, formatBytes, errorWords } from "../i18n.ts";
import {
  call, me, nameOf, openRoom, loadOlder, loadUntil, timelines, pending, send, discardPending, hideForMe, markRead, typing,
  receiptsVersion, changed, draftOf, saveDraft, toast, connection, refreshRooms, forgetRoom, replaced, lostConnection,
} from "../state.ts";
import { upload, mediaUrl } from "../files.ts";
import { navigate, routes, onLink } from "../router.ts";
import { PollCard, EventCard, PollForm, EventForm } from "./Cards.tsx";
// web-extra: mentions, pinned/saved/forwarded messages, reports, room settings (features/).
import { MessageText, MessageActions, PinnedBar } from "../features/messages.tsx";
import { MentionTextarea } from "../features/mentions.tsx";
import { RoomSettings, roomTitle } from "../features/rooms.tsx";
import { RemoteId } from "../features/federation.tsx";

const EMOJI = ["👍", "❤️", "😂", "😮", "🙏"];

/** One room's conversation: the paged log, the composer, threads under announcements. */
export function Conversation({ roomId }: { roomId: string }) {
  const room = useSignal<RoomSummary | null>(null);
  const error = useSignal<string | null>(null);
  const thread = useSignal<number | null>(null);
  const replyTo = useSignal<MessageView | null>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  useEffect(() => {
    if (connection.value !== "online") return; // offline: keep showing what is loaded
    error.value = null;
    // Cut off while loading: asked again when the connection is back (this effect runs again).
    const fail = (err: unknown) => {
      if (!lostConnection(err)) error.value = errorWords(err);
    };
    call("room.get", { roomId }).then((r) => (room.value = r), fail);
    openRoom(roomId).catch(fail);
  }, [roomId, connection.value === "online"]);

  const tl = timelines.value[roomId];
  const messages = tl?.messages ?? [];
  const last = messages[messages.length - 1];
  const mine = pending.value.filter((p) => p.params.roomId === roomId && p.params.threadRoot === undefined);

  // Keep the newest message in view when it arrives (unless reading older ones); mark it read.
  useEffect(() => {
    const el = listRef.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
    if (last && document.visibilityState === "visible") void markRead(roomId, last.seq).catch(() => undefined);
  }, [last?.seq, mine.length]);

  async function onScroll() {
    const el = listRef.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80 && tl?.more && !tl.loading) {
      const before = el.scrollHeight;
      await loadOlder(roomId);
      // Keep the reader's place when older messages are put above.
      requestAnimationFrame(() => (el.scrollTop += el.scrollHeight - before));
    }
  }

  const firstUnread = tl && last && last.seq > tl.readSeq && tl.readSeq > 0 ? tl.readSeq + 1 : null;
  async function jumpToFirstUnread() {
    if (firstUnread === null) return;
    await loadUntil(roomId, firstUnread);
    requestAnimationFrame(() => {
      const first = [...(listRef.current?.querySelectorAll<HTMLElement>("[data-seq]") ?? [])].find((el) => Number(el.dataset.seq) >= firstUnread);
      first?.scrollIntoView({ block: "center" });
      first?.focus();
    });
  }

  if (error.value) return <p class="error" role="alert">{error.value}</p>;
  const r = room.value;
  const isAdmin = r?.myRole === "owner" || r?.myRole === "admin";
  const announcements = r?.kind === "community";
  // A replaced room (room.tombstone) takes no new messages: the reader is sent to its replacement.
  const replacement = replaced.value[roomId] ?? r?.replacedBy;
  const canPost = !replacement && (!r || (!r.deactivated && (r.settings.sendPolicy === "all" || isAdmin)));
  const typers = typing.value[roomId] ?? [];

  return (
    <section class="conversation" aria-labelledby="room-title">
      <header class="room-head">
        <a class="back" href={r?.communityId ? routes.community(r.communityId) : announcements ? routes.community(roomId) : "/"} onClick={onLink} aria-label={t("nav.home")}>
          ←
        </a>
        <h2 id="room-title">{r ? (announcements ? `${r.name} · ${t("community.announcements")}` : roomTitle(r)) : "…"}</h2>
        {r ? <span class="muted">{plural("members", r.memberCount)}</span> : null}
        <RoomSettings roomId={roomId} />
        {isAdmin ? (
          <a class="button" href={routes.admin(roomId)} onClick={onLink}>{t("community.admin")}</a>
        ) : null}
        {r && r.myRole !== "owner" && !announcements && r.kind !== "direct" ? (
          <button
            type="button"
            onClick={async () => {
              try {
                await call("room.leave", { roomId });
                forgetRoom(roomId);
                await refreshRooms();
                navigate("/");
              } catch (err) {
                toast.value = errorWords(err);
              }
            }}
          >
            {t("conv.leave")}
          </button>
        ) : null}
      </header>
      <PinnedBar roomId={roomId} isAdmin={isAdmin} />
      {firstUnread !== null ? (
        <button type="button" class="jump" onClick={jumpToFirstUnread}>{t("conv.firstUnread")}</button>
      ) : null}
      <div class="messages" role="log" aria-label={t("conv.messages")} aria-live="polite" ref={listRef} onScroll={onScroll} tabIndex={0}>
      <ol>
        {tl?.more ? (
          <li class="older">
            <button type="button" onClick={() => void loadOlder(roomId)} disabled={tl.loading}>{t("conv.older")}</button>
          </li>
        ) : null}
        {messages.map((m) => (
          <Message key={m.seq} m={m} room={r} all={messages} onReply={() => (replyTo.value = m)} onThread={() => (thread.value = m.seq)} isAdmin={isAdmin} announcements={announcements} />
        ))}
        {mine.map((p) => (
          <li key={p.txnId} class="message mine pending" data-pending={p.txnId} data-held={p.held ? "true" : undefined}>
            <div class="meta"><span class="sender">{nameOf(me())}</span> <span class="muted">{p.error ? t("conv.failed") : p.held ? t("conv.held", { server: p.held.server }) : t("conv.pending")}</span></div>
            <p class="body">{(p.params.body as string | undefined) ?? (p.params.file as { name: string } | undefined)?.name}</p>
            {p.error ? (
              <p class="error" role="alert">
                {errorWords(p.error)} <button type="button" onClick={() => discardPending(p.txnId)}>{t("conv.discard")}</button>
              </p>
            ) : null}
          </li>
        ))}
      </ol>
      </div>
      <SeenBy roomId={roomId} messages={messages} />
      <p class="typing" aria-live="polite">
        {typers.length ? plural("conv.typing", typers.length, { names: formatList(typers.map(nameOf)) }) : ""}
      </p>
      {replacement ? (
        <p role="status" data-replaced={replacement}>
          {t("conv.replaced")} <a href={routes.room(replacement)} onClick={onLink}>{t("conv.replacedOpen")}</a>
        </p>
      ) : canPost ? (
        <Composer roomId={roomId} replyTo={replyTo.value} onCancelReply={() => (replyTo.value = null)} />
      ) : (
        <p class="muted">{r?.deactivated ? t("community.deactivated") : t("conv.readOnly")}</p>
      )}
      {thread.value !== null ? <Thread roomId={roomId} root={thread.value} room={r} onClose={() => (thread.value = null)} /> : null}
    </section>
  );
}

function Message(props: { m: MessageView; room: RoomSummary | null; all: MessageView[]; onReply: () => void; onThread: () => void; isAdmin: boolean; announcements: boolean; inThread?: boolean }) {
  const { m, room, all } = props;
  const editing = useSignal(false);
  const menu = useSignal(false);
  const mine = m.sender === me();
  const quoted = m.replyTo !== null ? all.find((x) => x.seq === m.replyTo) : undefined;
  const canReply = !props.inThread && (!props.announcements || room?.settings.announcementReplies || props.isAdmin);

  async function act(fn: () => Promise<unknown>) {
    menu.value = false;
    try {
      await fn();
    } catch (err) {
      toast.value = errorWords(err);
    }
  }

  return (
    <li class={`message ${mine ? "mine" : ""}`} data-seq={m.seq} tabIndex={-1} aria-label={`${nameOf(m.sender)}, ${formatTime(m.ts)}`}>
      <div class="meta">
        <a class="sender" href={routes.user(m.sender)} onClick={onLink}>{nameOf(m.sender)}</a>
        <RemoteId userId={m.sender} />{" "}
        <time dateTime={new Date(m.ts).toISOString()} class="muted">{formatTime(m.ts)}</time>
        {m.edited ? <span class="muted"> · {t("conv.edited")}</span> : null}
      </div>
      {m.replyTo !== null ? (
        <blockquote class="quote">
          {quoted ? (
            <>
              <strong>{nameOf(quoted.sender)}</strong> {quoted.deleted ? t("conv.deleted") : quoted.body}
            </>
          ) : (
            "…"
          )}
        </blockquote>
      ) : null}
      {m.deleted ? (
        <p class="body deleted">{t("conv.deleted")}</p>
      ) : editing.value ? (
        <EditForm m={m} onDone={() => (editing.value = false)} />
      ) : m.kind === "poll" ? (
        <PollCard roomId={m.roomId} seq={m.seq} isAdmin={props.isAdmin} />
      ) : m.kind === "event" ? (
        <EventCard roomId={m.roomId} seq={m.seq} isAdmin={props.isAdmin} />
      ) : m.kind === "file" && m.file ? (
        <FileView file={m.file} caption={m.body !== m.file.name ? m.body : null} />
      ) : (
        <MessageText m={m} />
      )}
      {m.reactions.length ? (
        <ul class="reactions" aria-label={t("conv.react")}>
          {m.reactions.map((r) => (
            <li key={r.emoji}>
              <button type="button" aria-pressed={m.myReaction === r.emoji} onClick={() => act(() => call("message.react", { roomId: m.roomId, seq: m.seq, emoji: m.myReaction === r.emoji ? null : r.emoji }))}>
                {r.emoji} {r.count}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {props.announcements && !props.inThread ? (
        <button type="button" class="link" onClick={props.onThread}>
          {m.replyCount ? plural("conv.threadCount", m.replyCount) : t("conv.thread")}
        </button>
      ) : null}
      {!m.deleted ? (
        <div class="actions">
          <button type="button" aria-expanded={menu.value} aria-label={`${t("conv.more")}: ${nameOf(m.sender)} ${formatTime(m.ts)}`} onClick={() => (menu.value = !menu.value)}>
            ⋯
          </button>
          {menu.value ? (
            <div class="menu" onKeyDown={(e) => e.key === "Escape" && (menu.value = false)}>
              {EMOJI.map((e) => (
                <button key={e} type="button" aria-label={`${t("conv.react")} ${e}`} onClick={() => act(() => call("message.react", { roomId: m.roomId, seq: m.seq, emoji: m.myReaction === e ? null : e }))}>
                  {e}
                </button>
              ))}
              {canReply && !props.announcements ? <button type="button" onClick={() => ((menu.value = false), props.onReply())}>{t("conv.reply")}</button> : null}
              {mine && m.kind === "text" ? <button type="button" onClick={() => ((menu.value = false), (editing.value = true))}>{t("conv.edit")}</button> : null}
              <button type="button" onClick={() => act(() => hideForMe(m.roomId, m.seq))}>{t("conv.deleteMe")}</button>
              {mine || props.isAdmin ? <button type="button" onClick={() => act(() => call("message.delete", { roomId: m.roomId, seq: m.seq, forEveryone: true }))}>{t("conv.deleteAll")}</button> : null}
              <MessageActions m={m} isAdmin={props.isAdmin} inThread={props.inThread} onDone={() => (menu.value = false)} />
            </div>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

function EditForm({ m, onDone }: { m: MessageView; onDone: () => void }) {
  const text = useSignal(m.body ?? "");
  return (
    <form
      class="edit"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await call("message.edit", { roomId: m.roomId, seq: m.seq, body: text.value });
          onDone();
        } catch (err) {
          toast.value = errorWords(err);
        }
      }}
    >
      <label>
        <span class="sr">{t("conv.edit")}</span>
        <input value={text.value} onInput={(e) => (text.value = (e.currentTarget as HTMLInputElement).value)} />
      </label>
      <button type="submit">{t("conv.save")}</button>
      <button type="button" onClick={onDone}>{t("conv.cancel")}</button>
    </form>
  );
}

function FileView({ file, caption }: { file: NonNullable<MessageView["file"]>; caption: string | null }) {
  const src = useSignal<string | null>(null);
  const viewing = useSignal(false);
  const image = file.mime.startsWith("image/") && file.hasPreview;
  const closeRef = useRef<HTMLButtonElement>(null);
  // The dialog takes the focus when it opens (the autofocus attribute only acts on page load).
  useEffect(() => closeRef.current?.focus(), [viewing.value, !!src.value]);
  useEffect(() => {
    if (image) void mediaUrl(file.mediaId, true).then((u) => (src.value = u), () => undefined);
  }, [file.mediaId]);
  async function download() {
    const url = await mediaUrl(file.mediaId);
    const a = document.createElement("a");
    a.href = url;
    a.download = file.name;
    a.click();
  }
  async function view() {
    viewing.value = true;
    src.value = await mediaUrl(file.mediaId);
  }
  return (
    <div class="file">
      {image && src.value ? (
        <button type="button" class="thumb" onClick={view} aria-label={`${t("conv.viewImage")}: ${file.name}`}>
          <img src={src.value} alt={file.name} width={file.width ?? undefined} height={file.height ?? undefined} />
        </button>
      ) : null}
      <p>
        <span class="filename">{file.name}</span> <span class="muted">{formatBytes(file.size)}</span>{" "}
        <button type="button" onClick={() => void download().catch((err) => (toast.value = errorWords(err)))}>{t("conv.download")}</button>
      </p>
      {caption ? <p class="body">{caption}</p> : null}
      {viewing.value && src.value ? (
        <div class="viewer" role="dialog" aria-modal="true" aria-label={file.name} onKeyDown={(e) => e.key === "Escape" && (viewing.value = false)}>
          <img src={src.value} alt={file.name} />
          <button type="button" ref={closeRef} onClick={() => (viewing.value = false)}>{t("conv.close")}</button>
        </div>
      ) : null}
    </div>
  );
}

/** "Seen by N of M" under my newest acknowledged message, with who on request. */
function SeenBy({ roomId, messages }: { roomId: string; messages: MessageView[] }) {
  const mine = [...messages].reverse().find((m) => m.sender === me() && !m.deleted);
  const info = useSignal<{ readBy: number; of: number; readers: { userId: string }[] | null } | null>(null);
  const open = useSignal(false);
  useEffect(() => {
    if (!mine) return;
    call("receipt.get", { roomId, seq: mine.seq }).then((r) => (info.value = r), () => undefined);
  }, [mine?.seq, receiptsVersion.value]);
  if (!mine || !info.value) return null;
  return (
    <div class="seen" data-seen-seq={mine.seq}>
      <button type="button" class="link" aria-expanded={open.value} onClick={() => (open.value = !open.value)}>
        {t("conv.seen", { n: info.value.readBy, m: info.value.of })}
      </button>
      {open.value && info.value.readers ? (
        <ul aria-label={t("conv.seenBy")}>
          {info.value.readers.map((r) => <li key={r.userId}>{nameOf(r.userId)}</li>)}
        </ul>
      ) : null}
    </div>
  );
}

/** The ordered replies under an announcement, and a composer for one more. */
function Thread({ roomId, root, room, onClose }: { roomId: string; root: number; room: RoomSummary | null; onClose: () => void }) {
  const data = useSignal<{ root: MessageView; replies: MessageView[] } | null>(null);
  const version = useComputed(() => changed.value[`${roomId}/${root}`]);
  useEffect(() => {
    call("message.thread", { roomId, root, limit: 200 }).then((r) => (data.value = r), (err) => (toast.value = errorWords(err)));
  }, [root, version.value]);
  const isAdmin = room?.myRole === "owner" || room?.myRole === "admin";
  const mine = pending.value.filter((p) => p.params.roomId === roomId && p.params.threadRoot === root);
  return (
    <aside class="thread" aria-label={t("conv.thread")}>
      <header>
        <h3>{t("conv.thread")}</h3>
        <button type="button" onClick={onClose}>{t("conv.closeThread")}</button>
      </header>
      {data.value ? (
        <div class="messages" role="log" aria-label={t("conv.thread")}>
        <ol>
          <Message m={data.value.root} room={room} all={[]} onReply={() => undefined} onThread={() => undefined} isAdmin={isAdmin} announcements inThread />
          {data.value.replies.map((m) => (
            <Message key={m.seq} m={m} room={room} all={data.value!.replies} onReply={() => undefined} onThread={() => undefined} isAdmin={isAdmin} announcements inThread />
          ))}
          {mine.map((p) => (
            <li key={p.txnId} class="message mine pending" data-pending={p.txnId}>
              <p class="body">{p.params.body as string}</p>
            </li>
          ))}
        </ol>
        </div>
      ) : null}
      {room?.settings.announcementReplies || isAdmin ? <Composer roomId={roomId} threadRoot={root} /> : null}
    </aside>
  );
}

/**
 * The composer: Enter sends (Shift+Enter for a new line) except while an input method is
 * composing; the draft is saved as it is typed; files can be picked or dropped.
 */
function Composer({ roomId, threadRoot, replyTo, onCancelReply }: { roomId: string; threadRoot?: number; replyTo?: MessageView | null; onCancelReply?: () => void }) {
  const draftKey = threadRoot !== undefined ? `${roomId}/${threadRoot}` : roomId;
  const text = useSignal(draftOf(draftKey));
  const progress = useSignal<{ name: string; fraction: number } | null>(null);
  const extra = useSignal<"poll" | "event" | null>(null);
  const typingSent = useRef(0);
  const fileRef = useRef<HTMLInputElement>(null);

  function submit() {
    const body = text.value.trim();
    if (!body) return;
    send({ roomId, body, ...(threadRoot !== undefined ? { threadRoot } : {}), ...(replyTo ? { replyTo: replyTo.seq } : {}) });
    text.value = "";
    saveDraft(draftKey, "");
    onCancelReply?.();
    typingSent.current = 0;
    call("typing.set", { roomId, typing: false }).catch(() => undefined);
  }

  function onInput(e: Event) {
    text.value = (e.currentTarget as HTMLTextAreaElement).value;
    saveDraft(draftKey, text.value);
    const now = Date.now();
    if (text.value && now - typingSent.current > 3000) {
      typingSent.current = now;
      call("typing.set", { roomId, typing: true }).catch(() => undefined);
    }
  }

  function onKeyDown(e: KeyboardEvent) {
    if (e.key !== "Enter" || e.shiftKey) return;
    // An input method (Chinese, Japanese...) uses Enter to pick its candidate: never send then.
    if (e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  }

  async function sendFiles(files: FileList | File[]) {
    for (const file of Array.from(files)) {
      progress.value = { name: file.name, fraction: 0 };
      try {
        const info = await upload(file, file.name, (fraction) => (progress.value = { name: file.name, fraction }));
        send({ roomId, file: { mediaId: info.mediaId, name: file.name }, ...(threadRoot !== undefined ? { threadRoot } : {}) });
      } catch (err) {
        toast.value = errorWords(err);
      } finally {
        progress.value = null;
      }
    }
  }

  const id = `compose-${threadRoot ?? "main"}`;
  return (
    <div
      class="composer"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        if (e.dataTransfer?.files.length) void sendFiles(e.dataTransfer.files);
      }}
    >
      {replyTo ? (
        <p class="replying">
          {t("conv.replyTo", { name: nameOf(replyTo.sender) })}: <q>{replyTo.body}</q>{" "}
          <button type="button" onClick={onCancelReply}>{t("conv.cancel")}</button>
        </p>
      ) : null}
      {progress.value ? (
        <label class="progress">
          {t("conv.uploading", { name: progress.value.name })}
          <progress max={1} value={progress.value.fraction} />
        </label>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label for={id} class="sr">{t("conv.compose")}</label>
        <MentionTextarea id={id} roomId={roomId} rows={2} value={text.value} onInput={onInput} onKeyDown={onKeyDown} placeholder={t("conv.compose")} onPick={(v) => ((text.value = v), saveDraft(draftKey, v))} />
        <button type="submit">{t("conv.send")}</button>
      </form>
      <div class="tools">
        <label class="button">
          {t("conv.attach")}
          <input ref={fileRef} type="file" class="sr" multiple onChange={(e) => void sendFiles((e.currentTarget as HTMLInputElement).files ?? [])} />
        </label>
        {threadRoot === undefined ? (
          <>
            <button type="button" aria-expanded={extra.value === "poll"} onClick={() => (extra.value = extra.value === "poll" ? null : "poll")}>{t("poll.new")}</button>
            <button type="button" aria-expanded={extra.value === "event"} onClick={() => (extra.value = extra.value === "event" ? null : "event")}>{t("event.new")}</button>
          </>
        ) : null}
      </div>
      {extra.value === "poll" ? <PollForm roomId={roomId} onDone={() => (extra.value = null)} /> : null}
      {extra.value === "event" ? <EventForm roomId={roomId} onDone={() => (extra.value = null)} /> : null}
    </div>
  );
}
