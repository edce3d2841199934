// The branching flags of `generate` (`--branch K --lookahead M` and friends): registration, the checks
// that need no model, and the GenerateOptions.branch they make. Branching itself is in src/branch/.
import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import type { ResolvedThresholds } from "../calibrate/profile-store.js";
import { BRANCH_SCORE_NAMES, type BranchScoreName } from "../branch/score.js";
import { DEFAULT_BRANCH_BUDGET, DEFAULT_BRANCH_LOOKAHEAD, DEFAULT_BRANCH_TRIGGER, parseTrigger, type BranchOptions } from "../branch/options.js";
import type { Quadrant, SamplerName } from "../types.js";
import { integer, nonNegative, oneOf, unitInterval } from "./numbers.js";

export interface BranchFlags {
  /** --branch K, or false for --no-branch. */
  branch?: number | false;
  lookahead?: number;
  branchOn?: Quadrant[];
  branchMinUncertainty?: number;
  commitRollout?: boolean;
  branchBudget?: number;
  branchScore?: BranchScoreName;
}

export function addBranchOptions(cmd: Command): Command {
  return cmd
    .option("--branch <k>", "at uncertain steps, try K candidates, roll each out and keep the one the model is surest about (K ≥ 2)", integer("--branch", 2))
    .option("--no-branch", "do not branch, even if the model's profile turns branching on")
    .option("--lookahead <m>", `tokens each branch is rolled out, the candidate included (default ${DEFAULT_BRANCH_LOOKAHEAD})`, integer("--lookahead", 1))
    .option("--branch-on <states>", `states that branch, comma-separated (default ${DEFAULT_BRANCH_TRIGGER.join(",")})`, (raw: string) => {
      try {
        return parseTrigger(raw);
      } catch (err) {
        throw new UsageError(`--branch-on: ${(err as Error).message}`);
      }
    })
    .option("--branch-min-uncertainty <u>", "branch only when the step's normalised uncertainty (0–1: mean entropy and varentropy rank) is at least this", unitInterval("--branch-min-uncertainty", { openLow: false }))
    .option("--commit-rollout", "keep the winner's whole rollout, not only its first token (its tokens are marked lookahead)")
    .option("--branch-budget <f>", `extra forward steps allowed, as a fraction of the generated tokens (default ${DEFAULT_BRANCH_BUDGET})`, nonNegative("--branch-budget"))
    .addOption(new Option("--branch-score <name>", `how branches are compared: ${BRANCH_SCORE_NAMES.join(" | ")} (default nll+entropy; lower wins)`).argParser(oneOf("--branch-score", BRANCH_SCORE_NAMES)));
}

/** Checks that need no model: they fail before the load. `topK` is the run's base top-k. */
export function checkBranchFlags(flags: BranchFlags, sampler: SamplerName, topK: number): void {
  const tuning = (["lookahead", "branchOn", "branchMinUncertainty", "commitRollout", "branchBudget", "branchScore"] as const).filter((k) => flags[k] !== undefined);
  if (typeof flags.branch !== "number") {
    if (tuning.length > 0 && flags.branch === false) throw new UsageError("--no-branch turns branching off; drop the other branch flags, or --no-branch");
    return;
  }
  if (sampler === "greedy") throw new UsageError("--branch draws several candidates, and greedy decoding has one; use --sampler entropix or temperature, or drop --branch");
  if (topK > 0 && flags.branch > topK) throw new UsageError(`--branch ${flags.branch} is more candidates than --top-k ${topK} keeps; lower --branch or raise --top-k`);
}

/**
 * GenerateOptions.branch from the flags: --branch K (with the other flags), null for --no-branch, or
 * undefined to leave it to the profile. Tuning flags without --branch adjust the profile's branching.
 */
export function branchFromFlags(flags: BranchFlags, thresholds: ResolvedThresholds): (Partial<BranchOptions> & { k: number }) | null | undefined {
  if (flags.branch === false) return null;
  const k = typeof flags.branch === "number" ? flags.branch : thresholds.branch?.k;
  if (k === undefined) {
    if (flags.lookahead !== undefined || flags.commitRollout || flags.branchOn || flags.branchBudget !== undefined || flags.branchScore || flags.branchMinUncertainty !== undefined) {
      throw new UsageError("the branch flags need --branch K (the candidates per branch point), e.g. --branch 2 --lookahead 4");
    }
    return undefined;
  }
  return {
    ...(typeof flags.branch === "number" ? {} : thresholds.branch),
    k,
    ...(flags.lookahead !== undefined ? { lookahead: flags.lookahead } : {}),
    ...(flags.branchOn ? { trigger: flags.branchOn } : {}),
    ...(flags.branchMinUncertainty !== undefined ? { minUncertainty: flags.branchMinUncertainty } : {}),
    ...(flags.commitRollout ? { commitRollout: true } : {}),
    ...(flags.branchBudget !== undefined ? { budget: flags.branchBudget } : {}),
    ...(flags.branchScore ? { score: flags.branchScore } : {}),
  };
}
