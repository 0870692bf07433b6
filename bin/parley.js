#!/usr/bin/env node
// The operator's command line: `npx parley help`. Loads the TypeScript sources through tsx.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../server/cli.ts");
process.exitCode = await runCli(process.argv.slice(2));
