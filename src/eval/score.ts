// Teacher-forced scoring for `entropix eval`: the generated tokens' NLL (bits/token) and the model's
// mean entropy at those positions, from one pass over prompt + generation (no cache reuse).
import type { Model } from "../model/model.js";
import { createLogitStats, logitMetrics } from "../metrics/logits.js";

export interface TokenScores {
  /** Mean −log2 p(token | everything before it) over the generated tokens. */
  nll: number;
  /** Mean entropy (bits) of the model's untempered distribution where each generated token was chosen. */
  meanEntropy: number;
}

export async function scoreContinuation(model: Model, promptIds: readonly number[], generated: readonly number[]): Promise<TokenScores | null> {
  if (generated.length === 0) return null;
  const row = [...promptIds, ...generated];
  const seq = model.newSequence({ scoreLayers: "last" });
  const { logits, vocab } = await seq.allLogits(row);
  const stats = createLogitStats();
  let nll = 0;
  let entropy = 0;
  for (let j = 0; j < generated.length; j++) {
    const pos = promptIds.length + j - 1; // logits at pos predict row[pos + 1]
    const slice = logits.subarray(pos * vocab, (pos + 1) * vocab);
    logitMetrics(slice, stats);
    nll += (stats.logSumExp - slice[generated[j]]) * Math.LOG2E;
    entropy += stats.entropy;
  }
  return { nll: nll / generated.length, meanEntropy: entropy / generated.length };
}

/**
 * Whether two models share a tokenizer (the judge must score the same ids): same size, and the same
 * ids for a probe text covering letters, digits, punctuation, whitespace and non-ASCII.
 */
export function sameTokenizer(a: Pick<Model, "tokenizer">, b: Pick<Model, "tokenizer">): boolean {
  if (a.tokenizer.size !== b.tokenizer.size) return false;
  const probe = "Once upon a time, 42 whales sang: \"Ça va?\" — naïve café…\n\tThe END.";
  const x = a.tokenizer.encode(probe, false);
  const y = b.tokenizer.encode(probe, false);
  return x.length === y.length && x.every((id, i) => id === y[i]);
}
