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
    get: db.prepare<[string], { policy: ServerPolicy }>("SELECT policy FROM federation_servers WHERE server = ?"),
    anyAllow: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM federation_servers WHERE policy = 'allow'"),
  };
  const configDeny = new Set(config.deny);
  const configAllow = new Set(config.allow);
  return {
    /** Whether this server may federate with `server` (requests from it, sends to it). */
    permits(server: string): boolean {
      if (configDeny.has(server)) return false;
      const row = s.get.get(server);
      if (row?.policy === "deny") return false;
      if (configAllow.has(server) || row?.policy === "allow") return true;
      return configAllow.size === 0 && s.anyAllow.get()!.n === 0;
    },
  };
}

/** The operator's edits to the lists (the CLI). */
export function setServerPolicy(storage: Storage, server: string, policy: ServerPolicy | null, now = Date.now()): void {
  if (policy === null) storage.sqlite.prepare("DELETE FROM federation_servers WHERE server = ?").run(server);
  else storage.sqlite.prepare("INSERT INTO federation_servers (server, policy, created_at) VALUES (?, ?, ?) ON CONFLICT(server) DO UPDATE SET policy = excluded.policy").run(server, policy, now);
}

export function listServerPolicies(storage: Storage): { server: string; policy: ServerPolicy }[] {
  return storage.sqlite.prepare("SELECT server, policy FROM federation_servers ORDER BY policy, server").all() as { server: string; policy: ServerPolicy }[];
}
