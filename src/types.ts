// Domain types shared by the loop, the pure modules (metrics, sampler) and every output.
// Pure modules import only from here; nothing in this file does I/O.

/** The five Entropix states, in the order the spec checks them (entropix-method.md §2). */
export type Quadrant = "confident" | "clarify" | "explore" | "resample" | "adaptive";
export const QUADRANTS: readonly Quadrant[] = ["confident", "clarify", "explore", "resample", "adaptive"];

/** Which policy chose the token. Metrics and the Entropix quadrant are computed for all of them. */
/** `entropix` is the model-relative default; `entropix-reference` runs the reference formulas exactly. */
export type SamplerName = "entropix" | "entropix-reference" | "greedy" | "temperature";
export const SAMPLER_NAMES: readonly SamplerName[] = ["entropix", "entropix-reference", "greedy", "temperature"];

/** Logit metrics of one step, in bits (§1). */
export interface LogitMetrics {
  entropy: number;
  varentropy: number;
}

/** Attention metrics of one step (§1); computed over real key positions only. */
export interface AttentionMetrics {
  attnEntropy: number;
  attnVarentropy: number;
  agreement: number;
  interactionStrength: number;
}

/** Everything the sampler reads about one step. Attention fields are null when the model has no attention source. */
export interface StepMetrics extends LogitMetrics {
  attnEntropy: number | null;
  attnVarentropy: number | null;
  agreement: number | null;
  interactionStrength: number | null;
}

/** The four sampling knobs, applied in the order temperature, top-k, top-p, min-p (§2). */
export interface SamplerSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
}

/** Threshold cut-offs in bits (§2, §3.3). Overridable per model. */
export interface ThresholdProfile {
  lowEntropy: number;
  lowVarentropy: number;
  mediumEntropy: number;
  highEntropy: number;
  highVarentropy: number;
}
