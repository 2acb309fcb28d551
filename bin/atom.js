#!/usr/bin/env node
// Entry point of the `atom` command: loads the TypeScript sources through tsx.
import os from "node:os";
import { register } from "tsx/esm/api";

// LanceDB's full-text index build can deadlock when its compute pool has a single thread, which
// is what it picks on hosts with 4 CPUs or fewer (see src/memory/store.ts).
if (!process.env.LANCE_CPU_THREADS && os.availableParallelism() <= 4) process.env.LANCE_CPU_THREADS = "4";

register();
const { main } = await import("../src/cli.ts");
await main(process.argv.slice(2));
