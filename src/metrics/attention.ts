// Attention metrics of one decoding step (entropix-method.md §1, §3.1): per-head softmax over the
// real key positions of the current query row, then entropy, varentropy across heads, agreement
// and interaction strength. Pure; allocation-free on the hot path once the scratch has grown.
import { RuntimeFailure } from "../errors.js";
import type { AttentionMetrics } from "../types.js";

/**
 * A score at or below this (−1e30, −Infinity, the float32 minimum an additive mask leaves) or NaN
 * marks a position that does not exist for that head: padding, a masked slot, an empty cache slot.
 * Such positions are excluded from every metric (§1, §3.1), not scored with probability ≈ 0.
 */
export const MASKED_SCORE_LIMIT = -1e30;

/** log2 of the attention-entropy clip (§1: log2(clip(a, 1e-10, 1))). */
const LOG2_CLIP = Math.log2(1e-10);

/** True when the score is a real position (finite and above the mask limit). */
export function isRealScore(s: number): boolean {
  return s > MASKED_SCORE_LIMIT && s !== Infinity;
}

/** One layer's pre-softmax scores for the current query row (structurally the model's LayerScores). */
export interface ScoreRows {
  heads: number;
  kvLen: number;
  data: Float32Array;
  /** Index of head 0, position 0 in `data` (default 0). */
  offset?: number;
  /** Distance in `data` between consecutive heads (default kvLen; e.g. query_len·kvLen for a [heads, q, kv] tensor). */
  headStride?: number;
}

/** Reusable buffers; grows geometrically when heads·kvLen outgrows it, otherwise never allocates. */
export interface AttentionScratch {
  /** a_hk for the current layer, [heads, kvLen]. */
  probs: Float64Array;
  /** Σ_h a_hk per position. */
  colSum: Float64Array;
  /** E_h per head. */
  headEntropy: Float64Array;
}

export function createAttentionScratch(heads = 32, kvCapacity = 1024): AttentionScratch {
  return {
    probs: new Float64Array(heads * kvCapacity),
    colSum: new Float64Array(kvCapacity),
    headEntropy: new Float64Array(heads),
  };
}

function ensureCapacity(s: AttentionScratch, heads: number, kvLen: number): void {
  if (s.probs.length < heads * kvLen) s.probs = new Float64Array(Math.max(heads * kvLen, 2 * s.probs.length));
  if (s.colSum.length < kvLen) s.colSum = new Float64Array(Math.max(kvLen, 2 * s.colSum.length));
  if (s.headEntropy.length < heads) s.headEntropy = new Float64Array(heads);
}

export function createAttentionMetrics(): AttentionMetrics {
  return { attnEntropy: 0, attnVarentropy: 0, agreement: 0, interactionStrength: 0 };
}

/**
 * Metrics of one layer (§1). `scores` holds the pre-softmax scores of the current query row,
 * layout [heads, kvLen] (or strided, see `offset`/`headStride`); masked entries are excluded:
 * - attnEntropy: mean over heads of E_h = −Σ_k a_hk·log2(clip(a_hk, 1e-10, 1)), a_h = softmax over real k;
 * - attnVarentropy: population variance of E_h across heads;
 * - agreement: mean over real (h, k) of |a_hk − mean_h' a_h'k| (a masked (h', k) counts as a_h'k = 0,
 *   which is what the model's own softmax gives it; with the usual per-position masks every head
 *   shares the same real positions and this is exactly the mean over real positions);
 * - interactionStrength: mean over real (h, k) of |S_hk|.
 * Throws RuntimeFailure when a head has no real position (no distribution to measure).
 */
export function attentionMetrics(
  scores: Float32Array,
  heads: number,
  kvLen: number,
  scratch: AttentionScratch = createAttentionScratch(heads, kvLen),
  out: AttentionMetrics = createAttentionMetrics(),
  offset = 0,
  headStride = kvLen,
): AttentionMetrics {
  if (!(heads >= 1) || !(kvLen >= 1)) throw new RuntimeFailure(`attention scores have no positions (heads ${heads}, kv ${kvLen})`);
  if (offset + (heads - 1) * headStride + kvLen > scores.length) {
    throw new RuntimeFailure(`attention scores too short: ${scores.length} values for ${heads} heads × ${kvLen} positions`);
  }
  ensureCapacity(scratch, heads, kvLen);
  const probs = scratch.probs;
  const colSum = scratch.colSum;
  const headEntropy = scratch.headEntropy;
  colSum.fill(0, 0, kvLen);
  let absSum = 0;
  let real = 0;
  let entropySum = 0;
  for (let h = 0; h < heads; h++) {
    const base = offset + h * headStride;
    const row = h * kvLen;
    let max = -Infinity;
    let count = 0;
    for (let k = 0; k < kvLen; k++) {
      const s = scores[base + k];
      if (s > MASKED_SCORE_LIMIT && s !== Infinity) {
        count++;
        absSum += s < 0 ? -s : s;
        if (s > max) max = s;
      }
    }
    if (count === 0) throw new RuntimeFailure(`attention head ${h} has no unmasked position (all ${kvLen} scores masked)`);
    real += count;
    let z = 0;
    for (let k = 0; k < kvLen; k++) {
      const s = scores[base + k];
      let e = 0;
      if (s > MASKED_SCORE_LIMIT && s !== Infinity) e = Math.exp(s - max);
      probs[row + k] = e;
      z += e;
    }
    const lnZ = Math.log(z);
    const invZ = 1 / z;
    let entropy = 0;
    for (let k = 0; k < kvLen; k++) {
      const e = probs[row + k];
      if (e === 0) {
        // A masked entry (excluded), or a real one whose probability underflowed to 0: both add 0
        // to −a·log2(clip(a)) because the clip bounds the log.
        continue;
      }
      const a = e * invZ;
      probs[row + k] = a;
      colSum[k] += a;
      // log2 a from the scores directly (no log per entry), then the §1 clip to [1e-10, 1].
      let log2a = (scores[base + k] - max - lnZ) * Math.LOG2E;
      if (log2a < LOG2_CLIP) log2a = LOG2_CLIP;
      else if (log2a > 0) log2a = 0;
      entropy -= a * log2a;
    }
    headEntropy[h] = entropy;
    entropySum += entropy;
  }
  const meanEntropy = entropySum / heads;
  let variance = 0;
  for (let h = 0; h < heads; h++) {
    const d = headEntropy[h] - meanEntropy;
    variance += d * d;
  }
  const invHeads = 1 / heads;
  let disagreement = 0;
  for (let h = 0; h < heads; h++) {
    const base = offset + h * headStride;
    const row = h * kvLen;
    for (let k = 0; k < kvLen; k++) {
      const s = scores[base + k];
      if (s > MASKED_SCORE_LIMIT && s !== Infinity) {
        const d = probs[row + k] - colSum[k] * invHeads;
        disagreement += d < 0 ? -d : d;
      }
    }
  }
  out.attnEntropy = meanEntropy;
  out.attnVarentropy = variance * invHeads;
  out.agreement = disagreement / real;
  out.interactionStrength = absSum / real;
  return out;
}

/**
 * The `--attention-layers all` reduction: metrics of each layer, then the mean of each metric over
 * the layers (one layer: that layer's metrics). Allocation-free when `scratch` and `out` are passed.
 */
export function attentionMetricsForLayers(
  layers: readonly ScoreRows[],
  scratch: AttentionScratch = createAttentionScratch(),
  out: AttentionMetrics = createAttentionMetrics(),
): AttentionMetrics {
  if (layers.length === 0) throw new RuntimeFailure("no attention layers to measure");
  let ent = 0;
  let vent = 0;
  let agree = 0;
  let inter = 0;
  for (let l = 0; l < layers.length; l++) {
    const layer = layers[l];
    attentionMetrics(layer.data, layer.heads, layer.kvLen, scratch, out, layer.offset ?? 0, layer.headStride ?? layer.kvLen);
    ent += out.attnEntropy;
    vent += out.attnVarentropy;
    agree += out.agreement;
    inter += out.interactionStrength;
  }
  const n = layers.length;
  out.attnEntropy = ent / n;
  out.attnVarentropy = vent / n;
  out.agreement = agree / n;
  out.interactionStrength = inter / n;
  return out;
}
