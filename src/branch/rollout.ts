// Rolling K branches out together: the sequence is forked into K rows, each row fed its candidate,
// then M−1 more tokens sampled with the base settings, one batched KV-cached forward run per token.
// The caller keeps the winner's row (Sequence.keepRow + truncate): nothing is re-run.
import type { Sequence, StepOutput } from "../model/sequence.js";
import { createLogitStats, logitMetrics } from "../metrics/logits.js";
import { applyChain, drawIndex, loadLogits, type CandidateBuffer } from "../sampler/filters.js";
import type { Rng } from "../sampler/rng.js";
import type { SamplerSettings } from "../types.js";
import type { RolloutTrace } from "./score.js";

/** One branch after its rollout. */
export interface Branch extends RolloutTrace {
  /** Tokens the branch fed, candidate first (an end-of-sequence token ends it and is not among them). */
  tokens: number[];
  /** The model's output after each token in `tokens` (logits of the next position). */
  outputs: StepOutput[];
  /** True when the branch sampled an end-of-sequence token after its last token. */
  ended: boolean;
}

export interface RolloutSettings {
  /** Tokens per branch, the candidate included (the caller shortens it to the room left in the context). */
  lookahead: number;
  /** Settings the rollout tokens are sampled with (the run's base settings). */
  base: SamplerSettings;
  rng: Rng;
  buf: CandidateBuffer;
  eos: ReadonlySet<number>;
}

const LOG2E = Math.LOG2E;

/**
 * Forks `seq` (a single row, its last output `stepLogits`) into one row per candidate and rolls
 * every row out, `s.lookahead` ≥ 1 runs at most. Returns the branches and the number of forward runs
 * made. The sequence is left with K rows; the caller keeps one.
 */
export async function rollOut(seq: Sequence, stepLogits: Float32Array, candidates: readonly number[], s: RolloutSettings): Promise<{ branches: Branch[]; runs: number }> {
  const stats = createLogitStats();
  logitMetrics(stepLogits, stats);
  const branches: Branch[] = candidates.map((id) => ({
    tokens: [id],
    outputs: [],
    nll: [(stats.logSumExp - stepLogits[id]) * LOG2E],
    entropy: [],
    ended: false,
  }));
  const runs = s.lookahead;
  seq.fork(candidates.length);
  const feed = [...candidates];
  let done = 0;
  for (let run = 0; run < runs; run++) {
    const outs = await seq.step(feed);
    done = run + 1;
    let open = 0;
    for (let b = 0; b < branches.length; b++) {
      const br = branches[b];
      if (br.ended) continue; // finished earlier: its row only pads the batch
      const out = outs[b];
      br.outputs.push(out);
      logitMetrics(out.logits, stats);
      br.entropy.push(stats.entropy);
      if (run === runs - 1) continue; // the last run's logits are for the token after the branch
      loadLogits(s.buf, out.logits, stats.max);
      applyChain(s.buf, s.base);
      const next = s.buf.ids[drawIndex(s.buf, s.rng.uniform())];
      br.nll.push((stats.logSumExp - out.logits[next]) * LOG2E);
      if (s.eos.has(next)) {
        br.ended = true;
        continue;
      }
      br.tokens.push(next);
      feed[b] = next;
      open++;
    }
    if (open === 0) break;
  }
  return { branches, runs: done };
}
