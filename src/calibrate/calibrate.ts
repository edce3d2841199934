// Teacher-forced calibration run (entropix-method.md §3.3): feed a sample text through the model one
// token at a time and record, at every step, the metrics the sampler would see — entropy and
// varentropy of the next-token logits and, when the model is tapped, the attention metrics.
// The text is cut into windows of at most half the context; each window starts a fresh sequence
// (with BOS when the model has one), so every step sees a context of the length generation sees.
import type { Model } from "../model/model.js";
import type { StepOutput } from "../model/sequence.js";
import { logitMetrics, createLogitStats } from "../metrics/logits.js";
import { attentionMetricsForLayers, createAttentionMetrics, createAttentionScratch } from "../metrics/attention.js";
import { UsageError } from "../errors.js";

export const DEFAULT_CALIBRATION_TOKENS = 2048;
/** Longest window when the context allows it. */
export const MAX_WINDOW = 512;
/** Steps at the start of each window that only build context (too little to judge the model by). */
export const WINDOW_WARMUP = 8;

export interface CollectOptions {
  /** Steps to record (default 2048); fewer when the text runs out. */
  tokens?: number;
  /** Tokens per window (default min(512, context/2)). */
  window?: number;
  /** Steps skipped at the start of each window (default min(8, window/8)). */
  warmup?: number;
  attentionLayers?: "last" | "all";
  /** Called every `progressEvery` recorded steps with (recorded, target). */
  onProgress?: (done: number, target: number) => void;
  progressEvery?: number;
  signal?: AbortSignal;
}

/** Per-step samples; attention arrays are null when the model has no attention source. */
export interface CalibrationSamples {
  count: number;
  entropy: Float64Array;
  varentropy: Float64Array;
  attnEntropy: Float64Array | null;
  attnVarentropy: Float64Array | null;
  agreement: Float64Array | null;
  interaction: Float64Array | null;
  windows: number;
  windowTokens: number;
  warmup: number;
  /** Tokens of the whole text (not all of them need to be used). */
  corpusTokens: number;
  interrupted: boolean;
}

/** The window length for a model: at most half its context, at most MAX_WINDOW. */
export function windowFor(contextLength: number | null): number {
  return contextLength === null ? MAX_WINDOW : Math.max(2, Math.min(MAX_WINDOW, Math.floor(contextLength / 2)));
}

/**
 * Runs the model over `corpusIds` (no special tokens) with teacher forcing and returns the metrics of
 * up to `tokens` steps. Each recorded step is the model's prediction of the next corpus token.
 */
export async function collectCalibrationSamples(model: Model, corpusIds: readonly number[], opts: CollectOptions = {}): Promise<CalibrationSamples> {
  const target = opts.tokens ?? DEFAULT_CALIBRATION_TOKENS;
  if (!Number.isInteger(target) || target < 1) throw new UsageError(`tokens must be a positive integer, got ${target}`);
  const ctx = model.facts.contextLength;
  const bos = model.facts.bosId;
  // With BOS the window holds bos + W tokens: keep it within the context too.
  let W = opts.window ?? windowFor(ctx);
  if (ctx !== null) W = Math.min(W, ctx - (bos !== null ? 1 : 0));
  if (W < 2) throw new UsageError(`the model's context (${ctx}) is too short to calibrate on`);
  const warmup = opts.warmup ?? Math.min(WINDOW_WARMUP, Math.floor(W / 8));
  const tapped = model.facts.attentionSource === "taps";
  const every = opts.progressEvery ?? 256;

  const entropy = new Float64Array(target);
  const varentropy = new Float64Array(target);
  const attn = tapped ? [0, 1, 2, 3].map(() => new Float64Array(target)) : null;
  const lm = createLogitStats();
  const am = createAttentionMetrics();
  const scratch = tapped ? createAttentionScratch() : null;
  const layers = opts.attentionLayers ?? "last";

  let count = 0;
  let windows = 0;
  let interrupted = false;
  const record = (out: StepOutput): void => {
    logitMetrics(out.logits, lm);
    entropy[count] = lm.entropy;
    varentropy[count] = lm.varentropy;
    if (attn && scratch && out.scores && out.scores.length > 0) {
      attentionMetricsForLayers(layers === "all" ? out.scores : out.scores.slice(-1), scratch, am);
      attn[0][count] = am.attnEntropy;
      attn[1][count] = am.attnVarentropy;
      attn[2][count] = am.agreement;
      attn[3][count] = am.interactionStrength;
    }
    count++;
    if (opts.onProgress && count % every === 0) opts.onProgress(count, target);
  };

  outer: for (let pos = 0; pos < corpusIds.length && count < target; pos += W) {
    const chunk = corpusIds.slice(pos, pos + W);
    const input = bos !== null ? [bos, ...chunk] : chunk;
    if (input.length < 2) break;
    windows++;
    const seq = model.newSequence();
    let out = (await seq.prefill([input.slice(0, 1)]))[0];
    // `out` predicts input[j]; prediction number j − 1 of this window.
    for (let j = 1; j < input.length; j++) {
      if (opts.signal?.aborted) {
        interrupted = true;
        break outer;
      }
      if (j - 1 >= warmup) {
        record(out);
        if (count >= target) break outer;
      }
      if (j < input.length - 1) out = (await seq.step([input[j]]))[0];
    }
  }
  const cut = (a: Float64Array) => a.subarray(0, count);
  return {
    count,
    entropy: cut(entropy),
    varentropy: cut(varentropy),
    attnEntropy: attn ? cut(attn[0]) : null,
    attnVarentropy: attn ? cut(attn[1]) : null,
    agreement: attn ? cut(attn[2]) : null,
    interaction: attn ? cut(attn[3]) : null,
    windows,
    windowTokens: W,
    warmup,
    corpusTokens: corpusIds.length,
    interrupted,
  };
}
