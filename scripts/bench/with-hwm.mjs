#!/usr/bin/env node
// Runs a Node script in this process and, at exit, appends the process's peak RSS (VmHWM, MB) to
// the file named by $BENCH_HWM_FILE.   BENCH_HWM_FILE=f node scripts/bench/with-hwm.mjs bin/entropix generate ...
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [script, ...rest] = process.argv.slice(2);
process.on("exit", () => {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
  if (process.env.BENCH_HWM_FILE) appendFileSync(process.env.BENCH_HWM_FILE, `${kb / 1024}\n`);
});
process.argv = [process.argv[0], path.resolve(script), ...rest];
await import(pathToFileURL(path.resolve(script)).href);
