// Settings of branching (`--branch K --lookahead M`, or a profile's "branch" object), their defaults
// and their checks. Pure. Errors are worded for library callers; the CLI names its flags itself.
import { UsageError } from "../errors.js";
import { QUADRANTS, type Quadrant, type SamplerName, type SamplerSettings } from "../types.js";
import { BRANCH_SCORE_NAMES, type BranchScoreName } from "./score.js";

export interface BranchOptions {
  /** Candidates tried at a branch point (K ≥ 2). */
  k: number;
  /** Tokens each branch is rolled out (M ≥ 1, the candidate included; M batched forward runs). */
  lookahead: number;
  /** States whose steps branch. */
  trigger: Quadrant[];
  /** Branch only when the step's normalised uncertainty (mean of its entropy and varentropy ranks, 0–1) is at least this. */
  minUncertainty: number;
  /** Keep the winner's whole rollout (emitted as token events marked lookahead), not only its first token. */
  commitRollout: boolean;
  /** Extra forward runs allowed, as a fraction of the tokens generated so far. */
  budget: number;
  /** How branches are compared (score.ts). */
  score: BranchScoreName;
}

export const DEFAULT_BRANCH_TRIGGER: readonly Quadrant[] = Object.freeze(["resample", "explore"]);
export const DEFAULT_BRANCH_LOOKAHEAD = 4;
export const DEFAULT_BRANCH_BUDGET = 0.5;

/** The whole option set from what a caller gave (k is required); throws a UsageError on a bad value. */
export function resolveBranchOptions(given: Partial<BranchOptions> & { k: number }): BranchOptions {
  const o: BranchOptions = {
    k: given.k,
    lookahead: given.lookahead ?? DEFAULT_BRANCH_LOOKAHEAD,
    trigger: given.trigger ? [...given.trigger] : [...DEFAULT_BRANCH_TRIGGER],
    minUncertainty: given.minUncertainty ?? 0,
    commitRollout: given.commitRollout ?? false,
    budget: given.budget ?? DEFAULT_BRANCH_BUDGET,
    score: given.score ?? "nll+entropy",
  };
  if (!Number.isInteger(o.k) || o.k < 2) throw new UsageError(`branching needs at least 2 candidates per branch point, got ${o.k}`);
  if (!Number.isInteger(o.lookahead) || o.lookahead < 1) throw new UsageError(`the lookahead must be a whole number of tokens ≥ 1, got ${o.lookahead}`);
  if (o.trigger.length === 0) throw new UsageError(`the branch trigger names no state (expected some of ${QUADRANTS.join(", ")})`);
  for (const q of o.trigger) if (!QUADRANTS.includes(q)) throw new UsageError(`unknown state "${q}" in the branch trigger (expected ${QUADRANTS.join(", ")})`);
  if (!(o.minUncertainty >= 0 && o.minUncertainty <= 1)) throw new UsageError(`the branch uncertainty threshold must be in [0, 1], got ${o.minUncertainty}`);
  if (!(o.budget >= 0) || !Number.isFinite(o.budget)) throw new UsageError(`the branch budget must be a fraction ≥ 0, got ${o.budget}`);
  if (!BRANCH_SCORE_NAMES.includes(o.score)) throw new UsageError(`unknown branch score "${o.score}" (expected ${BRANCH_SCORE_NAMES.join(", ")})`);
  return o;
}

/** Combinations branching cannot serve, checked before any model work. */
export function checkBranchFits(o: BranchOptions, sampler: SamplerName, base: SamplerSettings): void {
  if (sampler === "greedy") throw new UsageError("branching draws several candidates, and greedy decoding has only one; use a sampling sampler or drop branching");
  if (base.topK > 0 && o.k > base.topK) {
    throw new UsageError(`branching asks for ${o.k} candidates but the step's top-k keeps only ${base.topK}; lower the candidates or raise top-k`);
  }
}

/** "resample,explore" → states (the CLI's and profile's trigger syntax). */
export function parseTrigger(text: string): Quadrant[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const n of names) if (!QUADRANTS.includes(n as Quadrant)) throw new UsageError(`unknown state "${n}" in the branch trigger (expected ${QUADRANTS.join(", ")})`);
  return names as Quadrant[];
}

/** A profile file's "branch" object (snake_case keys) → options; throws a UsageError naming `source`. */
export function parseBranchSetting(value: unknown, source: string): Partial<BranchOptions> & { k: number } {
  const bad = (what: string) => new UsageError(`${source}: "branch"${what}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(` must be an object like {"k": 2, "lookahead": 4}, got ${JSON.stringify(value)}`);
  const given: Partial<BranchOptions> = {};
  for (const [key, v] of Object.entries(value)) {
    const num = (): number => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`.${key} must be a number, got ${JSON.stringify(v)}`);
      return v;
    };
    if (key === "k") given.k = num();
    else if (key === "lookahead") given.lookahead = num();
    else if (key === "min_uncertainty") given.minUncertainty = num();
    else if (key === "budget") given.budget = num();
    else if (key === "commit_rollout") {
      if (typeof v !== "boolean") throw bad(`.commit_rollout must be true or false, got ${JSON.stringify(v)}`);
      given.commitRollout = v;
    } else if (key === "score") given.score = String(v) as BranchScoreName;
    else if (key === "trigger") {
      if (!Array.isArray(v) || v.some((q) => typeof q !== "string")) throw bad(`.trigger must be a list of states, got ${JSON.stringify(v)}`);
      given.trigger = v as Quadrant[];
    } else throw bad(`: unknown key "${key}" (expected k, lookahead, trigger, min_uncertainty, commit_rollout, budget, score)`);
  }
  if (given.k === undefined) throw bad(` needs "k", the candidates per branch point`);
  const withK = given as Partial<BranchOptions> & { k: number };
  try {
    resolveBranchOptions(withK);
  } catch (err) {
    throw new UsageError(`${source}: "branch": ${(err as Error).message}`);
  }
  return withK;
}
