// Branching in the generation loop: decides whether a step branches (its state, its uncertainty, the
// budget), runs the branches, keeps the winner's cache row, and keeps the counts the summary reports.
import type { Sequence, StepOutput } from "../model/sequence.js";
import { CandidateBuffer } from "../sampler/filters.js";
import { createRng, type Rng } from "../sampler/rng.js";
import { rankOf, type MetricScale } from "../sampler/scale.js";
import type { SamplerStep } from "../sampler/samplers.js";
import type { SamplerSettings, StepMetrics } from "../types.js";
import { distinctCandidates } from "./candidates.js";
import type { BranchOptions } from "./options.js";
import { rollOut, type Branch } from "./rollout.js";
import { bestBranch, BRANCH_SCORES } from "./score.js";

/** What a branch point kept. */
export interface BranchOutcome {
  /** The kept tokens: the winner's first, then (commit-rollout) the rest of its rollout. */
  tokens: number[];
  /** The output each kept token was chosen from, for the events of the rollout tokens after the first. */
  sources: StepOutput[];
  /** The output after the last kept token: the loop's next step reads it. */
  next: StepOutput;
  /** Every branch, for the branch point's token event. */
  branches: Branch[];
  scores: number[];
  winner: number;
}

/** The summary's branching counts. */
export interface BranchStats {
  /** Steps that branched. */
  points: number;
  /** Forward runs beyond one per kept token (a K-row batched run counts once). */
  extra_steps: number;
  /** Branch points whose winner was not the sampler's own pick (candidate 0). */
  winner_changed: number;
  /** Steps that met the trigger but were not branched because the budget was spent. */
  over_budget: number;
}

/** Seed offset of the branch generator, so branching leaves the sampler's own draws unchanged. */
const BRANCH_SEED_MIX = 0x5bd1e995;

export class Brancher {
  readonly stats: BranchStats = { points: 0, extra_steps: 0, winner_changed: 0, over_budget: 0 };
  private readonly rng: Rng;
  private readonly buf: CandidateBuffer;

  constructor(
    readonly options: BranchOptions,
    private readonly base: SamplerSettings,
    private readonly scale: MetricScale,
    private readonly eos: ReadonlySet<number>,
    seed: number,
    vocabSize: number,
  ) {
    this.rng = createRng((seed ^ BRANCH_SEED_MIX) >>> 0);
    this.buf = new CandidateBuffer(vocabSize);
  }

  /** Whether this step branches: a sampled step in a trigger state, uncertain enough, within the budget. */
  wants(step: SamplerStep, metrics: StepMetrics, generated: number, room: number): boolean {
    const o = this.options;
    if (step.action !== "sample" || !o.trigger.includes(step.quadrant) || room < 1) return false;
    if (o.minUncertainty > 0) {
      const u = (rankOf(metrics.entropy, this.scale.entropy) + rankOf(metrics.varentropy, this.scale.varentropy)) / 2;
      if (u < o.minUncertainty) return false;
    }
    // Keeping only the first token makes every later run of the rollout extra; a committed rollout
    // keeps its tokens, so its runs are not (the batch is wider, which the decode speed shows).
    const cost = o.commitRollout ? 0 : Math.min(o.lookahead, room) - 1;
    if (this.stats.extra_steps + cost > o.budget * (generated + 1)) {
      this.stats.over_budget++;
      return false;
    }
    return true;
  }

  /**
   * Branches at a step whose output is `out` and whose sampler chose `step`: K distinct candidates,
   * rolled out together; the winner's row stays in `seq` holding exactly the kept tokens. Null when
   * the step's filters leave a single candidate or the context is full (nothing to branch on; `seq`
   * untouched). A context filling up shortens the rollouts; it is not an error.
   */
  async branch(seq: Sequence, out: StepOutput, step: SamplerStep, maxKeep: number, maxLogit: number): Promise<BranchOutcome | null> {
    const o = this.options;
    const candidates = distinctCandidates(this.buf, out.logits, step.settings, step.ids[0], o.k, this.rng, maxLogit, this.eos);
    if (candidates.length < 2 || seq.room < 1) return null;
    const before = seq.length;
    const lookahead = Math.min(o.lookahead, seq.room);
    const { branches, runs } = await rollOut(seq, out.logits, candidates, { lookahead, base: this.base, rng: this.rng, buf: this.buf, eos: this.eos });
    const score = BRANCH_SCORES[o.score];
    const scores = branches.map(score);
    const winner = bestBranch(scores);
    const w = branches[winner];
    // Every token a branch fed has its output (an end-of-sequence token ends the branch unfed).
    const keep = o.commitRollout ? Math.max(1, Math.min(w.tokens.length, maxKeep)) : 1;
    seq.keepRow(winner);
    seq.truncate(before + keep);
    this.stats.points++;
    this.stats.extra_steps += runs - keep;
    if (winner !== 0) this.stats.winner_changed++;
    const tokens = w.tokens.slice(0, keep);
    return { tokens, sources: [out, ...w.outputs.slice(0, keep - 1)], next: w.outputs[keep - 1], branches, scores, winner };
  }
}
