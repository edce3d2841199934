// A KV cache kept across generate() calls (chat turns): the next prompt's ids that the cache already
// holds are not fed again.
import type { Sequence, StepOutput } from "./model/sequence.js";

/**
 * A sequence kept across calls, and the ids its KV cache holds. The next prompt's ids that agree with
 * them (the longest common prefix) are not fed again: the cache is cut back to that prefix and only
 * the rest is fed. generate updates `ids` (prompt + the generated tokens fed back) and sets `reused`.
 */
export interface PromptCache {
  sequence: Sequence;
  ids: number[];
  reused: number;
}

/** Prefills `ids`, or only what follows the part of them the cache already holds. */
export async function feedPrompt(seq: Sequence, ids: number[], cache: PromptCache | undefined): Promise<StepOutput> {
  let held = 0;
  if (cache && seq.length === cache.ids.length) {
    const max = Math.min(cache.ids.length, ids.length - 1); // at least one id is fed, for its logits
    while (held < max && cache.ids[held] === ids[held]) held++;
  }
  if (held > 0) seq.truncate(held);
  const out = held > 0 ? await seq.extend(ids.slice(held)) : await seq.prefill([ids]);
  if (cache) {
    cache.ids = [...ids];
    cache.reused = held;
  }
  return out[0];
}
