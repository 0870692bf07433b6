import { ParleyError } from "../errors.ts";
import type { RoomCore, Tx } from "../rooms/core.ts";
import { isAdminRole, type RoomEvent, type RoomState } from "../rooms/types.ts";
import { memberState } from "../communities/service.ts";
import type { MessageService, PostInput } from "../messages/service.ts";

export interface PollView {
  roomId: string;
  seq: number;
  question: string;
  options: string[];
  multiple: boolean;
  anonymous: boolean;
  createdBy: string;
  closed: boolean;
  counts: number[];
  voters: number;
  /** Who chose what: null for anonymous polls, whoever asks. */
  votes: { userId: string; options: number[] }[] | null;
  myVote: number[];
}

/**
 * The poll an act points at (a vote, a close). `readsFrom`: the seq from which the actor reads the
 * room (their current membership's join); a poll before it is not theirs to see, nor to act on.
 */
function pollContext(tx: Tx, roomId: string, seq: number, readsFrom: number) {
  if (seq < readsFrom) throw new ParleyError("poll.not_found");
  const poll = tx.store.findPoll(roomId, seq);
  const message = tx.store.findMessage(roomId, seq);
  if (!poll || !message) throw new ParleyError("poll.not_found");
  return {
    row: poll,
    options: JSON.parse(poll.options) as string[],
    ctx: {
      poll: { createdBy: poll.created_by, closed: poll.closed_at !== null, optionCount: (JSON.parse(poll.options) as string[]).length, multiple: poll.multiple === 1 },
      target: { sender: message.sender, ts: message.ts, deleted: message.deleted_at !== null, threadRoot: message.thread_root },
    },
  };
}

function tally(optionCount: number, votes: { userId: string; options: number[] }[]): { counts: number[]; voters: number } {
  const counts = new Array<number>(optionCount).fill(0);
  for (const v of votes) for (const o of v.options) counts[o]++;
  return { counts, voters: votes.length };
}

/**
 * Polls. A poll is a message in the room's log; votes are `poll.vote` events carrying the new
 * tally, so every member sees live results and who chose what (as in WhatsApp). An anonymous
 * poll is different: who voted for what must not be learnable through any op, the log and sync
 * included. Its votes are therefore recorded only in the vote table (each member still votes
 * once, and may change or withdraw), and the log gets a `poll.tally` from the server itself,
 * with counts only.
 */
export function createPollService(core: RoomCore, messages: MessageService) {
  function view(tx: Pick<Tx, "store">, st: RoomState, seq: number, actor: string): PollView {
    const roomId = st.id;
    const poll = tx.store.findPoll(roomId, seq);
    // A poll deleted for everyone is gone, its question and its answers with it.
    if (!poll || tx.store.findMessage(roomId, seq)?.deleted_at != null) throw new ParleyError("poll.not_found");
    const options = JSON.parse(poll.options) as string[];
    const votes = tx.store.votes(roomId, seq);
    const anonymous = poll.anonymous === 1;
    // In the announcement group only admins may learn who is in it, so only they see who chose what.
    const seeNames = !anonymous && (st.kind !== "community" || isAdminRole(st.members.get(actor)));
    return {
      roomId,
      seq,
      question: poll.question,
      options,
      multiple: poll.multiple === 1,
      anonymous,
      createdBy: poll.created_by,
      closed: poll.closed_at !== null,
      ...tally(options.length, votes),
      votes: seeNames ? votes : null,
      myVote: votes.find((v) => v.userId === actor)?.options ?? [],
    };
  }

  return {
    create(actor: string, input: PostInput & { question: string; options: string[]; multiple?: boolean; anonymous?: boolean }): Promise<{ event: RoomEvent; duplicate: boolean }> {
      const options = input.options.map((o) => o.trim());
      if (new Set(options).size !== options.length || options.some((o) => !o)) throw new ParleyError("invalid_params", "Poll options must be distinct and not blank.");
      return messages.post(actor, input, { kind: "poll", question: input.question.trim(), options, multiple: input.multiple ?? false, anonymous: input.anonymous ?? false });
    },

    /** Votes, changes a vote, or (with no options) withdraws it. */
    vote(actor: string, roomId: string, seq: number, options: number[]): Promise<PollView> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        const { row, options: labels, ctx } = pollContext(tx, roomId, seq, messages.readsFrom(actor, roomId));
        const chosen = [...options].sort((a, b) => a - b);
        const proposal = { roomId, type: "poll.vote" as const, sender: actor, content: { poll: seq, options: chosen } };
        const others = tx.store.votes(roomId, seq).filter((v) => v.userId !== actor);
        const after = tally(labels.length, chosen.length ? [...others, { userId: actor, options: chosen }] : others);
        if (row.anonymous === 1) {
          tx.check(proposal, ctx);
          tx.store.setVote(roomId, seq, actor, chosen, tx.now);
          tx.appendSystem(roomId, "poll.tally", { poll: seq, ...after });
        } else {
          tx.append({ ...proposal, content: { ...proposal.content, ...after } }, ctx);
          // In the announcement group the vote reaches only admins (it names a member: see
          // isRestricted); the members get the live tally from the server instead.
          if (st.kind === "community") tx.appendSystem(roomId, "poll.tally", { poll: seq, ...after });
        }
        return view(tx, st, seq, actor);
      });
    },

    /** The creator or an admin closes a poll; a closed poll takes no votes. */
    close(actor: string, roomId: string, seq: number): Promise<PollView> {
      return core.transact((tx) => {
        const st = memberState(tx, roomId, actor);
        const { options: labels, ctx } = pollContext(tx, roomId, seq, messages.readsFrom(actor, roomId));
        const final = tally(labels.length, tx.store.votes(roomId, seq));
        tx.append({ roomId, type: "poll.close", sender: actor, content: { poll: seq, ...final } }, ctx);
        return view(tx, st, seq, actor);
      });
    },

    get(actor: string, roomId: string, seq: number): PollView {
      const st = memberState(core, roomId, actor);
      // As its message: a poll from before the reader's join is not theirs to read.
      if (seq < messages.readsFrom(actor, roomId)) throw new ParleyError("poll.not_found");
      return view(core.storeView(), st, seq, actor);
    },
  };
}

export type PollService = ReturnType<typeof createPollService>;
