// `generate --verbose`: the model facts, thresholds, base settings, seed, sampler chain and branching
// in effect, printed before generating.
import type { Model } from "../model/model.js";
import type { ResolvedThresholds } from "../calibrate/profile-store.js";
import { BASE_SETTINGS } from "../sampler/thresholds.js";
import { resolveBranchOptions } from "../branch/options.js";
import type { SamplerName, SamplerSettings } from "../types.js";
import type { Streams } from "./render.js";
import { branchFromFlags, type BranchFlags } from "./branch-options.js";

export interface VerboseFlags extends BranchFlags, Partial<Pick<SamplerSettings, "temperature" | "topK" | "topP" | "minP">> {
  sampler: SamplerName;
  seed?: number;
}

/** What `--verbose` prints as the chain, llama.cpp style (the order filters apply, spec §2). */
const SAMPLER_CHAINS: Record<SamplerName, string> = {
  entropix:
    "metrics → ranks against the model's calibration → quadrant → confident: argmax | otherwise: bounded relative temperature (hotter when the likeliest token would repeat the output) → top-k → top-p → min-p → draw",
  "entropix-reference":
    "metrics → quadrant → confident: argmax | clarify: insert text or temperature | explore/resample/adaptive: temperature → top-k → top-p → min-p → draw (adaptive: best of 5 by log p)",
  greedy: "metrics → quadrant (logged) → argmax",
  temperature: "metrics → quadrant (logged) → temperature → top-k → top-p → min-p → draw",
};

export function printVerbose(model: Model, flags: VerboseFlags, streams: Streams, resolved: ResolvedThresholds): void {
  const f = model.facts;
  const t = resolved.profile;
  const lines = [
    `model: ${f.dir} (${f.architecture}, ${f.layers} layers, ${f.heads ?? "?"} heads, ${f.kvHeads} KV heads, head dim ${f.headDim}, vocab ${f.vocabSize}, context ${f.contextLength ?? "?"})`,
    `onnx: ${f.onnxFile} (${f.dtype}); attention: ${f.attentionSource}${f.attentionNote ? ` (${f.attentionNote})` : ""}`,
    `thresholds (${resolved.label}${resolved.path ? `: ${resolved.path}` : ""}) (bits): low_ent ${t.lowEntropy}, low_vent ${t.lowVarentropy}, med_ent ${t.mediumEntropy}, high_ent ${t.highEntropy}, high_vent ${t.highVarentropy}`,
    `base settings: temperature ${flags.temperature ?? BASE_SETTINGS.temperature}, top_k ${flags.topK ?? BASE_SETTINGS.topK}, top_p ${flags.topP ?? BASE_SETTINGS.topP}, min_p ${flags.minP ?? BASE_SETTINGS.minP}`,
    `sampler: ${flags.sampler}; seed: ${flags.seed}; load ${model.loadMs.toFixed(0)} ms`,
    `sampler chain: ${SAMPLER_CHAINS[flags.sampler]}`,
  ];
  const branch = branchFromFlags(flags, resolved);
  if (branch) {
    const o = resolveBranchOptions(branch);
    lines.push(`branching: K=${o.k} candidates, lookahead ${o.lookahead} token${o.lookahead === 1 ? "" : "s"}, on ${o.trigger.join("/")}${o.minUncertainty > 0 ? ` with uncertainty ≥ ${o.minUncertainty}` : ""}, score ${o.score}, budget ${o.budget}${o.commitRollout ? ", rollouts kept" : ""}${typeof flags.branch === "number" ? "" : " (from the profile)"}`);
  }
  streams.err.write(lines.map((l) => `${l}\n`).join(""));
}
