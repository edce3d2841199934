#!/usr/bin/env node
// The ONNX half of convert.py's checks: runs the converted folder the way entropix does
// (onnxruntime-node with graph optimisations on, @huggingface/transformers offline for the tokenizer)
// against the reference numbers convert.py computed in numpy.
//
//   node scripts/convert-llama2c/check-onnx.mjs MODEL_DIR REFERENCE_JSON
//
// Prints PASS/FAIL lines; exit 1 when any check fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@huggingface/transformers';

const [dir, refPath] = process.argv.slice(2);
if (!dir || !refPath) {
  console.error('usage: check-onnx.mjs MODEL_DIR REFERENCE_JSON');
  process.exit(2);
}
const ref = JSON.parse(readFileSync(refPath, 'utf8'));
const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const L = cfg.num_hidden_layers;
const KV = cfg.num_key_value_heads;
const D = cfg.head_dim;
const V = cfg.vocab_size;
let failed = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failed += 1;
};

const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), { graphOptimizationLevel: 'all' });
const i64 = (xs, dims) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), dims);
const emptyPast = () => {
  const feeds = {};
  for (let i = 0; i < L; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, D]);
  return feeds;
};
/** One forward of `ids` at positions past..past+n-1 after a cache of `pastLen`; returns logits and the next past. */
async function run(ids, pastLen, past) {
  const n = ids.length;
  const out = await session.run({
    input_ids: i64(ids, [1, n]),
    attention_mask: i64(Array(pastLen + n).fill(1), [1, pastLen + n]),
    position_ids: i64(Array.from({ length: n }, (_, i) => pastLen + i), [1, n]),
    ...past,
  });
  const next = {};
  for (let i = 0; i < L; i++) for (const k of ['key', 'value']) next[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
  return { logits: out.logits.data, past: next };
}
const argmax = (xs) => {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[b]) b = i;
  return b;
};

// 1. full-sequence logits == the numpy reference
let worst = 0;
let positions = 0;
for (const p of ref.prompts) {
  const { logits } = await run(p.ids, 0, emptyPast());
  p.ids.forEach((_, s) => {
    for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(logits[s * V + v] - p.logits[s][v]));
  });
  positions += p.ids.length;
}
check('onnx (onnxruntime-node) == numpy reference logits', worst <= ref.tolerance, `max |diff| ${worst.toExponential(2)} over ${positions} positions`);

// 2. cached greedy decoding from <s> == the reference's greedy ids, and the text is the published one
env.allowRemoteModels = false;
env.allowLocalModels = true;
const tok = await AutoTokenizer.from_pretrained(dir);
const ids = [1];
let r = await run([1], 0, emptyPast());
while (ids.length < ref.greedy_ids.length) {
  const next = argmax(r.logits);
  ids.push(next);
  r = await run([next], ids.length - 1, r.past);
}
const text = tok.decode(ids, { skip_special_tokens: true });
check('onnx cached greedy decoding == numpy reference greedy ids', JSON.stringify(ids) === JSON.stringify(ref.greedy_ids), `${ids.length - 1} tokens`);
check('onnx greedy from <s> gives the published text (decoded by transformers.js)', text.startsWith(ref.published), JSON.stringify(text.slice(0, 60)) + '…');

// 3. tokenizer.json encodes like llama2.c's encoder, and decodes back
const bad = [];
for (const t of ref.tokenizer) {
  const got = Array.from(tok.encode(t.text));
  if (JSON.stringify(got) !== JSON.stringify(t.ids)) bad.push(`${JSON.stringify(t.text)}: ${JSON.stringify(got)} vs ${JSON.stringify(t.ids)}`);
  const back = tok.decode(got, { skip_special_tokens: true });
  if (back !== t.text) bad.push(`${JSON.stringify(t.text)} decodes to ${JSON.stringify(back)}`);
}
check(`tokenizer.json (${tok.constructor.name}) ids == llama2.c encoder ids, round trip`, bad.length === 0, bad.length ? bad[0] : `${ref.tokenizer.length} texts`);

await session.release();
process.exit(failed ? 1 : 0);
