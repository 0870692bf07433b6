/* Generated from protocol/ by scripts/generate.ts (npm run generate). Do not edit. */

/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomId".
 */
export type RoomId = string;
/**
 * A user's id: '@', the username, ':', and the name of the user's home server (a DNS name, optionally with ':port', or a bracketed IPv6 address in its canonical form, e.g. '@alice:[2001:db8::1]:8443').
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "UserId".
 */
export type UserId = string;
/**
 * Milliseconds since the Unix epoch.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Timestamp".
 */
export type Timestamp = number;
/**
 * A device's id, unique on its server. Each login creates one device.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "DeviceId".
 */
export type DeviceId = string;
/**
 * A media id used as a picture or avatar, or null for none.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Picture".
 */
export type Picture = MediaId | null;
/**
 * A file's id: the SHA-256 of its bytes, in hex. Upload with POST /api/v1/media.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "MediaId".
 */
export type MediaId = string;
/**
 * A member's role in a room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Role".
 */
export type Role = "owner" | "admin" | "member";
/**
 * A message's (or event's) sequence number in its room: gapless, assigned by the room's home server. Messages are addressed by roomId + seq.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Seq".
 */
export type Seq = number;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId1 = string;
/**
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "DisplayName".
 */
export type DisplayName = string;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId2 = string;
/**
 * A message's (or event's) sequence number in its room: gapless, assigned by the room's home server. Messages are addressed by roomId + seq.
 */
export type Seq1 = number;
/**
 * Milliseconds since the Unix epoch.
 */
export type Timestamp1 = number;
/**
 * Milliseconds since the Unix epoch.
 */
export type Timestamp2 = number;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId3 = string;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId4 = string;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId5 = string;
/**
 * A room's id: '!', a random part, ':', and the room's home server. Every community and every group is a room.
 */
export type RoomId6 = string;
/**
 * The answer to one request: `ok: true` with a `result`, or `ok: false` with an `error`. A frame the server could not read at all is answered with `id: null`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Reply".
 */
export type Reply =
  | {
      id: string | number;
      ok: true;
      result: {};
    }
  | {
      id: string | number | null;
      ok: false;
      error: ErrorBody;
    };

/**
 * Every op, push and HTTP endpoint of the Parley protocol. Generated from protocol/ by scripts/generate.ts: do not edit.
 */
export interface Protocol {
  ops: {
    "audit.list": {
      params: {
        roomId: RoomId;
        before?: number;
        limit?: number;
      };
      result: {
        scopeId: RoomId;
        entries: {
          id: number;
          roomId: RoomId;
          actor: UserId;
          action: string;
          target: string | null;
          details: {};
          at: Timestamp;
        }[];
        more: boolean;
        /**
         * Present (true) when the room is hosted on another server, its copy here began from a join snapshot, and its home could not be asked now: the page has the entries this server holds (from the snapshot on); ask again later.
         */
        incomplete?: true;
      };
    };
    auth: {
      params: {
        token: string;
      };
      result: {
        userId: UserId;
        deviceId: DeviceId;
        sessionId: string;
        expiresAt: Timestamp;
      };
    };
    "community.create": {
      params: {
        name: string;
        description?: string;
        picture?: Picture;
        rules?: string;
      };
      result: RoomSummary;
    };
    "community.deactivate": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
        unlinkedGroups: RoomId[];
      };
    };
    "community.groups": {
      params: {
        roomId: RoomId;
      };
      result: {
        communityId: RoomId;
        groups: {
          roomId: RoomId;
          name: string;
          description: string;
          picture: string | null;
          memberCount: number;
          joined: boolean;
          joinApproval: boolean;
          requested: boolean;
        }[];
      };
    };
    "community.link": {
      params: {
        roomId: RoomId;
        groupId: RoomId;
      };
      result: RoomSummary;
    };
    "community.servers.set": {
      params: {
        roomId: RoomId;
        /**
         * When present, only servers matching one of these entries are accepted.
         *
         * @maxItems 100
         *
         * Items: A server name (a bracketed IPv6 address included), or a pattern of them with `*` (any run of characters) and `?` (one character).
         */
        allow?: string[];
        /**
         * Servers refused; a match here wins over `allow`.
         *
         * @maxItems 100
         *
         * Items: A server name (a bracketed IPv6 address included), or a pattern of them with `*` (any run of characters) and `?` (one character).
         */
        deny: string[];
        /**
         * false: every server named by an IP literal (an IPv4 address, or a bracketed IPv6 one, with or without a port) is refused, whatever the lists say (Matrix's `allow_ip_literals`). Absent or true: such servers are judged by the lists like any name. Default true.
         */
        allowIpLiterals?: boolean;
      };
      result: {
        roomId: RoomId;
        /**
         * The allow list now in force, or null: every server.
         */
        allow: string[] | null;
        deny: string[];
        /**
         * Whether servers named by an IP literal are judged by the lists (true) or all refused (false).
         */
        allowIpLiterals: boolean;
        /**
         * The members this change removed (from the community or any of its groups).
         */
        removed: UserId[];
      };
    };
    "community.unlink": {
      params: {
        roomId: RoomId;
        groupId: RoomId;
      };
      result: RoomSummary;
    };
    "device.list": {
      params: {};
      result: {
        devices: Device[];
      };
    };
    "device.revoke": {
      params: {
        deviceId: DeviceId;
      };
      result: {
        revoked: DeviceId;
      };
    };
    "direct.open": {
      params: {
        userId: UserId;
        /**
         * Reply privately to this message (in a room you may read).
         */
        replyTo?: {
          roomId: RoomId;
          seq: Seq;
        };
        /**
         * With replyTo: the first message's text.
         */
        body?: string;
        txnId?: string;
      };
      result: {
        roomId: RoomId;
        peer: Person;
        created: boolean;
        event?: RoomEvent;
        duplicate?: boolean;
      };
    };
    "event.cancel": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        event: RoomEvent;
      };
    };
    "event.create": {
      params: {
        roomId: RoomId;
        txnId: string;
        title: string;
        description?: string;
        start: Timestamp;
        end?: number | null;
        /**
         * IANA time zone name, e.g. Europe/London.
         */
        timeZone: string;
        place?: string | null;
        link?: string | null;
        /**
         * Reminder offsets in seconds before the start; default [3600].
         *
         * @maxItems 5
         */
        reminders?:
          | []
          | [number]
          | [number, number]
          | [number, number, number]
          | [number, number, number, number]
          | [number, number, number, number, number];
      };
      result: {
        event: RoomEvent;
        duplicate: boolean;
      };
    };
    "event.get": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        title: string;
        description: string;
        start: Timestamp;
        end: number | null;
        timeZone: string;
        place: string | null;
        link: string | null;
        reminders: number[];
        createdBy: UserId;
        status: "upcoming" | "ongoing" | "ended" | "cancelled";
        counts: {
          going: number;
          maybe: number;
          notGoing: number;
        };
        /**
         * Who answered what; null for members of an announcement group (only admins see names there).
         */
        answers:
          | {
              userId: UserId;
              answer: "going" | "maybe" | "not_going";
            }[]
          | null;
        myAnswer: "going" | "maybe" | "not_going" | null;
      };
    };
    "event.rsvp": {
      params: {
        roomId: RoomId;
        seq: Seq;
        answer: "going" | "maybe" | "not_going" | null;
      };
      result: {
        event: RoomEvent;
      };
    };
    "event.update": {
      params: {
        roomId: RoomId;
        seq: Seq;
        title?: string;
        description?: string;
        start?: Timestamp;
        end?: number | null;
        /**
         * IANA time zone name, e.g. Europe/London.
         */
        timeZone?: string;
        place?: string | null;
        link?: string | null;
        /**
         * Reminder offsets in seconds before the start; default [3600].
         *
         * @maxItems 5
         */
        reminders?:
          | []
          | [number]
          | [number, number]
          | [number, number, number]
          | [number, number, number, number]
          | [number, number, number, number, number];
      };
      result: {
        event: RoomEvent;
      };
    };
    "group.create": {
      params: {
        name: string;
        description?: string;
        picture?: Picture;
        communityId?: RoomId;
        settings?: {
          /**
           * Who may post. Always `admins` in a community's announcement group.
           */
          sendPolicy?: "all" | "admins";
          /**
           * Who may change name, description, picture and rules (communities: admins).
           */
          editInfoPolicy?: "all" | "admins";
          /**
           * Who may invite members directly.
           */
          addMembersPolicy?: "all" | "admins";
          /**
           * When on, joining by link or from the community's group list creates a join request for admins to approve.
           */
          joinApproval?: boolean;
        };
      };
      result: RoomSummary;
    };
    "group.join": {
      params: {
        roomId: RoomId;
      };
      result: {
        status: "joined" | "requested";
        room: RoomSummary;
      };
    };
    "invite.accept": {
      params: {
        roomId: RoomId;
      };
      result: RoomSummary;
    };
    "invite.decline": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
      };
    };
    "join.approve": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
      };
    };
    "join.cancel": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
      };
    };
    "join.reject": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
      };
    };
    "join.requests": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
        requests: {
          userId: UserId;
          at: Timestamp;
        }[];
      };
    };
    "link.create": {
      params: {
        roomId: RoomId;
        expiresInSeconds?: number;
        maxUses?: number;
      };
      result: InviteLink;
    };
    "link.join": {
      params: {
        token: string;
        /**
         * The server that made the link, when it is not this one (the server name in the link's discovery document).
         */
        server?: string;
      };
      result: {
        status: "joined" | "requested";
        roomId: RoomId;
        room: RoomSummary;
      };
    };
    "link.list": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
        links: InviteLink[];
      };
    };
    "link.preview": {
      params: {
        token: string;
      };
      result: {
        roomId: RoomId;
        kind: "community" | "group";
        name: string;
        description: string;
        picture: string | null;
        memberCount: number;
        joinApproval: boolean;
        url: string;
      };
    };
    "link.reset": {
      params: {
        roomId: RoomId;
        linkId: string;
      };
      result: InviteLink;
    };
    "link.revoke": {
      params: {
        roomId: RoomId;
        linkId: string;
      };
      result: {
        linkId: string;
      };
    };
    "member.ban": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
        removedFromGroups: RoomId[];
      };
    };
    "member.invite": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
      };
    };
    "member.remove": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
        removedFromGroups: RoomId[];
      };
    };
    "member.role": {
      params: {
        roomId: RoomId;
        userId: UserId;
        role: Role;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
        role: Role;
      };
    };
    "member.unban": {
      params: {
        roomId: RoomId;
        userId: UserId;
      };
      result: {
        roomId: RoomId;
        userId: UserId;
      };
    };
    "message.delete": {
      params: {
        roomId: RoomId;
        seq: Seq;
        forEveryone: boolean;
      };
      result: {
        event?: RoomEvent;
        hidden?: {
          roomId: RoomId;
          seq: Seq;
        };
      };
    };
    "message.edit": {
      params: {
        roomId: RoomId;
        seq: Seq;
        /**
         * The text; at most `limits.messageChars` characters (discovery document).
         */
        body: string;
      };
      result: {
        event: RoomEvent;
      };
    };
    "message.forward": {
      params: {
        from: {
          roomId: RoomId;
          seq: Seq;
        };
        to: RoomId;
        txnId: string;
      };
      result: {
        event: RoomEvent;
        duplicate: boolean;
      };
    };
    "message.get": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        message: MessageView;
      };
    };
    "message.history": {
      params: {
        roomId: RoomId;
        before?: number;
        after?: number;
        limit?: number;
      };
      result: {
        messages: MessageView[];
        more: boolean;
        /**
         * Present (true) when older messages of a room hosted on another server could not be fetched from its home now: the page has what this server holds; ask again later.
         */
        incomplete?: true;
      };
    };
    "message.pin": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        event: RoomEvent;
      };
    };
    "message.react": {
      params: {
        roomId: RoomId;
        seq: Seq;
        emoji: string | null;
      };
      result: {
        event: RoomEvent;
      };
    };
    "message.reactions": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        reactions: {
          userId: UserId;
          emoji: string;
        }[];
      };
    };
    "message.save": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        saved: boolean;
      };
    };
    "message.saved": {
      params: {
        /**
         * The `next` of the previous page.
         */
        before?: number;
        limit?: number;
      };
      result: {
        saved: {
          savedAt: Timestamp;
          message: MessageView;
        }[];
        next: number | null;
      };
    };
    "message.search": {
      params: {
        query: string;
        roomId?: RoomId;
        sender?: UserId;
        /**
         * The `next` of the previous page.
         */
        before?: number;
        limit?: number;
      };
      result: {
        results: {
          roomId: RoomId;
          seq: Seq;
          sender: UserId;
          ts: Timestamp;
          kind: "text" | "file" | "poll" | "event";
          snippet: string;
          highlights: [number, number][];
        }[];
        /**
         * Present (true) when `roomId` is a room hosted on another server, part of whose history you may read is not held by your server, and its home could not be asked now: the results are of what your server holds; search again later.
         */
        incomplete?: true;
        next: number | null;
      };
    };
    "message.send": {
      params: {
        [k: string]: unknown | undefined;
      } & {
        roomId: RoomId;
        /**
         * The text; at most `limits.messageChars` characters (discovery document).
         */
        body?: string;
        txnId: string;
        replyTo?: Seq;
        threadRoot?: Seq;
        /**
         * A file uploaded first with POST /api/v1/media; `body` is then an optional caption.
         */
        file?: {
          mediaId: MediaId;
          name: string;
        };
        /**
         * User ids the text mentions (members of the room); others are dropped.
         *
         * @maxItems 50
         */
        mentions?: UserId[];
        /**
         * Mention everyone (@all): admins only.
         */
        mentionAll?: boolean;
      };
      result: {
        event: RoomEvent;
        duplicate: boolean;
      };
    };
    "message.thread": {
      params: {
        roomId: RoomId;
        root: Seq;
        after?: number;
        limit?: number;
      };
      result: {
        root: MessageView;
        replies: MessageView[];
        more: boolean;
      };
    };
    "message.unpin": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        event: RoomEvent;
      };
    };
    "message.unsave": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        saved: boolean;
      };
    };
    ping: {
      params: {};
      result: {
        time: Timestamp;
      };
    };
    "poll.close": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        question: string;
        options: string[];
        multiple: boolean;
        anonymous: boolean;
        createdBy: UserId;
        closed: boolean;
        counts: number[];
        voters: number;
        /**
         * Who chose what; always null for anonymous polls.
         */
        votes:
          | {
              userId: UserId;
              options: number[];
            }[]
          | null;
        myVote: number[];
      };
    };
    "poll.create": {
      params: {
        roomId: RoomId;
        txnId: string;
        question: string;
        /**
         * @minItems 2
         * @maxItems 12
         */
        options:
          | [string, string]
          | [string, string, string]
          | [string, string, string, string]
          | [string, string, string, string, string]
          | [string, string, string, string, string, string]
          | [string, string, string, string, string, string, string]
          | [string, string, string, string, string, string, string, string]
          | [string, string, string, string, string, string, string, string, string]
          | [string, string, string, string, string, string, string, string, string, string]
          | [string, string, string, string, string, string, string, string, string, string, string]
          | [string, string, string, string, string, string, string, string, string, string, string, string];
        multiple?: boolean;
        anonymous?: boolean;
        threadRoot?: Seq;
      };
      result: {
        event: RoomEvent;
        duplicate: boolean;
      };
    };
    "poll.get": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        question: string;
        options: string[];
        multiple: boolean;
        anonymous: boolean;
        createdBy: UserId;
        closed: boolean;
        counts: number[];
        voters: number;
        /**
         * Who chose what, one entry per voter in the order of their latest vote (a changed vote moves its voter to the end); always null for anonymous polls.
         */
        votes:
          | {
              userId: UserId;
              options: number[];
            }[]
          | null;
        myVote: number[];
      };
    };
    "poll.vote": {
      params: {
        roomId: RoomId;
        seq: Seq;
        /**
         * @maxItems 12
         */
        options:
          | []
          | [number]
          | [number, number]
          | [number, number, number]
          | [number, number, number, number]
          | [number, number, number, number, number]
          | [number, number, number, number, number, number]
          | [number, number, number, number, number, number, number]
          | [number, number, number, number, number, number, number, number]
          | [number, number, number, number, number, number, number, number, number]
          | [number, number, number, number, number, number, number, number, number, number]
          | [number, number, number, number, number, number, number, number, number, number, number]
          | [number, number, number, number, number, number, number, number, number, number, number, number];
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        question: string;
        options: string[];
        multiple: boolean;
        anonymous: boolean;
        createdBy: UserId;
        closed: boolean;
        counts: number[];
        voters: number;
        /**
         * Who chose what; always null for anonymous polls.
         */
        votes:
          | {
              userId: UserId;
              options: number[];
            }[]
          | null;
        myVote: number[];
      };
    };
    "profile.get": {
      params: {
        userId?: UserId;
      };
      result: Profile;
    };
    "profile.update": {
      params: {
        displayName?: DisplayName;
        about?: string;
        avatar?: Picture;
      };
      result: Profile;
    };
    "push.subscribe": {
      params: {
        /**
         * A browser's PushSubscription, as its toJSON() gives it.
         */
        subscription: {
          endpoint: string;
          expirationTime?: number | null;
          keys: {
            p256dh: string;
            auth: string;
          };
        };
      };
      result: {
        endpoint: string;
      };
    };
    "push.unsubscribe": {
      params: {
        endpoint: string;
      };
      result: {
        endpoint: string;
        removed: boolean;
      };
    };
    "push.vapid_key": {
      params: {};
      result: {
        publicKey: string;
      };
    };
    "receipt.delivered": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: number;
      };
    };
    "receipt.get": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: Seq;
        readBy: number;
        of: number;
        readers:
          | {
              userId: UserId;
              at: Timestamp;
            }[]
          | null;
        /**
         * How many of the other members' devices received it (delivery or read receipt).
         */
        deliveredTo: number;
      };
    };
    "receipt.read": {
      params: {
        roomId: RoomId;
        seq: Seq;
      };
      result: {
        roomId: RoomId;
        seq: number;
      };
    };
    "report.create": {
      params: {
        [k: string]: unknown | undefined;
      } & {
        roomId: RoomId;
        seq?: Seq;
        userId?: UserId;
        reason: string;
      };
      result: {
        report: {
          reportId: number;
          roomId: RoomId;
          seq: Seq | null;
          userId: UserId;
          reason: string;
          status: "open" | "resolved";
          outcome: ("dismiss" | "delete" | "remove" | "ban") | null;
          createdAt: Timestamp;
          resolvedAt: Timestamp | null;
        };
        duplicate: boolean;
      };
    };
    "report.list": {
      params: {
        roomId: RoomId;
        status?: "open" | "resolved";
        /**
         * A reportId: older reports than it.
         */
        before?: number;
        limit?: number;
      };
      result: {
        scopeId: RoomId;
        reports: {
          reportId: number;
          scopeId: RoomId;
          roomId: RoomId;
          roomName: string;
          seq: Seq | null;
          userId: UserId;
          reporter: UserId;
          reason: string;
          status: "open" | "resolved";
          action: ("dismiss" | "delete" | "remove" | "ban") | null;
          resolvedBy: UserId | null;
          resolvedAt: Timestamp | null;
          createdAt: Timestamp;
          /**
           * The reported message as it was when reported (kept even if it is deleted later).
           */
          message: {
            seq: Seq;
            sender: UserId;
            kind: string;
            body: string | null;
            file: {} | null;
            ts: Timestamp;
            edited: boolean;
          } | null;
          /**
           * The reported message and up to two messages on each side of it, as they are now.
           */
          context: {
            seq: Seq;
            sender: UserId;
            kind: string;
            body: string | null;
            file: {} | null;
            ts: Timestamp;
            deleted: boolean;
          }[];
        }[];
        more: boolean;
      };
    };
    "report.mine": {
      params: {
        before?: number;
        limit?: number;
      };
      result: {
        reports: {
          reportId: number;
          roomId: RoomId;
          seq: Seq | null;
          userId: UserId;
          reason: string;
          status: "open" | "resolved";
          outcome: ("dismiss" | "delete" | "remove" | "ban") | null;
          createdAt: Timestamp;
          resolvedAt: Timestamp | null;
        }[];
        more: boolean;
      };
    };
    "report.resolve": {
      params: {
        reportId: number;
        action: "dismiss" | "delete" | "remove" | "ban";
      };
      result: {
        report: {
          reportId: number;
          scopeId: RoomId;
          roomId: RoomId;
          roomName: string;
          seq: Seq | null;
          userId: UserId;
          reporter: UserId;
          reason: string;
          status: "open" | "resolved";
          action: ("dismiss" | "delete" | "remove" | "ban") | null;
          resolvedBy: UserId | null;
          resolvedAt: Timestamp | null;
          createdAt: Timestamp;
          /**
           * The reported message as it was when reported (kept even if it is deleted later).
           */
          message: {
            seq: Seq;
            sender: UserId;
            kind: string;
            body: string | null;
            file: {} | null;
            ts: Timestamp;
            edited: boolean;
          } | null;
          /**
           * The reported message and up to two messages on each side of it, as they are now.
           */
          context: {
            seq: Seq;
            sender: UserId;
            kind: string;
            body: string | null;
            file: {} | null;
            ts: Timestamp;
            deleted: boolean;
          }[];
        };
      };
    };
    "room.archive": {
      params: {
        roomId: RoomId;
        archived: boolean;
      };
      result: {
        roomId: RoomId;
        archived: boolean;
      };
    };
    "room.get": {
      params: {
        roomId: RoomId;
      };
      result: RoomSummary;
    };
    "room.leave": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
        leftGroups: RoomId[];
      };
    };
    "room.list": {
      params: {};
      result: {
        rooms: {
          roomId: RoomId;
          kind: "community" | "group" | "direct";
          name: string;
          picture: string | null;
          communityId: RoomId | null;
          role: Role;
          readSeq: number;
          unread: number;
          lastMessage: {
            seq: Seq;
            sender: UserId;
            body: string | null;
            ts: Timestamp;
            deleted: boolean;
          } | null;
          /**
           * Unread messages that mention you (or everyone).
           */
          mentions: number;
          notify: NotifySettings;
          pinned: boolean;
          archived: boolean;
          peer?: Person1;
          replacedBy?: RoomId2;
        }[];
      };
    };
    "room.members": {
      params: {
        roomId: RoomId;
      };
      result: {
        roomId: RoomId;
        count: number;
        members:
          | {
              userId: UserId;
              role: Role;
            }[]
          | null;
        admins: UserId[];
      };
    };
    "room.notify.set": {
      params: {
        roomId: RoomId;
        level: "all" | "mentions" | "none";
        mutedUntil?: Timestamp | null;
      };
      result: {
        roomId: RoomId;
        notify: NotifySettings;
      };
    };
    "room.pin": {
      params: {
        roomId: RoomId;
        pinned: boolean;
      };
      result: {
        roomId: RoomId;
        pinned: boolean;
      };
    };
    "room.settings.update": {
      params: {
        roomId: RoomId;
        /**
         * Who may post. Always `admins` in a community's announcement group.
         */
        sendPolicy?: "all" | "admins";
        /**
         * Who may change name, description, picture and rules (communities: admins).
         */
        editInfoPolicy?: "all" | "admins";
        /**
         * Who may invite members directly.
         */
        addMembersPolicy?: "all" | "admins";
        /**
         * When on, joining by link or from the community's group list creates a join request for admins to approve.
         */
        joinApproval?: boolean;
        /**
         * Communities only: whether members may reply under announcements.
         */
        announcementReplies?: boolean;
      };
      result: RoomSummary;
    };
    "room.update": {
      params: {
        roomId: RoomId;
        name?: string;
        description?: string;
        picture?: Picture;
        rules?: string;
      };
      result: RoomSummary;
    };
    "session.info": {
      params: {};
      result: {
        userId: UserId;
        deviceId: DeviceId;
        sessionId: string;
        server: string;
        expiresAt: Timestamp;
        /**
         * True for a server administrator.
         */
        isAdmin: boolean;
      };
    };
    sync: {
      params: {
        since?: number;
        limit?: number;
      };
      result: {
        events: RoomEvent[];
        pos: number;
        more: boolean;
      };
    };
    "typing.set": {
      params: {
        roomId: RoomId;
        typing: boolean;
      };
      result: {
        roomId: RoomId;
      };
    };
    "user.block": {
      params: {
        userId: UserId;
      };
      result: {
        userId: UserId;
        blocked: true;
      };
    };
    "user.blocks": {
      params: {
        after?: UserId;
        limit?: number;
      };
      result: {
        blocks: {
          userId: UserId;
          at: Timestamp;
        }[];
        next: UserId | null;
      };
    };
    "user.common_groups": {
      params: {
        userId: UserId;
      };
      result: {
        userId: UserId;
        groups: {
          roomId: RoomId;
          kind: "group";
          name: string;
          communityId: RoomId | null;
        }[];
      };
    };
    "user.search": {
      params: {
        query: string;
        after?: UserId;
        limit?: number;
      };
      result: {
        users: {
          userId: UserId;
          displayName: string;
          avatar: string | null;
          commonGroups: {
            roomId: RoomId;
            kind: "group";
            name: string;
            communityId: RoomId | null;
          }[];
        }[];
        next: UserId | null;
      };
    };
    "user.unblock": {
      params: {
        userId: UserId;
      };
      result: {
        userId: UserId;
        blocked: false;
      };
    };
  };
  pushes: {
    "event.reminder": {
      roomId: RoomId;
      seq: Seq;
      title: string;
      start: Timestamp;
      offsetSeconds: number;
    };
    "message.outcome": {
      pendingId: number;
      /**
       * The op that was kept (`message.send`, `message.edit`, `message.delete`, `message.react`, `poll.create`, `poll.vote`, `event.create`, `event.rsvp`). Absent only in outcomes of servers before this field, where it is `message.send`.
       */
      op?: string;
      roomId: RoomId;
      txnId?: string;
      seq?: Seq1;
      status: "accepted" | "refused";
      event?: RoomEvent | null;
      error?: ErrorBody;
    };
    "profile.updated": Profile;
    "report.created": {
      reportId: number;
      scopeId: RoomId;
      roomId: RoomId;
    };
    "report.resolved": {
      reportId: number;
      outcome: "dismiss" | "delete" | "remove" | "ban";
      roomId: RoomId;
      seq?: Seq;
    };
    "room.event": RoomEvent;
    "room.receipt": {
      roomId: RoomId;
      userId: UserId;
      seq: number;
      type: "read" | "delivered";
    };
    "room.typing": {
      roomId: RoomId;
      userId: UserId;
      typing: boolean;
    };
    "session.revoked": {
      reason: "revoked" | "logout" | "password_changed" | "refresh_token_reused" | "account_disabled";
    };
  };
  http: {
    "admin.audit.list": {
      request?: {
        before?: number;
        limit?: number;
      };
      response: {
        entries: {
          id: number;
          /**
           * The admin's user id, or `cli:<os user>` for the operator at the command line.
           */
          actor: string;
          action: string;
          target: string | null;
          details: {};
          at: Timestamp;
        }[];
        more: boolean;
      };
    };
    "admin.communities.list": {
      request?: {
        query?: string;
        limit?: number;
        offset?: number;
      };
      response: {
        communities: {
          roomId: RoomId;
          name: string;
          createdBy: UserId;
          createdAt: Timestamp;
          deactivated: boolean;
          members: number;
          groups: number;
          eventBytes: number;
          mediaBytes: number;
        }[];
        more: boolean;
      };
    };
    "admin.community.deactivate": {
      request?: {
        roomId: RoomId;
      };
      response: {
        roomId: RoomId;
        unlinkedGroups: RoomId[];
      };
    };
    "admin.federation.rotate_key": {
      request?: {};
      response: {
        /**
         * The key id retired.
         */
        retired: string | null;
        /**
         * The new key id.
         */
        current: string;
        /**
         * The server's signing keys: the one it signs with, and the retired ones (still published so that what they signed verifies).
         */
        key: {
          current: {
            keyId: string;
            validFrom: Timestamp;
          } | null;
          retired: {
            keyId: string;
            validFrom: Timestamp;
            validUntil: Timestamp;
          }[];
        };
      };
    };
    "admin.federation.servers.list": {
      request?: {};
      response: {
        /**
         * `federation.allow` and `federation.deny` of the config file: read-only here (edit the file and restart).
         */
        config: {
          allow: string[];
          deny: string[];
        };
        /**
         * The lists kept in the database (`parley federation allow|deny|unlist`, `admin.federation.servers.set`), effective at once.
         */
        database: {
          server: string;
          list: "allow" | "deny";
        }[];
      };
    };
    "admin.federation.servers.set": {
      request?: {
        /**
         * A server name as in user ids: host name or bracketed IPv6 address (canonical form), optionally `:port`.
         */
        server: string;
        /**
         * The list to put the server on; null takes it off the database's lists.
         */
        list: "allow" | "deny" | null;
      };
      response: {
        /**
         * `federation.allow` and `federation.deny` of the config file: read-only here (edit the file and restart).
         */
        config: {
          allow: string[];
          deny: string[];
        };
        /**
         * The lists kept in the database (`parley federation allow|deny|unlist`, `admin.federation.servers.set`), effective at once.
         */
        database: {
          server: string;
          list: "allow" | "deny";
        }[];
      };
    };
    "admin.federation.status": {
      request?: {};
      response: {
        /**
         * `federation.enabled` of the config.
         */
        enabled: boolean;
        peers: {
          server: string;
          rooms: number;
          backlog: number;
          failures: number;
          lastSuccessAt: Timestamp | null;
          nextAttemptAt: Timestamp1 | null;
          /**
           * Failing for 72 hours or more: tried hourly.
           */
          dormant: boolean;
          lastError: string | null;
        }[];
        /**
         * Ops of this server's users kept while their room's home server cannot be reached (docs/federation.md, "Pending ops"), per home server, oldest first. Empty: nothing waits.
         */
        kept: {
          /**
           * The home server the ops wait for.
           */
          server: string;
          /**
           * How many ops are kept for it.
           */
          ops: number;
          oldestAt: Timestamp2;
        }[];
        /**
         * The server's signing keys: the one it signs with, and the retired ones (still published so that what they signed verifies).
         */
        key: {
          current: {
            keyId: string;
            validFrom: Timestamp;
          } | null;
          retired: {
            keyId: string;
            validFrom: Timestamp;
            validUntil: Timestamp;
          }[];
        };
      };
    };
    "admin.registration_tokens.create": {
      request?: {
        uses?: number;
        expiresInDays?: number;
      };
      response: {
        token: string;
        id: string;
        usesLeft: number;
        expiresAt: Timestamp | null;
      };
    };
    "admin.registration_tokens.list": {
      request?: {};
      response: {
        tokens: {
          id: string;
          usesLeft: number;
          expiresAt: Timestamp | null;
          createdAt: Timestamp;
          /**
           * Uses left and not expired.
           */
          usable: boolean;
        }[];
      };
    };
    "admin.registration_tokens.revoke": {
      request?: {
        id: string;
      };
      response: {
        id: string;
        revoked: true;
      };
    };
    "admin.user.admin": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
        admin: boolean;
      };
      response: {
        userId: UserId;
        isAdmin: boolean;
      };
    };
    "admin.user.disable": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
      };
      response: {
        userId: UserId;
        revokedDevices: number;
      };
    };
    "admin.user.enable": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
      };
      response: {
        userId: UserId;
      };
    };
    "admin.user.password": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
        password: string;
      };
      response: {
        userId: UserId;
        revokedDevices: number;
      };
    };
    "admin.user.purge": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
      };
      response: {
        userId: UserId;
        /**
         * The rooms hosted on this server it was removed from (rooms hosted elsewhere are left by a proposal to their home: `leaving`).
         */
        removedFrom: RoomId[];
        /**
         * The rooms hosted on other servers it is a member of: its leave of each is kept and proposed to their homes (at once through a running server, else at its next start; retried until each home answers). Where it owns the room there, the ownership passes first to the room's first admin, else its first member.
         */
        leaving?: RoomId[];
        revokedDevices: number;
      };
    };
    "admin.user.show": {
      request?: {
        /**
         * A user id (`@bob:school.example`) or a local username (`bob`).
         */
        userId: string;
      };
      response: {
        userId: UserId;
        username: string;
        displayName: string;
        isAdmin: boolean;
        disabled: boolean;
        createdAt: Timestamp;
        devices: {
          deviceId: string;
          name: string;
          createdAt: Timestamp;
          lastSeenAt: Timestamp;
          lastAddress: string | null;
        }[];
        rooms: {
          roomId: RoomId;
          kind: "community" | "group";
          name: string;
          role: Role;
          communityId: RoomId | null;
          deactivated: boolean;
        }[];
      };
    };
    "admin.users.list": {
      request?: {
        query?: string;
        limit?: number;
        offset?: number;
      };
      response: {
        users: {
          userId: UserId;
          username: string;
          displayName: string;
          isAdmin: boolean;
          disabled: boolean;
          createdAt: Timestamp;
          /**
           * Devices with a live session.
           */
          devices: number;
          /**
           * Communities and groups the user is in.
           */
          rooms: number;
        }[];
        more: boolean;
      };
    };
    asyncapi: {
      response: {
        asyncapi: "3.0.0";
        info: {};
        channels: {};
        operations: {};
        components: {};
      };
    };
    "auth.login": {
      request?: {
        username: string;
        password: string;
        deviceName?: string;
      };
      response: Session;
    };
    "auth.logout": {
      response: {
        loggedOut: true;
      };
    };
    "auth.password": {
      request?: {
        currentPassword: string;
        newPassword: string;
      };
      response: {
        revokedDevices: number;
      };
    };
    "auth.refresh": {
      request?: {
        refreshToken: string;
      };
      response: Session;
    };
    "auth.register": {
      request?: {
        username: string;
        password: string;
        displayName?: DisplayName;
        deviceName?: string;
        registrationToken?: string;
      };
      response: Session;
    };
    discovery: {
      response: {
        server: string;
        software: {
          name: string;
          version: string;
        };
        versions: string[];
        endpoints: {
          client: string;
          websocket: string;
          keys: string;
          /**
           * Base URL of the server-to-server API (docs/federation.md); absent when federation is off.
           */
          federation?: string;
        };
        registration: "open" | "invite-only" | "closed";
        limits: {
          frameBytes: number;
          messageChars: number;
          uploadBytes: number;
          wsOpsPerSecond: number;
          wsOpsBurst: number;
          httpRequestsPerMinute: number;
          /**
           * POST /api/v1/auth/register requests per minute from one address, counted apart from httpRequestsPerMinute.
           */
          registrationsPerMinute: number;
          /**
           * The most owners and admins a community may have (rooms.admins_per_community); promoting past it is refused with room.admin_limit, so clients show the cap before it refuses.
           */
          adminsPerCommunity: number;
        };
      };
    };
    healthz: {
      response: {
        status: "ok";
      };
    };
    "invite.landing": {};
    "invite.picture": {};
    "invite.preview": {
      response: {
        roomId: RoomId;
        kind: "community" | "group";
        name: string;
        description: string;
        picture: string | null;
        memberCount: number;
        joinApproval: boolean;
        url: string;
      };
    };
    "invite.qr.png": {};
    "invite.qr.svg": {};
    keys: {
      response: {
        server: string;
        keys: {
          kty: "OKP";
          crv: "Ed25519";
          x: string;
          kid: string;
          alg?: "EdDSA";
          use?: "sig";
          validFrom: Timestamp;
          /**
           * When the key was retired; null while it is current.
           */
          validUntil: number | null;
        }[];
      };
    };
    "media.download": {};
    "media.preview": {};
    "media.upload": {
      response: MediaInfo;
    };
    metrics: {};
    openapi: {
      response: {
        openapi: "3.1.0";
        info: {};
        paths: {};
        components: {};
      };
    };
    readyz: {
      response: {
        status: "ready" | "unavailable";
      };
    };
    "web.client": {};
  };
  events: {
    "community.group.add": {
      groupId: RoomId;
      name: string;
    };
    "community.group.remove": {
      groupId: RoomId;
      reason?: "deactivated";
      /**
       * Set when a server admin (or the operator at the command line, as the server's own user) made this change; it is recorded in the server's audit log.
       */
      serverAdmin?: true;
    };
    "event.cancel": {
      target: Seq;
    };
    "event.rsvp": {
      target: Seq;
      answer: "going" | "maybe" | "not_going" | null;
    };
    "event.update": {
      target: Seq;
      title?: string;
      description?: string;
      start?: Timestamp;
      end?: number | null;
      timeZone?: string;
      place?: string | null;
      link?: string | null;
      reminders?: number[];
    };
    "group.community": {
      communityId: RoomId | null;
      reason?: "deactivated";
      /**
       * Set when a server admin (or the operator at the command line, as the server's own user) made this change; it is recorded in the server's audit log.
       */
      serverAdmin?: true;
    };
    "join.reject": {
      userId: UserId;
    };
    "join.request.cancel": {
      userId: UserId;
    };
    "join.request": {
      userId: UserId;
      via: "link" | "community";
    };
    "member.ban": {
      userId: UserId;
    };
    "member.invite.decline": {
      userId: UserId;
    };
    "member.invite": {
      userId: UserId;
    };
    "member.join": {
      userId: UserId;
      via: "create" | "link" | "invite" | "approval" | "community" | "group" | "direct";
      role?: Role;
      groupId?: RoomId;
    };
    "member.leave": {
      userId: UserId;
      cascade?: RoomId3;
    };
    "member.remove": {
      userId: UserId;
      cascade?: RoomId4;
      /**
       * Set when a server admin (or the operator at the command line, as the server's own user) made this change; it is recorded in the server's audit log.
       */
      serverAdmin?: true;
      /**
       * Set when the removal follows from the community's server access list denying the member's server.
       */
      serverAcl?: true;
    };
    "member.role": {
      userId: UserId;
      role: Role;
      cascade?: RoomId5;
      /**
       * Set when a server admin (or the operator at the command line, as the server's own user) made this change; it is recorded in the server's audit log.
       */
      serverAdmin?: true;
    };
    "member.unban": {
      userId: UserId;
    };
    "message.delete": {
      target: Seq;
      bySender: boolean;
    };
    "message.edit":
      | {
          target: Seq;
          body: string;
        }
      | {
          target: Seq;
          redacted: true;
        };
    message:
      | {
          kind: "text";
          body: string;
          replyTo?: Seq;
          threadRoot?: Seq;
          /**
           * The members this message mentions.
           */
          mentions?: UserId[];
          /**
           * An admin mentioned everyone (@all).
           */
          mentionAll?: true;
          /**
           * The message was forwarded from another room.
           */
          forwarded?: true;
          quote?: Quote;
        }
      | {
          kind: "file";
          file: FileRef;
          /**
           * Caption.
           */
          body?: string;
          replyTo?: Seq;
          threadRoot?: Seq;
          /**
           * The members this message mentions.
           */
          mentions?: UserId[];
          /**
           * An admin mentioned everyone (@all).
           */
          mentionAll?: true;
          /**
           * The message was forwarded from another room.
           */
          forwarded?: true;
        }
      | {
          kind: "poll";
          question: string;
          options: string[];
          multiple: boolean;
          anonymous: boolean;
          replyTo?: Seq;
          threadRoot?: Seq;
        }
      | {
          kind: "event";
          title: string;
          description?: string;
          start: Timestamp;
          end?: number | null;
          timeZone: string;
          place?: string | null;
          link?: string | null;
          reminders: number[];
          replyTo?: Seq;
          threadRoot?: Seq;
        }
      | {
          kind: "text" | "file" | "poll" | "event";
          /**
           * Deleted for everyone: the text, file or details were removed from the log.
           */
          redacted: true;
          replyTo?: Seq;
          threadRoot?: Seq;
        };
    "message.pin": {
      target: Seq;
    };
    "message.unpin": {
      target: Seq;
    };
    "poll.close": {
      poll: Seq;
      /**
       * Votes per option, in option order.
       */
      counts: number[];
      voters: number;
    };
    "poll.tally": {
      poll: Seq;
      /**
       * Votes per option, in option order.
       */
      counts: number[];
      voters: number;
    };
    "poll.vote": {
      poll: Seq;
      options: number[];
      /**
       * Votes per option, in option order.
       */
      counts: number[];
      voters: number;
    };
    reaction: {
      target: Seq;
      emoji: string | null;
    };
    "room.create": {
      kind: "community" | "group" | "direct";
      name: string;
      description: string;
      picture: string | null;
      rules: string;
      settings: RoomSettings;
    };
    "room.deactivate": {
      /**
       * Set when a server admin (or the operator at the command line, as the server's own user) made this change; it is recorded in the server's audit log.
       */
      serverAdmin?: true;
    };
    "room.profile": {
      name?: string;
      description?: string;
      picture?: string | null;
      rules?: string;
    };
    "room.server_acl": {
      /**
       * When present, only servers matching one of these entries are accepted; absent, every server is (subject to `deny`).
       *
       * @maxItems 100
       *
       * Items: A server name (a bracketed IPv6 address included), or a pattern of them with `*` (any run of characters) and `?` (one character).
       */
      allow?: string[];
      /**
       * Servers refused; a match here wins over `allow`. An empty list denies no one.
       *
       * @maxItems 100
       *
       * Items: A server name (a bracketed IPv6 address included), or a pattern of them with `*` (any run of characters) and `?` (one character).
       */
      deny: string[];
      /**
       * Written only as false: false: every server named by an IP literal (an IPv4 address, or a bracketed IPv6 one, with or without a port) is refused, whatever the lists say (Matrix's `allow_ip_literals`). Absent or true: such servers are judged by the lists like any name.
       */
      allowIpLiterals?: false;
    };
    "room.settings": {
      sendPolicy?: "all" | "admins";
      editInfoPolicy?: "all" | "admins";
      addMembersPolicy?: "all" | "admins";
      joinApproval?: boolean;
      announcementReplies?: boolean;
    };
    "room.tombstone": {
      replacement: RoomId6;
    };
  };
}
/**
 * A room as its member sees it. For a community, the room is also its announcement group.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomSummary".
 */
export interface RoomSummary {
  roomId: RoomId;
  kind: "community" | "group" | "direct";
  name: string;
  description: string;
  picture: Picture;
  rules: string;
  /**
   * For a group linked to a community, the community's id; else null.
   */
  communityId: RoomId | null;
  settings: RoomSettings;
  memberCount: number;
  /**
   * Your role, or null if you are not a member.
   */
  myRole: Role | null;
  deactivated: boolean;
  createdAt: Timestamp;
  /**
   * room.get on a community: its linked groups.
   */
  groups?: RoomId[];
  /**
   * room.get: the owner and admins.
   */
  admins?: UserId[];
  /**
   * room.get, admins only: pending join requests.
   */
  pendingRequests?: number;
  /**
   * room.get: you have a pending invitation.
   */
  invited?: boolean;
  /**
   * room.get, for members: the seqs of the room's pinned messages, oldest pin first.
   *
   * @maxItems 3
   */
  pinnedMessages?: [] | [Seq] | [Seq, Seq] | [Seq, Seq, Seq];
  /**
   * room.get on a community, for its members: its server access list (the last `room.server_acl`, set by `community.servers.set`), or null when none is set. `allow` absent: every server.
   */
  serverAcl?: {
    allow?: string[];
    deny: string[];
    /**
     * Present (false) when the list refuses every server named by an IP literal.
     */
    allowIpLiterals?: false;
  } | null;
  replacedBy?: RoomId1;
}
/**
 * Admin-controlled settings of a room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomSettings".
 */
export interface RoomSettings {
  /**
   * Who may post. Always `admins` in a community's announcement group.
   */
  sendPolicy: "all" | "admins";
  /**
   * Who may change name, description, picture and rules (communities: admins).
   */
  editInfoPolicy: "all" | "admins";
  /**
   * Who may invite members directly.
   */
  addMembersPolicy: "all" | "admins";
  /**
   * When on, joining by link or from the community's group list creates a join request for admins to approve.
   */
  joinApproval: boolean;
  /**
   * Communities only: whether members may reply under announcements.
   */
  announcementReplies: boolean;
}
/**
 * One of the user's devices (one per login).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Device".
 */
export interface Device {
  deviceId: DeviceId;
  name: string;
  createdAt: Timestamp;
  lastSeenAt: Timestamp;
  /**
   * True for the device that asked.
   */
  current: boolean;
}
/**
 * Who someone is, as others see them.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Person".
 */
export interface Person {
  userId: UserId;
  displayName: string;
  avatar: string | null;
}
/**
 * One event of a room's log. `type` says what it is; `content` depends on the type (see the event types table in docs/protocol.md). `pos` is this server's stream position: resume sync from the last one you saw.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomEvent".
 */
export interface RoomEvent {
  roomId: RoomId;
  seq: Seq;
  eventId: string;
  type: string;
  sender: UserId;
  ts: Timestamp;
  content: {};
  pos: number;
  /**
   * Only in a `room.event` push to the event's sender's own sessions, when the op that made it had a `txnId` (`message.send`, `message.forward`, `poll.create`, `event.create`, `direct.open`): that txnId, so that a client replaces what it shows as sending with the event, even when the event arrives before the op's reply. Never in history, search or sync.
   */
  txnId?: string;
}
/**
 * An invite link. `url` opens a landing page; `token` is what link.join takes.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "InviteLink".
 */
export interface InviteLink {
  linkId: string;
  roomId: RoomId;
  token: string;
  url: string;
  createdBy: UserId;
  createdAt: Timestamp;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  revoked: boolean;
}
/**
 * A message with its current state: edited, deleted (body null, a marker remains), reactions and thread size. `body` is the text, a file's caption or name, a poll's question or an event's title. `forwarded` says the message was forwarded from another room; `mentions` (the members it mentions) and `mentionAll` (an admin's @all) are present only when the message has them, as the server kept them at the send. A deleted message carries none of them (`forwarded` false). `quote` (a private reply in a direct chat only) is the snapshot of the message it quotes from another room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "MessageView".
 */
export interface MessageView {
  roomId: RoomId;
  seq: Seq;
  eventId: string;
  sender: UserId;
  body: string | null;
  /**
   * The seq of the message this one quotes.
   */
  replyTo: number | null;
  /**
   * Announcement replies: the announcement's seq.
   */
  threadRoot: number | null;
  replyCount: number;
  ts: Timestamp;
  edited: boolean;
  deleted: boolean;
  reactions: {
    emoji: string;
    count: number;
  }[];
  myReaction: string | null;
  /**
   * text; file (see `file`); poll (poll.get); event (event.get).
   */
  kind: "text" | "file" | "poll" | "event";
  file: FileRef | null;
  /**
   * Forwarded from another room (without saying which).
   */
  forwarded: boolean;
  /**
   * The members this message mentions (absent when none).
   */
  mentions?: UserId[];
  /**
   * An admin mentioned everyone (@all); absent otherwise.
   */
  mentionAll?: true;
  quote?: Quote;
}
/**
 * A file as a message carries it: its info plus the name the sender gave it, and `origin`, the server holding the file when it is not the room's home (a file stays on the server of the user who uploaded it; see docs/federation.md, "Files").
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "FileRef".
 */
export interface FileRef {
  mediaId: MediaId;
  name: string;
  size: number;
  mime: string;
  width: number | null;
  height: number | null;
  hasPreview: boolean;
  /**
   * The server that holds the file, when it is not the room's home server (absent: the room's home holds it). Another server's members' downloads are fetched from it.
   */
  origin?: string;
}
/**
 * A private reply's quote: a snapshot of a message of another room, copied when the reply was sent (later edits or deletions there do not change it), so that the other person of the direct chat sees it without being in that room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Quote".
 */
export interface Quote {
  roomId: RoomId;
  seq: Seq;
  sender: UserId;
  kind: "text" | "file" | "poll" | "event";
  body: string | null;
  ts: Timestamp;
}
/**
 * A user's public profile.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Profile".
 */
export interface Profile {
  userId: UserId;
  displayName: string;
  about: string;
  avatar: Picture;
}
/**
 * Your notification settings of a room: `level` all (every message), mentions (only messages that mention you, or an admin's @all) or none (muted always); `mutedUntil`, a time until which the room is muted whatever the level (null: not muted for a time). A personal mention notifies even in a muted room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "NotifySettings".
 */
export interface NotifySettings {
  level: "all" | "mentions" | "none";
  mutedUntil: Timestamp | null;
}
/**
 * Who someone is, as others see them.
 */
export interface Person1 {
  userId: UserId;
  displayName: string;
  avatar: string | null;
}
/**
 * A coded error. `code` is stable and machine-readable; `message` is for people.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ErrorBody".
 */
export interface ErrorBody {
  /**
   * One of the codes of the error catalogue.
   */
  code: string;
  message: string;
  /**
   * Extra facts for some codes, such as the schema path that failed.
   */
  details?: {};
}
/**
 * Tokens for one device. The access token is a short-lived bearer token for HTTP and the WebSocket; the refresh token is single-use and gets a new pair from /auth/refresh.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Session".
 */
export interface Session {
  userId: UserId;
  deviceId: DeviceId;
  accessToken: string;
  accessTokenExpiresAt: Timestamp;
  refreshToken: string;
  refreshTokenExpiresAt: Timestamp;
}
/**
 * What the server knows of an uploaded file. `mime` is sniffed from the bytes; images have dimensions and a preview.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "MediaInfo".
 */
export interface MediaInfo {
  mediaId: MediaId;
  size: number;
  mime: string;
  width: number | null;
  height: number | null;
  hasPreview: boolean;
}
/**
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Empty".
 */
export interface Empty {}
/**
 * The decrypted payload of a Web Push about a new message (`type: message`), sent to a user none of whose devices is connected. `reason`: why the notification policy let it through (`message`, `mention`, `mention_all`, `thread_reply`); `body`: the text, a file's caption or name, cut to 200 characters; `kind`: the message's content kind.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "WebPushMessage".
 */
export interface WebPushMessage {
  type: "message";
  reason: "message" | "mention" | "mention_all" | "thread_reply";
  roomId: RoomId;
  roomName: string;
  seq: Seq;
  sender: UserId;
  senderName: string;
  kind: string;
  body: string;
  ts: Timestamp;
}
/**
 * A request from the client. `id` is chosen by the client and echoed in the reply; `params` is checked against the op's schema.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Request".
 */
export interface Request {
  /**
   * Client-chosen request id, unique among the client's requests in flight.
   */
  id: string | number;
  op: string;
  params?: {};
}
/**
 * A frame the server sends on its own: `push` names it, `data` follows the push's schema.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Push".
 */
export interface Push {
  push: string;
  data: {};
}
