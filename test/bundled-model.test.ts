// The model shipped under models/ (issue 4): it loads with taps, its tokenizer round-trips text,
// cached decoding equals a full re-run, and `entropix generate` with no --model produces text.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { statSync } from "node:fs";
import { argmax, maxAbsDiff, REPO_ROOT, runCli, jsonLines } from "./helpers.js";
import { loadModel, type Model } from "../src/index.js";

const BUNDLED = path.join(REPO_ROOT, "models", "tiny-stdlib-llama");
let model: Model;

test.before(async () => {
  model = await loadModel(BUNDLED);
});
test.after(() => model.close());

test("loads as a Llama with plain attention, so every layer is tapped", () => {
  const f = model.facts;
  assert.equal(f.architecture, "LlamaForCausalLM");
  assert.equal(f.attentionSource, "taps");
  assert.equal(model.io.scoreOutputs.length, f.layers);
  assert.equal(f.vocabSize, 4096);
  assert.ok(f.contextLength! >= 512);
  assert.ok(statSync(path.join(BUNDLED, "onnx", "model.onnx")).size <= 25 * 1024 * 1024, "at most 25 MB in the repository");
});

test("the tokenizer round-trips text byte for byte", () => {
  for (const text of ["Call me Ishmael. Some years ago—never mind how long precisely—", "Mr. Speaker,\n\n  tabs\tand  spaces, café, naïve, 日本語, emoji 🐋!", "1861: $4,000,000.00"]) {
    const ids = model.tokenizer.encode(text);
    assert.equal(ids[0], model.facts.bosId, "BOS first");
    assert.equal(model.tokenizer.decode(ids), text);
  }
});

test("cached decoding equals a full re-run (tolerance 1e-4); the model predicts real text", async () => {
  const ids = model.tokenizer.encode("It was the best of times, it was the worst of times");
  const seq = model.newSequence();
  let cached = (await seq.prefill([ids.slice(0, 4)]))[0];
  let inTop10 = 0;
  for (let n = 4; n <= ids.length; n++) {
    const full = (await model.newSequence().prefill([ids.slice(0, n)]))[0];
    assert.ok(maxAbsDiff(cached.logits, full.logits) < 1e-4, `logits differ after ${n} tokens`);
    assert.equal(argmax(cached.logits), argmax(full.logits), `greedy choice differs after ${n} tokens`);
    const last = full.scores!.length - 1;
    assert.ok(maxAbsDiff(cached.scores![last].data, full.scores![last].data) < 1e-4, `scores differ after ${n} tokens`);
    if (n < ids.length) {
      // A trained model ranks Dickens's next token among its 10 likeliest of 4096 most of the time
      // (a random-weight one would with probability 10/4096).
      const z = full.logits;
      if (z.filter((x) => x > z[ids[n]]).length < 10) inTop10++;
      cached = (await seq.step([ids[n]]))[0];
    }
  }
  assert.ok(inTop10 >= (ids.length - 4) / 2, `true next token in the top 10 at ${inTop10} of ${ids.length - 4} positions`);
});

test("`entropix generate` with no --model runs the bundled model and produces text", async () => {
  const r = await runCli(["generate", "Call me Ishmael", "-n", "24", "--seed", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const summary = lines.at(-1)!;
  assert.equal(summary.type, "summary");
  assert.ok((summary.generated_tokens as number) > 0);
  assert.match(summary.text as string, /[a-z]{2,}/i, "some words");
  assert.equal(summary.attention_source, "taps");
});
