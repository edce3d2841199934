#!/usr/bin/env node
// Median time per decoding step of the pure hot path: logit metrics + attention metrics (8 heads ×
// 256 positions, last layer) + one Entropix sampler step, on synthetic Zipf-like logits with noise.
// Usage: npm run build && node scripts/bench-sampler.mjs [steps] [--json]   (imports from dist/src/)
// --json prints one JSON object (the rows below) instead of the table; scripts/bench.mjs uses it.
import { logitMetrics, createLogitStats } from "../dist/src/metrics/logits.js";
import { attentionMetrics, createAttentionScratch, createAttentionMetrics } from "../dist/src/metrics/attention.js";
import { createSampler } from "../dist/src/sampler/samplers.js";
import { BASE_SETTINGS, REFERENCE_PROFILE } from "../dist/src/sampler/thresholds.js";
import { createRng } from "../dist/src/sampler/rng.js";

const JSON_OUT = process.argv.includes("--json");
const STEPS = Number(process.argv.slice(2).find((a) => a !== "--json") ?? 400);
const WARMUP = 100;
const VOCABS = [512, 49_152, 128_256];
const HEADS = 8;
const KV = 256;
const VARIANTS = 16; // distinct logit vectors cycled through, of varying peakedness

const rng = createRng(12345);
function gauss() {
  const u = Math.max(rng.uniform(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.uniform());
}

/** Zipf-like logits: z(rank r) = −α·ln r + noise, ranks shuffled over the ids; α varies per variant. */
function syntheticLogits(V, alpha) {
  const z = new Float32Array(V);
  const perm = new Int32Array(V);
  for (let i = 0; i < V; i++) perm[i] = i;
  for (let i = V - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (let r = 0; r < V; r++) z[perm[r]] = 12 - alpha * Math.log(r + 1) + 0.5 * gauss();
  return z;
}

function syntheticScores() {
  const s = new Float32Array(HEADS * KV);
  for (let i = 0; i < s.length; i++) s[i] = 2 * gauss();
  return s;
}

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a[a.length >> 1];
};
const now = () => Number(process.hrtime.bigint()) / 1e6;

const rows = [];
for (const V of VOCABS) {
  const logitsSet = Array.from({ length: VARIANTS }, (_, i) => syntheticLogits(V, 0.8 + (i % 8) * 0.35));
  const scoresSet = Array.from({ length: VARIANTS }, () => syntheticScores());
  const stats = createLogitStats();
  const scratch = createAttentionScratch(HEADS, KV);
  const attn = createAttentionMetrics();
  const sampler = createSampler({ name: "entropix", base: BASE_SETTINGS, profile: REFERENCE_PROFILE, seed: 1, clarifyIds: [1], clarifyEvery: 64, vocabSize: V });
  const tMetrics = [];
  const tSample = [];
  const tTotal = [];
  const quadrants = {};
  for (let step = 0; step < WARMUP + STEPS; step++) {
    const logits = logitsSet[step % VARIANTS];
    const scores = scoresSet[step % VARIANTS];
    const t0 = now();
    logitMetrics(logits, stats);
    attentionMetrics(scores, HEADS, KV, scratch, attn);
    const t1 = now();
    const metrics = { entropy: stats.entropy, varentropy: stats.varentropy, ...attn };
    const choice = sampler.next(logits, metrics, stats.max);
    const t2 = now();
    if (step >= WARMUP) {
      tMetrics.push(t1 - t0);
      tSample.push(t2 - t1);
      tTotal.push(t2 - t0);
      quadrants[choice.quadrant] = (quadrants[choice.quadrant] ?? 0) + 1;
    }
  }
  // each branch forced with constructed metrics (sampler cost only), so every path is timed
  const forced = {};
  const cases = {
    adaptive: { entropy: 2, varentropy: 2 },
    explore: { entropy: 2, varentropy: 8 },
    resample: { entropy: 6, varentropy: 8 },
  };
  for (const [name, lm] of Object.entries(cases)) {
    const t = [];
    const s = createSampler({ name: "entropix", base: BASE_SETTINGS, profile: REFERENCE_PROFILE, seed: 2, clarifyIds: [1], clarifyEvery: 64, vocabSize: V });
    for (let step = 0; step < WARMUP + STEPS; step++) {
      const logits = logitsSet[step % VARIANTS];
      const m = { ...lm, attnEntropy: 3, attnVarentropy: 0.5, agreement: 0.2, interactionStrength: 1.5 };
      const t0 = now();
      s.next(logits, m);
      if (step >= WARMUP) t.push(now() - t0);
    }
    forced[name] = median(t);
  }
  // the non-default chain: top-k off, top-p 0.9, min-p 0 (the sort-avoiding top-p path)
  {
    const t = [];
    const s = createSampler({ name: "temperature", base: { temperature: 1, topK: 0, topP: 0.9, minP: 0 }, profile: REFERENCE_PROFILE, seed: 3, clarifyIds: [], clarifyEvery: 1, vocabSize: V });
    for (let step = 0; step < WARMUP + STEPS; step++) {
      const logits = logitsSet[step % VARIANTS];
      const t0 = now();
      s.next(logits, { entropy: 2, varentropy: 2, attnEntropy: null, attnVarentropy: null, agreement: null, interactionStrength: null });
      if (step >= WARMUP) t.push(now() - t0);
    }
    forced.topKOff = median(t);
  }
  rows.push({ V, metrics: median(tMetrics), sample: median(tSample), total: median(tTotal), quadrants, forced });
}

if (JSON_OUT) {
  console.log(JSON.stringify({ steps: STEPS, warmup: WARMUP, heads: HEADS, kv: KV, node: process.version, rows }));
  process.exit(0);
}
const f = (x) => x.toFixed(3).padStart(8);
console.log(`median ms per step over ${STEPS} steps (after ${WARMUP} warm-up); attention ${HEADS} heads × ${KV} positions; node ${process.version}`);
console.log("   vocab  metrics   sample    total | adaptive  explore resample | top-k off | quadrants of the synthetic steps");
for (const r of rows) {
  const q = Object.entries(r.quadrants).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(`${String(r.V).padStart(8)} ${f(r.metrics)} ${f(r.sample)} ${f(r.total)} | ${f(r.forced.adaptive)} ${f(r.forced.explore)} ${f(r.forced.resample)} | ${f(r.forced.topKOff).padStart(9)} | ${q}`);
}
