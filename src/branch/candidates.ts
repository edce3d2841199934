// The K distinct first tokens of a branch point (pure): the sampler's own pick first, then more draws
// from the same filtered distribution without replacement, so the branches differ and each is a token
// the step's settings could have chosen.
import { applyChain, ensureProbs, loadLogits, type CandidateBuffer } from "../sampler/filters.js";
import type { Rng } from "../sampler/rng.js";
import type { SamplerSettings } from "../types.js";

/**
 * Up to `k` distinct ids: `first`, then draws in proportion to the filtered, renormalised
 * probabilities of the ids not drawn yet, never one of `exclude` (end-of-sequence: not a continuation
 * to compare). Fewer than `k` when the filters leave fewer tokens.
 */
export function distinctCandidates(
  buf: CandidateBuffer,
  logits: Float32Array,
  settings: SamplerSettings,
  first: number,
  k: number,
  rng: Rng,
  maxLogit = NaN,
  exclude: ReadonlySet<number> = new Set(),
): number[] {
  loadLogits(buf, logits, maxLogit);
  applyChain(buf, settings);
  ensureProbs(buf);
  const n = buf.size;
  const weights = Float64Array.from(buf.probs.subarray(0, n));
  let left = 0;
  for (let i = 0; i < n; i++) {
    if (buf.ids[i] === first || exclude.has(buf.ids[i])) weights[i] = 0;
    left += weights[i];
  }
  const chosen = [first];
  while (chosen.length < k && left > 0) {
    const target = rng.uniform() * left;
    let cum = 0;
    let pick = -1;
    for (let i = 0; i < n; i++) {
      if (weights[i] <= 0) continue;
      cum += weights[i];
      pick = i;
      if (cum > target) break;
    }
    if (pick < 0) break;
    chosen.push(buf.ids[pick]);
    left -= weights[pick];
    weights[pick] = 0;
    // Float drift: recompute what is left once it gets small relative to the rounding.
    if (left < 1e-12) left = weights.reduce((a, b) => a + b, 0);
  }
  return chosen;
}
