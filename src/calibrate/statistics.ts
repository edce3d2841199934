// Calibration maths (entropix-method.md §3.3): per-model thresholds as percentiles of the model's own
// entropy and varentropy on a sample of text. Pure: arrays in, numbers out.
//
// The percentile mapping. The reference profile (§2: low_ent 0.1, low_vent 0.1, med_ent 3.0,
// high_ent 5.0, high_vent 5.0 bits) was tuned by hand for Llama-3 (vocabulary 128k) and has no
// published derivation; bits do not carry over to a model with another vocabulary, size or training
// (§3.3). What does carry over is the role each cut-off plays in the decision table:
//   - low_ent, low_vent  (p10): "confident" means H and V both in the model's most certain tenth —
//     0.1 bit is near-deterministic, a tail, not a typical step;
//   - med_ent            (p60): "resample" needs entropy above a typical step (a little above the
//     median) together with top-decile varentropy;
//   - high_ent, high_vent (p90): "clarify" and "explore" are the uncertain tail, the least certain
//     tenth of steps (5 bits is far above a typical Llama-3 step on prose).
// So each threshold is a fixed percentile of that metric over teacher-forced steps of the corpus.
// Thresholds are then made strictly monotone (low_ent < med_ent < high_ent, low_vent < high_vent):
// a degenerate sample (e.g. many steps with exactly the same value) would otherwise tie them.
import type { ThresholdProfile } from "../types.js";

/** Threshold key (as in profile files) → percentile of the metric it is read from. */
export const CALIBRATION_PERCENTILES = Object.freeze({
  low_ent: 10,
  low_vent: 10,
  med_ent: 60,
  high_ent: 90,
  high_vent: 90,
} as const);

export type ThresholdKey = keyof typeof CALIBRATION_PERCENTILES;

/** Percentile `p` (0–100) of ascending `sorted`, linear interpolation between closest ranks. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0];
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Percentile rank (0–100) of `x` in ascending `sorted`: the share of values below x (ties count half). */
export function percentileRank(sorted: ArrayLike<number>, x: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  let below = 0;
  let equal = 0;
  for (let i = 0; i < n; i++) {
    if (sorted[i] < x) below++;
    else if (sorted[i] === x) equal++;
  }
  return (100 * (below + equal / 2)) / n;
}

export function sortedCopy(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs).sort();
}

/** Summary of one metric's sample. */
export interface MetricSummary {
  count: number;
  mean: number;
  min: number;
  p10: number;
  p50: number;
  p90: number;
  max: number;
}

export function summarize(sorted: Float64Array): MetricSummary {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    count: sorted.length,
    mean: round6(sum / sorted.length),
    min: round6(sorted[0]),
    p10: round6(percentile(sorted, 10)),
    p50: round6(percentile(sorted, 50)),
    p90: round6(percentile(sorted, 90)),
    max: round6(sorted[sorted.length - 1]),
  };
}

/** Six significant digits: enough for a threshold, short in a JSON file. */
export function round6(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

/** Smallest step used to separate tied thresholds. */
function gap(x: number): number {
  return Math.max(1e-3, Math.abs(x) * 1e-3);
}

/**
 * Makes a profile strictly monotone: low_ent < med_ent < high_ent and low_vent < high_vent, moving
 * the upper value of a tied or inverted pair just above the lower one. Returns the adjusted profile
 * and the keys that were moved.
 */
export function enforceMonotone(p: ThresholdProfile): { profile: ThresholdProfile; adjusted: ThresholdKey[] } {
  const out = { ...p };
  const adjusted: ThresholdKey[] = [];
  if (!(out.mediumEntropy > out.lowEntropy)) {
    out.mediumEntropy = round6(out.lowEntropy + gap(out.lowEntropy));
    adjusted.push("med_ent");
  }
  if (!(out.highEntropy > out.mediumEntropy)) {
    out.highEntropy = round6(out.mediumEntropy + gap(out.mediumEntropy));
    adjusted.push("high_ent");
  }
  if (!(out.highVarentropy > out.lowVarentropy)) {
    out.highVarentropy = round6(out.lowVarentropy + gap(out.lowVarentropy));
    adjusted.push("high_vent");
  }
  return { profile: out, adjusted };
}

/** Whether a profile is strictly monotone (what enforceMonotone guarantees). */
export function isMonotone(p: ThresholdProfile): boolean {
  return p.lowEntropy < p.mediumEntropy && p.mediumEntropy < p.highEntropy && p.lowVarentropy < p.highVarentropy;
}

/**
 * Thresholds from samples of entropy and varentropy (bits) by CALIBRATION_PERCENTILES, rounded to six
 * significant digits, then made monotone. Values are clamped at 0 (metrics are ≥ 0 up to rounding).
 */
export function thresholdsFromSamples(entropy: ArrayLike<number>, varentropy: ArrayLike<number>): { profile: ThresholdProfile; adjusted: ThresholdKey[] } {
  if (entropy.length === 0 || varentropy.length === 0) throw new RangeError("no samples to calibrate from");
  const h = sortedCopy(entropy);
  const v = sortedCopy(varentropy);
  const at = (s: Float64Array, key: ThresholdKey) => Math.max(0, round6(percentile(s, CALIBRATION_PERCENTILES[key])));
  return enforceMonotone({
    lowEntropy: at(h, "low_ent"),
    lowVarentropy: at(v, "low_vent"),
    mediumEntropy: at(h, "med_ent"),
    highEntropy: at(h, "high_ent"),
    highVarentropy: at(v, "high_vent"),
  });
}
