// `entropix calibrate`: per-model thresholds from the model's own statistics on a sample of text
// (entropix-method.md §3.3). Registered on the program by main.ts; the work is in src/calibrate/.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { Model } from "../model/model.js";
import { collectCalibrationSamples, DEFAULT_CALIBRATION_TOKENS } from "../calibrate/calibrate.js";
import { CALIBRATION_PERCENTILES, percentileRank, sortedCopy, summarize, thresholdsFromSamples } from "../calibrate/statistics.js";
import { modelIdentity, saveProfile } from "../calibrate/profile-store.js";
import { ENTROPIX_VERSION } from "../calibrate/version.js";
import { formatThresholdProfile, REFERENCE_PROFILE, THRESHOLD_KEYS } from "../sampler/thresholds.js";
import { integer } from "./numbers.js";
import { chooseHeat, heatPrompts, type HeatChoice } from "../calibrate/heat.js";
import { scaleFromMeta } from "../sampler/scale.js";
import type { Streams } from "./render.js";

/** dist/src/cli → the package root. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEFAULT_CORPUS = path.join(PACKAGE_ROOT, "data", "calibration.txt");
/** Fewer recorded steps than this give percentiles too coarse to use. */
export const MIN_CALIBRATION_TOKENS = 64;

interface CalibrateFlags {
  model: string;
  onnxFile?: string;
  dtype?: string;
  threads?: number;
  taps: boolean;
  corpus?: string;
  tokens: number;
  output?: string;
  force?: boolean;
  json?: boolean;
  heat: boolean;
  /** Set from commander: --model was not given (the bundled model, whose profile git tracks). */
  defaultModel?: boolean;
}

export interface CalibrateDeps {
  streams: Streams;
  signal: AbortSignal;
  /** main.ts's shared model flags (--model, --onnx-file, --dtype, --threads, --no-taps). */
  addModelOptions: (cmd: Command) => Command;
  openModel: (flags: CalibrateFlags, err: NodeJS.WriteStream) => Promise<Model>;
}

export function registerCalibrateCommand(program: Command, deps: CalibrateDeps): Command {
  return deps
    .addModelOptions(program.command("calibrate").description("calibrate the model's thresholds on sample text (written beside the model, or to the cache)"))
    .option("--corpus <file>", "sample text to run the model over (default: the bundled public-domain text)")
    .option("--tokens <n>", "steps to measure", integer("--tokens", MIN_CALIBRATION_TOKENS), DEFAULT_CALIBRATION_TOKENS)
    .option("-o, --output <file>", "write the profile here instead (use it with generate --thresholds FILE)")
    .option("--force", "without --model: overwrite the bundled model's shipped profile instead of writing to the cache")
    .option("--json", "print the result as one JSON object")
    .option("--no-heat", "skip choosing the default sampler's base temperature from generations")
    .action((flags: CalibrateFlags, cmd: Command) => runCalibrate({ ...flags, defaultModel: cmd.getOptionValueSource("model") === "default" }, deps));
}

function readCorpus(file: string): string {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`${file}: is a folder; --corpus takes a text file`);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file}: cannot read the corpus (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (text.trim() === "") throw new UsageError(`${file}: the corpus is empty`);
  return text;
}

function checkOutput(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${file}: folder ${dir} does not exist`);
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`${file}: is a folder; --output takes a file name`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}

async function runCalibrate(flags: CalibrateFlags, deps: CalibrateDeps): Promise<void> {
  const { streams, signal } = deps;
  const corpusPath = path.resolve(flags.corpus ?? DEFAULT_CORPUS);
  const text = readCorpus(corpusPath);
  if (flags.output !== undefined) checkOutput(flags.output);

  const model = await deps.openModel(flags, process.stderr);
  try {
    const ids = model.tokenizer.encode(text, false);
    const tty = process.stderr.isTTY === true;
    const started = performance.now();
    const samples = await collectCalibrationSamples(model, ids, {
      tokens: flags.tokens,
      signal,
      onProgress: tty ? (done, target) => process.stderr.write(`\rcalibrating: ${done}/${target} tokens`) : undefined,
    });
    if (tty && samples.count >= 256) process.stderr.write("\r\x1b[K"); // clear the progress line
    if (samples.interrupted) {
      streams.err.write(`calibration interrupted after ${samples.count} tokens; nothing written\n`);
      return;
    }
    if (samples.count < MIN_CALIBRATION_TOKENS) {
      throw new UsageError(`${corpusPath}: gives only ${samples.count} tokens to measure; calibration needs at least ${MIN_CALIBRATION_TOKENS} (use a longer --corpus)`);
    }
    if (samples.count < flags.tokens) streams.err.write(`note: the corpus gave ${samples.count} of the ${flags.tokens} tokens asked for\n`);

    const { profile, adjusted } = thresholdsFromSamples(samples.entropy, samples.varentropy);
    const hSorted = sortedCopy(samples.entropy);
    const vSorted = sortedCopy(samples.varentropy);
    const rank = (s: Float64Array, x: number) => Math.round(percentileRank(s, x) * 10) / 10;
    const stat = (a: Float64Array | null) => (a ? summarize(sortedCopy(a)) : null);
    const meta = {
      tool: "entropix calibrate",
      entropix_version: ENTROPIX_VERSION,
      date: new Date().toISOString(),
      model: await modelIdentity(model.facts),
      corpus: {
        name: path.basename(corpusPath),
        path: corpusPath,
        bytes: Buffer.byteLength(text),
        sha256: createHash("sha256").update(text).digest("hex"),
      },
      tokens: samples.count,
      tokens_requested: flags.tokens,
      corpus_tokens: samples.corpusTokens,
      windows: samples.windows,
      window_tokens: samples.windowTokens,
      warmup_per_window: samples.warmup,
      attention_layers: "last",
      mapping: "each threshold is a fixed percentile of its metric over teacher-forced steps of the corpus (README: Calibration)",
      percentiles: { ...CALIBRATION_PERCENTILES },
      adjusted_for_monotonicity: adjusted,
      // Where the §2 reference cut-offs fall on this model: the percentile rank of each in its metric.
      reference_percentile_ranks: {
        low_ent: rank(hSorted, REFERENCE_PROFILE.lowEntropy),
        low_vent: rank(vSorted, REFERENCE_PROFILE.lowVarentropy),
        med_ent: rank(hSorted, REFERENCE_PROFILE.mediumEntropy),
        high_ent: rank(hSorted, REFERENCE_PROFILE.highEntropy),
        high_vent: rank(vSorted, REFERENCE_PROFILE.highVarentropy),
      },
      statistics: {
        entropy: summarize(hSorted),
        varentropy: summarize(vSorted),
        attn_entropy: stat(samples.attnEntropy),
        attn_varentropy: stat(samples.attnVarentropy),
        agreement: stat(samples.agreement),
        interaction_strength: stat(samples.interaction),
      },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    // The default sampler's operating point, measured on generations (see src/calibrate/heat.ts).
    let heat: HeatChoice | null = null;
    if (flags.heat) {
      const scale = scaleFromMeta(meta as unknown as Record<string, unknown>);
      heat = await chooseHeat(model, heatPrompts(ids, model.facts.bosId), {
        thresholds: profile,
        scale,
        signal,
        onProgress: tty ? (done, total) => process.stderr.write(`\rchoosing the heat: ${done}/${total} generations`) : undefined,
      });
      if (tty) process.stderr.write("\r\x1b[K");
      if (heat === null) {
        streams.err.write("calibration interrupted while choosing the heat; nothing written\n");
        return;
      }
    }
    const fullMeta = heat ? { ...meta, heat } : meta;
    // The bundled model's profile is tracked by git and shipped: keep it unless asked (--force).
    const cacheOnly = flags.defaultModel === true && flags.force !== true;
    const saved = await saveProfile(formatThresholdProfile(profile, heat ? { temperature: heat.heat } : {}, fullMeta), model.facts.dir, { output: flags.output, cacheOnly });
    const thresholds = Object.fromEntries(Object.entries(THRESHOLD_KEYS).map(([k, f]) => [k, profile[f]]));
    if (flags.json) {
      streams.out.write(`${JSON.stringify({ type: "calibration", path: saved.path, where: saved.where, thresholds, ...(heat ? { heat: heat.heat } : {}), meta: fullMeta })}\n`);
    } else {
      const where =
        saved.where === "model"
          ? "beside the model"
          : saved.where === "cache"
            ? cacheOnly
              ? "in the cache; the bundled model's shipped profile is kept (--force overwrites it)"
              : "in the cache; the model folder is read-only"
            : "use it with --thresholds";
      const values = Object.entries(thresholds)
        .map(([k, v]) => `${k} ${v} (p${CALIBRATION_PERCENTILES[k as keyof typeof CALIBRATION_PERCENTILES]})`)
        .join(", ");
      const heatText = heat ? `; heat ${heat.heat} (${heat.rule.split(";")[0]})` : "";
      streams.out.write(`calibrated ${meta.model.name} on ${samples.count} tokens of ${meta.corpus.name}: ${values}${heatText} → ${saved.path} (${where})\n`);
    }
  } finally {
    await model.close();
  }
}
