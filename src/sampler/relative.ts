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
  /** log-temperature gain on the attention-entropy rank (negative: hotter when attention is unusually focused, as when the model copies earlier text). */
  attentionGain: number;
  /** log-min-p gain on the varentropy rank (positive: cut the long tail harder when varentropy is high). */
  minPGain: number;
  /** log-temperature added when the most likely token would repeat a trigram of this run's output (the model is copying itself); such a step is never argmax. */
  repeatGain: number;
  /** Argmax (no sampling) when both entropy and varentropy ranks are below this, besides the confident state. */
  greedyBelow: number;
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
  attentionGain: 0,
  minPGain: 0,
  insert: false,
  candidates: 1,
  greedyBelow: 0,
  // Chosen on the development prompts (data/eval/dev/) of both bundled models: the only knob that
  // moved the default below the temperature frontier there (docs/method.md, EVAL.md).
  repeatGain: 1.5,
});

const clip = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

/** Settings for a sampled step: base settings moved by the step's ranks, within the bounds. */
export function relativeSettings(m: StepMetrics, scale: MetricScale, base: SamplerSettings, p: RelativeParams, repeating = false): SamplerSettings {
  const h = rankOf(m.entropy, scale.entropy) - 0.5;
  const v = rankOf(m.varentropy, scale.varentropy) - 0.5;
  // Without attention metrics (fused attention) or their calibration, the attention term is neutral.
  const a = m.attnEntropy !== null && scale.attnEntropy ? rankOf(m.attnEntropy, scale.attnEntropy) - 0.5 : 0;
  const temperature = clip(base.temperature * Math.exp(p.entropyGain * h + p.varentropyGain * v + p.attentionGain * a + (repeating ? p.repeatGain : 0)), p.minTemperature, p.maxTemperature);
  const minP = base.minP > 0 ? clip(base.minP * Math.exp(p.minPGain * v), 0, 0.5) : base.minP;
  return { temperature, topK: base.topK, topP: base.topP, minP };
}

/** The decision of the default policy: argmax when confident, otherwise a bounded relative sample. */
export function decideRelative(
  m: StepMetrics,
  profile: ThresholdProfile,
  scale: MetricScale,
  base: SamplerSettings,
  p: RelativeParams,
  state: ClarifyState,
  repeating = false,
): Decision {
  const quadrant = quadrantOf(m, profile);
  const escape = repeating && p.repeatGain > 0;
  if (quadrant === "confident" && !escape) return { quadrant, action: { kind: "argmax" } };
  if (!escape && p.greedyBelow > 0 && rankOf(m.entropy, scale.entropy) < p.greedyBelow && rankOf(m.varentropy, scale.varentropy) < p.greedyBelow) {
    return { quadrant, action: { kind: "argmax" } };
  }
  if (quadrant === "clarify" && p.insert && (state.canInsert ?? true) && state.stepsSinceClarify >= state.clarifyEvery) {
    return { quadrant, action: { kind: "insert" } };
  }
  return { quadrant, action: { kind: "sample", settings: relativeSettings(m, scale, base, p, repeating), candidates: p.candidates } };
}
