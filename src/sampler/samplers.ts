// Per-run samplers: Entropix (the model-relative default, or the reference §2 policy) + the filter
// chain, greedy and plain temperature sampling.
// Every sampler reports the Entropix quadrant of each step, so runs can be compared token by token.
import { UsageError } from "../errors.js";
import { SAMPLER_NAMES, type Quadrant, type SamplerName, type SamplerSettings, type StepMetrics, type ThresholdProfile } from "../types.js";
import { applyChain, argmax, CandidateBuffer, drawIndex, loadLogits } from "./filters.js";
import { decide, quadrantOf, type ClarifyState, type Decision } from "./policy.js";
import { decideRelative, DEFAULT_RELATIVE_PARAMS, type RelativeParams } from "./relative.js";
import { fallbackScale, type MetricScale } from "./scale.js";
import { RepeatTracker } from "./repetition.js";
import { createRng, type Rng } from "./rng.js";
import { validateProfile, validateSettings } from "./thresholds.js";

/** Reported as the settings of a deterministic step (argmax, or an inserted clarifying token). */
export const GREEDY_SETTINGS: Readonly<SamplerSettings> = Object.freeze({ temperature: 0, topK: 1, topP: 1, minP: 0 });

export interface SamplerOptions {
  name: SamplerName;
  /** T0, K0, P0, M0 for Entropix; the settings of the plain temperature sampler. */
  base: SamplerSettings;
  profile: ThresholdProfile;
  seed: number;
  /** The clarifying text's token ids (§3.4); empty: never insert, sample with the clarify temperature instead. */
  clarifyIds: readonly number[];
  /** At most one insert per this many steps (§2 row 2); 1 = the reference's "not right after another one". */
  clarifyEvery: number;
  /** Length of the logits vector. */
  vocabSize: number;
  /** The model's calibration statistics for the default sampler (absent: fallbackScale(vocabSize)). */
  scale?: MetricScale | null;
  /** Overrides of the default sampler's knobs. */
  params?: Partial<RelativeParams>;
}

export interface SamplerStep {
  /** Tokens to append: one, or the clarifying ids of an insert. */
  ids: number[];
  quadrant: Quadrant;
  /** What produced the ids. */
  action: "argmax" | "insert" | "sample";
  /** Settings actually used; GREEDY_SETTINGS for argmax and inserts. */
  settings: SamplerSettings;
  sampler: SamplerName;
}

export interface Sampler {
  readonly name: SamplerName;
  readonly seed: number;
  /**
   * Chooses the next token(s) for these logits and metrics (metrics of the same logits). `maxLogit`
   * may pass the max already found by logitMetrics to save a pass.
   */
  next(logits: Float32Array, metrics: StepMetrics, maxLogit?: number): SamplerStep;
  /**
   * Replaces the tokens the last `next` chose with the ones actually kept (a branch point's winner,
   * and with a committed rollout the tokens after it), so the copy guard reads the real output.
   */
  amend(ids: readonly number[]): void;
}

/** No tokens pending (shared, so no array is allocated per step). */
const NO_IDS: readonly number[] = Object.freeze([]);

class ChainSampler implements Sampler {
  readonly seed: number;
  private readonly rng: Rng;
  private readonly buf: CandidateBuffer;
  private readonly clarify: ClarifyState;
  private readonly repeats = new RepeatTracker();
  /** The last step's tokens, recorded in `repeats` at the next step so `amend` can still replace them. */
  private pending: readonly number[] = NO_IDS;

  constructor(
    readonly name: SamplerName,
    private readonly base: SamplerSettings,
    private readonly profile: ThresholdProfile,
    seed: number,
    private readonly clarifyIds: readonly number[],
    clarifyEvery: number,
    vocabSize: number,
    private readonly scale: MetricScale,
    private readonly params: RelativeParams,
  ) {
    this.seed = seed;
    this.rng = createRng(seed);
    this.buf = new CandidateBuffer(vocabSize);
    this.clarify = { stepsSinceClarify: Infinity, clarifyEvery, canInsert: clarifyIds.length > 0 };
  }

  next(logits: Float32Array, metrics: StepMetrics, maxLogit = NaN): SamplerStep {
    if (logits.length !== this.buf.capacity) {
      throw new RangeError(`sampler expects ${this.buf.capacity} logits, got ${logits.length}`);
    }
    this.repeats.push(this.pending);
    this.pending = NO_IDS;
    if (this.name === "greedy") {
      return { ids: [argmax(logits)], quadrant: quadrantOf(metrics, this.profile), action: "argmax", settings: GREEDY_SETTINGS, sampler: this.name };
    }
    if (this.name === "temperature") {
      const id = this.sample(logits, this.base, 1, maxLogit);
      return { ids: [id], quadrant: quadrantOf(metrics, this.profile), action: "sample", settings: this.base, sampler: this.name };
    }
    const { quadrant, action }: Decision =
      this.name === "entropix-reference"
        ? decide(metrics, this.profile, this.base, this.clarify)
        : decideRelative(metrics, this.profile, this.scale, this.base, this.params, this.clarify, this.params.repeatGain > 0 && this.repeats.wouldRepeat(argmax(logits)));
    let step: SamplerStep;
    if (action.kind === "insert") {
      this.clarify.stepsSinceClarify = 0;
      step = { ids: [...this.clarifyIds], quadrant, action: "insert", settings: GREEDY_SETTINGS, sampler: this.name };
    } else {
      this.clarify.stepsSinceClarify++;
      if (action.kind === "argmax") {
        step = { ids: [argmax(logits)], quadrant, action: "argmax", settings: GREEDY_SETTINGS, sampler: this.name };
      } else {
        const id = this.sample(logits, action.settings, action.candidates, maxLogit);
        step = { ids: [id], quadrant, action: "sample", settings: action.settings, sampler: this.name };
      }
    }
    this.pending = step.ids;
    return step;
  }

  amend(ids: readonly number[]): void {
    // Steps taken beyond the one `next` chose (a committed rollout) count toward the insert spacing.
    if (ids.length > 1) this.clarify.stepsSinceClarify += ids.length - 1;
    this.pending = [...ids];
  }

  /**
   * Filters once with `settings`, then draws `n` candidates from the result and keeps the one with
   * the highest log p under the untempered full-vocabulary softmax (§2 adaptive). That log p is
   * z − logsumexp(z) with the same logsumexp for all, so the highest raw logit wins; first drawn on ties.
   */
  private sample(logits: Float32Array, settings: SamplerSettings, n: number, maxLogit: number): number {
    const buf = this.buf;
    loadLogits(buf, logits, maxLogit);
    applyChain(buf, settings);
    let best = buf.ids[drawIndex(buf, this.rng.uniform())];
    for (let i = 1; i < n; i++) {
      const id = buf.ids[drawIndex(buf, this.rng.uniform())];
      if (logits[id] > logits[best]) best = id;
    }
    return best;
  }
}

/** A sampler for one run (one sequence): it owns its generator and clarify rate-limit state. */
export function createSampler(o: SamplerOptions): Sampler {
  if (!SAMPLER_NAMES.includes(o.name)) {
    throw new UsageError(`unknown sampler "${String(o.name)}" (expected ${SAMPLER_NAMES.join(", ")})`);
  }
  const params: RelativeParams = { ...DEFAULT_RELATIVE_PARAMS, ...o.params };
  if (!(params.maxTemperature > 0) || !(params.minTemperature > 0) || params.minTemperature > params.maxTemperature) {
    throw new UsageError(`temperature bounds must satisfy 0 < min ≤ max, got ${params.minTemperature} and ${params.maxTemperature}`);
  }
  if (!Number.isInteger(params.candidates) || params.candidates < 1) throw new UsageError(`candidates must be an integer ≥ 1, got ${params.candidates}`);
  validateSettings(o.base, "sampler settings");
  validateProfile(o.profile, "threshold profile");
  if (!Number.isInteger(o.clarifyEvery) || o.clarifyEvery < 0) {
    throw new UsageError(`clarify-every must be an integer ≥ 0, got ${o.clarifyEvery}`);
  }
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < 1) throw new RangeError(`vocabulary size must be a positive integer, got ${o.vocabSize}`);
  for (const id of o.clarifyIds) {
    if (!Number.isInteger(id) || id < 0 || id >= o.vocabSize) throw new RangeError(`clarifying token id ${id} is outside the vocabulary (${o.vocabSize})`);
  }
  const scale = o.scale ?? fallbackScale(o.vocabSize);
  return new ChainSampler(o.name, { ...o.base }, { ...o.profile }, o.seed, [...o.clarifyIds], o.clarifyEvery, o.vocabSize, scale, params);
}
