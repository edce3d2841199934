// Issue 9: every bad input gets a clear answer, and nothing is lost. Each case of docs/errors.md runs
// the built CLI and checks: exit code, exactly one error line on stderr (plus expected `note:` lines),
// no stack trace without --debug, and that no file of the user's changed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI, CLI_KILL_MS, GENAI, jsonLines, runCli, STORIES, tempDir as makeTempDir, type CliResult } from "./helpers.js";
import { F32, I64, f32bytes, graph, model, tensor, type NodeSpec } from "./onnx-build.js";

const made: string[] = [];
function tempDir(prefix = "entropix-err-"): string {
  const d = makeTempDir(prefix);
  made.push(d);
  return d;
}
test.after(() => {
  for (const d of made) {
    chmodTree(d, true);
    rmSync(d, { recursive: true, force: true });
  }
});

function chmodTree(dir: string, writable: boolean): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) chmodTree(path.join(dir, e.name), writable);
  chmodSync(dir, writable ? 0o755 : 0o555);
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** sha256 of every file under `dir`, by relative path. */
function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(dir);
  return out;
}

/** Every file that was there is byte-identical; new files are only the documented patched copies. */
function assertUntouched(dir: string, before: Map<string, string>, allowNew = /\.taps\.(onnx|json)$/): void {
  const after = hashTree(dir);
  for (const [f, h] of before) assert.equal(after.get(f), h, `${dir}: ${f} changed or vanished`);
  for (const f of after.keys()) if (!before.has(f)) assert.match(f, allowNew, `${dir}: unexpected new file ${f}`);
}

function nonEmptyLines(s: string): string[] {
  return s.split("\n").filter((l) => l.trim() !== "");
}

/** One `entropix: …` line (plus `note:` lines), the expected code, no stack trace. */
function assertError(r: CliResult, code: number, what: RegExp, label = ""): string {
  assert.equal(r.code, code, `${label} exit code; stderr: ${r.stderr}`);
  const lines = nonEmptyLines(r.stderr);
  const errors = lines.filter((l) => !l.startsWith("note: "));
  assert.equal(errors.length, 1, `${label} expected one error line, got: ${r.stderr}`);
  assert.match(errors[0], /^entropix: /, label);
  assert.match(errors[0], what, label);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${label} stack trace without --debug`);
  assert.doesNotMatch(r.stderr, /run with --debug/, `${label} an unclassified error: ${errors[0]}`);
  return errors[0];
}

/** Runs `cases` with at most `n` CLIs at a time (the machine has 2 cores). */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** A writable copy of stories260k (config, tokenizer, onnx/model.onnx). */
function copyStories(): string {
  const dir = tempDir("entropix-model-");
  cpSync(STORIES, dir, { recursive: true });
  chmodTree(dir, true);
  for (const f of readdirSync(dir)) if (statSync(path.join(dir, f)).isFile()) chmodSync(path.join(dir, f), 0o644);
  chmodSync(path.join(dir, "onnx", "model.onnx"), 0o644);
  return dir;
}

/** A model folder with stories260k's config and tokenizer and the given ONNX bytes. */
function folderWith(onnx: Uint8Array | null, config?: Record<string, unknown>): string {
  const dir = tempDir("entropix-model-");
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) copyFileSync(path.join(STORIES, f), path.join(dir, f));
  if (config) {
    const base = JSON.parse(readFileSync(path.join(STORIES, "config.json"), "utf8"));
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...base, ...config }));
  }
  if (onnx) {
    mkdirSync(path.join(dir, "onnx"));
    writeFileSync(path.join(dir, "onnx", "model.onnx"), onnx);
  }
  return dir;
}

const i64bytes = (xs: number[]) => new Uint8Array(BigInt64Array.from(xs.map(BigInt)).buffer);

function rand(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

const VOCAB = 512;

/**
 * A one-layer "decoder" with the real I/O contract whose logits are W + log(C − T), T = total length
 * (from attention_mask): finite while T < C, NaN once T > C (log of a negative number).
 */
function nanDecoder(c: number): Uint8Array {
  const nodes: NodeSpec[] = [
    { op: "Shape", inputs: ["attention_mask"], outputs: ["mshape"] },
    { op: "Gather", inputs: ["mshape", "one"], outputs: ["T"], attrs: [{ name: "axis", i: 0 }] },
    { op: "Cast", inputs: ["T"], outputs: ["Tf"], attrs: [{ name: "to", i: F32 }] },
    { op: "Sub", inputs: ["C", "Tf"], outputs: ["d"] },
    { op: "Log", inputs: ["d"], outputs: ["ld"] },
    { op: "Add", inputs: ["W", "ld"], outputs: ["row"] },
    { op: "Cast", inputs: ["input_ids"], outputs: ["idf"], attrs: [{ name: "to", i: F32 }] },
    { op: "Unsqueeze", inputs: ["idf", "ax2"], outputs: ["ids3"] },
    { op: "Mul", inputs: ["ids3", "zero"], outputs: ["zeros"] },
    { op: "Add", inputs: ["zeros", "row"], outputs: ["logits"] },
    { op: "Unsqueeze", inputs: ["idf", "ax13"], outputs: ["k1"] },
    { op: "Concat", inputs: ["k1", "k1"], outputs: ["k2"], attrs: [{ name: "axis", i: 3 }] },
    { op: "Concat", inputs: ["past_key_values.0.key", "k2"], outputs: ["present.0.key"], attrs: [{ name: "axis", i: 2 }] },
    { op: "Concat", inputs: ["past_key_values.0.value", "k2"], outputs: ["present.0.value"], attrs: [{ name: "axis", i: 2 }] },
  ];
  const g = graph({
    nodes,
    inputs: [
      { name: "input_ids", elem: I64, dims: [1, "s"] },
      { name: "attention_mask", elem: I64, dims: [1, "t"] },
      { name: "past_key_values.0.key", elem: F32, dims: [1, 1, "p", 2] },
      { name: "past_key_values.0.value", elem: F32, dims: [1, 1, "p", 2] },
    ],
    outputs: [
      { name: "logits", elem: F32, dims: [1, "s", VOCAB] },
      { name: "present.0.key", elem: F32, dims: [1, 1, "t", 2] },
      { name: "present.0.value", elem: F32, dims: [1, 1, "t", 2] },
    ],
    initializers: [
      tensor("one", I64, [], i64bytes([1])),
      tensor("ax2", I64, [1], i64bytes([2])),
      tensor("ax13", I64, [2], i64bytes([1, 3])),
      tensor("C", F32, [], f32bytes([c])),
      tensor("zero", F32, [], f32bytes([0])),
      tensor("W", F32, [1, 1, VOCAB], f32bytes(rand(VOCAB, 7))),
    ],
  });
  return model({ opsets: [["", 17]], graph: g });
}

/** An encoder: input_ids → last_hidden_state (no logits, no cache). */
function encoderOnly(): Uint8Array {
  const g = graph({
    nodes: [{ op: "Gather", inputs: ["E", "input_ids"], outputs: ["last_hidden_state"], attrs: [{ name: "axis", i: 0 }] }],
    inputs: [
      { name: "input_ids", elem: I64, dims: [1, "s"] },
      { name: "attention_mask", elem: I64, dims: [1, "s"] },
    ],
    outputs: [{ name: "last_hidden_state", elem: F32, dims: [1, "s", 4] }],
    initializers: [tensor("E", F32, [VOCAB, 4], f32bytes(rand(VOCAB * 4, 3)))],
  });
  return model({ opsets: [["", 17]], graph: g });
}

/** Not a language model at all: x → y. */
function notDecoder(): Uint8Array {
  const g = graph({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [{ name: "x", elem: F32, dims: [1, 8] }],
    outputs: [{ name: "y", elem: F32, dims: [1, 8] }],
  });
  return model({ opsets: [["", 17]], graph: g });
}

// ---------------------------------------------------------------------------------------------
// Model folders

test("model folder problems: one line naming the file and what to do, exit 1, folder untouched", async () => {
  const stories = readFileSync(path.join(STORIES, "onnx", "model.onnx"));
  const noConfig = copyStories();
  rmSync(path.join(noConfig, "config.json"));
  const badConfig = copyStories();
  writeFileSync(path.join(badConfig, "config.json"), '{"vocab_size": 512,');
  const noTok = copyStories();
  rmSync(path.join(noTok, "tokenizer.json"));
  const badTok = copyStories();
  writeFileSync(path.join(badTok, "tokenizer.json"), "{ this is not json");
  const emptyTok = copyStories();
  writeFileSync(path.join(emptyTok, "tokenizer.json"), "{}");
  // The external-data fixture without its .data file (fused attention, so nothing is patched).
  const noData = tempDir("entropix-model-");
  for (const f of readdirSync(path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16"))) {
    if (!f.endsWith(".data")) copyFileSync(path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16", f), path.join(noData, f));
  }
  // stories260k's model with GPT-2's 50k-token tokenizer.
  const bigTok = copyStories();
  for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.json"]) copyFileSync(path.join(GENAI, "tiny-random-gpt2-fp32", f), path.join(bigTok, f));
  rmSync(path.join(bigTok, "special_tokens_map.json"));

  const cases: { label: string; dir: string; extra?: string[]; want: RegExp }[] = [
    // A missing folder is a usage error naming the bundled models (exit 2): test/stories260k.test.ts.
    { label: "not a folder", dir: path.join(STORIES, "config.json"), want: /config\.json: not a folder; --model takes a model folder/ },
    { label: "config.json missing", dir: noConfig, want: /config\.json missing; a model folder needs config\.json/ },
    { label: "config.json invalid", dir: badConfig, want: /config\.json: invalid JSON \(.*\); fix or replace the file/ },
    { label: "tokenizer missing", dir: noTok, want: /tokenizer\.json: tokenizer missing; the model folder needs tokenizer\.json/ },
    { label: "tokenizer invalid JSON", dir: badTok, want: /tokenizer cannot be loaded \(.*\); check tokenizer\.json/ },
    { label: "tokenizer without a model", dir: emptyTok, want: /tokenizer cannot be loaded \(.*\); check tokenizer\.json/ },
    { label: "no .onnx", dir: folderWith(null), want: /no \.onnx file found \(looked in the folder and onnx\/\); export the model to ONNX first/ },
    { label: "--onnx-file missing", dir: STORIES, extra: ["--onnx-file", "other.onnx"], want: /other\.onnx: no such ONNX file in/ },
    { label: "truncated .onnx", dir: folderWith(stories.subarray(0, 600_000)), want: /model\.onnx: truncated or corrupt ONNX file: .*; re-export or re-download/ },
    { label: "empty .onnx", dir: folderWith(new Uint8Array(0)), want: /model\.onnx: not an ONNX model file .*; re-export or re-download/ },
    { label: "text named model.onnx", dir: folderWith(readFileSync(path.join(STORIES, "tokenizer.json"))), want: /model\.onnx: not an ONNX model file \(invalid protobuf\)/ },
    { label: "text named model.onnx, --no-taps", dir: folderWith(readFileSync(path.join(STORIES, "tokenizer.json"))), extra: ["--no-taps"], want: /model\.onnx: not a loadable ONNX model \(.*\); re-export or re-download it/ },
    { label: "external data missing", dir: noData, want: /model\.onnx: its external data file model\.onnx\.data is missing; put it beside the \.onnx file/ },
    { label: "encoder-only graph", dir: folderWith(encoderOnly()), want: /not a causal language model \(no logits output; outputs are last_hidden_state\)/ },
    { label: "non-decoder graph", dir: folderWith(notDecoder()), want: /not a decoder language model \(no input_ids input; inputs are x\)/ },
    { label: "tokenizer larger than the logits", dir: bigTok, want: /tokenizer has 50\d\d\d tokens but the model's logits cover only 512; the tokenizer does not belong to this model/ },
  ];
  await pool(cases, 3, async (c) => {
    const before = statSafe(c.dir) ? hashTree(statSync(c.dir).isDirectory() ? c.dir : path.dirname(c.dir)) : null;
    for (const cmd of [["generate", "-m", c.dir, "Once upon a time", "-n", "2"], ["inspect", "-m", c.dir]]) {
      const r = await runCli([...cmd, ...(c.extra ?? [])]);
      assertError(r, 1, c.want, `${c.label} (${cmd[0]})`);
      assert.equal(r.stdout, "", c.label);
    }
    if (before) assertUntouched(statSync(c.dir).isDirectory() ? c.dir : path.dirname(c.dir), before);
  });
});

function statSafe(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

test("--debug adds the stack trace; without it there is none", async () => {
  const dir = folderWith(notDecoder());
  const plain = await runCli(["inspect", "-m", dir]);
  assertError(plain, 1, /not a decoder language model/);
  const debug = await runCli(["inspect", "-m", dir, "--debug"]);
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /^entropix: .*not a decoder language model/);
  assert.match(debug.stderr, /^\s+at /m);
});

// ---------------------------------------------------------------------------------------------
// Patched copies: read-only folders, concurrent patching, stale or corrupt copies

test("read-only model folder: the patch goes to the cache dir, nothing is written into the folder", async () => {
  const dir = copyStories();
  const cache = tempDir("entropix-cache-");
  chmodTree(dir, false);
  const before = hashTree(dir);
  const env = { ENTROPIX_CACHE_DIR: cache };
  const r = await runCli(["generate", "-m", dir, "Once upon a time", "-n", "4", "--json", "--seed", "1"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(jsonLines(r.stdout).at(-1)!.attention_source, "taps");
  assertUntouched(dir, before, /^$/);
  const entries = readdirSync(path.join(cache, "taps")).filter((e) => e !== "by-path");
  assert.equal(entries.length, 1);
  const patched = path.join(cache, "taps", entries[0], "model.taps.onnx");
  const mtime = statSync(patched).mtimeMs;
  // Second run reuses the entry; a corrupt entry (same size, one byte flipped) is detected and rebuilt.
  const again = await runCli(["generate", "-m", dir, "Once upon a time", "-n", "4", "--json", "--seed", "1"], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(patched).mtimeMs, mtime, "reused, not rewritten");
  const bytes = readFileSync(patched);
  bytes[bytes.length >> 1] ^= 0x55;
  writeFileSync(patched, bytes);
  const fixed = await runCli(["generate", "-m", dir, "Once upon a time", "-n", "4", "--json", "--seed", "1"], { env });
  assert.equal(fixed.code, 0, fixed.stderr);
  const sidecar = JSON.parse(readFileSync(path.join(path.dirname(patched), "model.taps.json"), "utf8"));
  assert.equal(createHash("sha256").update(readFileSync(patched)).digest("hex"), sidecar.patched.sha256);
  assert.equal(jsonLines(fixed.stdout).at(-1)!.text, jsonLines(r.stdout).at(-1)!.text);
  // Nowhere to write (a cache path under a regular file: root ignores mode bits): a clear error; --no-taps runs.
  const blocker = path.join(tempDir(), "file");
  writeFileSync(blocker, "");
  const stuck = { ENTROPIX_CACHE_DIR: path.join(blocker, "cache") };
  const fail = await runCli(["generate", "-m", dir, "Once upon a time", "-n", "4"], { env: stuck });
  assertError(fail, 1, /model\.onnx: cannot write the attention-tapped copy beside the model or in .*cache \(ENOTDIR\)/);
  const plain = await runCli(["generate", "-m", dir, "Once upon a time", "-n", "4", "--no-taps"], { env: stuck });
  assert.equal(plain.code, 0, plain.stderr);
  assertUntouched(dir, before, /^$/);
});

test("two processes patching the same model at once: both run, one intact patched copy, no temp files", async () => {
  const dir = copyStories();
  const before = hashTree(dir);
  const args = ["generate", "-m", dir, "Tom had a", "-n", "6", "--json", "--seed", "9", "--sampler", "greedy"];
  const [a, b] = await Promise.all([runCli(args), runCli(args)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const sa = jsonLines(a.stdout).at(-1)!;
  const sb = jsonLines(b.stdout).at(-1)!;
  assert.equal(sa.attention_source, "taps");
  assert.equal(sb.attention_source, "taps");
  assert.equal(sa.text, sb.text);
  assert.deepEqual(readdirSync(path.join(dir, "onnx")).sort(), ["model.onnx", "model.taps.json", "model.taps.onnx"]);
  const sidecar = JSON.parse(readFileSync(path.join(dir, "onnx", "model.taps.json"), "utf8"));
  assert.equal(createHash("sha256").update(readFileSync(path.join(dir, "onnx", "model.taps.onnx"))).digest("hex"), sidecar.patched.sha256);
  assertUntouched(dir, before);
});

test("a stale, truncated or corrupt patched copy (or sidecar) is detected by its hash and rebuilt", async () => {
  const dir = copyStories();
  const before = hashTree(dir);
  const args = ["generate", "-m", dir, "Tom had a", "-n", "6", "--json", "--seed", "9", "--sampler", "greedy"];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const expected = jsonLines(first.stdout).at(-1)!.text;
  const patched = path.join(dir, "onnx", "model.taps.onnx");
  const sidecarFile = path.join(dir, "onnx", "model.taps.json");
  const good = readFileSync(patched);
  const sidecar = JSON.parse(readFileSync(sidecarFile, "utf8"));
  const damage: [string, () => void][] = [
    ["one byte flipped", () => {
      const b = Buffer.from(good);
      b[b.length - 100] ^= 0xff;
      writeFileSync(patched, b);
    }],
    ["truncated", () => writeFileSync(patched, good.subarray(0, good.length >> 1))],
    ["replaced by garbage", () => writeFileSync(patched, "garbage")],
    ["sidecar corrupt", () => writeFileSync(sidecarFile, "{")],
    ["sidecar stale (other source)", () => writeFileSync(sidecarFile, JSON.stringify({ ...sidecar, source: { ...sidecar.source, size: 1 } }))],
  ];
  for (const [what, hurt] of damage) {
    hurt();
    const r = await runCli(args);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    const s = jsonLines(r.stdout).at(-1)!;
    assert.equal(s.attention_source, "taps", what);
    assert.equal(s.text, expected, what);
    assert.ok(readFileSync(patched).equals(good), `${what}: rebuilt byte for byte`);
  }
  assertUntouched(dir, before);
});

// ---------------------------------------------------------------------------------------------
// Prompts

test("prompt problems: empty, blank, too long, invalid UTF-8, bad JSONL lines (exit 2)", async () => {
  const dir = tempDir();
  const badUtf8 = path.join(dir, "bad.txt");
  writeFileSync(badUtf8, Buffer.concat([Buffer.from("Once upon a tïme\n"), Buffer.from([0xc3, 0x28]), Buffer.from(" rest\n")]));
  const blankFile = path.join(dir, "blank.txt");
  writeFileSync(blankFile, "\n   \n\t\n");
  const allBad = path.join(dir, "bad.jsonl");
  writeFileSync(allBad, 'not json\n{"prompt": 3}\n[1, 2]\n{"prompt": "x", "seed": -1}\n');
  const badJsonlUtf8 = path.join(dir, "bad-utf8.jsonl");
  writeFileSync(badJsonlUtf8, Buffer.concat([Buffer.from('{"prompt": "ok"}\n{"prompt": "'), Buffer.from([0xff]), Buffer.from('"}\n')]));
  const long = "Once upon a time there was a dog. ".repeat(120);
  const M = ["generate", "-m", STORIES, "-n", "2"];
  const cases: { label: string; args: string[]; input?: string | Buffer; want: RegExp }[] = [
    { label: "empty argument", args: [...M, ""], want: /prompt is empty; give some text/ },
    { label: "blank argument", args: [...M, "  \t \n "], want: /prompt is empty; give some text/ },
    { label: "no prompt, stdin is /dev/null", args: M, want: /prompt is empty; give some text/ },
    { label: "empty stdin", args: M, input: "", want: /prompt is empty; give some text/ },
    { label: "blank stdin", args: M, input: " \n\n\t ", want: /prompt is empty; give some text/ },
    { label: "blank --file", args: [...M, "--file", blankFile], want: /no prompts to run/ },
    { label: "missing --file", args: [...M, "--file", path.join(dir, "missing.txt")], want: /missing\.txt: cannot read the prompt file \(ENOENT\)/ },
    { label: "too long", args: [...M, long], want: /prompt is \d+ tokens but the model's context is 512; shorten it, or pass --truncate left/ },
    { label: "invalid UTF-8 --file", args: [...M, "--file", badUtf8], want: /bad\.txt: invalid UTF-8 at byte 18; save the text as UTF-8/ },
    { label: "invalid UTF-8 stdin", args: M, input: Buffer.from([0x4f, 0x6e, 0x63, 0x65, 0x20, 0xe2, 0x82]), want: /stdin: invalid UTF-8 at byte 5/ },
    { label: "invalid UTF-8 --jsonl", args: [...M, "--jsonl", badJsonlUtf8], want: /bad-utf8\.jsonl: invalid UTF-8 at byte 29/ },
    { label: "JSONL all lines bad", args: [...M, "--jsonl", allBad], want: /no prompts to run/ },
    { label: "JSONL --strict names the line", args: [...M, "--jsonl", allBad, "--strict"], want: /bad\.jsonl:1: not valid JSON; skipped \(--strict stops at the first bad line\)/ },
  ];
  await pool(cases, 3, async (c) => {
    const r = await runCli(c.args, { input: c.input });
    assertError(r, 2, c.want, c.label);
  });
  // The all-bad JSONL run lists each line with its number before giving up.
  const r = await runCli([...M, "--jsonl", allBad]);
  const notes = nonEmptyLines(r.stderr).filter((l) => l.startsWith("note: "));
  assert.deepEqual(notes.map((l) => /bad\.jsonl:(\d+):/.exec(l)?.[1]), ["1", "2", "3", "4"], r.stderr);
});

test("--truncate left keeps the prompt's end with a notice; --truncate none is the default", async () => {
  const long = Array.from({ length: 300 }, (_, i) => `Tom had ${i} dogs.`).join(" ");
  const r = await runCli(["generate", "-m", STORIES, long, "-n", "8", "--json", "--truncate", "left", "--seed", "2"]);
  assert.equal(r.code, 0, r.stderr);
  const s = jsonLines(r.stdout).at(-1)!;
  assert.equal(s.prompt_tokens, 512 - 8);
  assert.equal(s.generated_tokens, 8);
  assert.deepEqual(nonEmptyLines(r.stderr), [`note: prompt is ${/prompt is (\d+ tokens)/.exec(r.stderr)?.[1]}, longer than the model's context of 512 tokens; kept its last 504 tokens (--truncate left)`]);
  // The kept tail is the same as truncating by hand: same tokens, same greedy continuation.
  const g = await runCli(["generate", "-m", STORIES, long, "-n", "8", "--json", "--truncate", "left", "--sampler", "greedy"]);
  const { loadModel } = await import("../src/index.js");
  const m = await loadModel(STORIES, { taps: false });
  const ids = m.tokenizer.encode(long);
  const tail = [ids[0], ...ids.slice(-(504 - 1))];
  const { generate } = await import("../src/index.js");
  let text = "";
  for await (const e of generate(m, "", { promptIds: tail, sampler: "greedy", maxTokens: 8 })) if (e.type === "summary") text = e.text;
  await m.close();
  assert.equal(jsonLines(g.stdout).at(-1)!.text, text);
  const bad = await runCli(["generate", "-m", STORIES, "hi", "--truncate", "right"]);
  assertError(bad, 2, /--truncate must be one of none, left, got "right"/);
});

test("10 MB on stdin: a too-long error, or with --truncate left a run on its last tokens", async () => {
  const words = ["Once", "upon", "a", "time", "the", "dog", "ran", "to", "Lily", "and", "sat", "down."];
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < 10_000_000; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length];
    parts.push(w);
    n += w.length + 1;
  }
  const big = Buffer.from(parts.join(" ").slice(0, 10_000_000));
  const r = await runCli(["generate", "-m", STORIES, "-n", "4"], { input: big });
  assertError(r, 2, /prompt is at least \d+ tokens \(\d+ characters\) but the model's context is 512; shorten it, or pass --truncate left/);
  const left = await runCli(["generate", "-m", STORIES, "-n", "4", "--truncate", "left", "--json"], { input: big });
  assert.equal(left.code, 0, left.stderr);
  assert.equal(jsonLines(left.stdout).at(-1)!.prompt_tokens, 508);
  assert.match(left.stderr, /^note: prompt is \d+ characters, longer than the model's context of 512 tokens; kept its last 508 tokens/);
});

// ---------------------------------------------------------------------------------------------
// Flags

test("flag problems: unknown, missing values, bad numbers, contradictions (exit 2, before any model load)", async () => {
  const G = ["generate", "-m", STORIES];
  const cases: { args: string[]; want: RegExp }[] = [
    { args: [...G, "hi", "--bogus"], want: /unknown option '--bogus' \(see entropix --help\)/ },
    { args: ["frobnicate"], want: /unknown command 'frobnicate'/ },
    { args: [...G, "hi", "--seed"], want: /option '--seed <n>' argument missing/ },
    { args: ["generate", "hi", "-m"], want: /option '-m, --model <dir>' argument missing/ },
    { args: [...G, "hi", "-n", "abc"], want: /--max-tokens needs a finite number, got "abc"/ },
    { args: [...G, "hi", "-n", "0"], want: /--max-tokens must be a whole number of at least 1, got 0/ },
    { args: [...G, "hi", "-n", "2.5"], want: /--max-tokens must be a whole number/ },
    { args: [...G, "hi", "--temperature=-1"], want: /--temperature must be 0 or more, got -1/ },
    { args: [...G, "hi", "--temperature", "NaN"], want: /--temperature needs a finite number, got "NaN"/ },
    { args: [...G, "hi", "--temperature", "Infinity"], want: /--temperature needs a finite number, got "Infinity"/ },
    { args: [...G, "hi", "--top-p", "1e999"], want: /--top-p needs a finite number/ },
    { args: [...G, "hi", "--top-p", "0"], want: /--top-p must be in \(0, 1\], got 0/ },
    { args: [...G, "hi", "--min-p", "1.5"], want: /--min-p must be in \[0, 1\], got 1\.5/ },
    { args: [...G, "hi", "--top-k", "-3"], want: /--top-k must be a whole number of at least 0, got -3/ },
    { args: [...G, "hi", "--seed", "-1"], want: /--seed must be a whole number from 0 to 4294967295, got -1/ },
    { args: [...G, "hi", "--seed", "4294967296"], want: /--seed must be a whole number from 0 to 4294967295/ },
    { args: [...G, "hi", "--threads", "0"], want: /--threads must be a whole number from 1 to 1024, got 0/ },
    { args: [...G, "hi", "--clarify-every", ""], want: /--clarify-every needs a finite number, got ""/ },
    { args: [...G, "hi", "--sampler", "nucleus"], want: /--sampler must be one of entropix, entropix-reference, greedy, temperature, got "nucleus"/ },
    { args: [...G, "hi", "--dtype", "fp8"], want: /--dtype must be one of/ },
    { args: [...G, "hi", "--file", "p.txt"], want: /give prompts either as an argument or with --file\/--jsonl, not both/ },
    { args: [...G, "--file", "a.txt", "--jsonl", "b.jsonl"], want: /--file and --jsonl cannot be combined/ },
    { args: [...G, "hi", "--compare", "entropix"], want: /--compare entropix compares against the sampler already chosen with --sampler/ },
    { args: [...G, "hi", "--sampler", "greedy", "--compare", "greedy"], want: /--compare greedy compares against the sampler already chosen/ },
    { args: [...G, "hi", "--system", "be brief"], want: /--system needs --chat/ },
    { args: [...G, "hi", "--thresholds", "/nonexistent/t.json"], want: /t\.json: cannot read the thresholds file \(ENOENT\)/ },
  ];
  await pool(cases, 3, async (c) => {
    const r = await runCli(c.args);
    assertError(r, 2, c.want, c.args.join(" "));
    assert.equal(r.stdout, "");
  });
});

// ---------------------------------------------------------------------------------------------
// Runtime

test("NaN logits at some step: a clear error naming the step, exit 1, the tokens before it kept", async () => {
  const dir = folderWith(nanDecoder(10.5), { num_hidden_layers: 1, num_key_value_heads: 1, num_attention_heads: 1, head_dim: 2, hidden_size: 2 });
  const before = hashTree(dir);
  for (const prompt of ["Once upon a time", "Tom"]) {
    const r = await runCli(["generate", "-m", dir, prompt, "-n", "50", "--json", "--sampler", "greedy", "--ignore-eos"]);
    const err = assertError(r, 1, /the model produced non-finite logits at step (\d+) \(logits are not a distribution \(512 NaN of 512\)\); the model file may be broken/);
    const step = Number(/at step (\d+)/.exec(err)![1]);
    const tokens = jsonLines(r.stdout).filter((l) => l.type === "token");
    assert.ok(step > 0, "NaN appears after the prompt, not at it");
    assert.equal(tokens.length, step, "every token before the bad step was written");
    assert.ok(nonEmptyLines(r.stderr).every((l) => l.startsWith("entropix: ") || /^note: attention metrics unavailable/.test(l)), r.stderr);
  }
  assertUntouched(dir, before);
});

test("the context filling up during generation stops with a notice, exit 0, stop_reason context_full", async () => {
  const prompt = "Tom had a dog. ".repeat(70);
  const r = await runCli(["generate", "-m", STORIES, prompt, "-n", "100", "--ignore-eos", "--json", "--sampler", "greedy"]);
  assert.equal(r.code, 0, r.stderr);
  const s = jsonLines(r.stdout).at(-1)!;
  assert.equal(s.stop_reason, "context_full");
  assert.equal((s.prompt_tokens as number) + (s.generated_tokens as number), 513, "filled to the last position (the final token needs no forward pass)");
  assert.deepEqual(nonEmptyLines(r.stderr), ["note: stopped: the model's context of 512 tokens is full"]);
  const text = await runCli(["generate", "-m", STORIES, prompt, "-n", "100", "--ignore-eos", "--sampler", "greedy"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stderr, /stop: context_full/);
});

test("Ctrl-C while waiting for stdin exits at once with 130", async () => {
  // (Ctrl-C during generation and a closed stdout pipe: see cli-generate.test.ts.)
  const child = spawn(process.execPath, [CLI, "generate", "-m", STORIES], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), CLI_KILL_MS);
    child.on("close", (c, s) => {
      clearTimeout(kill);
      resolve([c, s]);
    });
    // Readiness without a clock: more than a pipe buffer of prompt, stdin left open. The write
    // drains only once the CLI is reading its prompts, i.e. its Ctrl-C handler is in place.
    child.stdin.on("error", () => {}); // EPIPE once the CLI is gone: expected, not a failure
    const more = child.stdin.write(Buffer.alloc(1 << 20, "a"));
    assert.equal(more, false, "the write fills the pipe");
    child.stdin.once("drain", () => child.kill("SIGINT"));
  });
  assert.deepEqual([code, signal], [130, null], err);
  assert.equal(err, "");
});
