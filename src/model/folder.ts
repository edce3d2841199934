// Reads a model folder in the Hugging Face ONNX layout (or onnxruntime-genai's) into plain facts:
// which .onnx file to run and what config.json / genai_config.json say about the architecture.
// No onnxruntime here: the session's own metadata is read later and wins over these numbers.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ModelError } from "../errors.js";

/** transformers.js dtype names → the file suffix optimum / onnx-community exports use. */
const DTYPE_SUFFIX: Record<string, string> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
  int8: "_int8",
  uint8: "_uint8",
  q4: "_q4",
  q4f16: "_q4f16",
  bnb4: "_bnb4",
};
export const DTYPES = Object.keys(DTYPE_SUFFIX);
/** The dtype a decoder's file name stands for (`onnx/model_quantized.onnx` → q8); fp32 otherwise. */
export function dtypeOf(onnxFile: string): string {
  const base = onnxFile.split(/[\\/]/).pop() ?? onnxFile;
  for (const [dtype, suffix] of Object.entries(DTYPE_SUFFIX)) if (suffix !== "" && base === `model${suffix}.onnx`) return dtype;
  return "fp32";
}
/** The file-name suffix of a dtype's decoder (`q8` → `_quantized`); "" for fp32. */
export function dtypeSuffix(dtype: string): string {
  return DTYPE_SUFFIX[dtype] ?? `_${dtype}`;
}

export interface FolderConfig {
  architecture: string;
  layers: number | null;
  heads: number | null;
  kvHeads: number | null;
  headDim: number | null;
  vocabSize: number | null;
  contextLength: number | null;
  bosId: number | null;
  eosIds: number[];
  /** Which file the numbers came from, for messages. */
  configFile: string;
}

export interface ModelFolder {
  dir: string;
  onnxPath: string;
  /** Path relative to the folder, as shown to users. */
  onnxFile: string;
  config: FolderConfig;
}

export interface FolderOptions {
  onnxFile?: string;
  dtype?: string;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ModelError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ModelError(`${file}: invalid JSON (${(err as Error).message}); fix or replace the file`);
  }
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const ids = (v: unknown): number[] =>
  Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : typeof v === "number" ? [v] : [];

/** Some configs (multimodal, some Qwen/Gemma exports) nest the language model under text_config. */
function textConfig(cfg: Record<string, unknown>): Record<string, unknown> {
  const inner = cfg.text_config;
  return inner && typeof inner === "object" ? { ...cfg, ...(inner as Record<string, unknown>) } : cfg;
}

function fromHfConfig(file: string, raw: Record<string, unknown>, generation: Record<string, unknown> | null): FolderConfig {
  const cfg = textConfig(raw);
  const heads = num(cfg.num_attention_heads) ?? num(cfg.n_head) ?? num(cfg.num_heads);
  const hidden = num(cfg.hidden_size) ?? num(cfg.n_embd) ?? num(cfg.d_model);
  const eos = ids(generation?.eos_token_id);
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures : [];
  return {
    architecture: (typeof archs[0] === "string" ? archs[0] : null) ?? String(cfg.model_type ?? "unknown"),
    layers: num(cfg.num_hidden_layers) ?? num(cfg.n_layer) ?? num(cfg.num_layers),
    heads,
    kvHeads: num(cfg.num_key_value_heads) ?? heads,
    headDim: num(cfg.head_dim) ?? (hidden !== null && heads ? hidden / heads : null),
    vocabSize: num(cfg.vocab_size),
    contextLength: num(cfg.max_position_embeddings) ?? num(cfg.n_positions) ?? num(cfg.n_ctx) ?? num(cfg.seq_length),
    bosId: num(generation?.bos_token_id) ?? num(cfg.bos_token_id),
    eosIds: eos.length > 0 ? eos : ids(cfg.eos_token_id),
    configFile: file,
  };
}

function fromGenaiConfig(file: string, raw: Record<string, unknown>): FolderConfig {
  const model = (raw.model ?? {}) as Record<string, unknown>;
  const dec = (model.decoder ?? {}) as Record<string, unknown>;
  const heads = num(dec.num_attention_heads);
  return {
    architecture: String(model.type ?? "unknown"),
    layers: num(dec.num_hidden_layers),
    heads,
    kvHeads: num(dec.num_key_value_heads) ?? heads,
    headDim: num(dec.head_size),
    vocabSize: num(model.vocab_size),
    contextLength: num(model.context_length),
    bosId: num(model.bos_token_id),
    eosIds: ids(model.eos_token_id),
    configFile: file,
  };
}

function genaiFilename(raw: Record<string, unknown>): string | null {
  const dec = ((raw.model ?? {}) as Record<string, unknown>).decoder;
  const name = dec && typeof dec === "object" ? (dec as Record<string, unknown>).filename : null;
  return typeof name === "string" ? name : null;
}

/**
 * Picks the .onnx file. Order: an explicit onnxFile, the dtype variant, genai_config's
 * decoder filename, then the names optimum and transformers.js use. A merged decoder (with an If
 * subgraph) is the last resort because its attention cannot be tapped.
 */
function chooseOnnx(dir: string, opts: FolderOptions, genaiName: string | null): string {
  const candidates = (name: string) => [path.join(dir, "onnx", name), path.join(dir, name)];
  if (opts.onnxFile) {
    const tries = path.isAbsolute(opts.onnxFile) ? [opts.onnxFile] : [path.join(dir, opts.onnxFile), ...candidates(opts.onnxFile)];
    const hit = tries.find((p) => existsSync(p) && statSync(p).isFile());
    if (!hit) throw new ModelError(`${opts.onnxFile}: no such ONNX file in ${dir} (looked in the folder and its onnx/ subfolder)`, "onnxFile");
    return hit;
  }
  if (opts.dtype !== undefined) {
    const suffix = DTYPE_SUFFIX[opts.dtype];
    if (suffix === undefined) throw new ModelError(`unknown dtype "${opts.dtype}"; use one of ${DTYPES.join(", ")}`, "dtype", `unknown --dtype "${opts.dtype}"; use one of ${DTYPES.join(", ")}`);
    const hit = candidates(`model${suffix}.onnx`).find((p) => existsSync(p));
    if (!hit) throw new ModelError(`${dir}: no model${suffix}.onnx for dtype ${opts.dtype}; ${listOnnx(dir)}`, "dtype", `${dir}: no model${suffix}.onnx for --dtype ${opts.dtype}; ${listOnnx(dir)}`);
    return hit;
  }
  const names = [genaiName, "model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"].filter(
    (n): n is string => n !== null,
  );
  for (const name of names) {
    const hit = candidates(name).find((p) => existsSync(p));
    if (hit) return hit;
  }
  const all = onnxFiles(dir);
  if (all.length === 1) return all[0];
  if (all.length === 0) throw new ModelError(`${dir}: no .onnx file found (looked in the folder and onnx/); export the model to ONNX first`);
  throw new ModelError(`${dir}: several .onnx files and none is model.onnx; pick one with the onnxFile option (${listOnnx(dir)})`, "onnxFile", `${dir}: several .onnx files and none is model.onnx; pick one with --onnx-file (${listOnnx(dir)})`);
}

function onnxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const d of [dir, path.join(dir, "onnx")]) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    for (const f of readdirSync(d)) if (f.endsWith(".onnx") && !f.endsWith(".taps.onnx")) out.push(path.join(d, f));
  }
  return out;
}

function listOnnx(dir: string): string {
  const all = onnxFiles(dir).map((p) => path.relative(dir, p));
  return all.length ? `available: ${all.join(", ")}` : "no .onnx files present";
}

/** Validates the folder and reads its configuration. Throws ModelError with a one-line message. */
export function readModelFolder(dirArg: string, opts: FolderOptions = {}): ModelFolder {
  const dir = path.resolve(dirArg);
  if (!existsSync(dir)) throw new ModelError(`${dirArg}: model folder not found; pass an existing folder`, "dir", `${dirArg}: model folder not found; pass an existing folder with --model`);
  if (!statSync(dir).isDirectory()) throw new ModelError(`${dirArg}: not a folder; loadModel takes a model folder (config.json, tokenizer files, onnx/)`, "dir", `${dirArg}: not a folder; --model takes a model folder (config.json, tokenizer files, onnx/)`);
  const hfFile = path.join(dir, "config.json");
  const genaiFile = path.join(dir, "genai_config.json");
  const genFile = path.join(dir, "generation_config.json");
  let config: FolderConfig;
  let genaiName: string | null = null;
  if (existsSync(genaiFile)) genaiName = genaiFilename(readJson(genaiFile));
  if (existsSync(hfFile)) {
    config = fromHfConfig(hfFile, readJson(hfFile), existsSync(genFile) ? readJson(genFile) : null);
  } else if (existsSync(genaiFile)) {
    config = fromGenaiConfig(genaiFile, readJson(genaiFile));
  } else {
    throw new ModelError(`${dirArg}: config.json missing; a model folder needs config.json (or genai_config.json) beside its tokenizer files`);
  }
  const onnxPath = chooseOnnx(dir, opts, genaiName);
  return { dir, onnxPath, onnxFile: path.relative(dir, onnxPath), config };
}
