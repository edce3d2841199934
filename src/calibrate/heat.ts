// The operating point of the default sampler, chosen by measurement (issue: "the operating point is
// chosen by measurement"): generate from prompts cut out of the calibration corpus at a grid of base
// temperatures ("heat") and keep the coolest heat whose generations never end in a loop. Cooler means
// lower NLL, so this is the lowest-NLL setting with a loop rate of 0 on the calibration prompts.
import type { Model } from "../model/model.js";
import { generate } from "../generate.js";
import type { ThresholdProfile } from "../types.js";
import type { MetricScale } from "../sampler/scale.js";
import { distinctN, endsInLoop } from "../eval/text-metrics.js";
import { scoreContinuation } from "../eval/score.js";

export const HEAT_GRID = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] as const;
export const HEAT_PROMPTS = 8;
export const HEAT_PROMPT_TOKENS = 12;
export const HEAT_TOKENS = 64;
export const HEAT_RULE = "the coolest heat (base temperature) on the grid whose calibration generations have loop rate 0; if every heat loops, the one with the lowest loop rate (hotter on ties)";

export interface HeatPoint {
  heat: number;
  loop_rate: number;
  nll: number;
  distinct3: number;
}

export interface HeatChoice {
  heat: number;
  rule: string;
  prompts: number;
  tokens: number;
  seed: number;
  grid: HeatPoint[];
}

/** Prompts: the first HEAT_PROMPT_TOKENS ids of HEAT_PROMPTS evenly spaced stretches of the corpus. */
export function heatPrompts(corpusIds: readonly number[], bos: number | null): number[][] {
  const out: number[][] = [];
  const stride = Math.floor(corpusIds.length / HEAT_PROMPTS);
  for (let i = 0; i < HEAT_PROMPTS && stride >= HEAT_PROMPT_TOKENS; i++) {
    const part = corpusIds.slice(i * stride, i * stride + HEAT_PROMPT_TOKENS);
    out.push(bos !== null ? [bos, ...part] : [...part]);
  }
  return out;
}

export async function chooseHeat(
  model: Model,
  prompts: number[][],
  o: { thresholds: ThresholdProfile; scale: MetricScale | null; seed?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void },
): Promise<HeatChoice | null> {
  const seed = o.seed ?? 1;
  const grid: HeatPoint[] = [];
  let done = 0;
  for (const heat of HEAT_GRID) {
    let loops = 0;
    let nll = 0;
    let d3 = 0;
    for (const promptIds of prompts) {
      const ids: number[] = [];
      for await (const e of generate(model, "", { promptIds, sampler: "entropix", settings: { temperature: heat }, thresholds: o.thresholds, scale: o.scale, seed, maxTokens: HEAT_TOKENS, ignoreEos: true, signal: o.signal })) {
        if (e.type === "token") ids.push(...((e as unknown as { ids?: number[] }).ids ?? [e.id]));
      }
      if (o.signal?.aborted) return null;
      loops += endsInLoop(ids) ? 1 : 0;
      d3 += distinctN(ids, 3);
      nll += (await scoreContinuation(model, promptIds, ids))?.nll ?? 0;
      o.onProgress?.(++done, HEAT_GRID.length * prompts.length);
    }
    const n = prompts.length;
    grid.push({ heat, loop_rate: loops / n, nll: Math.round((nll / n) * 1000) / 1000, distinct3: Math.round((d3 / n) * 1000) / 1000 });
  }
  const clean = grid.find((g) => g.loop_rate === 0);
  const chosen = clean ?? [...grid].sort((a, b) => a.loop_rate - b.loop_rate || b.heat - a.heat)[0];
  return { heat: chosen.heat, rule: HEAT_RULE, prompts: prompts.length, tokens: HEAT_TOKENS, seed, grid };
}
