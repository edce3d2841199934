// The metrics of one decode step (logit entropy/varentropy, and attention metrics when the model has
// an attention source), computed into per-run buffers.
import type { StepOutput } from "./model/sequence.js";
import { RuntimeFailure } from "./errors.js";
import type { AttentionMetrics, StepMetrics } from "./types.js";
import { logitMetrics, type LogitStats } from "./metrics/logits.js";
import { attentionMetricsForLayers, createAttentionScratch } from "./metrics/attention.js";

export type AttentionLayers = "last" | "all";

/** Per-run buffers for the metrics, so the decode loop reuses them instead of allocating per token. */
export interface MetricsScratch {
  logits: LogitStats;
  attention: ReturnType<typeof createAttentionScratch> | null;
  attentionOut: AttentionMetrics;
}

/** Metrics of one step; `scratch.logits` keeps the logit max, which the sampler reuses. */
export function stepMetrics(out: StepOutput, layers: AttentionLayers, scratch: MetricsScratch, step: number): StepMetrics {
  let lm: LogitStats;
  try {
    lm = logitMetrics(out.logits, scratch.logits);
  } catch (err) {
    // logitMetrics rejects NaN / infinite rows; say which step, so a broken model is told apart from a broken prompt.
    if (!(err instanceof RuntimeFailure)) throw err;
    throw new RuntimeFailure(`the model produced non-finite logits at step ${step} (${err.message}); the model file may be broken, re-export or re-download it`);
  }
  if (!out.scores || !scratch.attention) {
    return { entropy: lm.entropy, varentropy: lm.varentropy, attnEntropy: null, attnVarentropy: null, agreement: null, interactionStrength: null };
  }
  const chosen = layers === "all" ? out.scores : out.scores.slice(-1);
  const am = attentionMetricsForLayers(chosen, scratch.attention, scratch.attentionOut);
  return { entropy: lm.entropy, varentropy: lm.varentropy, ...am };
}
