// The default Entropix policy: the reference's states, with every setting computed from metrics
// relative to the model's own calibration (percentile ranks, see scale.ts) and bounded, so the same
// constants mean the same thing on any vocabulary. Pure. Why each choice: docs/method.md and EVAL.md.
import type { SamplerSettings, StepMetrics, ThresholdProfile } from "../types.js";
import { quadrantOf, type ClarifyState, type Decision } from "./policy.js";
import { rankOf, type MetricScale } from "./scale.js";

/** The knobs of the default policy (all overridable; `entropix eval` sweeps them by name). */
export interface RelativeParams {
  /** No step samples hotter than this. */
  maxTemperature: number;
  /** No sampled step is cooler than this. */
  minTemperature: number;
  /** log-temperature gain on the entropy rank (positive: hotter where the model is unusually unsure). */
  entropyGain: number;
  /** log-temperature gain on the varentropy rank (negative: cooler where a confident head has a long tail). */
  varentropyGain: number;
  /** log-min-p gain on the varentropy rank (positive: cut the long tail harder when varentropy is high). */
  minPGain: number;
  /** Insert the clarify text in the clarify state (the reference does; a model without a pause token pays for it). */
  insert: boolean;
  /** Candidates drawn per sampled step, keeping the most probable (the reference's adaptive best-of-n). */
  candidates: number;
}

export const DEFAULT_RELATIVE_PARAMS: Readonly<RelativeParams> = Object.freeze({
  maxTemperature: 1.5,
  minTemperature: 0.05,
  entropyGain: 0,
  varentropyGain: 0,
  minPGain: 0,
  insert: false,
  candidates: 1,
});

const clip = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

/** Settings for a sampled step: base settings moved by the step's ranks, within the bounds. */
export function relativeSettings(m: StepMetrics, scale: MetricScale, base: SamplerSettings, p: RelativeParams): SamplerSettings {
  const h = rankOf(m.entropy, scale.entropy) - 0.5;
  const v = rankOf(m.varentropy, scale.varentropy) - 0.5;
  const temperature = clip(base.temperature * Math.exp(p.entropyGain * h + p.varentropyGain * v), p.minTemperature, p.maxTemperature);
  const minP = base.minP > 0 ? clip(base.minP * Math.exp(p.minPGain * v), 0, 0.5) : base.minP;
  return { temperature, topK: base.topK, topP: base.topP, minP };
}

/** The decision of the default policy: argmax when confident, otherwise a bounded relative sample. */
export function decideRelative(m: StepMetrics, profile: ThresholdProfile, scale: MetricScale, base: SamplerSettings, p: RelativeParams, state: ClarifyState): Decision {
  const quadrant = quadrantOf(m, profile);
  if (quadrant === "confident") return { quadrant, action: { kind: "argmax" } };
  if (quadrant === "clarify" && p.insert && (state.canInsert ?? true) && state.stepsSinceClarify >= state.clarifyEvery) {
    return { quadrant, action: { kind: "insert" } };
  }
  return { quadrant, action: { kind: "sample", settings: relativeSettings(m, scale, base, p), candidates: p.candidates } };
}
