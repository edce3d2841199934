// The details a branch point's token event carries: each candidate, its rollout's text and numbers.
import type { Model } from "../model/model.js";
import type { BranchPointDetails } from "../events.js";
import { renderAfter } from "../token-details.js";
import type { BranchOutcome } from "./brancher.js";

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** The branch point's details for its token event: each candidate's rollout text and numbers. */
export function branchDetails(b: BranchOutcome, model: Model, context: readonly number[], score: string): BranchPointDetails {
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, c) => a + c, 0) / xs.length);
  return {
    score,
    winner: b.winner,
    candidates: b.branches.map((br, i) => {
      const c = {
        id: br.tokens[0],
        rollout: "",
        tokens: [...br.tokens],
        score: round4(b.scores[i]),
        nll: round4(mean(br.nll)),
        entropy: round4(mean(br.entropy)),
      };
      // The rollout's text is decoded when first read (--json, a report), not at every branch point
      // of a run nobody inspects: decoding K rollouts costs as much as the rest of the branch's bookkeeping.
      const before = [...context];
      let text: string | null = null;
      Object.defineProperty(c, "rollout", { enumerable: true, get: () => (text ??= renderAfter(model.tokenizer, before, br.tokens)) });
      return c;
    }),
  };
}
