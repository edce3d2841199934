#!/usr/bin/env node
// Stage 5: verify models/tiny-stdlib-llama with onnxruntime-node and @huggingface/transformers.
//
//   node scripts/model/05-verify.mjs [modelDir] [--greedy N]
//
// Checks (exit code 1 on any failure):
//  1. the graph has exactly one Softmax per layer and no fused attention ops;
//  2. ONNX logits (prefill, empty past) equal the torch logits saved by 04-export.py within 1e-4;
//  3. cached decoding (prefill, then one token at a time with present -> past) equals the full forward;
//  4. a left-padded batch of two prompts gives each row its unpadded logits (prefill and a cached step);
//  5. the tokenizer loads offline, round-trips arbitrary text, and its ids equal the Python encoder's
//     ids (the reference prompts and the whole held-out text);
// then prints greedy text from a prompt.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@huggingface/transformers';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const greedyIdx = argv.indexOf('--greedy');
const GREEDY = greedyIdx >= 0 ? Number(argv.splice(greedyIdx, 2)[1]) : 40;
const MODEL = resolve(argv[0] ?? join(ROOT, 'models', 'tiny-stdlib-llama'));
const BUILD = join(ROOT, 'build', 'model');
const TOL = 1e-4;

const cfg = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
const L = cfg.num_hidden_layers;
const KV = cfg.num_key_value_heads;
const D = cfg.head_dim;
const V = cfg.vocab_size;
let failures = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures += 1;
}

const session = await ort.InferenceSession.create(join(MODEL, 'onnx', 'model.onnx'), {
  graphOptimizationLevel: 'disabled',
  intraOpNumThreads: 1,
});

// --- 1. graph structure: count op types straight from the protobuf text (op_type strings) ---
{
  const buf = readFileSync(join(MODEL, 'onnx', 'model.onnx'));
  const count = (s) => {
    let n = 0;
    let i = -1;
    const needle = Buffer.from(s);
    while ((i = buf.indexOf(needle, i + 1)) >= 0) n += 1;
    return n;
  };
  // "\x22\x07Softmax": field 4 (op_type, wire type 2) of NodeProto, length 7.
  const soft = count(Buffer.concat([Buffer.from([0x22, 7]), Buffer.from('Softmax')]));
  check('one Softmax per layer', soft === L, `${soft} Softmax, ${L} layers`);
  const fused = ['GroupQueryAttention', 'MultiHeadAttention', 'RotaryEmbedding', 'com.microsoft'].filter((s) => count(s) > 0);
  check('no fused ops', fused.length === 0, fused.join(','));
}

function zerosPast(batch) {
  const feeds = {};
  for (let i = 0; i < L; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [batch, KV, 0, D]);
    }
  }
  return feeds;
}
const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr.map((x) => BigInt(x))), dims);

async function forward(rows, masks, positions, past) {
  const B = rows.length;
  const S = rows[0].length;
  const feeds = {
    input_ids: i64(rows.flat(), [B, S]),
    attention_mask: i64(masks.flat(), [B, masks[0].length]),
    position_ids: i64(positions.flat(), [B, S]),
    ...past,
  };
  const out = await session.run(feeds);
  const next = {};
  for (let i = 0; i < L; i++) {
    for (const kind of ['key', 'value']) next[`past_key_values.${i}.${kind}`] = out[`present.${i}.${kind}`];
  }
  return { logits: out.logits, past: next };
}
// logits row (b, s) as Float32Array
const row = (t, b, s) => {
  const S = t.dims[1];
  return t.data.subarray((b * S + s) * V, (b * S + s + 1) * V);
};
function maxDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const range = (a, n) => Array.from({ length: n }, (_, i) => a + i);

// --- 2. ONNX vs torch ---
const refPath = join(BUILD, 'reference.json');
const ref = existsSync(refPath) ? JSON.parse(readFileSync(refPath, 'utf8')) : null;
const fullLogits = [];
if (!ref) {
  check('torch reference present', false, `${refPath} missing: run 04-export.py`);
} else {
  for (const p of ref.prompts) {
    const S = p.ids.length;
    const { logits } = await forward([p.ids], [Array(S).fill(1)], [range(0, S)], zerosPast(1));
    let m = 0;
    for (let s = 0; s < S; s++) m = Math.max(m, maxDiff(row(logits, 0, s), p.logits[s]));
    check(`onnx == torch logits: ${JSON.stringify(p.text.slice(0, 30))}`, m < TOL, `max |diff| ${m.toExponential(2)} over ${S} tokens, ckpt step ${ref.step}`);
    fullLogits.push({ ids: p.ids, logits });
  }
  // the same with onnxruntime's default (all) graph optimisations, as an application would load it
  const optSession = await ort.InferenceSession.create(join(MODEL, 'onnx', 'model.onnx'), { graphOptimizationLevel: 'all' });
  let m = 0;
  for (const p of ref.prompts) {
    const S = p.ids.length;
    const out = await optSession.run({
      input_ids: i64(p.ids, [1, S]),
      attention_mask: i64(Array(S).fill(1), [1, S]),
      position_ids: i64(range(0, S), [1, S]),
      ...zerosPast(1),
    });
    for (let s = 0; s < S; s++) m = Math.max(m, maxDiff(row(out.logits, 0, s), p.logits[s]));
  }
  check('onnx (graph optimisations on) == torch logits', m < TOL, `max |diff| ${m.toExponential(2)}`);
}

// --- 3. cached decoding == full forward ---
for (const { ids, logits } of fullLogits.slice(0, 3)) {
  const S = ids.length;
  const pre = Math.max(1, Math.floor(S / 2));
  let r = await forward([ids.slice(0, pre)], [Array(pre).fill(1)], [range(0, pre)], zerosPast(1));
  let m = 0;
  for (let s = 0; s < pre; s++) m = Math.max(m, maxDiff(row(r.logits, 0, s), row(logits, 0, s)));
  for (let s = pre; s < S; s++) {
    r = await forward([[ids[s]]], [Array(s + 1).fill(1)], [[s]], r.past);
    m = Math.max(m, maxDiff(row(r.logits, 0, 0), row(logits, 0, s)));
  }
  check(`cached decoding == full forward (prefill ${pre} + ${S - pre} steps)`, m < TOL, `max |diff| ${m.toExponential(2)}`);
}

// --- 4. left-padded batch ---
if (fullLogits.length >= 2) {
  const a = fullLogits[0];
  const b = fullLogits[1];
  const S = Math.max(a.ids.length, b.ids.length);
  const pad = cfg.pad_token_id ?? cfg.eos_token_id;
  const mk = (x) => {
    const n = S - x.ids.length;
    return {
      ids: [...Array(n).fill(pad), ...x.ids],
      mask: [...Array(n).fill(0), ...Array(x.ids.length).fill(1)],
      pos: [...Array(n).fill(1), ...range(0, x.ids.length)],
      n,
    };
  };
  const ra = mk(a);
  const rb = mk(b);
  const r = await forward([ra.ids, rb.ids], [ra.mask, rb.mask], [ra.pos, rb.pos], zerosPast(2));
  let m = 0;
  let nan = false;
  [ra, rb].forEach((x, bi) => {
    const src = bi === 0 ? a : b;
    for (let s = 0; s < src.ids.length; s++) m = Math.max(m, maxDiff(row(r.logits, bi, x.n + s), row(src.logits, 0, s)));
    for (let s = 0; s < S * V; s++) if (Number.isNaN(r.logits.data[bi * S * V + s])) nan = true;
  });
  check('left-padded batch == unpadded rows (prefill)', m < TOL && !nan, `max |diff| ${m.toExponential(2)}${nan ? ', NaN in pad rows' : ''}`);
  // one cached step on the padded batch: feed each row's greedy token, compare with an unpadded run
  const argmax = (arr) => arr.reduce((bi, v, i, xs) => (v > xs[bi] ? i : bi), 0);
  const ta = argmax(row(r.logits, 0, S - 1));
  const tb = argmax(row(r.logits, 1, S - 1));
  const step = await forward([[ta], [tb]], [[...ra.mask, 1], [...rb.mask, 1]], [[a.ids.length], [b.ids.length]], r.past);
  let m2 = 0;
  for (const [bi, src, t] of [[0, a, ta], [1, b, tb]]) {
    const full = await forward([[...src.ids, t]], [Array(src.ids.length + 1).fill(1)], [range(0, src.ids.length + 1)], zerosPast(1));
    m2 = Math.max(m2, maxDiff(row(step.logits, bi, 0), row(full.logits, 0, src.ids.length)));
  }
  check('left-padded batch cached step == unpadded', m2 < TOL, `max |diff| ${m2.toExponential(2)}`);
}

// --- 5. tokenizer ---
env.allowRemoteModels = false;
env.allowLocalModels = true;
const tok = await AutoTokenizer.from_pretrained(MODEL);
check('tokenizer loads offline', true, tok.constructor.name);
const samples = [
  'Call me Ishmael. Some years ago—never mind how long precisely—having little or no money',
  'Hello  world!\n\n\nmultiple   spaces\tand tabs\r\nCRLF ',
  'naïve café, Œuvre, “quotes” — ‘single’, 日本語のテキスト, emoji 🐳🚢, Ελληνικά, עברית',
  "it's they'll we've I'm 1790 3.14159 $1,000,000 #hash @at",
  ' leading space and trailing newline\n',
  '',
];
let rtOk = true;
for (const s of samples) {
  const ids = tok.encode(s);
  const back = tok.decode(ids, { skip_special_tokens: true });
  if (back !== s) {
    rtOk = false;
    console.log(`  round-trip mismatch: ${JSON.stringify(s)} -> ${JSON.stringify(back)}`);
  }
}
check('encode -> decode round-trips', rtOk, `${samples.length} samples`);
check('bos <|endoftext|> is prepended', tok.encode('The')[0] === cfg.bos_token_id);
if (ref) {
  const same = ref.prompts.every((p) => JSON.stringify(tok.encode(p.text)) === JSON.stringify(p.ids));
  check('node ids == python ids (reference prompts)', same);
}
const heldTxt = join(BUILD, 'data', 'heldout.txt');
const heldBin = join(BUILD, 'data', 'heldout.bin');
if (existsSync(heldTxt) && existsSync(heldBin)) {
  const text = readFileSync(heldTxt, 'utf8');
  const b = readFileSync(heldBin);
  const py = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
  const js = tok.encode(text);
  let first = -1;
  for (let i = 0; i < Math.max(js.length, py.length); i++) {
    if (js[i] !== py[i]) {
      first = i;
      break;
    }
  }
  check('node ids == python ids (held-out text)', first < 0, `${js.length} node ids, ${py.length} python ids${first >= 0 ? `, first difference at ${first}` : ''}`);
}

// --- greedy text ---
{
  const prompt = 'Call me Ishmael.';
  const ids = tok.encode(prompt);
  let r = await forward([ids], [Array(ids.length).fill(1)], [range(0, ids.length)], zerosPast(1));
  const out = [];
  let last = r.logits;
  let pos = ids.length;
  for (let i = 0; i < GREEDY; i++) {
    const lg = row(last, 0, last.dims[1] - 1);
    let t = 0;
    for (let j = 1; j < V; j++) if (lg[j] > lg[t]) t = j;
    if (t === cfg.eos_token_id) break;
    out.push(t);
    r = await forward([[t]], [Array(pos + 1).fill(1)], [[pos]], r.past);
    last = r.logits;
    pos += 1;
  }
  console.log(`greedy: ${JSON.stringify(prompt + tok.decode(out, { skip_special_tokens: true }))}`);
}

console.log(failures === 0 ? 'ALL CHECKS PASSED' : `${failures} CHECK(S) FAILED`);
process.exit(failures === 0 ? 0 : 1);
