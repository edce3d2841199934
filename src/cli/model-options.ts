// The model flags every command shares (--model, --onnx-file, --dtype, --threads, --no-taps) and
// opening the model with them: progress on a terminal, one line when a patched copy is written.
import { Command, Option } from "commander";
import { loadModel, type Model } from "../model/model.js";
import { DTYPES } from "../model/folder.js";
import path from "node:path";
import { BUNDLED_MODELS_DIR, bundledModels, defaultModelPath, resolveModelArg } from "../model/bundled.js";
import { recordModelUse } from "../model/recent.js";
import { isHubRef } from "../hub/ref.js";
import { resolveModelFlag } from "./pull-command.js";
import { integer, oneOf } from "./numbers.js";

export const DEFAULT_MODEL_DIR = defaultModelPath();

export interface ModelFlags {
  model: string;
  onnxFile?: string;
  dtype?: string;
  threads?: number;
  taps: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option(
      "-m, --model <dir>",
      `model folder (Hugging Face ONNX layout), bundled model name (${bundledModels().map((m) => m.name).join(", ")}), or hf:OWNER/NAME[@REVISION] from the Hub`,
      DEFAULT_MODEL_DIR,
    )
    .option("--onnx-file <file>", "which .onnx file in the folder to run")
    .addOption(new Option("--dtype <dtype>", "pick the model_<dtype>.onnx variant").argParser(oneOf("--dtype", DTYPES)))
    .option("--threads <n>", "onnxruntime intra-op threads", integer("--threads", 1, 1024))
    .option("--no-taps", "run the unpatched model (no attention metrics)");
}

/**
 * Loads the model for a command. `calibrated`: look for the model's calibrated profile (generate
 * without --thresholds). Writing the patched copy (as large as the model) is said in one line, on
 * every stream: the user should know where that much disk went.
 */
export async function openModel(flags: ModelFlags, err: NodeJS.WriteStream, opts: { calibrated?: boolean } = {}): Promise<Model> {
  // Resolved here, not while parsing flags, so every other flag is checked before this can fail.
  // hf:OWNER/NAME → its snapshot in the Hugging Face cache, downloaded first if needed (issue 15).
  const dir = isHubRef(flags.model) ? await resolveModelFlag(flags, err) : resolveModelArg(flags.model);
  const progress = err.isTTY ? (m: string) => err.write(`${m}\n`) : undefined;
  // Only loads that take over a second say so (and only on a terminal).
  const slow = progress ? setTimeout(() => progress(`loading ${flags.model}…`), 1000) : undefined;
  let model: Model;
  try {
    model = await loadModel(dir, {
      onnxFile: flags.onnxFile,
      dtype: flags.dtype,
      threads: flags.threads,
      taps: flags.taps,
      onProgress: progress,
      calibrated: opts.calibrated ?? false,
    });
  } finally {
    clearTimeout(slow);
  }
  if (model.tapped?.written) err.write(`${tappedLine(model)}\n`);
  // For `entropix list`: local folders used before (bundled models and HF snapshots are listed anyway).
  if (!model.facts.dir.startsWith(BUNDLED_MODELS_DIR + path.sep)) await recordModelUse(model.facts);
  return model;
}

/** "note: patched copy with attention outputs: PATH (N MB)" (a note: informative, not an error). */
export function tappedLine(model: Model): string {
  const t = model.tapped!;
  return `note: patched copy with attention outputs: ${t.path} (${(t.bytes / 1e6).toFixed(1)} MB)`;
}
