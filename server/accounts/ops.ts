import type { OpRegistry } from "../ws/ops.ts";
import type { AccountService } from "./service.ts";
import type { MediaService } from "../media/service.ts";

/** WebSocket ops of the accounts area: who am I, my devices, profiles. */
export function defineAccountOps(ops: OpRegistry, accounts: AccountService, serverName: string, media: MediaService): void {
  // op: ping
  ops.define("ping", () => ({ time: Date.now() }));

  // op: session.info
  ops.define("session.info", ({ actor, connection }) => ({
    userId: actor.userId,
    deviceId: actor.deviceId,
    sessionId: connection.id,
    server: serverName,
    expiresAt: actor.expiresAt,
    isAdmin: actor.isAdmin,
  }));

  // op: device.list
  ops.define("device.list", ({ actor }) => ({ devices: accounts.listDevices(actor) }));

  // op: device.revoke
  ops.define<{ deviceId: string }>("device.revoke", ({ actor }, { deviceId }) => accounts.revokeDevice(actor, deviceId));

  // op: profile.get
  ops.define<{ userId?: string }>("profile.get", ({ actor }, { userId }) => accounts.getProfile(userId ?? actor.userId));

  // op: profile.update
  ops.define<{ displayName?: string; about?: string; avatar?: string | null }>("profile.update", ({ actor }, patch) => {
    // An avatar is a file the user uploaded (or may read); once set, any signed-in user may fetch it.
    if (patch.avatar) media.requireImage(actor.userId, patch.avatar);
    const profile = accounts.updateProfile(actor, patch);
    if (patch.avatar !== undefined) media.setAvatar(actor.userId, patch.avatar);
    return profile;
  });
}
