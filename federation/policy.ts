/**
 * The server allow list and deny list: from the config (`federation.allow`, `federation.deny`)
 * and from the database (`parley federation allow|deny|unlist`, read on every check so that the
 * CLI takes effect at once). A server on a deny list is refused; when either allow list has
 * entries, only the servers on them are accepted.
 */
import type { Storage } from "../server/storage/database.ts";
import type { Config } from "../server/config/load.ts";

export type ServerPolicy = "allow" | "deny";

export function createServerPolicy(storage: Storage, config: Config["federation"]) {
  const db = storage.sqlite;
  const s = {
    all: db.prepare<[], { server: string; policy: ServerPolicy }>("SELECT server, policy FROM federation_servers"),
    dataVersion: db.prepare("PRAGMA data_version").pluck(),
  };
  const configDeny = new Set(config.deny);
  const configAllow = new Set(config.allow);
  // The database's lists, read again when they may have changed: after an edit through this
  // connection (setServerPolicy), or when another connection (the CLI) has committed anything
  // (SQLite's data_version), so that an edit takes effect at the next check as before, without two
  // queries on every request.
  let lists: Map<string, ServerPolicy> | null = null;
  let anyAllow = false;
  let seenVersion: unknown = null;
  let seenEdits = -1;
  function current(): Map<string, ServerPolicy> {
    const version = s.dataVersion.get();
    if (!lists || version !== seenVersion || seenEdits !== edits(storage)) {
      lists = new Map(s.all.all().map((r) => [r.server, r.policy]));
      anyAllow = [...lists.values()].includes("allow");
      seenVersion = version;
      seenEdits = edits(storage);
    }
    return lists;
  }
  return {
    /** Whether this server may federate with `server` (requests from it, sends to it). */
    permits(server: string): boolean {
      if (configDeny.has(server)) return false;
      const policy = current().get(server);
      if (policy === "deny") return false;
      if (configAllow.has(server) || policy === "allow") return true;
      return configAllow.size === 0 && !anyAllow;
    },
  };
}

/** Edits made through each connection (setServerPolicy): a policy on the same connection reads its lists again. */
const editCounts = new WeakMap<Storage["sqlite"], number>();
const edits = (storage: Storage) => editCounts.get(storage.sqlite) ?? 0;

/** The operator's edits to the lists (the CLI). */
export function setServerPolicy(storage: Storage, server: string, policy: ServerPolicy | null, now = Date.now()): void {
  editCounts.set(storage.sqlite, edits(storage) + 1);
  if (policy === null) storage.sqlite.prepare("DELETE FROM federation_servers WHERE server = ?").run(server);
  else storage.sqlite.prepare("INSERT INTO federation_servers (server, policy, created_at) VALUES (?, ?, ?) ON CONFLICT(server) DO UPDATE SET policy = excluded.policy").run(server, policy, now);
}

export function listServerPolicies(storage: Storage): { server: string; policy: ServerPolicy }[] {
  return storage.sqlite.prepare("SELECT server, policy FROM federation_servers ORDER BY policy, server").all() as { server: string; policy: ServerPolicy }[];
}
