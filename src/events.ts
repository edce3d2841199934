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
  /** True for a token of a branch's rollout kept after its first token (commit-rollout). */
  lookahead?: boolean;
  /** At a branch point (the event of the winner's first token): every candidate and its score. */
  branch?: BranchPointDetails;
  /** With `logprobs`: log p of the chosen token (nats, untempered distribution). */
  logprob?: number;
  /** With `logprobs` N > 0: the N most likely tokens, most likely first. */
  top_logprobs?: TopLogprob[];
}

/** One candidate of a branch point and what its rollout showed. */
export interface BranchCandidateDetails {
  /** The candidate's token id (the first token of its rollout). */
  id: number;
  /** The rollout's text, the candidate's own text first. */
  rollout: string;
  /** The rollout's token ids (an end-of-sequence token that ended it is not among them). */
  tokens: number[];
  /** The branch's score (lower wins). */
  score: number;
  /** Mean −log2 p of the rollout's tokens, bits/token. */
  nll: number;
  /** Mean entropy of the distributions along the rollout, bits. */
  entropy: number;
}

export interface BranchPointDetails {
  /** The score's name (e.g. "nll+entropy"). */
  score: string;
  /** Index into `candidates` of the kept branch; 0 is the sampler's own pick. */
  winner: number;
  candidates: BranchCandidateDetails[];
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
  /** With branching: its settings and counts. */
  branch?: BranchSummary;
}

export interface BranchSummary {
  k: number;
  lookahead: number;
  commit_rollout: boolean;
  score: string;
  /** Steps that branched. */
  points: number;
  /** Forward runs beyond one per kept token (a batched run of K rows counts once). */
  extra_steps: number;
  /** Branch points whose winner was not the sampler's own pick. */
  winner_changed: number;
  /** Steps that met the trigger but did not branch because the budget was spent. */
  over_budget: number;
}

/** Something the user should know once (e.g. attention unavailable); not part of the trace. */
export interface NoticeEvent {
  type: "notice";
  message: string;
}

export type GenerationEvent = TokenEvent | SummaryEvent | NoticeEvent;
