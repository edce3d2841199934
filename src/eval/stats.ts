// Statistics of `entropix eval` (pure): bootstrap confidence intervals that resample prompts, paired
// differences, the temperature frontier in the (distinct-3, NLL) plane and each sampler's gap to it.
import { createRng } from "../sampler/rng.js";

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

/** Per-prompt values (already averaged over seeds) of one metric for one sampler; NaN = no value. */
export type PromptValues = readonly number[];

const mean = (xs: readonly number[]): number => {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
};

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Prompt indices of each bootstrap resample (the same draws for every sampler: paired). */
export function bootstrapDraws(prompts: number, resamples: number, seed = 1): Uint32Array[] {
  const rng = createRng(seed);
  const out: Uint32Array[] = [];
  for (let b = 0; b < resamples; b++) {
    const idx = new Uint32Array(prompts);
    for (let i = 0; i < prompts; i++) idx[i] = Math.min(prompts - 1, Math.floor(rng.uniform() * prompts));
    out.push(idx);
  }
  return out;
}

/** The statistic over one resample of the prompts. */
function resampled(values: PromptValues, idx: Uint32Array): number {
  let s = 0;
  let n = 0;
  for (const i of idx) {
    const x = values[i];
    if (Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/** 95% percentile interval of a statistic computed on every resample. */
export function intervalOf(point: number, perResample: readonly number[]): Interval {
  const finite = perResample.filter(Number.isFinite).sort((a, b) => a - b);
  return { mean: point, lo: percentile(finite, 0.025), hi: percentile(finite, 0.975) };
}

export function meanInterval(values: PromptValues, draws: readonly Uint32Array[]): Interval {
  return intervalOf(mean(values), draws.map((d) => resampled(values, d)));
}

/** Mean of a − b over prompts, with its paired bootstrap interval. */
export function pairedDifference(a: PromptValues, b: PromptValues, draws: readonly Uint32Array[]): Interval {
  const diff = a.map((x, i) => x - b[i]);
  return meanInterval(diff, draws);
}

export interface FrontierPoint {
  distinct: number;
  nll: number;
}

/**
 * NLL of the frontier at distinct-3 `d`: the temperature points joined piecewise-linearly, ordered by
 * distinct-3. Outside their range the nearest segment is extended (flagged by `frontierRange`).
 */
export function frontierNll(points: readonly FrontierPoint[], d: number): number {
  const pts = [...points].filter((p) => Number.isFinite(p.distinct) && Number.isFinite(p.nll)).sort((a, b) => a.distinct - b.distinct);
  if (pts.length < 2) return NaN;
  let i = 0;
  while (i < pts.length - 2 && d > pts[i + 1].distinct) i++;
  const a = pts[i];
  const b = pts[i + 1];
  const span = b.distinct - a.distinct;
  if (span <= 0) return (a.nll + b.nll) / 2;
  return a.nll + ((d - a.distinct) / span) * (b.nll - a.nll);
}

export function frontierRange(points: readonly FrontierPoint[]): [number, number] {
  const ds = points.map((p) => p.distinct).filter(Number.isFinite);
  return [Math.min(...ds), Math.max(...ds)];
}

/** A sampler's per-prompt distinct-3 and NLL. */
export interface SamplerValues {
  distinct: PromptValues;
  nll: PromptValues;
}

/**
 * A statistic of samplers' gaps to the frontier, with its bootstrap interval: `stat` gets a `gap`
 * function for one prompt selection (all prompts, then each resample), under which the temperature
 * points and every sampler's point are recomputed from the same prompts.
 */
function gapStatistic(temperaturePoints: readonly SamplerValues[], draws: readonly Uint32Array[], stat: (gap: (s: SamplerValues) => number) => number): Interval {
  const under = (pick: (v: PromptValues) => number): number => {
    const pts = temperaturePoints.map((t) => ({ distinct: pick(t.distinct), nll: pick(t.nll) }));
    return stat((s) => pick(s.nll) - frontierNll(pts, pick(s.distinct)));
  };
  return intervalOf(
    under((v) => mean(v)),
    draws.map((d) => under((v) => resampled(v, d))),
  );
}

/**
 * A sampler's NLL minus the frontier's NLL at the sampler's own distinct-3, with a bootstrap interval:
 * every resample recomputes the temperature points and the sampler's point from the same prompts.
 * Negative = below the frontier (less NLL for the same diversity).
 */
export function frontierGap(sampler: SamplerValues, temperaturePoints: readonly SamplerValues[], draws: readonly Uint32Array[]): Interval {
  return gapStatistic(temperaturePoints, draws, (gap) => gap(sampler));
}

/**
 * Sampler a's frontier gap minus sampler b's, paired: every resample draws the same prompts for a, b
 * and the temperature points. Negative = a lies further below the frontier than b.
 */
export function frontierGapDifference(a: SamplerValues, b: SamplerValues, temperaturePoints: readonly SamplerValues[], draws: readonly Uint32Array[]): Interval {
  return gapStatistic(temperaturePoints, draws, (gap) => gap(a) - gap(b));
}

export { mean as meanOf };
