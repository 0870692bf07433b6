/**
 * The error contract's recorder. When the environment names a directory in PARLEY_ERROR_LOG (as
 * `npm test` does), every error the server answers with, over the WebSocket and over HTTP, is
 * appended there as one JSON line: which op or endpoint, and the code. Each process writes its own
 * file, so test files running in parallel never share one. scripts/check-error-contract.ts then
 * compares what was answered with what protocol/ declares. Off (and free) otherwise.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";

export interface ErrorRecord {
  /** "ws" for a reply to a WebSocket frame, "http" for an HTTP answer. */
  via: "ws" | "http";
  /**
   * The op or the endpoint (its schema's title; `federation/<title>` for a server-to-server one,
   * protocol/federation/<title>.json); null when the request named none that exists.
   */
  name: string | null;
  code: string;
}

export type RecordError = (via: ErrorRecord["via"], name: string | null, code: string) => void;

/** A recorder writing to `dir`, or undefined when there is no directory (the usual case). */
export function createErrorRecorder(dir: string | undefined = process.env.PARLEY_ERROR_LOG): RecordError | undefined {
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `errors-${process.pid}.jsonl`);
  // Which test file answered: the checker names it when a code is not declared.
  const source = process.argv[1] ? relative(process.cwd(), process.argv[1]) : "";
  return (via, name, code) => {
    appendFileSync(file, `${JSON.stringify({ via, name, code, source })}\n`);
  };
}
