// The entropix command line. Thin: parses flags, reads prompts, calls the library, renders events.
// Only this file decides exit codes: 0 ok, 1 runtime/model failure, 2 bad usage.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { ModelError, RuntimeFailure, UsageError } from "../errors.js";
import { loadModel, type Model } from "../model/model.js";
import { DTYPES } from "../model/folder.js";
import { generate, type GenerateOptions } from "../generate.js";
import { colorEnabled, JsonRenderer, TerminalRenderer, type Streams } from "./render.js";
import { collect, integer, nonNegative, oneOf, positive, unitInterval } from "./numbers.js";
import { collectPrompts, type PromptItem } from "./prompts.js";
import { TRUNCATE_MODES, type Truncate } from "../prompt-ids.js";
import { parseThresholdProfile, REFERENCE_PROFILE, BASE_SETTINGS } from "../sampler/thresholds.js";
import { SAMPLER_NAMES, type SamplerName, type ThresholdProfile } from "../types.js";
import type { ChatMessage } from "../model/tokenizer.js";
import { randomSeed } from "../sampler/rng.js";
import { resolveThresholds, type ResolvedThresholds } from "../calibrate/profile-store.js";
import { ENTROPIX_VERSION } from "../calibrate/version.js";
import { registerCalibrateCommand } from "./calibrate-command.js";
import { registerEvalCommand } from "./eval-command.js";
import { ReportRecorder } from "../report/recorder.js";
import { checkReportPath } from "../report/write.js";
import { comparison, formatComparison, type RunRecord } from "./compare.js";
import { registerPullCommand, resolveModelFlag } from "./pull-command.js";
import { registerChatCommand } from "./chat-command.js";
import { recordModelUse } from "../model/recent.js";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, "models", "tiny-stdlib-llama");
const SAMPLERS = SAMPLER_NAMES;
/** True while prompts are being read (stdin may never end): Ctrl-C then exits at once. */
let readingPrompts = false;
/** Ctrl-C's signal, for model downloads (hf: models) started by openModel. */
let hubSignal: AbortSignal | undefined;

interface ModelFlags {
  model: string;
  onnxFile?: string;
  dtype?: string;
  threads?: number;
  taps: boolean;
}

interface GenerateFlags extends ModelFlags {
  maxTokens: number;
  seed?: number;
  sampler: SamplerName;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  ignoreEos?: boolean;
  thresholds?: string;
  clarifyText?: string;
  clarifyEvery?: number;
  maxTemperature?: number;
  attentionLayers: "last" | "all";
  json?: boolean;
  color: boolean;
  stop?: string[];
  file?: string;
  jsonl?: string;
  strict?: boolean;
  verbose?: boolean;
  compare?: SamplerName;
  report?: string;
  truncate: Truncate;
  chat?: boolean;
  system?: string;
}

function addModelOptions(cmd: Command): Command {
  return cmd
    .option("-m, --model <dir>", "model folder (Hugging Face ONNX layout), or hf:OWNER/NAME[@REVISION] from the Hub", DEFAULT_MODEL_DIR)
    .option("--onnx-file <file>", "which .onnx file in the folder to run")
    .addOption(new Option("--dtype <dtype>", "pick the model_<dtype>.onnx variant").argParser(oneOf("--dtype", DTYPES)))
    .option("--threads <n>", "onnxruntime intra-op threads", integer("--threads", 1, 1024))
    .option("--no-taps", "run the unpatched model (no attention metrics)");
}

async function openModel(flags: ModelFlags, err: NodeJS.WriteStream): Promise<Model> {
  // hf:OWNER/NAME → its snapshot in the Hugging Face cache, downloaded first if needed (issue 15).
  const dir = await resolveModelFlag(flags, err, hubSignal);
  const progress = err.isTTY ? (m: string) => err.write(`${m}\n`) : undefined;
  // Only loads that take over a second say so (and only on a terminal).
  const slow = progress ? setTimeout(() => progress(`loading ${flags.model}…`), 1000) : undefined;
  try {
    const model = await loadModel(dir, { onnxFile: flags.onnxFile, dtype: flags.dtype, threads: flags.threads, taps: flags.taps, onProgress: progress });
    // For `entropix list` (local folders used before; bundled models and HF snapshots are listed anyway).
    if (!model.facts.dir.startsWith(path.join(PACKAGE_ROOT, "models") + path.sep)) await recordModelUse(model.facts);
    return model;
  } finally {
    clearTimeout(slow);
  }
}

function loadThresholds(spec: string | undefined): ThresholdProfile | undefined {
  if (spec === undefined || spec === "reference") return spec === "reference" ? REFERENCE_PROFILE : undefined;
  let text: string;
  try {
    text = readFileSync(spec, "utf8");
  } catch (e) {
    throw new UsageError(`${spec}: cannot read the thresholds file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseThresholdProfile(text, spec);
}

function generateOptions(flags: GenerateFlags, item: PromptItem, signal: AbortSignal): GenerateOptions {
  return {
    sampler: flags.sampler,
    maxTokens: item.maxTokens ?? flags.maxTokens,
    seed: item.seed ?? flags.seed,
    ignoreEos: flags.ignoreEos,
    thresholds: loadThresholds(flags.thresholds),
    settings: {
      ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
      ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
      ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
      ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
    },
    clarifyText: flags.clarifyText,
    clarifyEvery: flags.clarifyEvery,
    ...(flags.maxTemperature !== undefined ? { samplerParams: { maxTemperature: flags.maxTemperature } } : {}),
    attentionLayers: flags.attentionLayers,
    stop: flags.stop,
    truncate: flags.truncate,
    signal,
  };
}

async function runGenerate(promptArgs: string[], flags: GenerateFlags, streams: Streams, signal: AbortSignal): Promise<void> {
  if (flags.compare && flags.compare === flags.sampler) {
    throw new UsageError(`--compare ${flags.compare} compares against the sampler already chosen with --sampler; pick a different baseline`);
  }
  if (flags.system !== undefined && !flags.chat) throw new UsageError("--system needs --chat (it fills the chat template's system message)");
  const badLines: string[] = [];
  readingPrompts = true;
  const items = await collectPrompts({ args: promptArgs, file: flags.file, jsonl: flags.jsonl }, (m) => badLines.push(m)).finally(() => (readingPrompts = false));
  if (badLines.length > 0 && flags.strict) throw new UsageError(`${badLines[0]} (--strict stops at the first bad line)`);
  for (const m of badLines) streams.err.write(`note: ${m}\n`);
  if (items.length === 0) throw new UsageError("no prompts to run (the input had no usable lines)");
  // Validate the thresholds file before the (slower) model load.
  loadThresholds(flags.thresholds);
  if (flags.report !== undefined) checkReportPath(flags.report);
  const report = flags.report !== undefined ? new ReportRecorder(flags.report) : null;

  const model = await openModel(flags, process.stderr);
  try {
    // --thresholds FILE | reference; else the model's calibrated profile when it has one (issue 8).
    const thresholds = await resolveThresholds(flags.thresholds, model.facts, (m) => streams.err.write(`note: ${m}\n`));
    const color = colorEnabled(flags.color, process.stdout);
    // One seed for the whole invocation, chosen before --verbose prints it.
    flags.seed ??= randomSeed();
    if (flags.verbose) printVerbose(model, flags, streams, thresholds);
    const batch = items.length > 1 || flags.file !== undefined || flags.jsonl !== undefined;
    const samplers: SamplerName[] = flags.compare ? [flags.sampler, flags.compare] : [flags.sampler];
    report?.describe({
      created: new Date().toISOString(),
      version: ENTROPIX_VERSION,
      model: model.facts,
      thresholds,
      base: { temperature: flags.temperature ?? BASE_SETTINGS.temperature, topK: flags.topK ?? BASE_SETTINGS.topK, topP: flags.topP ?? BASE_SETTINGS.topP, minP: flags.minP ?? BASE_SETTINGS.minP },
      seed: flags.seed,
      samplers,
      options: { max_tokens: flags.maxTokens, ignore_eos: flags.ignoreEos === true, clarify_text: flags.clarifyText ?? null, clarify_every: flags.clarifyEvery ?? null, attention_layers: flags.attentionLayers, stop: flags.stop ? JSON.stringify(flags.stop) : null, chat: flags.chat === true },
    });
    for (let i = 0; i < items.length && !signal.aborted; i++) {
      const item = items[i];
      const opts = generateOptions(flags, item, signal);
      opts.thresholds = thresholds.profile;
      opts.thresholdsName = thresholds.label;
      opts.scale = thresholds.scale;
      // A calibrated heat is the default sampler's base temperature unless --temperature is given.
      if (thresholds.settings?.temperature !== undefined && flags.temperature === undefined) opts.heat = thresholds.settings.temperature;
      if (flags.chat) {
        const messages: ChatMessage[] = [];
        const system = item.system ?? flags.system;
        if (system !== undefined) messages.push({ role: "system", content: system });
        messages.push({ role: "user", content: item.prompt });
        opts.promptIds = model.tokenizer.applyChatTemplate(messages);
      }
      // --compare: every run shares the prompt, the seed (set above) and the session.
      const extra: Record<string, unknown> = batch ? { prompt_index: i, ...(item.id !== undefined ? { id: item.id } : {}) } : {};
      const runs: RunRecord[] = [];
      if (batch && !flags.json) streams.out.write(`${i > 0 ? "\n" : ""}[${i}${item.id !== undefined ? ` ${item.id}` : ""}] ${item.prompt}\n`);
      for (const sampler of samplers) {
        if (signal.aborted) break;
        const run: RunRecord = { sampler, ids: [], summary: null };
        const generated = generate(model, item.prompt, { ...opts, sampler });
        const events = report ? report.record(generated, { prompt: item.prompt, promptIndex: i, id: item.id, sampler }) : generated;
        if (flags.json) {
          const json = new JsonRenderer(streams, extra);
          for await (const e of events) {
            if (e.type === "notice") json.notice(e.message);
            else {
              json.line(e);
              if (e.type === "token") run.ids.push(e.id);
              else run.summary = e;
            }
          }
        } else {
          const term = new TerminalRenderer(streams, color);
          if (samplers.length > 1) streams.out.write(`${runs.length > 0 ? "\n" : ""}--- ${sampler} ---\n`);
          if (i === 0 && runs.length === 0) term.legend();
          for await (const e of events) {
            if (e.type === "token") {
              term.token(e);
              run.ids.push(e.id);
            } else if (e.type === "notice") term.notice(e.message);
            else run.summary = e;
          }
          if (run.summary) term.summary(run.summary, i === 0 && runs.length === 0 ? model.loadMs : null);
        }
        runs.push(run);
      }
      if (runs.length === 2 && runs[0].summary && runs[1].summary) {
        const cmp = comparison(runs[0], runs[1]);
        if (flags.json) new JsonRenderer(streams, extra).line(cmp);
        else streams.err.write(`${formatComparison(cmp)}\n`);
      }
    }
  } finally {
    // Also after Ctrl-C or a failure: the report shows the events so far.
    if (report) await report.write(streams.err);
    await model.close();
  }
}

/** What `--verbose` prints as the chain, llama.cpp style (the order filters apply, spec §2). */
const SAMPLER_CHAINS: Record<SamplerName, string> = {
  entropix:
    "metrics → ranks against the model's calibration → quadrant → confident: argmax | otherwise: bounded relative temperature → top-k → top-p → min-p → draw",
  "entropix-reference":
    "metrics → quadrant → confident: argmax | clarify: insert text or temperature | explore/resample/adaptive: temperature → top-k → top-p → min-p → draw (adaptive: best of 5 by log p)",
  greedy: "metrics → quadrant (logged) → argmax",
  temperature: "metrics → quadrant (logged) → temperature → top-k → top-p → min-p → draw",
};

function printVerbose(model: Model, flags: GenerateFlags, streams: Streams, resolved?: ResolvedThresholds): void {
  const f = model.facts;
  const t = resolved?.profile ?? loadThresholds(flags.thresholds) ?? REFERENCE_PROFILE;
  const lines = [
    `model: ${f.dir} (${f.architecture}, ${f.layers} layers, ${f.heads ?? "?"} heads, ${f.kvHeads} KV heads, head dim ${f.headDim}, vocab ${f.vocabSize}, context ${f.contextLength ?? "?"})`,
    `onnx: ${f.onnxFile} (${f.dtype}); attention: ${f.attentionSource}${f.attentionNote ? ` (${f.attentionNote})` : ""}`,
    `thresholds${resolved ? ` (${resolved.label}${resolved.path ? `: ${resolved.path}` : ""})` : ""} (bits): low_ent ${t.lowEntropy}, low_vent ${t.lowVarentropy}, med_ent ${t.mediumEntropy}, high_ent ${t.highEntropy}, high_vent ${t.highVarentropy}`,
    `base settings: temperature ${flags.temperature ?? BASE_SETTINGS.temperature}, top_k ${flags.topK ?? BASE_SETTINGS.topK}, top_p ${flags.topP ?? BASE_SETTINGS.topP}, min_p ${flags.minP ?? BASE_SETTINGS.minP}`,
    `sampler: ${flags.sampler}; seed: ${flags.seed}; load ${model.loadMs.toFixed(0)} ms`,
    `sampler chain: ${SAMPLER_CHAINS[flags.sampler]}`,
  ];
  streams.err.write(lines.map((l) => `${l}\n`).join(""));
}

async function runInspect(flags: ModelFlags & { json?: boolean }, streams: Streams): Promise<void> {
  const model = await openModel(flags, process.stderr);
  const f = model.facts;
  const facts = {
    architecture: f.architecture,
    layers: f.layers,
    heads: f.heads,
    kv_heads: f.kvHeads,
    head_dim: f.headDim,
    vocab_size: f.vocabSize,
    context_length: f.contextLength,
    onnx_file: f.onnxFile,
    dtype: f.dtype,
    attention_source: f.attentionSource,
    attention_note: f.attentionNote,
  };
  if (flags.json) streams.out.write(`${JSON.stringify(facts)}\n`);
  else {
    const width = Math.max(...Object.keys(facts).map((k) => k.length));
    for (const [k, v] of Object.entries(facts)) streams.out.write(`${k.padEnd(width)}  ${v ?? "unknown"}\n`);
  }
  await model.close();
}

export function buildProgram(streams: Streams, signal: AbortSignal): Command {
  const program = new Command("entropix")
    .description("Generate text from local ONNX language models with the Entropix adaptive sampler")
    .option("--debug", "print stack traces for errors")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.out.write(s),
      writeErr: (s) => streams.err.write(s),
      // Commander's parse errors become the same one-line shape as ours.
      outputError: (s, write) => write(`entropix: ${s.replace(/^error: /, "").trim()} (see entropix --help)\n`),
    });

  addModelOptions(
    program
      .command("generate")
      .description("generate text, choosing every token with the Entropix sampler")
      .argument("[prompt...]", "prompt text (piped stdin is appended to it)"),
  )
    .option("-n, --max-tokens <n>", "tokens to generate at most", integer("--max-tokens", 1), 128)
    .option("--seed <n>", "random seed (default: random, printed in the summary)", integer("--seed", 0, 2 ** 32 - 1))
    .addOption(new Option("--sampler <name>", SAMPLER_NAMES.join(" | ")).argParser(oneOf("--sampler", SAMPLERS)).default("entropix"))
    .option("--temperature <t>", "base temperature (Entropix T0)", nonNegative("--temperature"))
    .option("--top-k <k>", "base top-k (0 = off)", integer("--top-k", 0))
    .option("--top-p <p>", "base top-p in (0, 1]", unitInterval("--top-p", { openLow: true }))
    .option("--min-p <p>", "base min-p in [0, 1]", unitInterval("--min-p", { openLow: false }))
    .option("--max-temperature <t>", "default entropix sampler: no step samples hotter than this (default 1.5)", positive("--max-temperature"))
    .option("--ignore-eos", "keep generating past end-of-sequence tokens")
    .option("--thresholds <file>", 'JSON threshold profile overriding any constant, or "reference"')
    .option("--clarify-text <text>", 'text inserted in the "clarify" state', " ...")
    .option("--clarify-every <n>", "insert the clarifying text at most once per N tokens", integer("--clarify-every", 1), 64)
    .addOption(new Option("--attention-layers <which>", "last | all").argParser(oneOf("--attention-layers", ["last", "all"] as const)).default("last"))
    .addOption(new Option("--truncate <side>", "prompt longer than the context: none (error) | left (keep its end)").argParser(oneOf("--truncate", TRUNCATE_MODES)).default("none"))
    .option("--stop <text>", "stop when this text is generated (repeatable; not printed)", collect)
    .option("-f, --file <path>", 'read prompts from a file, one per line ("-" = stdin)')
    .option("--jsonl <path>", 'read prompts from JSON Lines ({"prompt", "id", "seed", "max_tokens", "system"})')
    .option("--strict", "stop at the first bad --jsonl line instead of skipping it")
    .option("--json", "write JSON Lines (one object per token, then a summary) to stdout")
    .option("--no-color", "never colour the output")
    .addOption(new Option("--compare <sampler>", "also run this baseline (greedy | temperature | entropix) on the same prompt, seed and session").argParser(oneOf("--compare", SAMPLERS)))
    .option("--chat", "apply the tokenizer's chat template (with a generation prompt) to each prompt")
    .option("--system <text>", "system message for --chat")
    .option("-v, --verbose", "print model facts, thresholds, base settings and seed before generating")
    .option("--report <file>", "also write a self-contained HTML report of the run(s) (written on Ctrl-C too)")
    .action((prompt: string[], flags: GenerateFlags) => runGenerate(prompt, flags, streams, signal));

  addModelOptions(program.command("inspect").description("describe a model folder and its attention source"))
    .option("--json", "print one JSON object")
    .action((flags: ModelFlags & { json?: boolean }) => runInspect(flags, streams));

  registerCalibrateCommand(program, { streams, signal, addModelOptions, openModel });
  registerEvalCommand(program, { streams, signal, addModelOptions, openModel });
  hubSignal = signal;
  registerPullCommand(program, { streams, signal });
  registerChatCommand(program, { streams, signal, addModelOptions, openModel });

  return program;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof ModelError || err instanceof RuntimeFailure) return 1;
  return 1;
}

export async function main(argv: string[]): Promise<void> {
  const streams: Streams = { out: process.stdout, err: process.stderr };
  const debug = argv.includes("--debug");
  // `entropix ... | head` closes stdout early: end quietly, as other Unix tools do.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  const abort = new AbortController();
  process.on("SIGINT", () => {
    if (abort.signal.aborted || readingPrompts) process.exit(130);
    abort.abort();
  });
  const program = buildProgram(streams, abort.signal);
  try {
    await program.parseAsync(argv);
    if (abort.signal.aborted) process.exitCode = 130;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message; help and version are not errors.
      process.exitCode = err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
      return;
    }
    const known = err instanceof UsageError || err instanceof ModelError || err instanceof RuntimeFailure;
    streams.err.write(`entropix: ${known ? (err as Error).message : String((err as Error)?.message ?? err).split("\n")[0]}\n`);
    if (debug && err instanceof Error && err.stack) streams.err.write(`${err.stack}\n`);
    else if (!known) streams.err.write("(run with --debug for details)\n");
    process.exitCode = exitCodeFor(err);
  }
}
