// `entropix eval`: does a sampler help on this model? Every prompt × seed × sampler on one loaded
// model, scored and summarised against the temperature frontier. The work is in src/eval/.
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { UsageError } from "../errors.js";
import type { Model } from "../model/model.js";
import { resolveThresholds } from "../calibrate/profile-store.js";
import { readLexicon, readPromptsFile } from "../eval/prompts.js";
import { DEFAULT_SAMPLERS, parseSamplerList } from "../eval/sampler-specs.js";
import { runEval, type EvalGeneration } from "../eval/run.js";
import { summarize } from "../eval/summarize.js";
import { formatMarkdown } from "../eval/format-markdown.js";
import { renderEvalReport } from "../eval/report-html.js";
import { sameTokenizer } from "../eval/score.js";
import { loadTokenizer } from "../model/tokenizer.js";
import { resolveModelArg } from "../model/bundled.js";
import { checkReportPath } from "../report/write.js";
import { integer } from "./numbers.js";
import type { Streams } from "./render.js";

interface EvalFlags {
  model: string;
  onnxFile?: string;
  dtype?: string;
  threads?: number;
  taps: boolean;
  samplers: string;
  seeds: string;
  maxTokens: number;
  judge?: string;
  lexicon?: string;
  json?: boolean;
  report?: string;
  generations?: string;
  baseline?: string;
  eos?: boolean;
  thresholds?: string;
  resamples: number;
}

export interface EvalDeps {
  streams: Streams;
  signal: AbortSignal;
  addModelOptions: (cmd: Command) => Command;
  openModel: (flags: { model: string; onnxFile?: string; dtype?: string; threads?: number; taps: boolean }, err: NodeJS.WriteStream) => Promise<Model>;
}

export function registerEvalCommand(program: Command, deps: EvalDeps): Command {
  return deps
    .addModelOptions(
      program
        .command("eval")
        .description("compare samplers on a prompts file: diversity, NLL, loops, and the gap to the temperature frontier")
        .argument("<prompts>", "prompts file: one prompt per line, or JSON Lines with a \"prompt\" field"),
    )
    .option("--samplers <list>", "comma-separated samplers: greedy, temperature:T, min-p:M, top-p:P, entropix, entropix(knob=v;…), entropix-reference", DEFAULT_SAMPLERS)
    .option("--seeds <n|list>", "number of seeds (1..n) or a comma-separated list", "3")
    .option("-n, --max-tokens <n>", "tokens per generation", integer("--max-tokens", 1), 120)
    .option("--judge <dir>", "also score NLL under this model (it must share the tokenizer)")
    .option("--lexicon <file>", "word list: report the share of generated words not in it")
    .option("--baseline <label>", "sampler the paired differences are taken against (default: entropix when listed)")
    .option("--eos", "stop a generation at end-of-sequence (default: generate all -n tokens, so lengths match)")
    .option("--thresholds <file>", 'threshold profile file, or "reference" (default: the model\'s calibrated profile)')
    .option("--resamples <n>", "bootstrap resamples", integer("--resamples", 100, 100000), 2000)
    .option("--generations <file>", "also write every generation (JSON Lines)")
    .option("--json", "print the summary as one JSON object instead of the table")
    .option("--report <file.html>", "write the frontier plot and table as a self-contained HTML page")
    .action((promptsFile: string, flags: EvalFlags) => runEvalCommand(promptsFile, flags, deps));
}

function judgeMismatch(judge: string): UsageError {
  return new UsageError(`--judge ${judge}: its tokenizer differs from the model's; the judge must score the same token ids (use a model of the same family)`);
}

function parseSeeds(raw: string): number[] {
  const bad = () => new UsageError(`--seeds takes a count like 3 or a list like 1,2,3 of whole numbers, got "${raw}"`);
  if (/^\d+$/.test(raw.trim())) {
    const n = Number(raw);
    if (n < 1 || n > 1000) throw bad();
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const list = raw.split(",").map((s) => s.trim());
  if (list.some((s) => !/^\d+$/.test(s))) throw bad();
  return list.map(Number);
}

async function runEvalCommand(promptsFile: string, flags: EvalFlags, deps: EvalDeps): Promise<void> {
  const { streams, signal } = deps;
  // Everything the user typed is checked before the (slow) model load.
  const prompts = readPromptsFile(promptsFile);
  const specs = parseSamplerList(flags.samplers);
  const seeds = parseSeeds(flags.seeds);
  const lexicon = flags.lexicon !== undefined ? readLexicon(flags.lexicon) : null;
  if (flags.report !== undefined) checkReportPath(flags.report);
  if (flags.baseline !== undefined && !specs.some((s) => s.label === flags.baseline)) {
    throw new UsageError(`--baseline ${flags.baseline} is not in --samplers`);
  }
  // A judge must share the model's tokenizer; with local folders that is checked on the tokenizers
  // alone, before any session loads (hf: references are checked once they are fetched, below).
  if (flags.judge !== undefined && !flags.model.startsWith("hf:") && !flags.judge.startsWith("hf:")) {
    const [a, b] = await Promise.all([loadTokenizer(resolveModelArg(flags.model)), loadTokenizer(resolveModelArg(flags.judge))]);
    if (!sameTokenizer({ tokenizer: a }, { tokenizer: b })) throw judgeMismatch(flags.judge);
  }
  const model = await deps.openModel(flags, process.stderr);
  let judge: Model | null = null;
  try {
    if (flags.judge !== undefined) {
      judge = await deps.openModel({ ...flags, model: flags.judge, onnxFile: undefined, dtype: undefined }, process.stderr);
      if (!sameTokenizer(model, judge)) throw judgeMismatch(flags.judge);
    }
    const thresholds = await resolveThresholds(flags.thresholds, model.facts, (m) => streams.err.write(`note: ${m}\n`));
    const total = prompts.length * seeds.length * specs.length;
    const bar = process.stderr.isTTY && !flags.json ? new cliProgress.SingleBar({ format: "eval [{bar}] {value}/{total} generations · {sampler} · eta {eta_formatted}", hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    bar?.start(total, 0, { sampler: "" });
    const { generations, partial } = await runEval(model, prompts, specs, {
      seeds,
      maxTokens: flags.maxTokens,
      ignoreEos: flags.eos !== true,
      thresholds: thresholds.profile,
      thresholdsName: thresholds.label,
      scale: thresholds.scale ?? null,
      heat: thresholds.settings?.temperature,
      judge,
      lexicon,
      signal,
      onGeneration: (g: EvalGeneration, done: number) => bar?.update(done, { sampler: g.sampler }),
    }).finally(() => bar?.stop());
    if (flags.generations !== undefined) {
      writeFileSync(flags.generations, generations.map((g) => JSON.stringify({ ...g, prompt_id: prompts[g.prompt].id, partial })).join("\n") + "\n");
    }
    if (generations.length === 0) throw new UsageError("eval was interrupted before any generation finished");
    const done = new Set(generations.map((g) => g.prompt)).size;
    const summary = summarize(generations, specs, partial ? done : prompts.length, seeds.length, { resamples: flags.resamples, baseline: flags.baseline });
    const table = formatMarkdown(summary, { judge: judge !== null, lexicon: lexicon !== null, partial });
    const meta = {
      model: model.facts.dir,
      attention_source: model.facts.attentionSource,
      thresholds: thresholds.label,
      scale: thresholds.scale ? "calibrated" : "fallback (no calibrated statistics)",
      max_tokens: flags.maxTokens,
      eos: flags.eos === true,
      partial,
    };
    if (flags.json) streams.out.write(`${JSON.stringify({ ...meta, ...summary })}\n`);
    else streams.out.write(table);
    if (flags.report !== undefined) {
      writeFileSync(flags.report, renderEvalReport(summary, { title: `entropix eval · ${model.facts.dir.split("/").pop()} · ${prompts.length} prompts`, markdownTable: table }));
      streams.err.write(`report: ${flags.report}\n`);
    }
    if (partial) streams.err.write("note: interrupted; the results above are partial\n");
  } finally {
    await judge?.close();
    await model.close();
  }
}
