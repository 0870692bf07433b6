import { EventEmitter } from "node:events";

/**
 * In-process notifications between areas: a service says what happened, the transports that
 * care (the WebSocket layer, later federation) react. Listeners must not throw.
 */
export interface BusEvents {
  /** A device's session ended (revoked, logged out, password changed): close its sockets. */
  "device.revoked": { userId: string; deviceId: string; reason: "revoked" | "logout" | "password_changed" | "refresh_token_reused" | "account_disabled" };
  /** A device's socket authenticated (not a renewal): deliver what waited for the user. */
  "session.authenticated": { userId: string; deviceId: string };
  /** A user's profile changed: tell their other devices. */
  "profile.updated": { userId: string; originDeviceId: string | null; profile: { userId: string; displayName: string; about: string; avatar: string | null } };
  /**
   * An account was purged (server/admin): removed from `rooms` (hosted here) and disabled, its
   * blocks dropped. `elsewhere`: the rooms hosted on other servers it is still a member of.
   */
  "account.purged": { userId: string; rooms: string[]; elsewhere: string[] };
}

export class Bus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit<K extends keyof BusEvents>(name: K, payload: BusEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  on<K extends keyof BusEvents>(name: K, listener: (payload: BusEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
