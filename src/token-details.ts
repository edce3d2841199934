// Per-event details the loop adds to token events: which ids a clarifying insert uses (so it does
// not double a space), and the chosen token's log probability with the top alternatives (--logprobs).
import type { Tokenizer } from "./model/tokenizer.js";
import type { LogitStats } from "./metrics/logits.js";

/** The most alternatives `logprobs` may ask for (OpenAI's limit too). */
export const MAX_LOGPROBS = 20;

export interface TopLogprob {
  id: number;
  text: string;
  /** Natural log of the token's probability under the untempered full-vocabulary softmax. */
  logprob: number;
}

/** Text `ids` add after `context` (decoding them alone would lose SentencePiece's leading space). */
export function renderAfter(tokenizer: Tokenizer, context: readonly number[], ids: readonly number[]): string {
  const before = tokenizer.decode([...context]);
  const after = tokenizer.decode([...context, ...ids]);
  return after.startsWith(before) ? after.slice(before.length) : tokenizer.decode([...ids]);
}

const leadingSpace = (s: string): number => s.length - s.trimStart().length;

/**
 * Ids for a clarifying insert of `text` after `context`. Wanted: the text itself, or — when the text
 * before already ends in whitespace — the text without its leading whitespace. SentencePiece
 * tokenizers add a dummy-prefix space when encoding (" ..." → "▁▁..."), which doubled spaces
 * ("had been  ... She"), so candidates lose leading whitespace-only tokens until the rendered text
 * matches; failing an exact match, the one with the least surplus leading whitespace wins.
 */
export function chooseInsertIds(tokenizer: Tokenizer, text: string, encoded: readonly number[], context: readonly number[]): number[] {
  const before = tokenizer.decode([...context]);
  const endsInSpace = before.length > 0 && before.trimEnd().length < before.length;
  const target = endsInSpace ? text.trimStart() : text;
  const candidates: number[][] = [];
  const trimmed = text.trimStart();
  for (const base of [encoded, trimmed !== text && trimmed !== "" ? tokenizer.encode(trimmed, false) : null]) {
    if (!base || base.length === 0) continue;
    let ids = [...base];
    candidates.push(ids);
    // Drop leading tokens that render as whitespace only, while something else is left.
    while (ids.length > 1 && tokenizer.decode([ids[0]], false).trim() === "") {
      ids = ids.slice(1);
      candidates.push(ids);
    }
  }
  let best = [...encoded];
  let bestSurplus = Infinity;
  for (const ids of candidates) {
    const rendered = renderAfter(tokenizer, context, ids);
    if (rendered === target) return ids;
    if (rendered.trimStart() !== target.trimStart()) continue;
    const surplus = Math.abs(leadingSpace(rendered) - leadingSpace(target));
    if (surplus < bestSurplus) {
      best = ids;
      bestSurplus = surplus;
    }
  }
  return best;
}

/**
 * `logprob` of `chosen` and, for n > 0, the n most likely tokens (`top_logprobs`, most likely
 * first), all under the untempered softmax of `logits` (`stats` from logitMetrics of the same row).
 */
export function describeLogprobs(
  logits: Float32Array,
  chosen: number,
  stats: LogitStats,
  n: number,
  tokenizer: Tokenizer,
  context: readonly number[],
): { logprob: number; top_logprobs?: TopLogprob[] } {
  const logprob = round6(logits[chosen] - stats.logSumExp);
  if (n === 0) return { logprob };
  const top = topIds(logits, n);
  const last = context.slice(-1);
  return {
    logprob,
    top_logprobs: top.map((id) => ({ id, text: renderAfter(tokenizer, last, [id]), logprob: round6(logits[id] - stats.logSumExp) })),
  };
}

/** Ids of the n largest logits, largest first (ties: lower id first); one pass with a small sorted list. */
export function topIds(logits: Float32Array, n: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (ids.length === n) {
      if (!(x > logits[ids[n - 1]])) continue;
      ids.pop();
    }
    let at = ids.length;
    while (at > 0 && x > logits[ids[at - 1]]) at--;
    ids.splice(at, 0, i);
  }
  return ids;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
