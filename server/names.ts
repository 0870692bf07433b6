/**
 * Server names, parsed in one place. A server is named by
 *
 * - a DNS name or a dotted IPv4 address, in lower case, optionally with a port
 *   (`school.example`, `branch.example:8443`, `203.0.113.7:8448`), or
 * - a bracketed IPv6 address, optionally with a port (`[2001:db8::1]`, `[::1]:8443`), written in
 *   its one canonical form (RFC 5952, as a URL writes it: lower case, the longest run of zeros
 *   compressed, no zone): `[::1]` and never `[0:0::1]` or `[::0001]`.
 *
 * A name is the part after the first `:` of a user id (`@alice:[::1]:8443`) or a room id, the
 * `Parley-Origin` and `Parley-Destination` of a signed request, a key of `[federation.peers]`,
 * an entry of the server lists. *Why one canonical form:* a server's name is compared as a string
 * everywhere (a user id's server against a request's origin, a room id's home, the lists), so two
 * spellings of one address would be two servers; refusing the other spellings keeps one.
 * Anything else is not a server name: wherever one arrives it is refused with the coded error that
 * place already uses (`federation.signature_missing` for an origin, `federation.unreachable` for a
 * peer to reach, `bad_request` at the command line and the admin API, a configuration error).
 */
import { isIP } from "node:net";

/**
 * The shape of a server name as a JSON Schema pattern (protocol/, the configuration schema): a
 * first, coarse check. `isServerName` is the whole one (a bracketed address must be canonical).
 */
export const serverNamePattern = "^(?:[a-z0-9.-]+|\\[[0-9a-f:.]{2,45}\\])(?::[0-9]{1,5})?$";

export interface ServerName {
  /** The host as written in the name: a DNS name, a dotted IPv4 address or a bracketed IPv6 one. */
  host: string;
  port: number | null;
  kind: "dns" | "ipv4" | "ipv6";
}

const dnsName = /^([a-z0-9.-]+)(?::([0-9]{1,5}))?$/;
const bracketed = /^\[([0-9a-f:.]{2,45})\](?::([0-9]{1,5}))?$/;

/** The canonical text of an IPv6 address (lower case, zeros compressed as RFC 5952 says), as a URL writes it. */
function canonicalIpv6(address: string): string | null {
  if (isIP(address) !== 6) return null;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/** The parts of a server name; null when `name` is not one (see above). */
export function parseServerName(name: string): ServerName | null {
  if (typeof name !== "string" || name.length === 0 || name.length > 255) return null;
  const v6 = bracketed.exec(name);
  if (v6) {
    if (canonicalIpv6(v6[1]) !== v6[1]) return null;
    return { host: `[${v6[1]}]`, port: v6[2] === undefined ? null : Number(v6[2]), kind: "ipv6" };
  }
  const dns = dnsName.exec(name);
  if (!dns) return null;
  return { host: dns[1], port: dns[2] === undefined ? null : Number(dns[2]), kind: isIP(dns[1]) === 4 ? "ipv4" : "dns" };
}

export function isServerName(name: string): boolean {
  return parseServerName(name) !== null;
}

/**
 * Whether a server is named by an IP literal (a community's server access list may refuse those:
 * `allowIpLiterals`): a dotted IPv4 address or a bracketed IPv6 one, with or without a port. A
 * list's entry is judged by its words too, so a bracketed address need not be canonical here.
 */
export function isIpLiteral(server: string): boolean {
  const v6 = /^\[([^\]]+)\](?::[0-9]{1,5})?$/.exec(server);
  if (v6) return isIP(v6[1]) === 6;
  return isIP(server.replace(/:[0-9]{1,5}$/, "")) === 4;
}

/** The server part of a user id or a room id: everything after the first `:` (a local part never holds one). */
export function serverOf(id: string): string {
  const i = id.indexOf(":");
  return i < 0 ? "" : id.slice(i + 1);
}
