// Which files of a Hub repo a run needs: the config and tokenizer files, and one ONNX decoder (the
// one --dtype names) with its external data. Pure: works on the repo's file list.
import { ModelError, UsageError } from "../errors.js";
import { DTYPES, dtypeSuffix } from "../model/folder.js";

/** Small files read besides the decoder; only those the repo has are fetched. */
export const SIDE_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
];
/** Files a snapshot must have for entropix to run it. */
export const REQUIRED_FILES = ["config.json", "tokenizer.json"];

/** Folders where optimum / onnx-community / transformers.js exports keep their decoders. */
const ONNX_DIRS = ["onnx/", ""];
/** Decoder names other than `model{_dtype}.onnx`, in the order the folder reader prefers them. */
const OTHER_DECODERS = ["decoder_with_past_model.onnx", "decoder_model_merged.onnx"];

export interface FileChoice {
  /** The decoder's path in the repo. */
  onnx: string;
  /** The decoder's external data files (same stem), then the side files the repo has. */
  files: string[];
}

/** The dtype each `model{_suffix}.onnx` in the repo stands for, e.g. { fp32: "onnx/model.onnx" }. */
export function availableDtypes(paths: readonly string[]): Map<string, string> {
  const set = new Set(paths);
  const out = new Map<string, string>();
  for (const dtype of DTYPES) {
    for (const dir of ONNX_DIRS) {
      const p = `${dir}model${dtypeSuffix(dtype)}.onnx`;
      if (set.has(p) && !out.has(dtype)) out.set(dtype, p);
    }
  }
  return out;
}

/** External data files of a decoder, by the names exporters give them (model.onnx_data, _1, …; model.onnx.data). */
export function externalDataFor(onnx: string, paths: readonly string[]): string[] {
  return paths.filter((p) => p.startsWith(`${onnx}_data`) || p.startsWith(`${onnx}.data`)).sort();
}

/**
 * The files to fetch for `dtype` (default: fp32 `model.onnx`, else the other decoder names).
 * Throws ModelError when the repo has no ONNX decoder, UsageError when it lacks the dtype asked for.
 */
export function chooseFiles(repo: string, paths: readonly string[], dtype?: string): FileChoice {
  const set = new Set(paths);
  const dtypes = availableDtypes(paths);
  const anyOnnx = paths.some((p) => p.endsWith(".onnx"));
  let onnx: string | undefined;
  if (dtype !== undefined) {
    onnx = dtypes.get(dtype);
    if (onnx === undefined) {
      if (dtypes.size === 0 && !anyOnnx) throw noDecoder(repo);
      const has = [...dtypes.keys()];
      throw new UsageError(
        `${repo} has no ${dtype} decoder (model${dtypeSuffix(dtype)}.onnx); ${has.length > 0 ? `it has --dtype ${has.join(", ")}` : "it has no model*.onnx files"}`,
      );
    }
  } else {
    onnx = dtypes.get("fp32");
    for (const name of OTHER_DECODERS) for (const dir of ONNX_DIRS) if (onnx === undefined && set.has(`${dir}${name}`)) onnx = `${dir}${name}`;
    if (onnx === undefined) {
      if (dtypes.size > 0) {
        throw new UsageError(`${repo} has no fp32 model.onnx; pick one of its variants with --dtype ${[...dtypes.keys()].join(", ")}`);
      }
      throw noDecoder(repo);
    }
  }
  const missing = REQUIRED_FILES.filter((f) => !set.has(f));
  if (missing.length > 0) throw new ModelError(`${repo} has no ${missing.join(" or ")} at its top level, so it is not a model in the Hugging Face ONNX layout`);
  return { onnx, files: [...externalDataFor(onnx, paths), ...SIDE_FILES.filter((f) => set.has(f))] };
}

function noDecoder(repo: string): ModelError {
  return new ModelError(
    `${repo} has no ONNX decoder (no onnx/model*.onnx); entropix runs ONNX exports such as the onnx-community/* repos, or export this one with optimum first`,
  );
}
