import { desc } from "drizzle-orm";
import type { Config } from "../config/load.ts";
import type { Storage } from "../storage/database.ts";
import { signingKeys } from "../storage/schema.ts";
import { ParleyError } from "../errors.ts";
import { federationStatus } from "../../federation/outbox.ts";
import { keptStatus } from "../../federation/pending.ts";
import { listServerPolicies, setServerPolicy, type ServerPolicy } from "../../federation/policy.ts";
import { loadServerKeys, rotateServerKey, type ServerKeys } from "../../federation/keys.ts";
import { isServerName } from "../../federation/peers.ts";
import type { Operator } from "./service.ts";

/**
 * The operator's federation powers for the admin API (the web client's "Federation" page): the
 * same figures and edits as `parley federation status|policy|allow|deny|unlist|rotate-key`, by the
 * same functions (federation/outbox.ts, policy.ts, keys.ts); every change is recorded in the
 * server-admin audit log by `record`.
 */
export function createFederationAdmin(deps: {
  storage: Storage;
  config: Config["federation"];
  /** The running server's keys (reloaded at once after a rotation); absent for the CLI's local service. */
  keys?: ServerKeys;
  record: (op: Operator, action: string, target: string | null, details?: Record<string, unknown>) => void;
  now: () => number;
}) {
  const { storage, config, record, now } = deps;

  function keyInfo() {
    const rows = storage.db.select().from(signingKeys).orderBy(desc(signingKeys.createdAt)).all();
    const current = rows.find((r) => r.validUntil === null);
    return {
      current: current ? { keyId: current.keyId, validFrom: current.createdAt } : null,
      retired: rows.filter((r) => r.validUntil !== null).map((r) => ({ keyId: r.keyId, validFrom: r.createdAt, validUntil: r.validUntil! })),
    };
  }

  function lists() {
    return {
      config: { allow: [...config.allow], deny: [...config.deny] },
      database: listServerPolicies(storage).map((r) => ({ server: r.server, list: r.policy })),
    };
  }

  return {
    federationStatus() {
      const at = now();
      return {
        enabled: config.enabled,
        peers: federationStatus(storage, at).map((p) => ({ ...p, nextAttemptAt: p.nextAttemptAt && p.nextAttemptAt > at ? p.nextAttemptAt : null })),
        kept: keptStatus(storage),
        key: keyInfo(),
      };
    },

    listFederationServers() {
      return lists();
    },

    setFederationServer(op: Operator, p: { server: string; list: ServerPolicy | null }) {
      // The schema's pattern already refuses most malformed names; this is the CLI's own check.
      if (!isServerName(p.server)) throw new ParleyError("bad_request", `"${p.server}" is not a server name`);
      setServerPolicy(storage, p.server, p.list, now());
      record(op, p.list ? `federation.${p.list}` : "federation.unlist", p.server);
      return lists();
    },

    async rotateFederationKey(op: Operator) {
      if (!deps.keys) await loadServerKeys(storage, now); // makes the first key if the server never started
      const { retired, current } = await rotateServerKey(storage, now);
      // A running server signs with the new key from the next request on, not in five seconds.
      await deps.keys?.reload();
      record(op, "federation.rotate_key", current, { retired });
      return { retired, current, key: keyInfo() };
    },
  };
}

export type FederationAdmin = ReturnType<typeof createFederationAdmin>;
