// The one currency between the generation loop and every consumer (terminal, --json, --compare,
// reports, the library's async iterator). Field names match the JSON Lines trace.
import type { Quadrant, SamplerName } from "./types.js";

export interface TokenEvent {
  type: "token";
  index: number;
  id: number;
  /** Text this token completed (may be "" while a multi-byte character is incomplete). */
  text: string;
  quadrant: Quadrant;
  entropy: number;
  varentropy: number;
  attn_entropy: number | null;
  attn_varentropy: number | null;
  agreement: number | null;
  interaction_strength: number | null;
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  sampler: SamplerName;
}

export type StopReason = "eos" | "max_tokens" | "stop_string" | "context_full" | "interrupted";

export interface SummaryEvent {
  type: "summary";
  prompt_tokens: number;
  generated_tokens: number;
  quadrants: Record<Quadrant, number>;
  prefill_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  mean_entropy: number | null;
  seed: number;
  sampler: SamplerName;
  attention_source: "taps" | "none";
  stop_reason: StopReason;
  /** Which thresholds the run used: "calibrated", "reference", a profile file's path, or "custom". */
  thresholds: string;
  text: string;
}

/** Something the user should know once (e.g. attention unavailable); not part of the trace. */
export interface NoticeEvent {
  type: "notice";
  message: string;
}

export type GenerationEvent = TokenEvent | SummaryEvent | NoticeEvent;
