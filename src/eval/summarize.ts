// Per-sampler summary of an eval (pure): per-prompt means over seeds, bootstrap CIs over prompts,
// paired differences against a baseline sampler, and the NLL gap to the temperature frontier.
import type { EvalGeneration } from "./run.js";
import type { SamplerSpec } from "./sampler-specs.js";
import { bootstrapDraws, frontierGap, frontierGapDifference, frontierRange, meanInterval, pairedDifference, type Interval, type PromptValues } from "./stats.js";

export const METRICS = ["distinct1", "distinct2", "distinct3", "repetition4", "loop", "nll", "judgeNll", "meanEntropy", "nonWordRate", "insertedShare"] as const;
export type MetricName = (typeof METRICS)[number];

export interface SamplerSummary {
  label: string;
  frontierTemperature: number | null;
  generations: number;
  metrics: Partial<Record<MetricName, Interval>>;
  /** NLL minus the temperature frontier's NLL at this sampler's distinct-3 (negative = below it). */
  frontierGap: Interval | null;
  /** True when this sampler's distinct-3 lies outside the temperature points' range (gap extrapolated). */
  extrapolated: boolean;
  /** This sampler minus the baseline, paired over prompts. */
  versusBaseline: Partial<Record<"nll" | "distinct3" | "loop" | "nonWordRate" | "frontierGap", Interval>>;
  decodeTokensPerS: number;
}

export interface EvalSummary {
  prompts: number;
  seeds: number;
  resamples: number;
  baseline: string | null;
  samplers: SamplerSummary[];
  frontier: { temperature: number; distinct3: number; nll: number }[];
}

function valueOf(g: EvalGeneration, m: MetricName): number {
  switch (m) {
    case "loop":
      return g.loop ? 1 : 0;
    case "insertedShare":
      return g.tokens > 0 ? g.inserted / g.tokens : NaN;
    default: {
      const v = g[m];
      return typeof v === "number" ? v : NaN;
    }
  }
}

/** Per prompt, the mean over that prompt's seeds (NaN when none has a value). */
function perPrompt(gens: readonly EvalGeneration[], prompts: number, m: MetricName): number[] {
  const sum = new Array<number>(prompts).fill(0);
  const n = new Array<number>(prompts).fill(0);
  for (const g of gens) {
    const v = valueOf(g, m);
    if (Number.isFinite(v)) {
      sum[g.prompt] += v;
      n[g.prompt]++;
    }
  }
  return sum.map((s, i) => (n[i] > 0 ? s / n[i] : NaN));
}

export function summarize(generations: readonly EvalGeneration[], specs: readonly SamplerSpec[], prompts: number, seeds: number, o: { resamples?: number; baseline?: string } = {}): EvalSummary {
  const resamples = o.resamples ?? 2000;
  const draws = bootstrapDraws(prompts, resamples);
  const by = new Map<string, EvalGeneration[]>(specs.map((s) => [s.label, []]));
  for (const g of generations) by.get(g.sampler)?.push(g);
  const values = new Map<string, Record<MetricName, PromptValues>>();
  for (const s of specs) {
    const gens = by.get(s.label)!;
    values.set(s.label, Object.fromEntries(METRICS.map((m) => [m, perPrompt(gens, prompts, m)])) as unknown as Record<MetricName, PromptValues>);
  }
  const temps = specs.filter((s) => s.frontierTemperature !== null && by.get(s.label)!.length > 0);
  const tempValues = temps.map((s) => ({ distinct: values.get(s.label)!.distinct3, nll: values.get(s.label)!.nll }));
  const baseline = o.baseline ?? (specs.find((s) => s.label === "entropix")?.label ?? null);
  const frontierPoints = temps.map((s) => ({
    temperature: s.frontierTemperature!,
    distinct3: meanInterval(values.get(s.label)!.distinct3, []).mean,
    nll: meanInterval(values.get(s.label)!.nll, []).mean,
  }));
  const [dLo, dHi] = frontierPoints.length > 0 ? frontierRange(frontierPoints.map((p) => ({ distinct: p.distinct3, nll: p.nll }))) : [NaN, NaN];
  const samplers = specs.map((s): SamplerSummary => {
    const v = values.get(s.label)!;
    const gens = by.get(s.label)!;
    const metrics: SamplerSummary["metrics"] = {};
    for (const m of METRICS) {
      if (v[m].some(Number.isFinite)) metrics[m] = meanInterval(v[m], draws);
    }
    const versusBaseline: SamplerSummary["versusBaseline"] = {};
    if (baseline && baseline !== s.label && values.has(baseline)) {
      const b = values.get(baseline)!;
      for (const m of ["nll", "distinct3", "loop", "nonWordRate"] as const) {
        if (v[m].some(Number.isFinite) && b[m].some(Number.isFinite)) versusBaseline[m] = pairedDifference(v[m], b[m], draws);
      }
      if (tempValues.length >= 2 && gens.length > 0 && by.get(baseline)!.length > 0) {
        versusBaseline.frontierGap = frontierGapDifference({ distinct: v.distinct3, nll: v.nll }, { distinct: b.distinct3, nll: b.nll }, tempValues, draws);
      }
    }
    const d3 = metrics.distinct3?.mean ?? NaN;
    const gap = tempValues.length >= 2 && gens.length > 0 ? frontierGap({ distinct: v.distinct3, nll: v.nll }, tempValues, draws) : null;
    const speeds = gens.map((g) => g.decodeTokensPerS).filter((x) => x > 0).sort((a, b) => a - b);
    return {
      label: s.label,
      frontierTemperature: s.frontierTemperature,
      generations: gens.length,
      metrics,
      frontierGap: gap,
      extrapolated: Number.isFinite(d3) && (d3 < dLo || d3 > dHi),
      versusBaseline,
      decodeTokensPerS: speeds.length > 0 ? speeds[Math.floor(speeds.length / 2)] : 0,
    };
  });
  return { prompts, seeds, resamples, baseline, samplers, frontier: frontierPoints.sort((a, b) => a.distinct3 - b.distinct3) };
}
