// `--samplers` for `entropix eval`: a comma-separated list of named sampler setups (pure).
//   greedy                 argmax
//   temperature:T          plain sampling at T with the base filter chain (top-k 27, top-p 0.9, min-p 0.03):
//                          these points trace the temperature frontier
//   min-p:M                T = 1, min-p M, no top-k/top-p
//   top-p:P                T = 1, top-p P, no top-k/min-p
//   entropix               the default (model-relative, bounded); knobs: entropix(max-t=1.2;heat=0.7;…),
//                          branching: entropix(branch=4;lookahead=8;commit=1;branch-on=explore,resample;budget=0.5;score=nll)
//   entropix-reference     the reference formulas exactly
import { UsageError } from "../errors.js";
import type { GenerateOptions } from "../generate.js";
import type { RelativeParams } from "../sampler/relative.js";
import { parseTrigger, resolveBranchOptions, type BranchOptions } from "../branch/options.js";
import { BRANCH_SCORE_NAMES, type BranchScoreName } from "../branch/score.js";

export interface SamplerSpec {
  /** As written in the list; the row label. */
  label: string;
  /** The temperature of a frontier point (temperature:T), else null. */
  frontierTemperature: number | null;
  options: Pick<GenerateOptions, "sampler" | "settings" | "samplerParams" | "clarifyEvery" | "branch">;
}

/** Knob names accepted in entropix(...) → the policy field (or base temperature / clarify spacing). */
const KNOBS: Record<string, keyof RelativeParams | "heat" | "clarify-every" | "min-p" | "top-k" | "top-p"> = {
  heat: "heat",
  "max-t": "maxTemperature",
  "min-t": "minTemperature",
  "h-gain": "entropyGain",
  "v-gain": "varentropyGain",
  "a-gain": "attentionGain",
  "minp-gain": "minPGain",
  insert: "insert",
  candidates: "candidates",
  "clarify-every": "clarify-every",
  "greedy-below": "greedyBelow",
  "repeat-gain": "repeatGain",
  "min-p": "min-p",
  "top-k": "top-k",
  "top-p": "top-p",
};

/** Branching knobs in entropix(...) → the BranchOptions field. */
const BRANCH_KNOBS: Record<string, keyof BranchOptions> = {
  branch: "k",
  lookahead: "lookahead",
  commit: "commitRollout",
  "branch-on": "trigger",
  "min-u": "minUncertainty",
  budget: "budget",
  score: "score",
};

function number(text: string, what: string, ok: (x: number) => boolean, range: string): number {
  const x = Number(text);
  if (text.trim() === "" || !Number.isFinite(x) || !ok(x)) throw new UsageError(`--samplers: ${what} must be ${range}, got "${text}"`);
  return x;
}

function entropixSpec(label: string, knobs: string): SamplerSpec {
  const options: SamplerSpec["options"] = { sampler: "entropix" };
  const params: Partial<RelativeParams> = {};
  const branch: Partial<BranchOptions> = {};
  for (const part of knobs.split(";").filter((p) => p.trim() !== "")) {
    const [rawKey, rawValue = ""] = part.split("=");
    const key = rawKey.trim();
    const branchField = BRANCH_KNOBS[key];
    if (branchField) {
      setBranchKnob(branch, branchField, rawValue, `${key} in "${label}"`);
      continue;
    }
    const field = KNOBS[key];
    if (!field) throw new UsageError(`--samplers: unknown entropix knob "${key}" in "${label}" (expected ${[...Object.keys(KNOBS), ...Object.keys(BRANCH_KNOBS)].join(", ")})`);
    const what = `${key} in "${label}"`;
    if (field === "heat") options.settings = { ...options.settings, temperature: number(rawValue, what, (x) => x > 0, "> 0") };
    else if (field === "min-p") options.settings = { ...options.settings, minP: number(rawValue, what, (x) => x >= 0 && x <= 1, "in [0, 1]") };
    else if (field === "top-p") options.settings = { ...options.settings, topP: number(rawValue, what, (x) => x > 0 && x <= 1, "in (0, 1]") };
    else if (field === "top-k") options.settings = { ...options.settings, topK: number(rawValue, what, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0") };
    else if (field === "clarify-every") options.clarifyEvery = number(rawValue, what, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0");
    else if (field === "insert") params.insert = number(rawValue, what, (x) => x === 0 || x === 1, "0 or 1") === 1;
    else if (field === "candidates") params.candidates = number(rawValue, what, (x) => Number.isInteger(x) && x >= 1, "an integer ≥ 1");
    else if (field === "maxTemperature" || field === "minTemperature") params[field] = number(rawValue, what, (x) => x > 0, "> 0");
    else params[field] = number(rawValue, what, () => true, "a number");
  }
  if (Object.keys(params).length > 0) options.samplerParams = params;
  if (Object.keys(branch).length > 0) {
    if (branch.k === undefined) throw new UsageError(`--samplers: the branching knobs in "${label}" need branch=K`);
    const withK = branch as Partial<BranchOptions> & { k: number };
    try {
      resolveBranchOptions(withK);
    } catch (err) {
      throw new UsageError(`--samplers: "${label}": ${(err as Error).message}`);
    }
    options.branch = withK;
  }
  return { label, frontierTemperature: null, options };
}

function setBranchKnob(b: Partial<BranchOptions>, field: keyof BranchOptions, raw: string, what: string): void {
  if (field === "trigger") b.trigger = parseTrigger(raw);
  else if (field === "score") {
    if (!(BRANCH_SCORE_NAMES as readonly string[]).includes(raw)) throw new UsageError(`--samplers: ${what} must be one of ${BRANCH_SCORE_NAMES.join(", ")}, got "${raw}"`);
    b.score = raw as BranchScoreName;
  } else if (field === "commitRollout") b.commitRollout = number(raw, what, (x) => x === 0 || x === 1, "0 or 1") === 1;
  else if (field === "k") b.k = number(raw, what, (x) => Number.isInteger(x) && x >= 2, "an integer ≥ 2");
  else if (field === "lookahead") b.lookahead = number(raw, what, (x) => Number.isInteger(x) && x >= 1, "an integer ≥ 1");
  else if (field === "minUncertainty") b.minUncertainty = number(raw, what, (x) => x >= 0 && x <= 1, "in [0, 1]");
  else b.budget = number(raw, what, (x) => x >= 0, "≥ 0");
}

/** Splits at commas that are not inside entropix(...). */
function splitList(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of list) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

export function parseSamplerSpec(item: string): SamplerSpec {
  const label = item;
  if (item === "greedy") return { label, frontierTemperature: null, options: { sampler: "greedy" } };
  if (item === "entropix-reference") return { label, frontierTemperature: null, options: { sampler: "entropix-reference" } };
  if (item === "entropix") return entropixSpec(label, "");
  const knobs = /^entropix\((.*)\)$/.exec(item);
  if (knobs) return entropixSpec(label, knobs[1]);
  const [name, arg] = item.split(":");
  if (arg !== undefined) {
    if (name === "temperature") {
      const t = number(arg, `the temperature in "${item}"`, (x) => x > 0, "> 0");
      return { label, frontierTemperature: t, options: { sampler: "temperature", settings: { temperature: t } } };
    }
    if (name === "min-p") {
      const m = number(arg, `min-p in "${item}"`, (x) => x > 0 && x <= 1, "in (0, 1]");
      return { label, frontierTemperature: null, options: { sampler: "temperature", settings: { temperature: 1, topK: 0, topP: 1, minP: m } } };
    }
    if (name === "top-p") {
      const p = number(arg, `top-p in "${item}"`, (x) => x > 0 && x <= 1, "in (0, 1]");
      return { label, frontierTemperature: null, options: { sampler: "temperature", settings: { temperature: 1, topK: 0, topP: p, minP: 0 } } };
    }
  }
  throw new UsageError(
    `--samplers: unknown sampler "${item}" (expected greedy, temperature:T, min-p:M, top-p:P, entropix, entropix(knob=value;…) or entropix-reference)`,
  );
}

export function parseSamplerList(list: string): SamplerSpec[] {
  const items = splitList(list);
  if (items.length === 0) throw new UsageError("--samplers is empty; name at least one sampler, e.g. temperature:0.7,entropix");
  const specs = items.map(parseSamplerSpec);
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.label)) throw new UsageError(`--samplers: "${s.label}" is listed twice`);
    seen.add(s.label);
  }
  return specs;
}

/** The list EVAL.md uses. */
export const DEFAULT_SAMPLERS =
  "greedy,temperature:0.5,temperature:0.7,temperature:0.85,temperature:1.0,temperature:1.15,temperature:1.3,min-p:0.1,top-p:0.9,entropix-reference,entropix";
