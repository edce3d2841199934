// Issue 13, item 14 (memory over long runs): the slot cache. The taps rewrite gives the graph new_kv.*
// outputs and makes present.* internal; Sequence then keeps the cache in buffers that grow in steps,
// with empty slots masked. Checked against the export's own concatenating cache on real models.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { GENAI, REPO_ROOT, STORIES, argmax, maxAbsDiff, tempDir } from "./helpers.js";
import { loadModel, type Model } from "../src/index.js";
import { addAttentionTaps, planTaps, writePlan } from "../src/onnx/taps.js";
import { scanModel } from "../src/onnx/scan.js";
import { slotCapacity } from "../src/model/kv-store.js";
import type { Sequence, StepOutput } from "../src/model/sequence.js";

const BUNDLED_STORIES = path.join(REPO_ROOT, "models", "stories260k");
const LAYERS = 5;

let slots: Model;
let concat: Model;
test.before(async () => {
  slots = await loadModel(BUNDLED_STORIES, { threads: 1 });
  concat = await loadModel(BUNDLED_STORIES, { threads: 1, taps: false });
});
test.after(async () => {
  await slots.close();
  await concat.close();
});

test("the cache rewrite: present.* become value_info (one tag byte each), new_kv.* are added, the copy runs", async () => {
  const src = path.join(STORIES, "onnx", "model.onnx");
  const dir = tempDir("entropix-kv-");
  const out = path.join(dir, "model.taps.onnx");
  const report = await addAttentionTaps(src, out, { cache: true });
  assert.equal(report.cacheOutput, "new");
  assert.match(report.note, /new_kv/);
  const o = await scanModel(src);
  const p = await scanModel(out);
  const names = p.graph.outputs.map((v) => v.name);
  assert.ok(!names.some((n) => n.startsWith("present.")), "no present.* output left");
  for (let l = 0; l < LAYERS; l++) for (const kv of ["key", "value"]) assert.ok(names.includes(`new_kv.${l}.${kv}`));
  // Only the demoted outputs' tag bytes differ within the original graph content.
  const a = readFileSync(src);
  const b = readFileSync(out);
  let differing = 0;
  for (let i = o.graph.contentStart; i < o.graph.contentEnd; i++) if (a[i] !== b[i + (p.graph.contentStart - o.graph.contentStart)]) differing++;
  assert.equal(differing, 2 * LAYERS);
  // The streaming writer gives the same bytes as the in-place copy.
  const streamed = path.join(dir, "streamed.onnx");
  await writePlan(o, await planTaps(o, { cache: true }), streamed, { strategy: "stream" });
  assert.ok(readFileSync(streamed).equals(b));
  assert.equal(statSync(out).size, statSync(streamed).size);

  // new_kv.* hold exactly the positions the original present.* append.
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, logSeverityLevel: 4 };
  const plain = await ort.InferenceSession.create(src, opts);
  const patched = await ort.InferenceSession.create(out, opts);
  try {
    const ids = [1, 403, 407, 261];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, 4]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(4).fill(1n), [1, 4]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from([0n, 1n, 2n, 3n]), [1, 4]),
    };
    for (let l = 0; l < LAYERS; l++) for (const kv of ["key", "value"]) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, 4, 0, 8]);
    const x = await plain.run(feeds);
    const y = await patched.run(feeds);
    assert.deepEqual(y.logits.data, x.logits.data);
    for (let l = 0; l < LAYERS; l++) assert.deepEqual(y[`new_kv.${l}.key`].data, x[`present.${l}.key`].data);
  } finally {
    await plain.release();
    await patched.release();
  }
});

test("slot capacity: at least the need, steps of ~1/8 (≥ 64), never past the context", () => {
  let last = 0;
  for (const need of [1, 63, 64, 65, 200, 511, 512, 1000, 4006, 10000]) {
    const c = slotCapacity(need, null);
    assert.ok(c >= need && c >= last, `${need} → ${c}`);
    assert.ok(c - need < Math.max(64, need / 8) + 1, `${need} → ${c}: overshoot too large`);
    last = c;
  }
  assert.equal(slotCapacity(500, 512), 512);
  assert.equal(slotCapacity(512, 512), 512);
});

async function greedyRun(seq: Sequence, prompt: number[], n: number): Promise<StepOutput[]> {
  const outs: StepOutput[] = [(await seq.prefill([prompt]))[0]];
  for (let i = 0; i < n; i++) outs.push((await seq.step([argmax(outs.at(-1)!.logits)]))[0]);
  return outs;
}

test("the slot cache decodes like the concatenating cache across regrowths, with and without a reservation", async () => {
  const prompt = slots.tokenizer.encode("Once upon a time, there was a little girl");
  const ref = await greedyRun(concat.newSequence(), prompt, 300);
  for (const reserve of [0, 400]) {
    const seq = slots.newSequence();
    assert.equal(seq.cacheLayout, "slots");
    if (reserve) seq.reserve(reserve);
    const got = await greedyRun(seq, prompt, 300);
    for (let i = 0; i < ref.length; i++) {
      assert.ok(maxAbsDiff(got[i].logits, ref[i].logits) < 1e-4, `reserve ${reserve}, step ${i}: ${maxAbsDiff(got[i].logits, ref[i].logits)}`);
    }
    // Scores come back without the empty slots: one per real position, none masked.
    const last = got.at(-1)!.scores!;
    assert.equal(last[0].kvLen, prompt.length + 300);
    assert.ok(last[0].data.every((v) => v > -1e30));
  }
});

test("extend, truncate and a left-padded batch give the same logits in both layouts", async () => {
  const a = slots.tokenizer.encode("Lily had a red ball.");
  const b = slots.tokenizer.encode(" She liked to play");
  const check = async (f: (seq: Sequence) => Promise<StepOutput[]>, what: string) => {
    const x = await f(slots.newSequence());
    const y = await f(concat.newSequence());
    assert.equal(x.length, y.length);
    for (let i = 0; i < x.length; i++) assert.ok(maxAbsDiff(x[i].logits, y[i].logits) < 1e-4, `${what} [${i}]`);
  };
  await check(async (seq) => {
    const outs = await seq.prefill([a]);
    outs.push(...(await seq.extend(b)));
    seq.truncate(a.length + 2);
    outs.push(...(await seq.extend(b.slice(2))));
    outs.push(...(await seq.step([argmax(outs.at(-1)!.logits)])));
    return outs;
  }, "extend/truncate");
  await check(async (seq) => {
    const outs = await seq.prefill([a, b]);
    outs.push(...(await seq.step([argmax(outs[0].logits), argmax(outs[1].logits)])));
    outs.push(...(await seq.step([300, 301])));
    return outs;
  }, "batch");
});

test("a fused-attention export keeps its own present.* outputs and the concatenating cache", async () => {
  const m = await loadModel(path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16"));
  try {
    assert.equal(m.newSequence().cacheLayout, "concat");
  } finally {
    await m.close();
  }
});
