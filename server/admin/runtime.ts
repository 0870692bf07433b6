import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The running server's note to the command line, `<data_dir>/operator.json`: where it listens
 * and the operator token that authenticates the CLI on its admin API. Readable by the data
 * directory's owner only (0600); whoever can read it can read the database, and with it the
 * access-token secret, so it grants nothing the data directory did not already grant. Written
 * when the server listens, with a fresh token each time, and removed when it stops.
 */
export interface RuntimeInfo {
  pid: number;
  /** The admin API's base URL, on a loopback address when the server listens on every address. */
  url: string;
  token: string;
  startedAt: number;
}

export const runtimeFileName = "operator.json";

export function writeRuntimeFile(dataDir: string, info: RuntimeInfo): void {
  const path = join(dataDir, runtimeFileName);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Removes the file if it is still this server's (another may have started on the directory since). */
export function removeRuntimeFile(dataDir: string, token: string): void {
  const info = readRuntimeFile(dataDir);
  if (info?.token === token) rmSync(join(dataDir, runtimeFileName), { force: true });
}

export function readRuntimeFile(dataDir: string): RuntimeInfo | null {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, runtimeFileName), "utf8")) as RuntimeInfo;
    return typeof info.url === "string" && typeof info.token === "string" && Number.isInteger(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** True when a process with this id exists (signal 0 checks without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The server running on this data directory, if any: its runtime file names a live process. A
 * file left by a server that crashed names a dead one and is ignored.
 */
export function findRunningServer(dataDir: string): RuntimeInfo | null {
  const info = readRuntimeFile(dataDir);
  return info && isProcessAlive(info.pid) ? info : null;
}

/** The URL to reach a server listening on `address:port`, from this machine. */
export function localUrlOf(address: string, port: number): string {
  if (address === "0.0.0.0") return `http://127.0.0.1:${port}`;
  if (address === "::") return `http://[::1]:${port}`;
  return address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}
