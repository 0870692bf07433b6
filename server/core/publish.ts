import type { Logger } from "../logger.ts";
import type { Committed, RoomCore } from "../rooms/core.ts";
import type { Hub } from "../ws/transport.ts";
import type { ReminderScheduler } from "../calendar/reminders.ts";

/** What a subscriber receives: one committed batch, in commit order. */
export type BatchSubscriber = (batch: readonly Committed[]) => void;

export interface Publisher {
  /** Adds a subscriber; subscribers run in the order they were added, each isolated from the others' failures. */
  subscribe(name: string, fn: BatchSubscriber): void;
  names(): string[];
}

/**
 * The publish step: the one place committed room batches leave the room core. The WebSocket
 * fan-out, the reminder scheduler and the federation outbox subscribe here; a subscriber that
 * throws is logged (with its name) and does not keep the batch from the others.
 */
export function createPublisher(rooms: RoomCore, log: Logger): Publisher {
  const subscribers: { name: string; fn: BatchSubscriber }[] = [];
  rooms.onCommit((batch) => {
    for (let i = 0; i < subscribers.length; i++) {
      const s = subscribers[i];
      try {
        s.fn(batch);
      } catch (err) {
        log.error({ err, subscriber: s.name }, "publish subscriber failed");
      }
    }
  });
  return {
    subscribe(name, fn) {
      subscribers.push({ name, fn });
    },
    names: () => subscribers.map((s) => s.name),
  };
}

/**
 * The push of an event to its sender's own sessions: the core's shared frame,
 * `{"push":"room.event","data":{…}}`, with `txnId` added as the event's last field (spliced, not
 * serialized again: the frame ends with the event's `}` and its own).
 */
export function ownFrame(frame: Buffer, txnId: string): Buffer {
  return Buffer.concat([frame.subarray(0, frame.length - 2), Buffer.from(`,"txnId":${JSON.stringify(txnId)}}}`)]);
}

/**
 * The WebSocket fan-out: each event was serialized once by the core; the same bytes go to every
 * connection of every recipient (see architecture.md, "Fan-out"), but for the sender's own
 * sessions when the op had a txnId: they get it with the event (docs/protocol.md, "Local echo").
 */
export function fanOutToSockets(hub: Hub, rooms: RoomCore): BatchSubscriber {
  return (batch) => {
    for (let i = 0; i < batch.length; i++) {
      const { event, frame, audience, members: batchMembers, subject, txnId } = batch[i];
      // The sender's own sessions also learn the txnId of their op (made only if one is online
      // here: a remote sender's event at its home, or another server's at a replica, has none).
      const own = txnId === undefined || !hub.connectionsOf(event.sender)?.size ? undefined : { userId: event.sender, frame: () => ownFrame(frame, txnId) };
      if (audience) {
        hub.sendToUsers(audience, frame, own);
        continue;
      }
      const members = batchMembers ?? rooms.state(event.roomId)?.members;
      if (members) hub.sendToMembers(members, frame, own);
      if (subject && !members?.has(subject)) hub.sendToUsers([subject], frame, own);
    }
  };
}

/** A new, edited, cancelled or deleted calendar event changes the reminder schedule. */
export function rescheduleReminders(reminders: ReminderScheduler): BatchSubscriber {
  return (batch) => {
    for (const { event: e } of batch) {
      if (e.type === "event.update" || e.type === "event.cancel" || e.type === "message.delete" || (e.type === "message" && e.content.kind === "event")) {
        reminders.reschedule();
        return;
      }
    }
  };
}
