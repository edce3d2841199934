// Export compatibility (issue 5): every layout either runs — with attention taps where the file allows
// them — or fails with a one-line message. Real onnxruntime-genai exports from ../shared/fixtures, plus
// tiny random decoders this file builds itself with onnx-build.ts (plain Softmax attention) in the
// remaining layouts. Random weights give near-uniform logits: these test plumbing, not text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, linkSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GENAI, STORIES, jsonLines, maxAbsDiff, runCli, tempDir } from "./helpers.js";
import { tinyDecoder, type TinyDecoderOptions } from "./onnx-build.js";
import { loadModel } from "../src/index.js";

const LLAMA_MHA = path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16");
const QWEN_GQA = path.join(GENAI, "tiny-qwen35-cuda");
const GPT2_PACKED = path.join(GENAI, "tiny-random-gpt2-fp32");

const root = tempDir("entropix-compat-");
const readOnly: string[] = [];
test.after(() => {
  for (const d of readOnly) chmodSync(d, 0o755);
  rmSync(root, { recursive: true, force: true });
});

/** Hard link (onnxruntime refuses external data that resolves outside the model's folder), else copy. */
function linkOrCopy(src: string, dst: string): void {
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

/** stories260k's Llama BPE tokenizer (vocab 512); `config: false` leaves out tokenizer_config.json. */
function addTokenizer(dir: string, config = true): void {
  copyFileSync(path.join(STORIES, "tokenizer.json"), path.join(dir, "tokenizer.json"));
  if (config) copyFileSync(path.join(STORIES, "tokenizer_config.json"), path.join(dir, "tokenizer_config.json"));
}

interface FolderSpec {
  /** Where the .onnx goes inside the folder (default onnx/model.onnx). */
  file?: string;
  tokenizerConfig?: boolean;
  readOnly?: boolean;
  /** More decoders written into the same folder. */
  extra?: { file: string; opts: TinyDecoderOptions }[];
}

/** A model folder holding a tinyDecoder build, config.json and the stories tokenizer. */
function syntheticFolder(name: string, opts: TinyDecoderOptions, spec: FolderSpec = {}): string {
  const dir = path.join(root, name);
  const write = (file: string, o: TinyDecoderOptions) => {
    const m = tinyDecoder(o);
    const dest = path.join(dir, file);
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, m.onnx);
    if (m.data) writeFileSync(path.join(path.dirname(dest), o.externalData!), m.data);
    return m;
  };
  const m = write(spec.file ?? "onnx/model.onnx", opts);
  for (const e of spec.extra ?? []) write(e.file, e.opts);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(m.config, null, 2));
  addTokenizer(dir, spec.tokenizerConfig !== false);
  if (spec.readOnly) {
    const onnxDir = path.dirname(path.join(dir, spec.file ?? "onnx/model.onnx"));
    chmodSync(onnxDir, 0o555);
    readOnly.push(onnxDir);
  }
  return dir;
}

/** The GQA fixture has no tokenizer: a folder with its decoder + genai_config and the stories tokenizer. */
function qwenFolder(): string {
  const dir = path.join(root, "qwen-gqa");
  mkdirSync(dir);
  linkOrCopy(path.join(QWEN_GQA, "decoder.onnx"), path.join(dir, "decoder.onnx"));
  linkOrCopy(path.join(QWEN_GQA, "genai_config.json"), path.join(dir, "genai_config.json"));
  addTokenizer(dir);
  return dir;
}

/** inspect --json, then 20 tokens with greedy and with entropix; checks exit codes, counts and the source. */
async function runsEverywhere(dir: string, source: "taps" | "none", extra: string[] = []): Promise<Record<string, unknown>> {
  const gen = (sampler: string) =>
    runCli(["generate", "-m", dir, ...extra, "Once upon a time", "--sampler", sampler, "-n", "20", "--ignore-eos", "--json", "--seed", "5"]);
  const [inspect, greedy, entropix] = await Promise.all([runCli(["inspect", "-m", dir, ...extra, "--json"]), gen("greedy"), gen("entropix")]);
  assert.equal(inspect.code, 0, inspect.stderr);
  const facts = JSON.parse(inspect.stdout) as Record<string, unknown>;
  assert.equal(facts.attention_source, source, String(facts.attention_note));
  for (const [name, r] of [["greedy", greedy], ["entropix", entropix]] as const) {
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const lines = jsonLines(r.stdout);
    const tokens = lines.filter((l) => l.type === "token");
    const summary = lines.at(-1)!;
    assert.equal(tokens.filter((t) => !t.inserted).length, 20, name); // a clarifying insert is an extra event, not a generated token
    assert.equal(summary.generated_tokens, 20, name);
    assert.equal(summary.attention_source, source, name);
    assert.equal(summary.sampler, name);
    assert.ok(tokens.every((t) => Number.isFinite(t.entropy)), `${name}: finite entropies`);
    const attn = tokens.map((t) => t.attn_entropy);
    if (source === "taps") assert.ok(attn.every((a) => typeof a === "number" && Number.isFinite(a)), `${name}: attention metrics`);
    else assert.ok(attn.every((a) => a === null), `${name}: no attention metrics`);
  }
  return facts;
}

/** A one-line error (no stack trace) naming what does not fit, exit code 1. */
async function refuses(dir: string, pattern: RegExp, extra: string[] = []): Promise<void> {
  for (const args of [["inspect", "-m", dir, ...extra], ["generate", "-m", dir, ...extra, "hello", "-n", "3"]]) {
    const r = await runCli(args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${args[0]}: one line expected, got:\n${r.stderr}`);
    assert.match(lines[0], /^entropix: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, "");
  }
}

// ---------------------------------------------------------------------------------------------
// Real exports (onnxruntime-genai model builder)

test("fused MultiHeadAttention + RotaryEmbedding, external model.onnx.data, fp16, genai_config only → runs, attention none", async () => {
  const facts = await runsEverywhere(LLAMA_MHA, "none");
  assert.match(String(facts.attention_note), /com\.microsoft\.MultiHeadAttention/);
  assert.equal(facts.dtype, "fp16");
  assert.equal(facts.vocab_size, 32000);
  assert.equal(facts.layers, 2);
  assert.equal(facts.onnx_file, "model.onnx");
});

test("fused GroupQueryAttention, int32 ids, fp16 cache, genai_config only → taps via qk_output", async () => {
  const facts = await runsEverywhere(qwenFolder(), "taps");
  assert.match(String(facts.attention_note), /GroupQueryAttention/);
  assert.equal(facts.kv_heads, 2);
  assert.equal(facts.head_dim, 16);
  assert.equal(facts.vocab_size, 1000);
  assert.equal(facts.dtype, "fp16");
});

test("contrib Attention with the legacy packed cache past_{i} → one-line refusal", async () => {
  await refuses(GPT2_PACKED, /past\.onnx: uses the legacy packed cache past_\{i\} \[2,B,H,P,D\].*re-export with optimum/);
});

// ---------------------------------------------------------------------------------------------
// Layouts built here

test("no position_ids, tokenizer.json without tokenizer_config.json → taps", async () => {
  await runsEverywhere(syntheticFolder("no-positions", { positionIds: false }, { tokenizerConfig: false }), "taps");
});

test("fp16 cache and fp16 logits → taps", async () => {
  const facts = await runsEverywhere(syntheticFolder("fp16", { cache: "float16", logits: "float16" }), "taps");
  assert.equal(facts.dtype, "fp16");
});

test("external data (model.onnx_data) in a read-only folder → taps from the cache copy", async () => {
  const facts = await runsEverywhere(syntheticFolder("external", { externalData: "model.onnx_data" }, { readOnly: true }), "taps");
  assert.equal(facts.onnx_file, path.join("onnx", "model.onnx"));
});

test("int32 input_ids / attention_mask / position_ids → taps", async () => {
  await runsEverywhere(syntheticFolder("int32", { ids: "int32" }), "taps");
});

test("optimum decoder_model_merged.onnx (If + use_cache_branch) → runs, attention none with the scan's reason", async () => {
  const facts = await runsEverywhere(syntheticFolder("merged", { merged: true }, { file: "onnx/decoder_model_merged.onnx" }), "none");
  assert.match(String(facts.attention_note), /inside If subgraph of node optimum::if/);
});

test("a folder with both decoder_with_past_model.onnx and the merged decoder runs the former, with taps", async () => {
  const dir = syntheticFolder("merged-and-with-past", { merged: true }, {
    file: "onnx/decoder_model_merged.onnx",
    extra: [{ file: "onnx/decoder_with_past_model.onnx", opts: {} }],
  });
  const r = await runCli(["inspect", "-m", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const facts = JSON.parse(r.stdout);
  assert.equal(facts.onnx_file, path.join("onnx", "decoder_with_past_model.onnx"));
  assert.equal(facts.attention_source, "taps");
});

test("dynamically quantized MatMulInteger (model_quantized.onnx, --dtype q8) → taps", async () => {
  const facts = await runsEverywhere(syntheticFolder("quantized", { quantized: true }, { file: "onnx/model_quantized.onnx" }), "taps", ["--dtype", "q8"]);
  assert.equal(facts.dtype, "q8");
});

test("cached decoding equals a full prefill in every layout (fp16 cache round-trips; merged branches agree)", async () => {
  // [name, options, file, tolerance, same weights as "plain"]
  const layouts: [string, TinyDecoderOptions, string, number, boolean][] = [
    ["plain", {}, "onnx/model.onnx", 1e-5, true],
    ["fp16 cache+logits", { cache: "float16", logits: "float16" }, "onnx/model.onnx", 2e-2, false],
    ["int32, no position_ids", { ids: "int32", positionIds: false }, "onnx/model.onnx", 1e-5, false],
    ["merged", { merged: true }, "onnx/decoder_model_merged.onnx", 1e-5, true],
    ["external data", { externalData: "model.onnx_data" }, "onnx/model.onnx", 1e-5, true],
  ];
  const ids = [1, 403, 407, 261, 378, 432, 383];
  let reference: Float32Array | null = null;
  for (const [name, opts, file, tol, samePlain] of layouts) {
    const dir = syntheticFolder(`roundtrip-${name.replace(/[^a-z0-9]+/g, "-")}`, opts, { file });
    const m = await loadModel(dir, { cacheDir: path.join(root, "cache") });
    try {
      const full = (await m.newSequence().prefill([ids]))[0];
      const seq = m.newSequence();
      await seq.prefill([ids.slice(0, 3)]);
      let out = full;
      for (const id of ids.slice(3)) out = (await seq.step([id]))[0];
      assert.ok(out.logits instanceof Float32Array, `${name}: logits are float32`);
      assert.equal(out.logits.length, 512);
      const d = maxAbsDiff(full.logits, out.logits);
      assert.ok(d < tol, `${name}: cached vs full prefill differ by ${d}`);
      assert.equal(seq.length, ids.length);
      if (m.facts.attentionSource === "taps") {
        assert.equal(out.scores!.length, 2);
        assert.equal(out.scores![0].kvLen, ids.length);
      }
      // Same weights (same seed): the same logits, merged or not, external data or not.
      if (name === "plain") reference = full.logits;
      else if (samePlain) assert.ok(maxAbsDiff(reference!, full.logits) < 1e-5, `${name}: differs from the plain layout`);
    } finally {
      await m.close();
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Bad input: one line naming what does not fit, exit 1

test("an ONNX model without a logits output is refused", async () => {
  await refuses(syntheticFolder("no-logits", { rename: { logits: "hidden_states" } }), /not a causal language model \(no logits output; outputs are hidden_states, present/);
});

test("an ONNX model without input_ids is refused", async () => {
  await refuses(syntheticFolder("no-input-ids", { rename: { input_ids: "inputs_embeds" } }), /not a decoder language model \(no input_ids input; inputs are inputs_embeds/);
});

test("a KV cache whose names cannot be paired is refused", async () => {
  await refuses(syntheticFolder("unpaired", { rename: { "present.1.value": "present.1.v" } }), /cache of layer 1 cannot be paired: no present\.1\.value/);
  await refuses(syntheticFolder("unknown-past", { rename: { "past_key_values.0.value": "past_value_0" } }), /input past_value_0 is not a decoder input entropix knows/);
});

test("a tokenizer larger than the logits is refused", async () => {
  await refuses(syntheticFolder("small-vocab", { vocab: 300 }), /tokenizer has 512 tokens but the model's logits cover only 300/);
});

test("a file that is not ONNX is refused", async () => {
  const dir = syntheticFolder("garbage", {});
  writeFileSync(path.join(dir, "onnx", "model.onnx"), "this is not a protobuf\n".repeat(20));
  await refuses(dir, /model\.onnx: (not an ONNX model|truncated or corrupt)/);
});
