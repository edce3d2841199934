// The second bundled model, models/stories260k (issue 14): converted by scripts/convert-llama2c/,
// run by name with --model, shown by `entropix list`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FIXTURES, jsonLines, maxAbsDiff, REPO_ROOT, runCli, STORIES, STORIES_GREEDY, tempDir } from "./helpers.js";
import { loadModel } from "../src/index.js";
import { bundledModels, resolveModelArg } from "../src/model/bundled.js";
import { UsageError } from "../src/errors.js";
import { countInitializerElements } from "../src/onnx/weights.js";
import { formatBytes, formatCount, renderTable } from "../src/list/render.js";
import { bundledSource } from "../src/list/bundled-source.js";

const BUNDLED = path.join(REPO_ROOT, "models", "stories260k");
const LLAMA2C = path.join(FIXTURES, "tinyllamas-stories260K");
const CONVERT = path.join(REPO_ROOT, "scripts", "convert-llama2c", "convert.py");
const PYTHON = "/usr/bin/python3";

test("models/stories260k loads as a tapped Llama; its tokenizer gives llama2.c's ids", async () => {
  const model = await loadModel(BUNDLED);
  try {
    const f = model.facts;
    assert.equal(f.architecture, "LlamaForCausalLM");
    assert.equal(f.attentionSource, "taps");
    assert.equal(model.io.scoreOutputs.length, 5);
    assert.deepEqual([f.layers, f.kvHeads, f.headDim, f.vocabSize, f.contextLength, f.bosId], [5, 4, 8, 512, 512, 1]);
    // The ids the fixtures README gives for llama2.c's own encoder.
    assert.deepEqual(model.tokenizer.encode("Once upon a time, there was a little girl named Lily."), [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426]);
  } finally {
    await model.close();
  }
});

test("its logits equal an independent conversion of the same checkpoint (../shared/fixtures/stories260k)", async () => {
  const ours = await loadModel(BUNDLED, { taps: false });
  const theirs = await loadModel(STORIES, { taps: false });
  try {
    const ids = ours.tokenizer.encode("Once upon a time, there was a little girl named Lily. She loved to play");
    const a = await ours.newSequence().prefill([ids]);
    const b = await theirs.newSequence().prefill([ids]);
    const diff = maxAbsDiff(a[0].logits, b[0].logits);
    assert.ok(diff < 1e-4, `max |diff| ${diff}`);
  } finally {
    await ours.close();
    await theirs.close();
  }
});

test("`--model stories260k --sampler greedy` reproduces the published greedy text", async () => {
  const r = await runCli(["generate", "--model", "stories260k", "Once upon a time", "--sampler", "greedy", "-n", "40"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${r.stdout.trimEnd()}`), `got: ${r.stdout}`);
  assert.ok(r.stdout.length > 100);
  assert.match(r.stderr, /40 tokens \(prompt 5\)/);
  assert.match(r.stderr, /attention: taps/);
});

test("`entropix list` shows both bundled models with size, parameters, context and attention source", async () => {
  const text = await runCli(["list"]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^NAME\s+SOURCE\s+SIZE\s+DTYPE\s+PARAMS\s+CONTEXT\s+ATTENTION\s+CALIBRATED$/);
  assert.match(text.stdout, /^tiny-stdlib-llama \(default\)\s+bundled\s+[\d.]+ [kM]B\s+fp32\s+[\d.]+[KM]\s+\d+\s+taps\s+(yes|no)$/m);
  assert.match(text.stdout, /^stories260k\s+bundled\s+1\.2 MB\s+fp32\s+260K\s+512\s+taps\s+(yes|no)$/m);

  const json = await runCli(["list", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const { models } = jsonLines(json.stdout)[0] as { models: Record<string, unknown>[] };
  const stories = models.find((m) => m.name === "stories260k");
  assert.ok(stories, json.stdout);
  assert.equal(stories.parameters, 260032);
  assert.equal(stories.context_length, 512);
  assert.equal(stories.attention_source, "taps");
  assert.equal(stories.default, false);
  assert.equal(stories.problem, null);
  assert.equal(path.resolve(stories.path as string), BUNDLED);
  assert.ok((stories.size_bytes as number) > 1e6 && (stories.size_bytes as number) < 2e6);
  assert.equal(models.filter((m) => m.default === true).map((m) => m.name).join(), "tiny-stdlib-llama");
  // `list` names exactly what --model accepts (the bundled names; HF-cached and recent models follow).
  assert.deepEqual(models.filter((m) => m.source === "bundled").map((m) => m.name), bundledModels().map((m) => m.name));
});

test("--model that is neither a folder nor a bundled name: one line listing the bundled names, exit 2", async () => {
  for (const arg of ["stories", path.join(tempDir(), "nope")]) {
    for (const cmd of [["generate", "--model", arg, "hi"], ["inspect", "-m", arg], ["calibrate", "-m", arg]]) {
      const r = await runCli(cmd);
      assert.equal(r.code, 2, `${cmd.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      const want = arg.includes("/")
        ? `entropix: ${arg}: model folder not found; pass an existing folder with --model, or a bundled model name (bundled: tiny-stdlib-llama, stories260k)\n`
        : `entropix: --model ${arg}: no such model folder and not a bundled model name (bundled: tiny-stdlib-llama, stories260k); pass a model folder or one of those names\n`;
      assert.equal(r.stderr, want);
    }
  }
});

test("resolveModelArg: a path wins over a bundled name, a name finds the bundled folder", () => {
  const models = [{ name: "stories260k", path: BUNDLED }];
  assert.equal(resolveModelArg("stories260k", models), BUNDLED);
  assert.equal(resolveModelArg(STORIES, models), STORIES);
  assert.throws(() => resolveModelArg("tiny", models), (e: Error) => e instanceof UsageError && /bundled: stories260k\)/.test(e.message));
  assert.throws(() => resolveModelArg("tiny", []), /bundled: none found/);
});

test("weight count and list formatting", async () => {
  assert.deepEqual(await countInitializerElements(path.join(BUNDLED, "onnx", "model.onnx")), { tensors: 47, elements: 260032 });
  // The fixture's export keeps a second (transposed) copy of the tied embedding: 512 × 64 more.
  assert.equal((await countInitializerElements(path.join(STORIES, "onnx", "model.onnx"))).elements, 260032 + 512 * 64);
  assert.deepEqual([formatBytes(999), formatBytes(1204659), formatBytes(19317915), formatBytes(null)], ["999 B", "1.2 MB", "19 MB", "?"]);
  assert.deepEqual([formatCount(260032), formatCount(4737792), formatCount(135e6), formatCount(1.2e9), formatCount(7)], ["260K", "4.7M", "135M", "1.2B", "7"]);
});

test("a folder that is not a usable model still gets a row, with what is wrong", async () => {
  const broken = tempDir("entropix-list-");
  writeFileSync(path.join(broken, "config.json"), JSON.stringify({ architectures: ["LlamaForCausalLM"], max_position_embeddings: 128 }));
  const rows = await bundledSource(() => [{ name: "broken", path: broken }, { name: "stories260k", path: BUNDLED }]).rows();
  assert.equal(rows.length, 2);
  assert.match(rows[0].problem ?? "", /no \.onnx file found/);
  assert.equal(rows[0].attentionSource, null);
  assert.ok(rows[0].sizeBytes! > 0);
  assert.equal(rows[1].problem, null);
  assert.equal(rows[1].attentionSource, "taps");
  const table = renderTable(rows);
  assert.match(table, /^broken\s+bundled\s+\d+ B\s+\?\s+\?\s+\?\s+\?\s+\?$/m);
  assert.match(table, /^note: broken: .*no \.onnx file found/m);
});

// ---------------------------------------------------------------------------------------------
// The converter. Its input checks run before numpy/torch are imported, so they run wherever Debian's
// python3 exists; the full conversion needs python3-torch and python3-onnx and is skipped without them.

const hasPython = existsSync(PYTHON);
const hasTorch = hasPython && spawnSync(PYTHON, ["-c", "import torch, onnx, numpy"]).status === 0;

function convert(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, [CONVERT, ...args], { encoding: "utf8", cwd: REPO_ROOT, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("convert.py: a file that is not a llama2.c checkpoint is refused in one line, exit 2", { skip: !hasPython && `${PYTHON} missing` }, () => {
  const dir = tempDir("entropix-convert-");
  const real = readFileSync(path.join(LLAMA2C, "stories260K.bin"));
  const v1 = Buffer.alloc(256);
  v1.writeUInt32LE(0x616b3432, 0);
  v1.writeInt32LE(1, 4);
  const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
  const cases: [string, Buffer, RegExp][] = [
    ["truncated.bin", real.subarray(0, 500_000), /truncated: the header's shape needs 1056540 bytes, the file has 500000/],
    ["v1.bin", v1, /llama2\.c export version 1 \(magic "ak42"\); this converter reads the legacy version 0 format/],
    ["garbage.bin", garbage, /not a llama2\.c checkpoint \(header reads dim .*: not a valid shape\)/],
    ["short.bin", real.subarray(0, 12), /12 bytes, too short for a llama2\.c checkpoint header/],
    ["longer.bin", Buffer.concat([real, Buffer.alloc(8)]), /8 bytes more than the header's shape needs/],
  ];
  for (const [name, bytes, want] of cases) {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    const r = convert(["--checkpoint", file, "--out", path.join(dir, "out")]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, "", name);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `${name}: one line, got ${r.stderr}`);
    assert.match(r.stderr, /^convert\.py: /, name);
    assert.match(r.stderr, want, name);
    assert.equal(existsSync(path.join(dir, "out")), false, `${name}: nothing written`);
  }
  // A tokenizer file that does not match is refused the same way; the real pair passes --check-only.
  const r = convert(["--tokenizer", path.join(dir, "truncated.bin"), "--check-only"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^convert\.py: .*truncated\.bin: .*not a llama2\.c tokenizer file\n$/);
  const ok = convert(["--checkpoint", path.join(LLAMA2C, "stories260K.bin"), "--tokenizer", path.join(LLAMA2C, "tok512.bin"), "--check-only"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /dim 64, hidden_dim 172, n_layers 5, n_heads 8, n_kv_heads 4, vocab_size 512, seq_len 512/);
});

test("convert.py: the full conversion passes its checks and reproduces the committed tokenizer and config", { skip: !hasTorch && "python3-torch / python3-onnx / numpy not installed" }, () => {
  const out = path.join(tempDir("entropix-convert-"), "stories260k");
  const r = convert(["--out", out]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const checks = r.stdout.split("\n").filter((l) => /^(PASS|FAIL) /.test(l));
  assert.ok(checks.length >= 7, r.stdout);
  assert.deepEqual(checks.filter((l) => l.startsWith("FAIL")), []);
  assert.match(r.stdout, /^PASS: /m);
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "LICENSE"]) {
    assert.equal(readFileSync(path.join(out, f), "utf8"), readFileSync(path.join(BUNDLED, f), "utf8"), f);
  }
});
