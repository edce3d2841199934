// The Entropix decision (entropix-method.md §2): which quadrant a step is in and what to do about it.
// Policy only — it chooses settings for the filter primitives and never touches logits.
import type { Quadrant, SamplerSettings, StepMetrics, ThresholdProfile } from "../types.js";

/** Candidates drawn in the adaptive branch (§2: n = 5). */
export const ADAPTIVE_CANDIDATES = 5;

/** What to do at one step. */
export type Action =
  | { kind: "argmax" }
  | { kind: "insert" }
  | { kind: "sample"; settings: SamplerSettings; candidates: number };

export interface Decision {
  quadrant: Quadrant;
  action: Action;
}

/** Rate limit for clarifying inserts (§2 row 2, §3.4). */
export interface ClarifyState {
  /** Steps since the last insert (Infinity when none yet); an insert step resets it to 0. */
  stepsSinceClarify: number;
  /** An insert is allowed only when stepsSinceClarify ≥ clarifyEvery, i.e. none in the last clarifyEvery steps. */
  clarifyEvery: number;
  /** False when there is nothing to insert (e.g. the clarify text tokenizes to nothing); default true. */
  canInsert?: boolean;
}

/** The quadrant alone (§2 rows in order, first match wins). */
export function quadrantOf(m: { entropy: number; varentropy: number }, t: ThresholdProfile): Quadrant {
  const h = m.entropy;
  const v = m.varentropy;
  if (h < t.lowEntropy && v < t.lowVarentropy) return "confident";
  if (h > t.highEntropy && v < t.lowVarentropy) return "clarify";
  if (h < t.highEntropy && v > t.highVarentropy) return "explore";
  if (h > t.mediumEntropy && v > t.highVarentropy) return "resample";
  return "adaptive";
}

const clip = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

/** Row 2 fallback: T = min(1.5, T0·(1.3 + 0.2·attn_entropy)), other settings base. */
export function clarifySettings(m: StepMetrics, base: SamplerSettings): SamplerSettings {
  const attnEnt = m.attnEntropy ?? 0;
  return { ...base, temperature: Math.min(1.5, base.temperature * (1.3 + 0.2 * attnEnt)) };
}

/** Row 3: T = min(1.5, T0·(1.2 + 0.3·interaction)), top_k = max(5, floor(K0·(1 + 0.5·(1 − agreement)))). */
export function exploreSettings(m: StepMetrics, base: SamplerSettings): SamplerSettings {
  const interaction = m.interactionStrength ?? 0;
  const agreement = m.agreement ?? 0;
  return {
    ...base,
    temperature: Math.min(1.5, base.temperature * (1.2 + 0.3 * interaction)),
    // K0 ≤ 0 means top-k is off; the formula scales K0, so it stays off
    topK: base.topK > 0 ? Math.max(5, Math.floor(base.topK * (1 + 0.5 * (1 - agreement)))) : base.topK,
  };
}

/** Row 4: T = max(2.0, T0·(2.0 + 0.5·attn_varentropy)), top_p = max(0.5, P0 − 0.2·attn_entropy). */
export function resampleSettings(m: StepMetrics, base: SamplerSettings): SamplerSettings {
  const attnEnt = m.attnEntropy ?? 0;
  const attnVent = m.attnVarentropy ?? 0;
  return {
    ...base,
    temperature: Math.max(2.0, base.temperature * (2.0 + 0.5 * attnVent)),
    topP: Math.max(0.5, base.topP - 0.2 * attnEnt),
  };
}

/**
 * Row 5: UL = H + V, UA = attn_entropy + attn_varentropy;
 * T = T0·(1 + 0.3·UL + 0.2·UA − 0.2·agreement); top_p = clip(P0·(1 + 0.1·attn_varentropy), 0.1, 1);
 * top_k = clip(round(K0·(1 + 0.3·interaction − 0.2·agreement)), 1, 100); min_p = clip(M0·(1 − 0.5·UL), 0.01, 0.5).
 */
export function adaptiveSettings(m: StepMetrics, base: SamplerSettings): SamplerSettings {
  const attnEnt = m.attnEntropy ?? 0;
  const attnVent = m.attnVarentropy ?? 0;
  const agreement = m.agreement ?? 0;
  const interaction = m.interactionStrength ?? 0;
  const ul = m.entropy + m.varentropy;
  const ua = attnEnt + attnVent;
  return {
    temperature: base.temperature * (1 + 0.3 * ul + 0.2 * ua - 0.2 * agreement),
    topP: clip(base.topP * (1 + 0.1 * attnVent), 0.1, 1),
    // K0 ≤ 0 means top-k is off; the formula scales K0, so it stays off
    topK: base.topK > 0 ? clip(Math.round(base.topK * (1 + 0.3 * interaction - 0.2 * agreement)), 1, 100) : base.topK,
    minP: clip(base.minP * (1 - 0.5 * ul), 0.01, 0.5),
  };
}

/** §2: the quadrant and the action, rows checked in order. Null attention metrics count as 0. */
export function decide(metrics: StepMetrics, profile: ThresholdProfile, base: SamplerSettings, state: ClarifyState): Decision {
  const quadrant = quadrantOf(metrics, profile);
  switch (quadrant) {
    case "confident":
      return { quadrant, action: { kind: "argmax" } };
    case "clarify": {
      const allowed = (state.canInsert ?? true) && state.stepsSinceClarify >= state.clarifyEvery;
      if (allowed) return { quadrant, action: { kind: "insert" } };
      return { quadrant, action: { kind: "sample", settings: clarifySettings(metrics, base), candidates: 1 } };
    }
    case "explore":
      return { quadrant, action: { kind: "sample", settings: exploreSettings(metrics, base), candidates: 1 } };
    case "resample":
      return { quadrant, action: { kind: "sample", settings: resampleSettings(metrics, base), candidates: 1 } };
    case "adaptive":
      return { quadrant, action: { kind: "sample", settings: adaptiveSettings(metrics, base), candidates: ADAPTIVE_CANDIDATES } };
  }
}
