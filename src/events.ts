// The one currency between the generation loop and every consumer (terminal, --json, --compare,
// reports, the library's async iterator). Field names match the JSON Lines trace.
import type { Quadrant, SamplerName } from "./types.js";
import type { TopLogprob } from "./token-details.js";

export interface TokenEvent {
  type: "token";
  /** Position among the run's token events, from 0 (an insert is one event). */
  index: number;
  /** The token id; for an insert, its first id (all of them are in `ids`). */
  id: number;
  /** Inserts only: every id of the clarifying text, in order. */
  ids?: number[];
  /** True for a clarifying insert (docs/json-schema.md): one event, not counted toward max tokens. Always set by generate(). */
  inserted?: boolean;
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
  /** With `logprobs`: log p of the chosen token (nats, untempered distribution). */
  logprob?: number;
  /** With `logprobs` N > 0: the N most likely tokens, most likely first. */
  top_logprobs?: TopLogprob[];
}

export type StopReason = "eos" | "max_tokens" | "stop_string" | "context_full" | "interrupted";

export interface SummaryEvent {
  type: "summary";
  prompt_tokens: number;
  /** Sampled tokens (what max tokens limits); inserted clarifying tokens are not among them. */
  generated_tokens: number;
  /** Clarifying inserts (events), and the tokens they added. */
  inserts: number;
  inserted_tokens: number;
  /** Token events per quadrant (an insert counts once). */
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
