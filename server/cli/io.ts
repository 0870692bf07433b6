/** What the command line prints, and the one-line refusals it ends with. */

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Prints `parley: <line>` on stderr; returns exit code 2 (the operator asked for something that cannot be done). */
export function fail(line: string): number {
  process.stderr.write(`parley: ${line}\n`);
  return 2;
}

/** A refusal of the command line itself (a missing argument, a bad option value): one line, exit 2. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = "CliError";
  }
}

/** Formats a timestamp (ms) for an operator: UTC, to the second. */
export function when(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A byte count an operator reads at a glance. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** Left-aligned columns, for lists. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n");
}
