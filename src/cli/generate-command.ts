// `entropix generate`: flags → prompts → the library's generate() → terminal, JSON Lines, --compare
// and --report. Registered on the program by main.ts.
import path from "node:path";
import { Command, Option } from "commander";
import { UsageError } from "../errors.js";
import { generate, type GenerateOptions, DEFAULT_MAX_TOKENS, DEFAULT_CLARIFY_EVERY, DEFAULT_CLARIFY_TEXT } from "../generate.js";
import { colorEnabled, JsonRenderer, TerminalRenderer, type Streams } from "./render.js";
import { collect, integer, nonNegative, oneOf, positive, unitInterval } from "./numbers.js";
import { collectPrompts, STDIN_RULES, type PromptItem } from "./prompts.js";
import { TRUNCATE_MODES, type Truncate } from "../prompt-ids.js";
import { REFERENCE_PROFILE, BASE_SETTINGS } from "../sampler/thresholds.js";
import { SAMPLER_NAMES, type SamplerName } from "../types.js";
import type { ChatMessage } from "../model/tokenizer.js";
import { randomSeed } from "../sampler/rng.js";
import { thresholdsFromFile, type ResolvedThresholds } from "../calibrate/profile-store.js";
import { ENTROPIX_VERSION } from "../calibrate/version.js";
import { ReportRecorder } from "../report/recorder.js";
import { checkReportPath } from "../report/write.js";
import { comparison, formatComparison, printComparedRuns, type RunRecord } from "./compare.js";
import { addModelOptions, openModel, type ModelFlags } from "./model-options.js";
import { unescapeC } from "./escapes.js";
import { MAX_LOGPROBS } from "../token-details.js";
import { DOCS_HELP } from "./help-text.js";
import { addBranchOptions, branchFromFlags, checkBranchFlags, type BranchFlags } from "./branch-options.js";
import { printVerbose } from "./verbose.js";

const SAMPLERS = SAMPLER_NAMES;

interface GenerateFlags extends ModelFlags, BranchFlags {
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
  clarify?: boolean;
  attentionLayers: "last" | "all";
  json?: boolean;
  color: boolean;
  stop?: string[];
  stopRaw?: string[];
  prompt?: string;
  stdin: boolean;
  logprobs?: number;
  file?: string;
  jsonl?: string;
  strict?: boolean;
  verbose?: boolean;
  compare?: SamplerName;
  report?: string;
  reportPaths?: boolean;
  truncate: Truncate;
  chat?: boolean;
  system?: string;
}

export interface GenerateDeps {
  streams: Streams;
  signal: AbortSignal;
  /** Set while prompts are read (stdin may never end): Ctrl-C then exits at once. */
  setReadingPrompts: (on: boolean) => void;
}

/** For the repeatable --stop: C escapes (\n, \t, \\, \") become the characters they name. */
const collectStop = (raw: string, previous: string[] = []): string[] => [...previous, unescapeC(raw, "--stop")];

export function registerGenerateCommand(program: Command, deps: GenerateDeps): Command {
  const b = BASE_SETTINGS;
  return addBranchOptions(addModelOptions(
    program
      .command("generate")
      .description("generate text, choosing every token with the Entropix sampler")
      .argument("[prompt...]", 'prompt text ("-" also reads stdin; see the stdin rule below)'),
  )
    .option("-p, --prompt <text>", "prompt text (instead of the positional argument)")
    .option("-n, --max-tokens <n>", "sampled tokens to generate at most (clarifying inserts are not counted)", integer("--max-tokens", 1), DEFAULT_MAX_TOKENS)
    .option("--seed <n>", "random seed (default: random, printed in the summary)", integer("--seed", 0, 2 ** 32 - 1))
    .addOption(new Option("--sampler <name>", SAMPLER_NAMES.join(" | ")).argParser(oneOf("--sampler", SAMPLERS)).default("entropix"))
    .option("--temperature <t>", `base temperature (Entropix T0); 0 = greedy (default: ${b.temperature})`, nonNegative("--temperature"))
    .option("--top-k <k>", `base top-k, 0 = off (default: ${b.topK})`, integer("--top-k", 0))
    .option("--top-p <p>", `base top-p in (0, 1] (default: ${b.topP})`, unitInterval("--top-p", { openLow: true }))
    .option("--min-p <p>", `base min-p in [0, 1] (default: ${b.minP})`, unitInterval("--min-p", { openLow: false }))
    .option("--ignore-eos", "keep generating past end-of-sequence tokens")
    .option("--thresholds <file>", 'JSON threshold profile overriding any constant, or "reference" (default: the model\'s calibrated profile, else reference)')
    .option("--max-temperature <t>", "entropix: no step samples hotter than this (default 1.5)", positive("--max-temperature"))
    .option("--clarify", "entropix: insert the clarifying text in the clarify state, as entropix-reference does (off by default: see docs/method.md)")
    .option("--clarify-text <text>", 'text inserted in the "clarify" state ("" = never insert)', DEFAULT_CLARIFY_TEXT)
    .option("--clarify-every <n>", "insert the clarifying text at most once per N steps", integer("--clarify-every", 1), DEFAULT_CLARIFY_EVERY)
    .addOption(new Option("--attention-layers <which>", "last | all").argParser(oneOf("--attention-layers", ["last", "all"] as const)).default("last"))
    .addOption(new Option("--truncate <side>", "prompt longer than the context: none (error) | left (keep its end)").argParser(oneOf("--truncate", TRUNCATE_MODES)).default("none"))
    .option("--stop <text>", 'stop when this text is generated (repeatable; not printed; understands \\n \\t \\\\ \\")', collectStop)
    .option("--stop-raw <text>", "like --stop, but the text is taken literally (no escapes)", collect)
    .option("--logprobs <n>", `add each token's log probability and the top N alternatives (0–${MAX_LOGPROBS}) to --json lines`, integer("--logprobs", 0, MAX_LOGPROBS))
    .option("-f, --file <path>", 'read prompts from a file, one per line ("-" = stdin)')
    .option("--jsonl <path>", 'read prompts from JSON Lines ({"prompt", "id", "seed", "max_tokens", "system", "stop"})')
    .option("--strict", "stop at the first bad --jsonl line instead of skipping it")
    .option("--no-stdin", "never read stdin")
    .option("--json", "write JSON Lines (one object per token, then a summary) to stdout")
    .option("--no-color", "never colour the output")
    .addOption(new Option("--compare <sampler>", `also run this baseline (${SAMPLER_NAMES.join(" | ")}) on the same prompt, seed and session`).argParser(oneOf("--compare", SAMPLERS)))
    .option("--chat", "apply the tokenizer's chat template (with a generation prompt) to each prompt")
    .option("--system <text>", "system message for --chat")
    .option("-v, --verbose", "print model facts, thresholds, base settings and seed before generating")
    .option("--report <file>", "also write a self-contained HTML report of the run(s) (written on Ctrl-C too)")
    .option("--report-paths", "show local absolute paths (model folder, profile file) in the report"))
    .addHelpText("after", `\n${STDIN_RULES}\n\n${DOCS_HELP}\n`)
    .action((prompt: string[], flags: GenerateFlags) => runGenerate(prompt, flags, deps));
}

/** --thresholds: a file (a calibrated profile keeps its scale and heat) or "reference"; undefined: none given. */
function loadThresholds(spec: string | undefined): ResolvedThresholds | undefined {
  if (spec === undefined) return undefined;
  return spec === "reference" ? { profile: REFERENCE_PROFILE, label: "reference" } : thresholdsFromFile(spec);
}

function generateOptions(flags: GenerateFlags, item: PromptItem, thresholds: ResolvedThresholds, signal: AbortSignal): GenerateOptions {
  const stop = [...(flags.stop ?? []), ...(flags.stopRaw ?? []), ...(item.stop ?? [])];
  return {
    sampler: flags.sampler,
    maxTokens: item.maxTokens ?? flags.maxTokens,
    seed: item.seed ?? flags.seed,
    ignoreEos: flags.ignoreEos,
    thresholds: thresholds.profile,
    thresholdsName: thresholds.label,
    settings: {
      ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
      ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
      ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
      ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
    },
    clarifyText: flags.clarifyText,
    clarifyEvery: flags.clarifyEvery,
    // The default sampler: ranks against the profile's calibration, its measured heat (unless
    // --temperature is given), and the knobs the flags set.
    scale: thresholds.scale ?? null,
    ...(thresholds.settings?.temperature !== undefined && flags.temperature === undefined ? { heat: thresholds.settings.temperature } : {}),
    samplerParams: {
      ...(flags.maxTemperature !== undefined ? { maxTemperature: flags.maxTemperature } : {}),
      ...(flags.clarify ? { insert: true } : {}),
    },
    attentionLayers: flags.attentionLayers,
    stop: stop.length > 0 ? stop : undefined,
    truncate: flags.truncate,
    // --compare shows the probabilities of the tokens where the runs part ways.
    logprobs: flags.logprobs ?? (flags.compare ? 0 : undefined),
    branch: branchFromFlags(flags, thresholds),
    signal,
  };
}

/** Flag checks that need no model, so a bad combination fails before the (slow) load. */
function checkFlags(promptArgs: string[], flags: GenerateFlags): string[] {
  if (flags.compare && flags.compare === flags.sampler) {
    throw new UsageError(`--compare ${flags.compare} compares against the sampler already chosen with --sampler; pick a different baseline`);
  }
  if (flags.system !== undefined && !flags.chat) throw new UsageError("--system needs --chat (it fills the chat template's system message)");
  if (flags.prompt !== undefined) {
    if (promptArgs.length > 0) throw new UsageError("give the prompt either with -p/--prompt or as an argument, not both");
    promptArgs = [flags.prompt];
  }
  // --temperature 0 means greedy, as in llama.cpp, ollama and OpenAI-style APIs.
  if (flags.temperature === 0) {
    flags.sampler = "greedy";
    flags.temperature = undefined;
  }
  checkBranchFlags(flags, flags.sampler, flags.topK ?? BASE_SETTINGS.topK);
  for (const s of [...(flags.stop ?? []), ...(flags.stopRaw ?? [])]) if (s === "") throw new UsageError("--stop needs some text; an empty stop string would stop at once");
  loadThresholds(flags.thresholds);
  if (flags.report !== undefined) checkReportPath(flags.report);
  return promptArgs;
}

async function runGenerate(promptArgs: string[], flags: GenerateFlags, deps: GenerateDeps): Promise<void> {
  const { streams, signal } = deps;
  promptArgs = checkFlags(promptArgs, flags);
  const badLines: string[] = [];
  deps.setReadingPrompts(true);
  const items = await collectPrompts({ args: promptArgs, file: flags.file, jsonl: flags.jsonl, stdin: flags.stdin }, (m) => badLines.push(m)).finally(() =>
    deps.setReadingPrompts(false),
  );
  if (badLines.length > 0 && flags.strict) throw new UsageError(`${badLines[0]} (--strict stops at the first bad line)`);
  for (const m of badLines) streams.err.write(`note: ${m}\n`);
  if (items.length === 0) throw new UsageError("no prompts to run (the input had no usable lines)");
  const report = flags.report !== undefined ? new ReportRecorder(flags.report) : null;

  const model = await openModel(flags, process.stderr, { calibrated: flags.thresholds === undefined });
  try {
    if (flags.chat && !model.tokenizer.hasChatTemplate) {
      throw new UsageError("--chat: this model's tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja); drop --chat");
    }
    // --thresholds FILE | reference; else the model's calibrated profile when it has one (issue 8).
    for (const n of model.notes) streams.err.write(`note: ${n.replace("calibrate the model again", "run `entropix calibrate` again")}\n`);
    const thresholds: ResolvedThresholds =
      loadThresholds(flags.thresholds) ?? model.thresholds;
    const color = colorEnabled(flags.color, process.stdout);
    // One seed for the whole invocation, chosen before --verbose prints it.
    flags.seed ??= randomSeed();
    if (flags.verbose) printVerbose(model, flags, streams, thresholds);
    const batch = items.length > 1 || flags.file !== undefined || flags.jsonl !== undefined;
    const samplers: SamplerName[] = flags.compare ? [flags.sampler, flags.compare] : [flags.sampler];
    report?.describe({
      created: new Date().toISOString(),
      version: ENTROPIX_VERSION,
      // Reports get shared: local absolute paths only when asked for.
      model: flags.reportPaths ? model.facts : { ...model.facts, dir: path.basename(model.facts.dir) },
      thresholds: flags.reportPaths || !thresholds.path ? thresholds : { ...thresholds, path: path.basename(thresholds.path) },
      base: { temperature: flags.temperature ?? BASE_SETTINGS.temperature, topK: flags.topK ?? BASE_SETTINGS.topK, topP: flags.topP ?? BASE_SETTINGS.topP, minP: flags.minP ?? BASE_SETTINGS.minP },
      seed: flags.seed,
      samplers,
      options: {
        max_tokens: flags.maxTokens,
        ignore_eos: flags.ignoreEos === true,
        clarify_text: flags.clarifyText ?? null,
        clarify_every: flags.clarifyEvery ?? null,
        attention_layers: flags.attentionLayers,
        stop: flags.stop || flags.stopRaw ? JSON.stringify([...(flags.stop ?? []), ...(flags.stopRaw ?? [])]) : null,
        chat: flags.chat === true,
      },
    });
    // A single prompt typed on a terminal is echoed (dimmed) before its continuation, as --file does.
    const echo = !flags.json && !batch && process.stdout.isTTY === true;
    for (let i = 0; i < items.length && !signal.aborted; i++) {
      const item = items[i];
      const opts = generateOptions(flags, item, thresholds, signal);
      if (flags.chat) {
        const messages: ChatMessage[] = [];
        const system = item.system ?? flags.system;
        if (system !== undefined) messages.push({ role: "system", content: system });
        messages.push({ role: "user", content: item.prompt });
        opts.promptIds = model.tokenizer.applyChatTemplate(messages);
      }
      // --compare: every run shares the prompt, the seed (set above) and the session.
      // "prompt_id", not "id": token lines already carry the token's "id".
      const extra: Record<string, unknown> = batch ? { prompt_index: i, ...(item.id !== undefined ? { prompt_id: item.id } : {}) } : {};
      const runs: RunRecord[] = [];
      const term = new TerminalRenderer(streams, color);
      if (batch && !flags.json) streams.out.write(`${i > 0 ? "\n" : ""}[${i}${item.id !== undefined ? ` ${item.id}` : ""}] ${item.prompt}\n`);
      if (!flags.json && i === 0) term.legend();
      if (echo && samplers.length === 1) term.prompt(item.prompt);
      for (const sampler of samplers) {
        if (signal.aborted) break;
        const run: RunRecord = { sampler, events: [], summary: null };
        // --compare's baseline runs plain: it is what branching is compared against.
        const generated = generate(model, item.prompt, { ...opts, sampler, ...(sampler !== flags.sampler ? { branch: null } : {}) });
        const events = report ? report.record(generated, { prompt: item.prompt, promptIndex: i, id: item.id, sampler }) : generated;
        const json = flags.json ? new JsonRenderer(streams, extra) : null;
        // --compare on a terminal prints both runs at the end: the shared prefix once, then each continuation.
        const stream = !json && samplers.length === 1;
        for await (const e of events) {
          if (e.type === "notice") (json ?? term).notice(e.message);
          else if (e.type === "token") {
            run.events.push(e);
            // logprobs computed only for --compare's own use stay out of the trace.
            if (json) json.line(flags.logprobs === undefined ? withoutLogprobs(e) : e);
            else if (stream) term.token(e);
          } else {
            run.summary = e;
            json?.line(e);
          }
        }
        if (stream && run.summary) term.summary(run.summary, i === 0 ? model.loadMs : null);
        runs.push(run);
      }
      const compared = runs.length === 2 && runs[0].summary !== null && runs[1].summary !== null;
      if (!flags.json && samplers.length > 1 && !compared) {
        // Ctrl-C before both runs ended: show what each produced, as a single run would.
        for (const r of runs) {
          streams.out.write(`--- ${r.sampler} ---\n${r.events.map((e) => term.paint(e)).join("")}\n`);
          if (r.summary) streams.err.write(`${r.sampler}: ${term.summaryLine(r.summary, null)}\n`);
        }
      }
      if (compared) {
        const cmp = comparison(runs[0], runs[1]);
        if (flags.json) new JsonRenderer(streams, extra).line(cmp);
        else {
          printComparedRuns(term, streams.out, runs, cmp, echo ? item.prompt : null);
          for (const r of runs) streams.err.write(`${r.sampler}: ${term.summaryLine(r.summary!, null)}\n`);
          streams.err.write(`${formatComparison(cmp)}\n`);
        }
      }
    }
  } finally {
    // Also after Ctrl-C or a failure: the report shows the events so far.
    if (report) await report.write(streams.err);
    await model.close();
  }
}

function withoutLogprobs<T extends { logprob?: number; top_logprobs?: unknown }>(e: T): Omit<T, "logprob" | "top_logprobs"> {
  const { logprob: _l, top_logprobs: _t, ...rest } = e;
  return rest;
}
