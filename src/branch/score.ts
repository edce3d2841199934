// How a branch's rollout is judged (pure). Lower is better: the branch the model is surest about.
// The default adds the two things a rollout shows about a candidate: how probable the model found the
// tokens it went on to write (mean negative log probability) and how sure it stayed while writing
// them (mean entropy of the distributions along the way). Both in bits, so they add.

/** What a rollout recorded, one entry per token / per distribution along it, in bits. */
export interface RolloutTrace {
  /** −log2 p of each token of the branch (the candidate first), under the untempered distribution. */
  nll: number[];
  /** Entropy of the next-token distribution after each token the branch fed. */
  entropy: number[];
}

export const BRANCH_SCORE_NAMES = ["nll+entropy", "nll", "entropy"] as const;
export type BranchScoreName = (typeof BRANCH_SCORE_NAMES)[number];

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

export const BRANCH_SCORES: Readonly<Record<BranchScoreName, (t: RolloutTrace) => number>> = Object.freeze({
  "nll+entropy": (t: RolloutTrace) => mean(t.nll) + mean(t.entropy),
  nll: (t: RolloutTrace) => mean(t.nll),
  entropy: (t: RolloutTrace) => mean(t.entropy),
});

/** Index of the lowest score; ties go to the earlier branch (the sampler's own pick is branch 0). */
export function bestBranch(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] < scores[best]) best = i;
  return best;
}
