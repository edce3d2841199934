// `entropix eval`'s generation loop: every prompt × seed × sampler through the real generate() on one
// loaded model, each generation scored on its own (text metrics, teacher-forced NLL, judge NLL).
import type { Model } from "../model/model.js";
import { generate } from "../generate.js";
import type { GenerationEvent } from "../events.js";
import type { ThresholdProfile } from "../types.js";
import type { MetricScale } from "../sampler/scale.js";
import type { EvalPrompt } from "./prompts.js";
import type { SamplerSpec } from "./sampler-specs.js";
import { distinctN, endsInLoop, nonWordRate, repetition4 } from "./text-metrics.js";
import { scoreContinuation } from "./score.js";

export interface EvalGeneration {
  prompt: number;
  seed: number;
  sampler: string;
  text: string;
  tokens: number;
  /** Tokens that were inserted (clarify), not sampled; they count in every other metric too. */
  inserted: number;
  distinct1: number;
  distinct2: number;
  distinct3: number;
  repetition4: number;
  loop: boolean;
  /** Bits per generated token under the model itself (null when nothing was generated). */
  nll: number | null;
  judgeNll: number | null;
  meanEntropy: number | null;
  nonWordRate: number | null;
  stopReason: string;
  decodeTokensPerS: number;
}

export interface EvalRunOptions {
  seeds: number[];
  maxTokens: number;
  ignoreEos: boolean;
  thresholds: ThresholdProfile;
  thresholdsName: string;
  scale: MetricScale | null;
  /** The calibrated heat (default sampler's base temperature), when the profile has one. */
  heat?: number;
  judge?: Model | null;
  lexicon?: ReadonlySet<string> | null;
  signal?: AbortSignal;
  onGeneration?: (g: EvalGeneration, done: number, total: number) => void;
}

/** Ids of a token event, including an insert's (one event carrying several ids). */
function eventIds(e: GenerationEvent): { ids: number[]; inserted: boolean } | null {
  if (e.type !== "token") return null;
  const x = e as unknown as { id: number; ids?: number[]; inserted?: boolean };
  return { ids: x.ids ?? [x.id], inserted: x.inserted === true };
}

export async function runEval(model: Model, prompts: readonly EvalPrompt[], specs: readonly SamplerSpec[], o: EvalRunOptions): Promise<{ generations: EvalGeneration[]; partial: boolean }> {
  const generations: EvalGeneration[] = [];
  const total = prompts.length * o.seeds.length * specs.length;
  for (let p = 0; p < prompts.length; p++) {
    // The ids generate() prefills for this prompt (same encoding), reused to score every generation.
    const promptIds = model.tokenizer.encode(prompts[p].text);
    for (const seed of o.seeds) {
      for (const spec of specs) {
        if (o.signal?.aborted) return { generations, partial: true };
        const ids: number[] = [];
        let inserted = 0;
        let text = "";
        let stopReason = "";
        let speed = 0;
        for await (const e of generate(model, prompts[p].text, {
          ...spec.options,
          settings: { ...spec.options.settings },
          seed,
          maxTokens: o.maxTokens,
          ignoreEos: o.ignoreEos,
          thresholds: o.thresholds,
          thresholdsName: o.thresholdsName,
          scale: o.scale,
          heat: o.heat,
          signal: o.signal,
        })) {
          const t = eventIds(e);
          if (t) {
            ids.push(...t.ids);
            if (t.inserted) inserted += t.ids.length;
          } else if (e.type === "summary") {
            text = e.text;
            stopReason = e.stop_reason;
            speed = e.decode_tokens_per_s;
          }
        }
        if (stopReason === "interrupted") return { generations, partial: true };
        const own = await scoreContinuation(model, promptIds, ids);
        const judged = o.judge ? await scoreContinuation(o.judge, promptIds, ids) : null;
        const g: EvalGeneration = {
          prompt: p,
          seed,
          sampler: spec.label,
          text,
          tokens: ids.length,
          inserted,
          distinct1: distinctN(ids, 1),
          distinct2: distinctN(ids, 2),
          distinct3: distinctN(ids, 3),
          repetition4: repetition4(ids),
          loop: endsInLoop(ids),
          nll: own?.nll ?? null,
          judgeNll: judged?.nll ?? null,
          meanEntropy: own?.meanEntropy ?? null,
          nonWordRate: o.lexicon ? nonWordRate(text, o.lexicon) : null,
          stopReason,
          decodeTokensPerS: speed,
        };
        generations.push(g);
        o.onGeneration?.(g, generations.length, total);
      }
    }
  }
  return { generations, partial: false };
}
