import { runCli } from "./cli.ts";

// `npm start`: the same as `parley start`, with any extra arguments (e.g. --config PATH).
process.exitCode = await runCli(["start", ...process.argv.slice(2)]);
