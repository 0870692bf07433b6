/** Running the operator's command line inside a test, as an operator's shell would. */
import { runCli } from "../server/cli.ts";

/**
 * Runs `parley ...args` in this process with extra environment variables, and captures what it
 * prints. tap's own output also goes to stdout; anything that looks like TAP is let through so
 * that the report stays whole.
 */
export async function parley(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let stdout = "";
  let stderr = "";
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  // TAP's own lines ("ok 3 - ..."), not the doctor's "ok    configuration ...".
  const tapLine = /^\s*(ok \d|not ok \d|# |1\.\.\d|TAP version|Bail out!|---$|\.\.\.$)/m;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (tapLine.test(String(chunk))) return writeOut.call(process.stdout, chunk, ...rest);
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await runCli(args), stdout, stderr };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
