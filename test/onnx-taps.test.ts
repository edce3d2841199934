// The attention-taps rewrite (src/onnx): streaming protobuf patch of ONNX files, fused-attention
// handling, errors, and the patch cache (entropix-method.md §4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-node";
import { CLI_KILL_MS, FIXTURES, GENAI, REPO_ROOT, STORIES, tempDir as makeTempDir } from "./helpers.js";
import { BOOL, F32, I32, f32bytes, graph, model, tensor, type NodeSpec } from "./onnx-build.js";
import { ModelError } from "../src/errors.js";
import { addAttentionTaps, planTaps, writePlan } from "../src/onnx/taps.js";
import { scanModel } from "../src/onnx/scan.js";
import { ensureTappedModel, sha256File } from "../src/onnx/patch-cache.js";

const STORIES_ONNX = path.join(STORIES, "onnx", "model.onnx");
const QWEN_GQA = path.join(GENAI, "tiny-qwen35-cuda", "decoder.onnx");
const LLAMA_MHA_DIR = path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16");
const GPT2_ATTN = path.join(GENAI, "tiny-random-gpt2-fp32", "past.onnx");
const MASKED = -1e30;

/** Temp folders made by this file, removed at the end. */
const made: string[] = [];
function tempDir(prefix?: string): string {
  const d = makeTempDir(prefix);
  made.push(d);
  return d;
}

type Feeds = Record<string, ort.Tensor>;
type Outs = Record<string, ort.Tensor>;

const sessionOpts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "all", logSeverityLevel: 3 };

function i64(rows: number[][]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
}

function sameBytes(a: ort.Tensor, b: ort.Tensor, what: string): void {
  assert.equal(a.type, b.type, `${what}: type`);
  assert.deepEqual(a.dims, b.dims, `${what}: dims`);
  const da = a.data as unknown as ArrayBufferView;
  const db = b.data as unknown as ArrayBufferView;
  assert.ok(
    Buffer.from(da.buffer, da.byteOffset, da.byteLength).equals(Buffer.from(db.buffer, db.byteOffset, db.byteLength)),
    `${what}: not bit-identical`,
  );
}

// ---------------------------------------------------------------------------------------------
// stories260k: a real Llama with plain attention (one Softmax per layer)

const LAYERS = 5;
const storiesDir = tempDir("entropix-taps-");
const storiesTapped = path.join(storiesDir, "model.taps.onnx");
let storiesReport: Awaited<ReturnType<typeof addAttentionTaps>>;
let patchMs = 0;
let plain: ort.InferenceSession;
let tapped: ort.InferenceSession;

function storiesFeeds(ids: number[][], mask: number[][], pos: number[][], past: Outs | null): Feeds {
  const f: Feeds = { input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(pos) };
  const b = ids.length;
  for (let l = 0; l < LAYERS; l++) {
    for (const kv of ["key", "value"]) {
      f[`past_key_values.${l}.${kv}`] = past ? past[`present.${l}.${kv}`] : new ort.Tensor("float32", new Float32Array(0), [b, 4, 0, 8]);
    }
  }
  return f;
}

test.before(async () => {
  const t0 = performance.now();
  storiesReport = await addAttentionTaps(STORIES_ONNX, storiesTapped);
  patchMs = performance.now() - t0;
  plain = await ort.InferenceSession.create(STORIES_ONNX, sessionOpts);
  tapped = await ort.InferenceSession.create(storiesTapped, sessionOpts);
});

test.after(async () => {
  await plain?.release();
  await tapped?.release();
  for (const d of made) {
    chmodSync(d, 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

test("stories260k: the report names 5 tapped layers and the patch is fast", (t) => {
  t.diagnostic(`patch of ${statSync(STORIES_ONNX).size} bytes took ${patchMs.toFixed(1)} ms`);
  assert.equal(storiesReport.source, "taps");
  assert.equal(storiesReport.layers, LAYERS);
  assert.deepEqual(storiesReport.outputs, ["attn_scores.0", "attn_scores.1", "attn_scores.2", "attn_scores.3", "attn_scores.4"]);
  assert.match(storiesReport.note, /5 attention Softmax/);
  assert.deepEqual(tapped.outputNames.slice(0, plain.outputNames.length), plain.outputNames);
  assert.deepEqual(tapped.outputNames.slice(plain.outputNames.length), storiesReport.outputs);
  // No temp files left beside the output.
  assert.deepEqual(readdirSync(storiesDir), ["model.taps.onnx"]);
});

test("stories260k: logits and present.* are bit-identical; scores are [1,8,1,kv] at prefill and decode", async () => {
  const ids = [1, 403, 407, 261, 378];
  const prefill = storiesFeeds([ids], [ids.map(() => 1)], [ids.map((_, i) => i)], null);
  const a = await plain.run(prefill);
  const b = await tapped.run(prefill);
  for (const name of plain.outputNames) sameBytes(a[name], b[name], `prefill ${name}`);
  for (const name of storiesReport.outputs) {
    assert.equal(b[name].type, "float32");
    assert.deepEqual(b[name].dims, [1, 8, 1, ids.length], name);
    for (const x of b[name].data as Float32Array) assert.ok(Number.isFinite(x) && x > MASKED, `${name}: ${x}`);
  }
  const step = storiesFeeds([[432]], [[...ids, 1].map(() => 1)], [[ids.length]], a);
  const stepB = storiesFeeds([[432]], [[...ids, 1].map(() => 1)], [[ids.length]], b);
  const c = await plain.run(step);
  const d = await tapped.run(stepB);
  for (const name of plain.outputNames) sameBytes(c[name], d[name], `decode ${name}`);
  for (const name of storiesReport.outputs) assert.deepEqual(d[name].dims, [1, 8, 1, ids.length + 1], name);
});

test("stories260k: the tapped row is the last query row (prefill of n+1 tokens = decode step after n)", async () => {
  const ids = [1, 403, 407, 261, 378, 432];
  const full = await tapped.run(storiesFeeds([ids], [ids.map(() => 1)], [ids.map((_, i) => i)], null));
  const head = ids.slice(0, -1);
  const pre = await tapped.run(storiesFeeds([head], [head.map(() => 1)], [head.map((_, i) => i)], null));
  const step = await tapped.run(storiesFeeds([[ids.at(-1)!]], [ids.map(() => 1)], [[head.length]], pre));
  for (const name of storiesReport.outputs) {
    const x = full[name].data as Float32Array;
    const y = step[name].data as Float32Array;
    assert.equal(x.length, y.length);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-4, `${name}[${i}]: ${x[i]} vs ${y[i]}`);
  }
});

test("stories260k: every tapped row equals q·k/√d from the llama2.c checkpoint's own forward pass", async () => {
  const ids = [1, 403, 407, 261, 378, 432];
  const out = await tapped.run(storiesFeeds([ids], [ids.map(() => 1)], [ids.map((_, i) => i)], null));
  const reference = llama2cScores(ids);
  for (let l = 0; l < LAYERS; l++) {
    const got = out[`attn_scores.${l}`].data as Float32Array;
    for (let h = 0; h < 8; h++) {
      for (let k = 0; k < ids.length; k++) {
        const want = reference[l][h][k];
        assert.ok(Math.abs(got[h * ids.length + k] - want) < 1e-4 * Math.max(1, Math.abs(want)), `layer ${l} head ${h} key ${k}: ${got[h * ids.length + k]} vs ${want}`);
      }
    }
  }
});

/**
 * The attention scores of the last position, per layer and head, from stories260K.bin (llama2.c's
 * legacy checkpoint, the source of the ONNX export) by llama2.c's forward pass (run.c): RMSNorm,
 * interleaved-pair RoPE, GQA, SwiGLU. An independent reference for what the taps must expose.
 */
function llama2cScores(ids: number[]): number[][][] {
  const file = readFileSync(path.join(FIXTURES, "tinyllamas-stories260K", "stories260K.bin"));
  const header = new Int32Array(file.buffer.slice(file.byteOffset, file.byteOffset + 28));
  const [dim, hidden, layers, heads, kvHeads, vocabSigned] = Array.from(header);
  const vocab = Math.abs(vocabSigned);
  const w = new Float32Array(file.buffer.slice(file.byteOffset + 28, file.byteOffset + file.length));
  const hs = dim / heads;
  const kvDim = kvHeads * hs;
  let at = 0;
  const take = (n: number) => w.subarray(at, (at += n));
  const emb = take(vocab * dim);
  const rmsAtt = take(layers * dim);
  const wq = take(layers * dim * dim);
  const wk = take(layers * kvDim * dim);
  const wv = take(layers * kvDim * dim);
  const wo = take(layers * dim * dim);
  const rmsFfn = take(layers * dim);
  const w1 = take(layers * hidden * dim);
  const w2 = take(layers * dim * hidden);
  const w3 = take(layers * hidden * dim);
  /** rows×cols matrix `m` (row-major, at `off`) times x. */
  const matmul = (m: Float32Array, off: number, x: number[], rows: number, cols: number) =>
    Array.from({ length: rows }, (_, i) => {
      let s = 0;
      for (let j = 0; j < cols; j++) s += m[off + i * cols + j] * x[j];
      return s;
    });
  const rmsnorm = (x: number[], g: Float32Array, off: number) => {
    const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + 1e-5);
    return x.map((v, i) => v * r * g[off + i]);
  };
  const rope = (v: number[], pos: number) => {
    for (let i = 0; i < v.length; i += 2) {
      const freq = 1 / 10000 ** ((i % hs) / hs);
      const [c, s] = [Math.cos(pos * freq), Math.sin(pos * freq)];
      [v[i], v[i + 1]] = [v[i] * c - v[i + 1] * s, v[i] * s + v[i + 1] * c];
    }
    return v;
  };
  const xs = ids.map((id) => Array.from(emb.subarray(id * dim, (id + 1) * dim)));
  const last = ids.length - 1;
  const scores: number[][][] = [];
  for (let l = 0; l < layers; l++) {
    const normed = xs.map((x) => rmsnorm(x, rmsAtt, l * dim));
    const q = normed.map((x, p) => rope(matmul(wq, l * dim * dim, x, dim, dim), p));
    const k = normed.map((x, p) => rope(matmul(wk, l * kvDim * dim, x, kvDim, dim), p));
    const v = normed.map((x) => matmul(wv, l * kvDim * dim, x, kvDim, dim));
    const layerScores: number[][] = [];
    for (let p = 0; p <= last; p++) {
      const att = new Array<number>(dim).fill(0);
      for (let h = 0; h < heads; h++) {
        const kvh = Math.floor(h / (heads / kvHeads));
        const row = Array.from({ length: p + 1 }, (_, t) => {
          let s = 0;
          for (let d = 0; d < hs; d++) s += q[p][h * hs + d] * k[t][kvh * hs + d];
          return s / Math.sqrt(hs);
        });
        if (p === last) layerScores.push(row);
        const m = Math.max(...row);
        const e = row.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t <= p; t++) for (let d = 0; d < hs; d++) att[h * hs + d] += (e[t] / z) * v[t][kvh * hs + d];
      }
      const o = matmul(wo, l * dim * dim, att, dim, dim);
      xs[p] = xs[p].map((x, i) => x + o[i]);
    }
    for (let p = 0; p <= last; p++) {
      const n = rmsnorm(xs[p], rmsFfn, l * dim);
      const a = matmul(w1, l * hidden * dim, n, hidden, dim);
      const b = matmul(w3, l * hidden * dim, n, hidden, dim);
      const g = a.map((x, i) => (x / (1 + Math.exp(-x))) * b[i]);
      const f = matmul(w2, l * dim * hidden, g, dim, hidden);
      xs[p] = xs[p].map((x, i) => x + f[i]);
    }
    scores.push(layerScores);
  }
  return scores;
}

test("stories260k: in a left-padded batch exactly the padded keys are masked (≤ -1e30), at prefill and decode", async () => {
  const a = [1, 403, 407, 261, 378];
  const b = [1, 403, 407];
  const ids = [a, [0, 0, ...b]];
  const mask = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
  const pos = [[0, 1, 2, 3, 4], [1, 1, 0, 1, 2]];
  const pre = await tapped.run(storiesFeeds(ids, mask, pos, null));
  const alone = await tapped.run(storiesFeeds([b], [[1, 1, 1]], [[0, 1, 2]], null));
  const checkMasked = (out: Outs, kv: number, padded: Set<number>): void => {
    for (const name of storiesReport.outputs) {
      const s = out[name].data as Float32Array;
      assert.deepEqual(out[name].dims, [2, 8, 1, kv]);
      for (let bi = 0; bi < 2; bi++) {
        for (let h = 0; h < 8; h++) {
          for (let k = 0; k < kv; k++) {
            const v = s[(bi * 8 + h) * kv + k];
            const isPad = bi === 1 && padded.has(k);
            if (isPad) assert.ok(v <= MASKED, `${name} b${bi} h${h} k${k} should be masked: ${v}`);
            else assert.ok(Number.isFinite(v) && v > MASKED, `${name} b${bi} h${h} k${k} should be real: ${v}`);
          }
        }
      }
    }
  };
  checkMasked(pre, 5, new Set([0, 1]));
  // The padded row's real positions score exactly like the unpadded sequence.
  for (const name of storiesReport.outputs) {
    const s = pre[name].data as Float32Array;
    const r = alone[name].data as Float32Array;
    for (let h = 0; h < 8; h++) {
      for (let k = 0; k < 3; k++) {
        const got = s[(8 + h) * 5 + 2 + k];
        const want = r[h * 3 + k];
        assert.ok(Math.abs(got - want) < 1e-4, `${name} h${h} k${k}: ${got} vs ${want}`);
      }
    }
  }
  const step = await tapped.run(storiesFeeds([[432], [261]], [[...mask[0], 1], [...mask[1], 1]], [[5], [3]], pre));
  checkMasked(step, 6, new Set([0, 1]));
});

test("stories260k: the patched file is the original with the graph's length changed and bytes appended", async () => {
  const o = await scanModel(STORIES_ONNX);
  const p = await scanModel(storiesTapped);
  const orig = readFileSync(STORIES_ONNX);
  const patched = readFileSync(storiesTapped);
  // Everything before the graph field is the same.
  assert.equal(p.graphFieldStart, o.graphFieldStart);
  assert.ok(patched.subarray(0, o.graphFieldStart).equals(orig.subarray(0, o.graphFieldStart)));
  // The graph's content starts with the whole original content, then only appended entries.
  const contentLen = o.graph.contentEnd - o.graph.contentStart;
  assert.ok(patched.subarray(p.graph.contentStart, p.graph.contentStart + contentLen).equals(orig.subarray(o.graph.contentStart, o.graph.contentEnd)));
  // After the graph, the rest of the file (opset imports, metadata) is the same.
  assert.ok(patched.subarray(p.graph.contentEnd).equals(orig.subarray(o.graph.contentEnd)));
  assert.deepEqual(p.opsets, o.opsets);
  assert.equal(p.irVersion, o.irVersion);
  // Appended: 3 shared Constants + Slice and Cast per layer, and one output per layer.
  assert.equal(p.graph.nodes.length, o.graph.nodes.length + 3 + 2 * LAYERS);
  assert.deepEqual(p.graph.outputs.slice(0, o.graph.outputs.length), o.graph.outputs);
  for (const [l, vi] of p.graph.outputs.slice(o.graph.outputs.length).entries()) {
    assert.equal(vi.name, `attn_scores.${l}`);
    assert.equal(vi.elemType, F32);
    assert.equal(vi.dims?.length, 4);
    assert.equal(vi.dims?.[2], 1);
  }
  // The streaming writer (used when a node is re-encoded or the graph length grows a byte) writes
  // the same bytes as the in-place copy.
  const streamed = path.join(storiesDir, "streamed.onnx");
  await writePlan(o, await planTaps(o), streamed, { strategy: "stream" });
  assert.ok(readFileSync(streamed).equals(patched));
  // Patching the patched file changes nothing more: it already has the outputs.
  const again = await addAttentionTaps(storiesTapped, path.join(storiesDir, "again.onnx"));
  assert.equal(again.source, "taps");
  assert.deepEqual(again.outputs, storiesReport.outputs);
  assert.ok(readFileSync(path.join(storiesDir, "again.onnx")).equals(patched));
});

// ---------------------------------------------------------------------------------------------
// Fused attention exports (onnxruntime-genai)

test("fused com.microsoft.MultiHeadAttention: report none with the op name, nothing written", async () => {
  const dir = tempDir("entropix-mha-");
  for (const f of ["model.onnx", "model.onnx.data"]) copyFileSync(path.join(LLAMA_MHA_DIR, f), path.join(dir, f));
  const dst = path.join(dir, "out.onnx");
  const r = await addAttentionTaps(path.join(dir, "model.onnx"), dst);
  assert.equal(r.source, "none");
  assert.equal(r.layers, 0);
  assert.deepEqual(r.outputs, []);
  assert.match(r.note, /com\.microsoft\.MultiHeadAttention/);
  assert.equal(existsSync(dst), false);
  const e = await ensureTappedModel(path.join(dir, "model.onnx"), { cacheDir: path.join(dir, "cache") });
  assert.equal(e.path, path.join(dir, "model.onnx"));
  assert.equal(e.report.source, "none");
  assert.equal(e.reused, false);
  assert.deepEqual(readdirSync(dir).sort(), ["model.onnx", "model.onnx.data"]);
  // The scan found the external data file.
  assert.deepEqual((await scanModel(path.join(dir, "model.onnx"))).externalData, ["model.onnx.data"]);
});

test("fused com.microsoft.Attention (GPT-2): report none with the op name", async () => {
  const dst = path.join(tempDir(), "out.onnx");
  const r = await addAttentionTaps(GPT2_ATTN, dst);
  assert.equal(r.source, "none");
  assert.match(r.note, /com\.microsoft\.Attention\b/);
  assert.equal(existsSync(dst), false);
});

test("fused GroupQueryAttention (tiny-qwen35): qk_output taps run on CPU; outputs unchanged; scores [1,4,1,kv]", async () => {
  const dst = path.join(tempDir(), "decoder.taps.onnx");
  const r = await addAttentionTaps(QWEN_GQA, dst);
  assert.equal(r.source, "taps");
  assert.equal(r.layers, 2);
  assert.match(r.note, /GroupQueryAttention/);
  const s0 = await ort.InferenceSession.create(QWEN_GQA, sessionOpts);
  const s1 = await ort.InferenceSession.create(dst, sessionOpts);
  try {
    const feeds = (ids: number[], total: number, past: Outs | null): Feeds => {
      const f: Feeds = {
        input_ids: new ort.Tensor("int32", Int32Array.from(ids), [1, ids.length]),
        attention_mask: i64([Array.from({ length: total }, () => 1)]),
      };
      for (let l = 0; l < 2; l++) {
        for (const kv of ["key", "value"]) {
          f[`past_key_values.${l}.${kv}`] = past ? past[`present.${l}.${kv}`] : new ort.Tensor("float16", new Uint16Array(0), [1, 2, 0, 16]);
        }
      }
      return f;
    };
    const a = await s0.run(feeds([5, 6, 7], 3, null));
    const b = await s1.run(feeds([5, 6, 7], 3, null));
    for (const n of s0.outputNames) sameBytes(a[n], b[n], `prefill ${n}`);
    for (const n of r.outputs) {
      assert.equal(b[n].type, "float32");
      assert.deepEqual(b[n].dims, [1, 4, 1, 3]);
      for (const x of b[n].data as Float32Array) assert.ok(Number.isFinite(x));
    }
    const c = await s0.run(feeds([8], 4, a));
    const d = await s1.run(feeds([8], 4, b));
    for (const n of s0.outputNames) sameBytes(c[n], d[n], `decode ${n}`);
    for (const n of r.outputs) assert.deepEqual(d[n].dims, [1, 4, 1, 4]);
  } finally {
    await s0.release();
    await s1.release();
  }
});

// ---------------------------------------------------------------------------------------------
// Synthetic graphs built here, checked against scores computed by hand

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

test("synthetic GroupQueryAttention: the tapped row equals q·k/sqrt(d) computed from Q and K (prefill and decode)", async () => {
  const N = 4, NKV = 2, H = 8;
  const g = graph({
    nodes: [
      {
        op: "GroupQueryAttention", domain: "com.microsoft", name: "gqa",
        inputs: ["q", "k", "v", "past_key", "past_value", "seqlens_k", "total_len"],
        outputs: ["attn", "present_key", "present_value"],
        attrs: [{ name: "num_heads", i: N }, { name: "kv_num_heads", i: NKV }],
      },
    ],
    inputs: [
      { name: "q", elem: F32, dims: ["b", "s", N * H] },
      { name: "k", elem: F32, dims: ["b", "s", NKV * H] },
      { name: "v", elem: F32, dims: ["b", "s", NKV * H] },
      { name: "past_key", elem: F32, dims: ["b", NKV, "p", H] },
      { name: "past_value", elem: F32, dims: ["b", NKV, "p", H] },
      { name: "seqlens_k", elem: I32, dims: ["b"] },
      { name: "total_len", elem: I32, dims: [] },
    ],
    outputs: [
      { name: "attn", elem: F32, dims: ["b", "s", N * H] },
      { name: "present_key", elem: F32, dims: ["b", NKV, "t", H] },
      { name: "present_value", elem: F32, dims: ["b", NKV, "t", H] },
    ],
  });
  const dir = tempDir();
  const src = path.join(dir, "gqa.onnx");
  writeFileSync(src, model({ opsets: [["", 17], ["com.microsoft", 1]], graph: g }));
  const dst = path.join(dir, "gqa.taps.onnx");
  const r = await addAttentionTaps(src, dst);
  assert.equal(r.source, "taps");
  assert.deepEqual(r.outputs, ["attn_scores.0"]);
  const s = await ort.InferenceSession.create(dst, sessionOpts);
  try {
    const run = async (S: number, past: Outs | null, seed: number) => {
      const P = past ? past.present_key.dims[2] : 0;
      const q = rand(S * N * H, seed);
      const k = rand(S * NKV * H, seed + 1);
      const out = await s.run({
        q: new ort.Tensor("float32", q, [1, S, N * H]),
        k: new ort.Tensor("float32", k, [1, S, NKV * H]),
        v: new ort.Tensor("float32", rand(S * NKV * H, seed + 2), [1, S, NKV * H]),
        past_key: past ? past.present_key : new ort.Tensor("float32", new Float32Array(0), [1, NKV, 0, H]),
        past_value: past ? past.present_value : new ort.Tensor("float32", new Float32Array(0), [1, NKV, 0, H]),
        seqlens_k: new ort.Tensor("int32", Int32Array.from([P + S - 1]), [1]),
        total_len: new ort.Tensor("int32", Int32Array.from([P + S]), []),
      });
      const T = P + S;
      assert.deepEqual(out["attn_scores.0"].dims, [1, N, 1, T]);
      const got = out["attn_scores.0"].data as Float32Array;
      const pk = past ? (past.present_key.data as Float32Array) : new Float32Array(0);
      for (let h = 0; h < N; h++) {
        const g2 = Math.floor(h / (N / NKV));
        for (let t = 0; t < T; t++) {
          let dot = 0;
          for (let j = 0; j < H; j++) {
            const kj = t < P ? pk[(g2 * P + t) * H + j] : k[(t - P) * NKV * H + g2 * H + j];
            dot += q[(S - 1) * N * H + h * H + j] * kj;
          }
          const want = dot / Math.sqrt(H);
          assert.ok(Math.abs(got[h * T + t] - want) < 1e-5, `h${h} t${t}: ${got[h * T + t]} vs ${want}`);
        }
      }
      return out;
    };
    const pre = await run(3, null, 11);
    await run(1, pre, 21);
  } finally {
    await s.release();
  }
});

test("synthetic ONNX Attention (opset 23): qk_matmul_output gives the masked scores of the last row", async () => {
  const B = 1, NQ = 4, NKV = 2, S = 3, H = 8, P = 2, T = S + P;
  const g = graph({
    nodes: [{ op: "Attention", inputs: ["Q", "K", "V", "mask", "past_key", "past_value"], outputs: ["Y", "present_key", "present_value"] }],
    inputs: [
      { name: "Q", elem: F32, dims: [B, NQ, S, H] },
      { name: "K", elem: F32, dims: [B, NKV, S, H] },
      { name: "V", elem: F32, dims: [B, NKV, S, H] },
      { name: "mask", elem: F32, dims: [B, 1, S, T] },
      { name: "past_key", elem: F32, dims: [B, NKV, P, H] },
      { name: "past_value", elem: F32, dims: [B, NKV, P, H] },
    ],
    outputs: [
      { name: "Y", elem: F32, dims: null },
      { name: "present_key", elem: F32, dims: null },
      { name: "present_value", elem: F32, dims: null },
    ],
  });
  const dir = tempDir();
  writeFileSync(path.join(dir, "a.onnx"), model({ irVersion: 10, opsets: [["", 23]], graph: g }));
  const r = await addAttentionTaps(path.join(dir, "a.onnx"), path.join(dir, "a.taps.onnx"));
  assert.equal(r.source, "taps");
  const s = await ort.InferenceSession.create(path.join(dir, "a.taps.onnx"), sessionOpts);
  try {
    const q = rand(B * NQ * S * H, 1), k = rand(B * NKV * S * H, 2), pk = rand(B * NKV * P * H, 3);
    const mask = Float32Array.from({ length: S * T }, (_, i) => (i % T === 1 ? -1e9 : 0)); // key 1 masked
    const out = await s.run({
      Q: new ort.Tensor("float32", q, [B, NQ, S, H]),
      K: new ort.Tensor("float32", k, [B, NKV, S, H]),
      V: new ort.Tensor("float32", rand(B * NKV * S * H, 4), [B, NKV, S, H]),
      mask: new ort.Tensor("float32", mask, [B, 1, S, T]),
      past_key: new ort.Tensor("float32", pk, [B, NKV, P, H]),
      past_value: new ort.Tensor("float32", rand(B * NKV * P * H, 5), [B, NKV, P, H]),
    });
    assert.deepEqual(out["attn_scores.0"].dims, [B, NQ, 1, T]);
    const got = out["attn_scores.0"].data as Float32Array;
    for (let h = 0; h < NQ; h++) {
      const g2 = Math.floor(h / (NQ / NKV));
      for (let t = 0; t < T; t++) {
        let dot = 0;
        for (let j = 0; j < H; j++) {
          const kj = t < P ? pk[(g2 * P + t) * H + j] : k[(g2 * S + t - P) * H + j];
          dot += q[(h * S + S - 1) * H + j] * kj;
        }
        const want = dot / Math.sqrt(H) + mask[(S - 1) * T + t];
        assert.ok(Math.abs(got[h * T + t] - want) <= 1e-4 * Math.max(1, Math.abs(want)), `h${h} t${t}: ${got[h * T + t]} vs ${want}`);
        assert.equal(got[h * T + t] <= -1e8, t === 1, `h${h} t${t}: only key 1 is masked`);
      }
    }
  } finally {
    await s.release();
  }
});

test("a graph whose length varint grows a byte is streamed: prefix and content kept, model runs", async () => {
  const dir = tempDir();
  const g = graph({
    nodes: [
      { op: "Softmax", inputs: ["S"], outputs: ["P"], name: "sm" },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"], name: "mm" },
    ],
    inputs: [{ name: "S", elem: F32, dims: [1, 2, 3, 4] }, { name: "V", elem: F32, dims: [1, 2, 4, 5] }],
    outputs: [{ name: "Y", elem: F32, dims: null }],
  });
  const src = path.join(dir, "small.onnx");
  writeFileSync(src, model({ opsets: [["", 17]], graph: g }));
  const o = await scanModel(src);
  assert.ok(o.graph.contentEnd - o.graph.contentStart < 128, "precondition: one-byte graph length");
  const dst = path.join(dir, "small.taps.onnx");
  assert.equal((await addAttentionTaps(src, dst)).source, "taps");
  const p = await scanModel(dst);
  assert.equal(p.graph.contentStart - p.graphFieldStart, o.graph.contentStart - o.graphFieldStart + 1);
  const a = readFileSync(src);
  const b = readFileSync(dst);
  assert.ok(b.subarray(0, o.graphFieldStart).equals(a.subarray(0, o.graphFieldStart)));
  assert.ok(b.subarray(p.graph.contentStart, p.graph.contentStart + (o.graph.contentEnd - o.graph.contentStart)).equals(a.subarray(o.graph.contentStart, o.graph.contentEnd)));
  assert.ok(b.subarray(p.graph.contentEnd).equals(a.subarray(o.graph.contentEnd)));
  const S = rand(24, 3);
  const sess = await ort.InferenceSession.create(dst, sessionOpts);
  try {
    const out = await sess.run({ S: new ort.Tensor("float32", S, [1, 2, 3, 4]), V: new ort.Tensor("float32", rand(40, 4), [1, 2, 4, 5]) });
    assert.deepEqual(Array.from(out["attn_scores.0"].data as Float32Array), [...S.slice(8, 12), ...S.slice(20, 24)]);
  } finally {
    await sess.release();
  }
});

function softmaxGraph(elem: number): Uint8Array {
  return graph({
    nodes: [
      { op: "Softmax", inputs: ["S"], outputs: ["P"], attrs: [{ name: "axis", i: 3 }] },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"] },
    ],
    inputs: [{ name: "S", elem, dims: [1, 2, 3, 4] }, { name: "V", elem, dims: [1, 2, 4, 5] }],
    outputs: [{ name: "Y", elem, dims: [1, 2, 3, 5] }],
  });
}

test("opset 9 (Slice with attributes) and fp16 scores (Cast to float32) both tap the last row", async () => {
  const dir = tempDir();
  const S = rand(24, 7);
  const V = rand(40, 8);
  for (const [opset, elem, type] of [[9, F32, "float32"], [14, 10, "float16"]] as const) {
    const src = path.join(dir, `sm${opset}.onnx`);
    writeFileSync(src, model({ irVersion: opset < 10 ? 4 : 8, opsets: [["", opset]], graph: softmaxGraph(elem) }));
    const r = await addAttentionTaps(src, `${src}.taps`);
    assert.equal(r.source, "taps");
    const sess = await ort.InferenceSession.create(`${src}.taps`, sessionOpts);
    try {
      const toT = (x: Float32Array, dims: number[]) =>
        type === "float32" ? new ort.Tensor("float32", x, dims) : new ort.Tensor("float16", Uint16Array.from(x, f16bits), dims);
      const out = await sess.run({ S: toT(S, [1, 2, 3, 4]), V: toT(V, [1, 2, 4, 5]) });
      const got = out["attn_scores.0"];
      assert.equal(got.type, "float32");
      assert.deepEqual(got.dims, [1, 2, 1, 4]);
      for (let h = 0; h < 2; h++) {
        for (let k = 0; k < 4; k++) {
          const want = S[(h * 3 + 2) * 4 + k];
          const v = (got.data as Float32Array)[h * 4 + k];
          assert.ok(Math.abs(v - want) < (type === "float32" ? 0 + 1e-7 : 1e-3), `opset ${opset} h${h} k${k}: ${v} vs ${want}`);
        }
      }
    } finally {
      await sess.release();
    }
  }
});

/** IEEE half bits of a float (round to nearest, normal range only — enough for test data). */
function f16bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | Math.round((u & 0x7fffff) / 0x2000);
}

test("attention only inside an If branch, no Softmax, or a Softmax that is not attention: report none, nothing written", async () => {
  const dir = tempDir();
  const branch = (tag: string): Uint8Array =>
    graph({
      name: tag,
      nodes: [
        { op: "Softmax", inputs: ["S"], outputs: [`P_${tag}`], attrs: [{ name: "axis", i: -1 }] },
        { op: "MatMul", inputs: [`P_${tag}`, "V"], outputs: [`Y_${tag}`] },
      ],
      inputs: [],
      outputs: [{ name: `Y_${tag}`, elem: F32, dims: null }],
    });
  const ifNode: NodeSpec = { op: "If", inputs: ["cond"], outputs: ["Y"], attrs: [{ name: "then_branch", g: branch("then") }, { name: "else_branch", g: branch("else") }] };
  const cases: [string, NodeSpec[], RegExp][] = [
    ["if.onnx", [ifNode], /inside If subgraph/],
    ["none.onnx", [{ op: "MatMul", inputs: ["S", "V"], outputs: ["Y"] }], /no Softmax found/],
    ["router.onnx", [{ op: "Softmax", inputs: ["S"], outputs: ["Y"] }], /none feeds a MatMul/],
  ];
  for (const [file, nodes, note] of cases) {
    const g = graph({
      nodes,
      inputs: [{ name: "cond", elem: BOOL, dims: [] }, { name: "S", elem: F32, dims: [1, 2, 3, 3] }, { name: "V", elem: F32, dims: [1, 2, 3, 4] }],
      outputs: [{ name: "Y", elem: F32, dims: null }],
    });
    writeFileSync(path.join(dir, file), model({ opsets: [["", 17]], graph: g }));
    const r = await addAttentionTaps(path.join(dir, file), path.join(dir, `${file}.taps`));
    assert.equal(r.source, "none", file);
    assert.match(r.note, note, file);
    assert.equal(existsSync(path.join(dir, `${file}.taps`)), false);
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

test("a truncated file and a non-ONNX file give a one-line ModelError naming the path; nothing written", async () => {
  const dir = tempDir();
  const truncated = path.join(dir, "truncated.onnx");
  writeFileSync(truncated, readFileSync(STORIES_ONNX).subarray(0, 600_000));
  const text = path.join(dir, "text.onnx");
  writeFileSync(text, readFileSync(path.join(STORIES, "tokenizer.json")));
  const empty = path.join(dir, "empty.onnx");
  writeFileSync(empty, "");
  const cases: [string, RegExp][] = [
    [truncated, /truncated/],
    [text, /not an ONNX model/],
    [empty, /not an ONNX model/],
  ];
  for (const [file, what] of cases) {
    for (const attempt of [() => addAttentionTaps(file, path.join(dir, "out.onnx")), () => ensureTappedModel(file, { cacheDir: path.join(dir, "cache") })]) {
      await assert.rejects(attempt, (err: unknown) => {
        assert.ok(err instanceof ModelError, `${file}: ${String(err)}`);
        assert.ok(!err.message.includes("\n"), err.message);
        assert.ok(err.message.startsWith(file), err.message);
        assert.match(err.message, what);
        return true;
      });
    }
  }
  await assert.rejects(() => ensureTappedModel(path.join(dir, "missing.onnx")), ModelError);
  assert.deepEqual(readdirSync(dir).sort(), ["empty.onnx", "text.onnx", "truncated.onnx"]);
});

// ---------------------------------------------------------------------------------------------
// Patch cache

function copyStories(): string {
  const dir = tempDir("entropix-model-");
  mkdirSync(path.join(dir, "onnx"));
  const onnx = path.join(dir, "onnx", "model.onnx");
  copyFileSync(STORIES_ONNX, onnx);
  return onnx;
}

test("patch cache: writes beside the model with a sidecar, reuses it, rebuilds when stale or corrupt", async () => {
  const onnx = copyStories();
  const cacheDir = tempDir("entropix-cache-");
  const first = await ensureTappedModel(onnx, { cacheDir });
  const beside = path.join(path.dirname(onnx), "model.taps.onnx");
  const sidecarPath = path.join(path.dirname(onnx), "model.taps.json");
  assert.equal(first.path, beside);
  assert.equal(first.reused, false);
  assert.equal(first.report.source, "taps");
  const sidecar = JSON.parse(readFileSync(sidecarPath, "utf8"));
  assert.equal(sidecar.source.sha256, await sha256File(onnx));
  assert.equal(sidecar.source.size, statSync(onnx).size);
  assert.equal(sidecar.patched.sha256, await sha256File(beside));
  assert.deepEqual(sidecar.report, first.report);
  const direct = path.join(tempDir("entropix-direct-"), "model.taps.onnx");
  await addAttentionTaps(onnx, direct, { cache: true });
  assert.ok(readFileSync(beside).equals(readFileSync(direct)), "same bytes as addAttentionTaps with the cache outputs");
  assert.deepEqual(readdirSync(cacheDir), [], "cache unused when the folder is writable");

  const second = await ensureTappedModel(onnx, { cacheDir });
  assert.equal(second.reused, true);
  assert.deepEqual(second.report, first.report);

  // Corrupt the patched copy (same size): rebuilt.
  const bytes = readFileSync(beside);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(beside, bytes);
  const third = await ensureTappedModel(onnx, { cacheDir });
  assert.equal(third.reused, false);
  assert.equal(await sha256File(beside), sidecar.patched.sha256);

  // Source touched (mtime changes): rebuilt.
  const later = new Date(Date.now() + 5000);
  utimesSync(onnx, later, later);
  const fourth = await ensureTappedModel(onnx, { cacheDir });
  assert.equal(fourth.reused, false);
  assert.equal((await ensureTappedModel(onnx, { cacheDir })).reused, true);
  assert.deepEqual(readdirSync(path.dirname(onnx)).sort(), ["model.onnx", "model.taps.json", "model.taps.onnx"]);
});

test("patch cache: a read-only folder uses the cache dir keyed by the source sha256 (external data hard-linked)", async () => {
  // A plain-attention model whose V comes from an external-data initializer.
  const dir = tempDir("entropix-ro-");
  const V = rand(40, 9);
  writeFileSync(path.join(dir, "weights.bin"), f32bytes(V));
  const g = graph({
    nodes: [
      { op: "Softmax", inputs: ["S"], outputs: ["P"], attrs: [{ name: "axis", i: -1 }] },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"] },
    ],
    inputs: [{ name: "S", elem: F32, dims: [1, 2, 3, 4] }],
    outputs: [{ name: "Y", elem: F32, dims: [1, 2, 3, 5] }],
    initializers: [tensor("V", F32, [1, 2, 4, 5], null, { location: "weights.bin", offset: 0, length: 160 })],
  });
  const onnx = path.join(dir, "ext.onnx");
  writeFileSync(onnx, model({ opsets: [["", 17]], graph: g }));
  const cacheDir = tempDir("entropix-cache-");
  chmodSync(dir, 0o555);
  try {
    const r = await ensureTappedModel(onnx, { cacheDir });
    assert.equal(r.report.source, "taps");
    assert.equal(r.reused, false);
    assert.ok(r.path.startsWith(cacheDir + path.sep), r.path);
    const srcSha = await sha256File(onnx);
    assert.ok(path.basename(path.dirname(r.path)).startsWith(srcSha), r.path);
    // Hard-linked (same filesystem here): onnxruntime refuses symlinks that leave the model's folder.
    const linked = path.join(path.dirname(r.path), "weights.bin");
    assert.equal(statSync(linked).ino, statSync(path.join(dir, "weights.bin")).ino);
    assert.deepEqual(readdirSync(dir).sort(), ["ext.onnx", "weights.bin"], "nothing written into the read-only folder");
    // The patched copy finds its external data and computes the same thing.
    const S = rand(24, 10);
    const s0 = await ort.InferenceSession.create(onnx, sessionOpts);
    const s1 = await ort.InferenceSession.create(r.path, sessionOpts);
    try {
      const a = await s0.run({ S: new ort.Tensor("float32", S, [1, 2, 3, 4]) });
      const b = await s1.run({ S: new ort.Tensor("float32", S, [1, 2, 3, 4]) });
      sameBytes(a.Y, b.Y, "Y");
      assert.deepEqual(Array.from(b["attn_scores.0"].data as Float32Array), [...S.slice(8, 12), ...S.slice(20, 24)]);
    } finally {
      await s0.release();
      await s1.release();
    }
    const again = await ensureTappedModel(onnx, { cacheDir });
    assert.equal(again.reused, true);
    assert.equal(again.path, r.path);
    // New weights under the same name (a new file, as a download writes it): the entry is rebuilt.
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, "weights.new"), f32bytes(V.map((x) => x * 2)));
    renameSync(path.join(dir, "weights.new"), path.join(dir, "weights.bin"));
    chmodSync(dir, 0o555);
    const fresh = await ensureTappedModel(onnx, { cacheDir });
    assert.equal(fresh.reused, false);
    assert.equal(statSync(linked).ino, statSync(path.join(dir, "weights.bin")).ino);
  } finally {
    chmodSync(dir, 0o755);
  }
});

test("patch cache: a Hugging Face style snapshot (symlinks into blobs/) is patched into the cache and loads", async () => {
  // onnxruntime refuses a patched copy beside the symlinks: its external data would resolve outside
  // the copy's folder. The cache entry hard-links the blob instead.
  const root = tempDir("entropix-hf-");
  mkdirSync(path.join(root, "blobs"));
  mkdirSync(path.join(root, "snapshots", "rev", "onnx"), { recursive: true });
  const V = rand(40, 12);
  writeFileSync(path.join(root, "blobs", "b1"), f32bytes(V));
  const g = graph({
    nodes: [
      { op: "Softmax", inputs: ["S"], outputs: ["P"], attrs: [{ name: "axis", i: -1 }] },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"] },
    ],
    inputs: [{ name: "S", elem: F32, dims: [1, 2, 3, 4] }],
    outputs: [{ name: "Y", elem: F32, dims: [1, 2, 3, 5] }],
    initializers: [tensor("V", F32, [1, 2, 4, 5], null, { location: "model.onnx_data", offset: 0, length: 160 })],
  });
  writeFileSync(path.join(root, "blobs", "a1"), model({ opsets: [["", 17]], graph: g }));
  const snap = path.join(root, "snapshots", "rev", "onnx");
  symlinkSync("../../../blobs/a1", path.join(snap, "model.onnx"));
  symlinkSync("../../../blobs/b1", path.join(snap, "model.onnx_data"));
  const cacheDir = path.join(root, "cache");
  const r = await ensureTappedModel(path.join(snap, "model.onnx"), { cacheDir });
  assert.equal(r.report.source, "taps");
  assert.ok(r.path.startsWith(cacheDir + path.sep), r.path);
  assert.deepEqual(readdirSync(snap).sort(), ["model.onnx", "model.onnx_data"]);
  assert.equal(statSync(path.join(path.dirname(r.path), "model.onnx_data")).ino, statSync(path.join(root, "blobs", "b1")).ino);
  const S = rand(24, 13);
  const s0 = await ort.InferenceSession.create(path.join(snap, "model.onnx"), sessionOpts);
  const s1 = await ort.InferenceSession.create(r.path, sessionOpts);
  try {
    const a = await s0.run({ S: new ort.Tensor("float32", S, [1, 2, 3, 4]) });
    const b = await s1.run({ S: new ort.Tensor("float32", S, [1, 2, 3, 4]) });
    sameBytes(a.Y, b.Y, "Y");
  } finally {
    await s0.release();
    await s1.release();
  }
  assert.equal((await ensureTappedModel(path.join(snap, "model.onnx"), { cacheDir })).reused, true);
});

test("patch cache: two processes patching the same model at once both end with a valid file", async () => {
  const onnx = copyStories();
  const dir = tempDir("entropix-race-");
  const script = path.join(dir, "race.mjs");
  const mod = pathToFileURL(path.join(REPO_ROOT, "dist", "src", "onnx", "patch-cache.js")).href;
  writeFileSync(
    script,
    `import { ensureTappedModel } from ${JSON.stringify(mod)};\n` +
      `const r = await ensureTappedModel(process.argv[2], { cacheDir: process.argv[3] });\n` +
      `console.log(JSON.stringify({ path: r.path, source: r.report.source, layers: r.report.layers }));\n`,
  );
  const runOne = () =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [script, onnx, path.join(dir, "cache")]);
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      const kill = setTimeout(() => p.kill("SIGKILL"), CLI_KILL_MS);
      p.on("close", (code) => {
        clearTimeout(kill);
        resolve({ code, out, err });
      });
    });
  const results = await Promise.all([runOne(), runOne(), runOne()]);
  for (const r of results) {
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.source, "taps");
    assert.equal(j.layers, LAYERS);
    assert.equal(j.path, path.join(path.dirname(onnx), "model.taps.onnx"));
  }
  assert.deepEqual(readdirSync(path.dirname(onnx)).sort(), ["model.onnx", "model.taps.json", "model.taps.onnx"], "no temp files left");
  const sidecar = JSON.parse(readFileSync(path.join(path.dirname(onnx), "model.taps.json"), "utf8"));
  assert.equal(await sha256File(path.join(path.dirname(onnx), "model.taps.onnx")), sidecar.patched.sha256);
  const s = await ort.InferenceSession.create(path.join(path.dirname(onnx), "model.taps.onnx"), sessionOpts);
  assert.ok(s.outputNames.includes("attn_scores.4"));
  await s.release();
  assert.equal((await ensureTappedModel(onnx, { cacheDir: path.join(dir, "cache") })).reused, true);
});
