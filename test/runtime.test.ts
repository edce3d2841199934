// The model runtime on a real pretrained Llama (stories260K in the HF ONNX layout): cached decoding,
// attention taps and left-padded batches (issue 2; spec §1 and §4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { argmax, maxAbsDiff, STORIES, STORIES_GREEDY } from "./helpers.js";
import { loadModel, type Model } from "../src/index.js";

const MASKED = -1e30;
let tapped: Model;
let plain: Model;

test.before(async () => {
  tapped = await loadModel(STORIES);
  plain = await loadModel(STORIES, { taps: false });
});
test.after(async () => {
  await tapped.close();
  await plain.close();
});

test("facts come from the session metadata and config.json", () => {
  const f = tapped.facts;
  assert.equal(f.layers, 5);
  assert.equal(f.kvHeads, 4);
  assert.equal(f.headDim, 8);
  assert.equal(f.vocabSize, 512);
  assert.equal(f.contextLength, 512);
  assert.equal(f.attentionSource, "taps");
  assert.deepEqual(f.eosIds, [2]);
  assert.equal(plain.facts.attentionSource, "none");
});

test("greedy decoding from <s> reproduces the published text token for token", async () => {
  const seq = tapped.newSequence();
  const ids: number[] = [];
  let out = (await seq.prefill([[1]]))[0];
  const expected = tapped.tokenizer.encode(STORIES_GREEDY, false);
  while (ids.length < expected.length) {
    const id = argmax(out.logits);
    ids.push(id);
    out = (await seq.step([id]))[0];
  }
  assert.deepEqual(ids, expected);
  assert.equal(tapped.tokenizer.decode(ids), STORIES_GREEDY);
});

test("tokenizer ids equal llama2.c's encoder (fixtures README)", () => {
  assert.deepEqual(tapped.tokenizer.encode("Once upon a time, there was a little girl named Lily."), [
    1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
  ]);
});

test("cached decoding equals a full re-run (tolerance 1e-4)", async () => {
  const ids = tapped.tokenizer.encode("Once upon a time, there was a little girl");
  const seq = tapped.newSequence();
  let cached = (await seq.prefill([ids.slice(0, 3)]))[0];
  for (let n = 3; n <= ids.length; n++) {
    const full = (await tapped.newSequence().prefill([ids.slice(0, n)]))[0];
    assert.ok(maxAbsDiff(cached.logits, full.logits) < 1e-4, `logits differ after ${n} tokens`);
    for (let l = 0; l < 5; l++) assert.ok(maxAbsDiff(cached.scores![l].data, full.scores![l].data) < 1e-4, `scores of layer ${l} differ after ${n} tokens`);
    if (n < ids.length) cached = (await seq.step([ids[n]]))[0];
  }
});

test("the patched model's logits equal the unpatched model's: bit-identical at prefill, within 1e-4 in decode", async () => {
  const ids = tapped.tokenizer.encode("Lily saw a big red ball");
  const a = tapped.newSequence();
  const b = plain.newSequence();
  assert.equal(a.cacheLayout, "slots");
  assert.equal(b.cacheLayout, "concat");
  let x = (await a.prefill([ids]))[0];
  let y = (await b.prefill([ids]))[0];
  assert.deepEqual(x.logits, y.logits, "prefill");
  for (let step = 0; step < 6; step++) {
    // Decode steps of the slot cache sum over masked empty slots too (exact zeros after softmax), so
    // only the order of float additions differs.
    assert.ok(maxAbsDiff(x.logits, y.logits) < 1e-4, `step ${step}: ${maxAbsDiff(x.logits, y.logits)}`);
    assert.equal(argmax(x.logits), argmax(y.logits));
    assert.equal(y.scores, null);
    const id = argmax(x.logits);
    x = (await a.step([id]))[0];
    y = (await b.step([id]))[0];
  }
});

test("score shapes are [heads, kv_len] for the last query row at prefill and decode", async () => {
  const ids = tapped.tokenizer.encode("The cat sat");
  const seq = tapped.newSequence();
  const pre = (await seq.prefill([ids]))[0];
  assert.equal(pre.scores!.length, 5);
  for (const s of pre.scores!) {
    assert.equal(s.heads, 8);
    assert.equal(s.kvLen, ids.length);
    assert.equal(s.data.length, 8 * ids.length);
    assert.ok(s.data.every((v) => Number.isFinite(v) && v > MASKED), "no masked positions in an unpadded last row");
  }
  const dec = (await seq.step([argmax(pre.logits)]))[0];
  for (const s of dec.scores!) assert.equal(s.kvLen, ids.length + 1);
});

test("left-padded batch: masked scores are exactly the padding, rows equal their single runs", async () => {
  const short = tapped.tokenizer.encode("Tom had a dog");
  const long = tapped.tokenizer.encode("Once upon a time, there was a little girl named Lily");
  const seq = tapped.newSequence();
  let rows = await seq.prefill([short, long]);
  const pad = long.length - short.length;
  assert.ok(pad > 0);
  const singles = [tapped.newSequence(), tapped.newSequence()];
  let single = [(await singles[0].prefill([short]))[0], (await singles[1].prefill([long]))[0]];
  for (let step = 0; step < 4; step++) {
    for (let r = 0; r < 2; r++) {
      assert.ok(maxAbsDiff(rows[r].logits, single[r].logits) < 1e-4, `row ${r} logits differ at step ${step}`);
      for (const s of rows[r].scores!) {
        for (let h = 0; h < s.heads; h++) {
          for (let k = 0; k < s.kvLen; k++) {
            const masked = s.data[h * s.kvLen + k] <= MASKED;
            assert.equal(masked, r === 0 && k < pad, `row ${r} head ${h} key ${k} at step ${step}`);
          }
        }
      }
    }
    const next = [argmax(single[0].logits), argmax(single[1].logits)];
    rows = await seq.step(next);
    single = [(await singles[0].step([next[0]]))[0], (await singles[1].step([next[1]]))[0]];
  }
});
