// Model-relative metrics: a metric's percentile rank among the model's own calibration statistics
// (profile meta.statistics: min, p10, p50, p90, max per metric). Pure. A rank of 0.9 means "as
// uncertain as the model's 90th-percentile step", whatever the vocabulary size or model family.

/** Calibration quantiles of one metric. */
export interface Quantiles {
  min: number;
  p10: number;
  p50: number;
  p90: number;
  max: number;
}

/** What the default sampler needs from a calibration: the logit metrics' quantiles (attention optional). */
export interface MetricScale {
  entropy: Quantiles;
  varentropy: Quantiles;
  attnEntropy?: Quantiles;
}

/** Percentile rank in [0, 1], piecewise-linear between the stored quantiles (0 at min, 1 at max). */
export function rankOf(x: number, q: Quantiles): number {
  const knots: [number, number][] = [
    [q.min, 0],
    [q.p10, 0.1],
    [q.p50, 0.5],
    [q.p90, 0.9],
    [q.max, 1],
  ];
  if (!(x > knots[0][0])) return 0;
  for (let i = 1; i < knots.length; i++) {
    const [x1, r1] = knots[i];
    if (x <= x1) {
      const [x0, r0] = knots[i - 1];
      return x1 > x0 ? r0 + ((x - x0) / (x1 - x0)) * (r1 - r0) : r1;
    }
  }
  return 1;
}

function isQuantiles(v: unknown): v is Quantiles {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return ["min", "p10", "p50", "p90", "max"].every((k) => typeof o[k] === "number" && Number.isFinite(o[k] as number));
}

/** Reads the scale out of a calibrated profile's `meta` (null when it lacks the logit statistics). */
export function scaleFromMeta(meta: Record<string, unknown> | undefined): MetricScale | null {
  const stats = meta?.statistics as Record<string, unknown> | undefined;
  if (!stats || !isQuantiles(stats.entropy) || !isQuantiles(stats.varentropy)) return null;
  return {
    entropy: stats.entropy,
    varentropy: stats.varentropy,
    ...(isQuantiles(stats.attn_entropy) ? { attnEntropy: stats.attn_entropy } : {}),
  };
}

/**
 * The scale used when a model has no calibrated profile: entropy relative to the largest possible
 * entropy log2(vocab). The fractions are a rough guess (the bundled model's calibration puts its
 * entropy p50 at 53% of log2 V and varentropy p50 at 0.9·log2 V bits²); calibrating is better.
 */
export function fallbackScale(vocabSize: number): MetricScale {
  const hMax = Math.log2(Math.max(2, vocabSize));
  return {
    entropy: { min: 0, p10: 0.1 * hMax, p50: 0.4 * hMax, p90: 0.7 * hMax, max: hMax },
    varentropy: { min: 0, p10: 0.15 * hMax, p50: 0.5 * hMax, p90: 1.1 * hMax, max: 2.5 * hMax },
  };
}
