// The generation loop: prefill, then per token: metrics → sampler → feed back, until a stop.
// It only orchestrates; metrics and the sampler are pure modules, output is the consumer's job.
import type { Model } from "./model/model.js";
import { ContextFull, type StepOutput } from "./model/sequence.js";
import { StreamingDecoder } from "./model/tokenizer.js";
import { UsageError } from "./errors.js";
import { QUADRANTS, type Quadrant, type SamplerName, type SamplerSettings, type StepMetrics, type ThresholdProfile } from "./types.js";
import type { GenerationEvent, StopReason, SummaryEvent, TokenEvent } from "./events.js";
import { createLogitStats } from "./metrics/logits.js";
import { chooseInsertIds, describeLogprobs, MAX_LOGPROBS } from "./token-details.js";
import { createAttentionMetrics, createAttentionScratch } from "./metrics/attention.js";
import { createSampler, type SamplerStep } from "./sampler/samplers.js";
import { quadrantOf } from "./sampler/policy.js";
import { fallbackScale } from "./sampler/scale.js";
import { Brancher } from "./branch/brancher.js";
import { checkBranchFits, resolveBranchOptions, type BranchOptions } from "./branch/options.js";
import { BASE_SETTINGS, REFERENCE_PROFILE } from "./sampler/thresholds.js";
import type { MetricScale } from "./sampler/scale.js";
import type { RelativeParams } from "./sampler/relative.js";
import { randomSeed } from "./sampler/rng.js";
import { fitPrompt, type Truncate } from "./prompt-ids.js";
import { feedPrompt, type PromptCache } from "./prompt-cache.js";
import { stepMetrics, type AttentionLayers, type MetricsScratch } from "./step-metrics.js";
import { branchDetails } from "./branch/details.js";
import { StopMatcher } from "./stop-matcher.js";

export type { AttentionLayers } from "./step-metrics.js";
export type { PromptCache } from "./prompt-cache.js";

export interface GenerateOptions {
  sampler?: SamplerName;
  maxTokens?: number;
  seed?: number;
  ignoreEos?: boolean;
  thresholds?: ThresholdProfile;
  /** How the summary names the thresholds (default "reference", or "custom" when `thresholds` is given). */
  thresholdsName?: string;
  /** The model's calibration statistics, which the default sampler's ranks are taken against. */
  scale?: MetricScale | null;
  /** The default sampler's base temperature when `settings.temperature` is not given (a calibrated heat). */
  heat?: number;
  /** Knobs of the default sampler (e.g. maxTemperature). */
  samplerParams?: Partial<RelativeParams>;
  /** Base temperature / top-k / top-p / min-p (Entropix's T0, K0, P0, M0; the plain sampler's settings). */
  settings?: Partial<SamplerSettings>;
  clarifyText?: string;
  clarifyEvery?: number;
  attentionLayers?: AttentionLayers;
  stop?: string[];
  /** Prompt ids to use as they are (chat templates, tests); `prompt` is ignored when given. */
  promptIds?: number[];
  /** A prompt longer than the context: "none" (default) throws a UsageError, "left" keeps its end with a notice. */
  truncate?: Truncate;
  /**
   * Adds `logprob` (the chosen token's log probability, nats, untempered) to every token event, and
   * `top_logprobs` with the N most likely tokens when N > 0. Undefined: neither.
   */
  logprobs?: number;
  signal?: AbortSignal;
  /** Continue on a kept KV cache (chat turns): see PromptCache. */
  cache?: PromptCache;
  /** Branch and look ahead at uncertain steps (src/branch/); `k` is required, the rest has defaults. */
  branch?: (Partial<BranchOptions> & { k: number }) | null;
}

export const DEFAULT_MAX_TOKENS = 128;
/** Positions reserved beyond prompt + maxTokens for clarifying inserts (a reservation is a hint only). */
const INSERT_ROOM = 32;
export const DEFAULT_CLARIFY_TEXT = " ...";
export const DEFAULT_CLARIFY_EVERY = 64;

/**
 * Generates from `prompt` and yields token events as they are chosen, notices, and a final summary.
 * Interrupt with `options.signal`: the loop ends after the current token and still yields the summary.
 */
export async function* generate(model: Model, prompt: string, options: GenerateOptions = {}): AsyncGenerator<GenerationEvent> {
  const samplerName = options.sampler ?? "entropix";
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const seed = options.seed ?? randomSeed();
  const fitted = fitPrompt(model.tokenizer, prompt, options.promptIds, model.facts.contextLength, maxTokens, options.truncate ?? "none");
  const promptIds = fitted.ids;
  if (promptIds.length === 0) throw new UsageError("prompt is empty after tokenization; give some text");
  if (fitted.notice) yield { type: "notice", message: fitted.notice };
  const clarifyText = options.clarifyText ?? DEFAULT_CLARIFY_TEXT;
  const clarifyIds = model.tokenizer.encode(clarifyText, false);
  // No option: the profile calibrated for this model when loadModel found one, as the CLI does.
  const thresholds = options.thresholds ?? model.thresholds?.profile ?? REFERENCE_PROFILE;
  const thresholdsName = options.thresholdsName ?? (options.thresholds ? "custom" : (model.thresholds?.label ?? "reference"));
  // The default sampler ranks metrics against the calibration that made the thresholds, and starts
  // from its measured heat, unless the caller passes its own.
  const fromModel = options.thresholds === undefined ? model.thresholds : undefined;
  const scale = options.scale !== undefined ? options.scale : (fromModel?.scale ?? null);
  const heat = options.heat ?? fromModel?.settings?.temperature;
  const logprobs = options.logprobs;
  if (logprobs !== undefined && (!Number.isInteger(logprobs) || logprobs < 0 || logprobs > MAX_LOGPROBS)) {
    throw new UsageError(`logprobs must be a whole number from 0 to ${MAX_LOGPROBS}, got ${logprobs}`);
  }
  const base = {
    ...BASE_SETTINGS,
    ...(samplerName === "entropix" && heat !== undefined ? { temperature: heat } : {}),
    ...options.settings,
  };
  // Branching as asked (`null`: off), else as the model's calibrated profile sets it. A profile's
  // branching does not apply to greedy decoding (one candidate); asked for, it is an error.
  const branchGiven = options.branch !== undefined ? options.branch : samplerName === "greedy" ? undefined : fromModel?.branch;
  const branchOptions = branchGiven ? resolveBranchOptions(branchGiven) : null;
  if (branchOptions) checkBranchFits(branchOptions, samplerName, base);
  const layers = options.attentionLayers ?? "last";
  const scratch: MetricsScratch = {
    logits: createLogitStats(),
    attention: model.facts.attentionSource === "taps" ? createAttentionScratch() : null,
    attentionOut: createAttentionMetrics(),
  };
  if (!scratch.attention) {
    yield { type: "notice", message: `attention metrics unavailable (${model.facts.attentionNote}); the sampler uses logit metrics only` };
  }
  const eos = new Set(options.ignoreEos ? [] : model.facts.eosIds);
  const decoder = new StreamingDecoder(model.tokenizer, promptIds);
  const stops = new StopMatcher(options.stop ?? []);
  const quadrants = Object.fromEntries(QUADRANTS.map((q) => [q, 0])) as Record<Quadrant, number>;
  const seq = options.cache?.sequence ?? model.newSequence({ scoreLayers: layers }); // "last": fetch only the scores the metrics read
  let text = "";
  /** Sampled tokens: what maxTokens limits. Inserted clarifying tokens are counted apart. */
  let generated = 0;
  let events = 0;
  let inserts = 0;
  let insertedTokens = 0;
  /** Ids fed so far (the prompt's last few, then everything generated): context for rendering an insert. */
  const recent: number[] = promptIds.slice(-8);
  let entropySum = 0;
  let stopReason: StopReason = "max_tokens";
  let decodeSteps = 0;

  const t0 = performance.now();
  // The cache is sized once for the whole run (clarifying inserts may add a few positions).
  seq.reserve(promptIds.length + maxTokens + INSERT_ROOM);
  let out = await feedPrompt(seq, promptIds, options.cache);
  const prefillMs = performance.now() - t0;
  const sampler = createSampler({
    name: samplerName,
    base,
    profile: thresholds,
    seed,
    clarifyIds,
    clarifyEvery: options.clarifyEvery ?? DEFAULT_CLARIFY_EVERY,
    scale,
    params: options.samplerParams,
    // The logits row may be wider than config.json's vocabulary (padded embeddings).
    vocabSize: out.logits.length,
  });
  const brancher = branchOptions ? new Brancher(branchOptions, base, scale ?? fallbackScale(out.logits.length), eos, seed, out.logits.length) : null;
  const tDecode = performance.now();

  // Tokens whose text is "" (bytes of a character not complete yet) wait in `pending` until a token
  // with text follows, so the decoder's flushed tail at the end lands on a token event, not only in
  // the summary: the summary's text is always the concatenation of the token events' text.
  let pending: TokenEvent[] = [];
  const emit = function* (events: TokenEvent[], final = false) {
    for (const e of events) {
      if (e.text === "" && !final) {
        pending.push(e);
        continue;
      }
      const ready = [...pending, e];
      pending = [];
      for (const r of ready) {
        text += r.text;
        yield r;
      }
    }
  };

  /** A token event for `step`, chosen from `source` (metrics `m`); feeds the decoder and the recent ids. */
  const tokenEvent = (step: SamplerStep, m: StepMetrics, source: StepOutput, extra: Pick<TokenEvent, "lookahead" | "branch">): TokenEvent => {
    const { ids } = step;
    const inserted = step.action === "insert";
    let pieceText = "";
    for (const id of ids) pieceText += decoder.push(id);
    const event: TokenEvent = {
      type: "token",
      index: events,
      id: ids[0],
      ...(inserted ? { ids: [...ids] } : {}),
      inserted,
      ...extra,
      text: pieceText,
      quadrant: step.quadrant,
      entropy: m.entropy,
      varentropy: m.varentropy,
      attn_entropy: m.attnEntropy,
      attn_varentropy: m.attnVarentropy,
      agreement: m.agreement,
      interaction_strength: m.interactionStrength,
      temperature: step.settings.temperature,
      top_k: step.settings.topK,
      top_p: step.settings.topP,
      min_p: step.settings.minP,
      sampler: samplerName,
      // scratch.logits holds the stats of `source`: its metrics were the last computed.
      ...(logprobs !== undefined ? describeLogprobs(source.logits, ids[0], scratch.logits, logprobs, model.tokenizer, recent) : {}),
    };
    for (const id of ids) {
      recent.push(id);
      if (recent.length > 8) recent.shift();
    }
    return event;
  };
  /** Counts an event and passes it through stop matching; returns true when a stop string ended the run. */
  const take = function* (event: TokenEvent): Generator<TokenEvent, boolean> {
    events++;
    quadrants[event.quadrant]++;
    entropySum += event.entropy;
    const { release, stopped } = stops.push(event);
    yield* emit(release);
    return stopped;
  };

  try {
  loop: while (generated < maxTokens) {
    if (options.signal?.aborted) {
      stopReason = "interrupted";
      break;
    }
    const metrics = stepMetrics(out, layers, scratch, generated);
    const choice = sampler.next(out.logits, metrics, scratch.logits.max);
    const inserted = choice.action === "insert";
    // An insert is one event (its ids together) and does not count toward maxTokens; its leading
    // whitespace is dropped when the text before already ends in whitespace (no doubled space).
    const ids = inserted ? chooseInsertIds(model.tokenizer, clarifyText, choice.ids, recent) : choice.ids;
    if (!inserted && eos.has(ids[0])) {
      stopReason = "eos";
      break;
    }
    // Branching: the step's candidates are rolled out together; the winner's row is kept, fed.
    const branched = brancher && !inserted && brancher.wants(choice, metrics, generated, seq.room) ? await brancher.branch(seq, out, choice, maxTokens - generated, scratch.logits.max) : null;
    if (branched) {
      sampler.amend(branched.tokens);
      options.cache?.ids.push(...branched.tokens);
      decodeSteps += branched.tokens.length;
      const details = branchDetails(branched, model, recent, branchOptions!.score);
      for (let i = 0; i < branched.tokens.length; i++) {
        const source = branched.sources[i];
        const m = i === 0 ? metrics : stepMetrics(source, layers, scratch, generated);
        const step: SamplerStep = i === 0 ? { ...choice, ids: [branched.tokens[0]] } : { ids: [branched.tokens[i]], quadrant: quadrantOf(m, thresholds), action: "sample", settings: base, sampler: samplerName };
        const event = tokenEvent(step, m, source, i === 0 ? { branch: details } : { lookahead: true });
        generated++;
        if (yield* take(event)) {
          stopReason = "stop_string";
          break loop;
        }
        if (generated >= maxTokens) break loop;
      }
      out = branched.next;
      continue;
    }
    const event = tokenEvent({ ...choice, ids }, metrics, out, {});
    if (inserted) {
      inserts++;
      insertedTokens += ids.length;
    } else generated++;
    if (yield* take(event)) {
      stopReason = "stop_string";
      break;
    }
    if (generated >= maxTokens) break;
    for (const id of ids) {
      try {
        out = (await seq.step([id]))[0];
        options.cache?.ids.push(id);
        decodeSteps++;
      } catch (err) {
        if (err instanceof ContextFull) {
          stopReason = "context_full";
          yield { type: "notice", message: `stopped: ${err.message}` };
          break loop;
        }
        throw err;
      }
    }
  }
  } catch (err) {
    // A failing step still reports every token chosen before it.
    yield* emit(pending.splice(0), true);
    throw err;
  }
  // Release text held for stop matching and any bytes still waiting to form a character (after a
  // stop string the rest is cut, so only the waiting tokens go out, with their empty text).
  const held = [...pending.splice(0), ...(stopReason !== "stop_string" ? stops.flush() : [])];
  const tail = stopReason !== "stop_string" ? decoder.flush() : "";
  if (tail && held.length > 0) held[held.length - 1] = { ...held[held.length - 1], text: held[held.length - 1].text + tail };
  yield* emit(held, true);
  const decodeMs = performance.now() - tDecode;
  const summary: SummaryEvent = {
    type: "summary",
    prompt_tokens: promptIds.length,
    generated_tokens: generated,
    inserts,
    inserted_tokens: insertedTokens,
    quadrants,
    prefill_ms: round(prefillMs),
    prefill_tokens_per_s: round((promptIds.length * 1000) / Math.max(prefillMs, 1e-6)),
    decode_tokens_per_s: round(decodeSteps > 0 ? (decodeSteps * 1000) / decodeMs : 0),
    mean_entropy: events > 0 ? round(entropySum / events, 4) : null,
    seed,
    sampler: samplerName,
    attention_source: scratch.attention ? "taps" : "none",
    stop_reason: stopReason,
    thresholds: thresholdsName,
    text,
    ...(brancher ? { branch: { k: brancher.options.k, lookahead: brancher.options.lookahead, commit_rollout: brancher.options.commitRollout, score: brancher.options.score, ...brancher.stats } } : {}),
  };
  yield summary;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
