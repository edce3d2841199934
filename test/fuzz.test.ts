// Issue 9: seeded fuzzing of the CLI. Random flag combinations, random bytes as prompts (stdin,
// --file, --jsonl) and as model files. Every run must end by itself (killed after CLI_KILL_MS, 3× the
// slowest CLI run seen under load, so only a hang trips it), exit 0, 1 or 2, and
// never print a stack trace or an unclassified error. Bounded: FUZZ_CASES runs (default 40), two at a
// time. Reproduce a failure with FUZZ_SEED=<seed printed in the message>.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI_KILL_MS, runCli, STORIES, tempDir } from "./helpers.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const CASES = Number(process.env.FUZZ_CASES ?? 40);
const LIMIT_MS = CLI_KILL_MS;

/** mulberry32: small, seeded, deterministic. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  /** Random text: ASCII, controls, NUL, accents, CJK, emoji, lone-surrogate-free. */
  const text = (n: number) => {
    const pools = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x17f], [0x4e00, 0x4fff], [0x1f600, 0x1f64f], [0x0a, 0x0a]];
    let s = "";
    for (let i = 0; i < n; i++) {
      const [lo, hi] = pick(pools);
      s += String.fromCodePoint(lo + int(hi - lo + 1));
    }
    return s;
  };
  /** For argv: the same without NUL, which no argument can hold. */
  const arg = (n: number) => text(n).replace(/\0/g, "0");
  return { next, int, pick, bytes, text, arg };
}

const NUMBERS = ["0", "1", "2", "-1", "-0", "3.5", "NaN", "Infinity", "-Infinity", "1e309", "0x10", "", " 7 ", "abc", "4294967296", "1e-9", "0.5", "99999999999999999999"];
const SMALL_N = ["1", "2", "3", "1", "2", "3", "1", "2", "0", "-1", "abc", "NaN", "2.5", ""];

type Gen = (r: ReturnType<typeof rng>, dir: string) => string[];
const FLAGS: Gen[] = [
  (r) => ["--seed", r.pick(NUMBERS)],
  (r) => ["--sampler", r.pick(["entropix", "greedy", "temperature", "beam", ""])],
  (r) => ["--compare", r.pick(["entropix", "greedy", "temperature", "x"])],
  (r) => ["--temperature", r.pick(NUMBERS)],
  (r) => ["--top-k", r.pick(NUMBERS)],
  (r) => ["--top-p", r.pick(NUMBERS)],
  (r) => ["--min-p", r.pick(NUMBERS)],
  () => ["--ignore-eos"],
  (r) => ["--clarify-text", r.arg(r.int(6))],
  (r) => ["--clarify-every", r.pick(NUMBERS)],
  (r) => ["--attention-layers", r.pick(["last", "all", "first"])],
  (r) => ["--stop", r.arg(1 + r.int(3))],
  () => ["--json"],
  () => ["--no-color"],
  () => ["--chat"],
  (r) => ["--system", r.arg(r.int(8))],
  () => ["--verbose"],
  (r) => ["--truncate", r.pick(["none", "left", "right"])],
  () => ["--strict"],
  () => ["--no-taps"],
  (r) => ["--threads", r.pick(["1", "2", "0", "-2", "x", "2000"])],
  (r) => ["--dtype", r.pick(["fp32", "fp16", "q4", "fp8"])],
  (r) => ["--onnx-file", r.pick(["model.onnx", "onnx/model.onnx", "nope.onnx", "../x.onnx", ""])],
  (r, dir) => {
    const f = path.join(dir, `t${r.int(1e6)}.json`);
    writeFileSync(f, r.pick([() => r.bytes(r.int(64)), () => JSON.stringify({ lowEntropy: r.pick([0.1, -1, "x", null, 1e9]) }), () => "{}", () => "[]"])());
    return ["--thresholds", r.pick(["reference", f, path.join(dir, "missing.json")])];
  },
  (r) => [`--${r.pick(["bogus", "max_tokens", "n", "seeds", ""])}`],
  (r) => [r.pick(["-n", "--max-tokens"])],
];

interface Case {
  kind: string;
  args: string[];
  input?: Buffer;
}

function makeCase(r: ReturnType<typeof rng>, dir: string, i: number): Case {
  const kind = r.pick(["flags", "flags", "stdin", "file", "jsonl", "model", "model"]);
  const n = ["-n", r.pick(SMALL_N)];
  if (kind === "flags") {
    const args = ["generate", "-m", STORIES, ...n];
    const count = r.int(6);
    for (let k = 0; k < count; k++) args.push(...r.pick(FLAGS)(r, dir));
    if (r.next() < 0.7) args.push(r.arg(1 + r.int(20)));
    return { kind, args: r.next() < 0.1 ? ["inspect", "-m", STORIES, ...args.slice(3).filter((a) => a === "--json" || a === "--no-taps")] : args };
  }
  // Text for --file is capped: each of its lines (about one character in six) is a prompt to run.
  const payload = r.next() < 0.5 ? r.bytes(r.int(20_000)) : Buffer.from(r.text(r.int(kind === "stdin" ? 3_000 : 400)));
  if (kind === "stdin") return { kind, args: ["generate", "-m", STORIES, ...n, ...(r.next() < 0.3 ? ["--truncate", "left"] : [])], input: payload };
  if (kind === "file" || kind === "jsonl") {
    const f = path.join(dir, `p${i}.txt`);
    const jsonl = kind === "jsonl" && r.next() < 0.5 ? Buffer.from(`{"prompt": ${JSON.stringify(r.text(10))}, "max_tokens": 2}\n`) : Buffer.alloc(0);
    writeFileSync(f, Buffer.concat([jsonl, payload]));
    return { kind, args: ["generate", "-m", STORIES, ...n, kind === "file" ? "--file" : "--jsonl", f] };
  }
  // Random bytes as the model file, beside stories260k's config and tokenizer.
  const m = path.join(dir, `m${i}`);
  mkdirSync(path.join(m, "onnx"), { recursive: true });
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) copyFileSync(path.join(STORIES, f), path.join(m, f));
  const real = readFileSync(path.join(STORIES, "onnx", "model.onnx"));
  const how = r.pick(["random", "truncated", "header", "flipped-tail"]);
  let onnx: Buffer;
  if (how === "random") onnx = r.bytes(r.int(5_000));
  else if (how === "truncated") onnx = real.subarray(0, r.int(real.length));
  else if (how === "header") onnx = Buffer.concat([real.subarray(0, 16 + r.int(64)), r.bytes(r.int(2_000))]);
  else {
    // Bytes flipped in the last quarter (weights): parses, may compute garbage or NaN.
    onnx = Buffer.from(real);
    for (let k = 0; k < 8; k++) onnx[real.length - 1 - r.int(real.length >> 2)] = r.int(256);
  }
  writeFileSync(path.join(m, "onnx", "model.onnx"), onnx);
  return { kind: `model/${how}`, args: r.pick([["generate", "-m", m, "-n", "2", "Once upon a time"], ["inspect", "-m", m]]) };
}

test(`fuzz: ${CASES} random CLI runs end cleanly (seed ${SEED})`, async (t) => {
  const dir = tempDir("entropix-fuzz-");
  const r = rng(SEED);
  const cases = Array.from({ length: CASES }, (_, i) => makeCase(r, dir, i));
  const failures: string[] = [];
  const tally: Record<string, number> = {};
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      const res = await runCli(c.args, { input: c.input, timeoutMs: LIMIT_MS, env: { ENTROPIX_CACHE_DIR: path.join(dir, "cache") } });
      const key = `${c.kind.split("/")[0]}:${res.code}`;
      tally[key] = (tally[key] ?? 0) + 1;
      if (process.env.FUZZ_VERBOSE) t.diagnostic(`${i} ${c.kind} exit ${res.code}: ${res.stderr.trim().split("\n").join(" | ").slice(0, 300)}`);
      const where = `case ${i} (${c.kind}): entropix ${c.args.map((a) => JSON.stringify(a)).join(" ")}${c.input ? ` <${c.input.length} bytes>` : ""}`;
      if (res.signal === "SIGKILL") failures.push(`${where}: still running after ${LIMIT_MS} ms`);
      else if (res.code === null || ![0, 1, 2].includes(res.code)) failures.push(`${where}: exit ${res.code} signal ${res.signal}\n${res.stderr}`);
      else if (/^\s+at /m.test(res.stderr) || /run with --debug/.test(res.stderr)) failures.push(`${where}: stack trace or unclassified error\n${res.stderr}`);
      else if (res.code !== 0 && !/^entropix: /m.test(res.stderr)) failures.push(`${where}: exit ${res.code} without an error line\n${res.stderr}`);
    }
  };
  await Promise.all([worker(), worker()]);
  t.diagnostic(`kind:exit counts ${JSON.stringify(tally)} in ${Date.now() - t0} ms`);
  if (failures.length === 0) rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(failures, [], `${failures.join("\n\n")}\n(inputs kept in ${dir})`);
});
