// Shared test helpers: where the repo and the shared fixtures are, and small numeric utilities.
import { appendFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** dist/test/helpers.js → repo root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FIXTURES = path.resolve(REPO_ROOT, "../shared/fixtures");
export const STORIES = path.join(FIXTURES, "stories260k");
export const GENAI = path.join(FIXTURES, "onnxruntime-genai");
export const CLI = path.join(REPO_ROOT, "bin", "entropix");

/** The published greedy continuation of stories260K from `<s>` (fixtures README). */
export const STORIES_GREEDY =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.";

export function tempDir(prefix = "entropix-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Patched copies of read-only fixtures go to a per-run cache, never into ../shared. */
process.env.ENTROPIX_CACHE_DIR ??= tempDir("entropix-cache-");

export function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

import { spawn } from "node:child_process";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * How long a CLI run may take before the test kills it: 3× the worst time seen under load, so only a
 * hang trips it. Measured on 2026-11-30 with `ENTROPIX_TEST_TIMES=FILE node --test dist/test/` while
 * `stress --cpu 2` kept both cores of the 2-core test machine busy (other jobs ran too; the whole
 * suite took 14.7 min): of 241 CLI runs the slowest, `calibrate --tokens 512`, took 13,737 ms.
 */
export const WORST_CLI_MS = 13_737;
export const CLI_KILL_MS = 3 * WORST_CLI_MS;

/** Appends "ms<TAB>args" per CLI run to $ENTROPIX_TEST_TIMES (how WORST_CLI_MS was measured). */
function recordTime(ms: number, args: string[]): void {
  const file = process.env.ENTROPIX_TEST_TIMES;
  if (file) appendFileSync(file, `${Math.round(ms)}\t${args.join(" ").slice(0, 200).replace(/\s+/g, " ")}\n`);
}

/** Runs the built CLI as a child process. `input` is written to stdin (then closed); default: no stdin. */
export function runCli(args: string[], opts: { input?: string | Buffer; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...opts.env };
    const child = spawn(process.execPath, [CLI, ...args], { env: env as NodeJS.ProcessEnv, stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    const t0 = performance.now();
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? CLI_KILL_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      recordTime(performance.now() - t0, args);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** JSON Lines → objects (throws on a bad line, which is itself a test failure). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
