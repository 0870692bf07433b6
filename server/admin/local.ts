import type { Config } from "../config/load.ts";
import { Bus } from "../core/bus.ts";
import { createLogger } from "../logger.ts";
import { openStorage } from "../storage/database.ts";
import { createAccountStore } from "../accounts/store.ts";
import { createAccountService } from "../accounts/service.ts";
import { createRoomStore } from "../rooms/store.ts";
import { createRoomCore } from "../rooms/core.ts";
import { createAdminService, type AdminService } from "./service.ts";
import { createAdminStore } from "./store.ts";

/**
 * The admin service over the database itself, for the command line when no server runs on the
 * data directory: the same service and the same room core as the server's, in this process.
 * Only safe while no server runs, because a running server caches room state (see
 * docs/architecture.md): the CLI checks that first (runtime.ts).
 */
export function openLocalAdmin(config: Config): { admin: AdminService; close(): void } {
  const storage = openStorage(config.storage.data_dir);
  const log = createLogger("warn");
  const accountStore = createAccountStore(storage);
  const accounts = createAccountService({ config, store: accountStore, bus: new Bus(), log });
  const rooms = createRoomCore({
    store: createRoomStore(storage),
    serverName: config.server.name,
    log,
    limits: {
      groupsPerCommunity: config.rooms.groups_per_community,
      membersPerGroup: config.rooms.members_per_group,
      membersPerCommunity: config.rooms.members_per_community,
      adminsPerCommunity: config.rooms.admins_per_community,
      messageChars: config.limits.message_chars,
      deleteWindowMs: config.rooms.delete_for_everyone_seconds * 1000,
    },
  });
  const admin = createAdminService({ serverName: config.server.name, store: createAdminStore(storage), accountStore, accounts, rooms, log, federation: { storage, config: config.federation } });
  return {
    admin,
    close() {
      rooms.close();
      storage.close();
    },
  };
}
