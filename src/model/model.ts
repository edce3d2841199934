// loadModel(dir): folder → tokenizer → (optional) attention taps → onnxruntime session → I/O plan.
// A Model opens Sequences; a Sequence owns one KV cache and runs prefill/step.
import { stat } from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ModelError } from "../errors.js";
import { readModelFolder, type FolderOptions, type ModelFolder } from "./folder.js";
import { loadTokenizer, type Tokenizer } from "./tokenizer.js";
import { planDecoderIO, type DecoderIO } from "./io.js";
import { Sequence, type ScoreLayers } from "./sequence.js";
import { ensureTappedModel } from "../onnx/patch-cache.js";
import { findCalibratedProfile, type ResolvedThresholds } from "../calibrate/profile-store.js";
import { REFERENCE_PROFILE } from "../sampler/thresholds.js";
import { calibratedThresholds } from "../calibrate/profile-store.js";
import { resolveModelDir } from "./model-path.js";

export type AttentionSource = "taps" | "none";

export interface LoadOptions extends FolderOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Set false to run the unpatched file (no attention metrics). Default true. */
  taps?: boolean;
  /** Where patched copies go when the model folder is read-only. */
  cacheDir?: string;
  /** Called with a short message when a slow stage (patching) starts. */
  onProgress?: (message: string) => void;
  /**
   * Look for the model's calibrated threshold profile (beside it, then in the cache), as the CLI
   * does; `generate` then uses it unless given `thresholds`. Default true.
   */
  calibrated?: boolean;
}

/** The attention-tapped copy the session runs, when there is one. */
export interface TappedCopy {
  path: string;
  bytes: number;
  /** True when this load wrote it (the first use of the model file); false when it was reused. */
  written: boolean;
}

export interface ModelFacts {
  dir: string;
  architecture: string;
  layers: number;
  heads: number | null;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number | null;
  onnxFile: string;
  dtype: string;
  attentionSource: AttentionSource;
  attentionNote: string;
  bosId: number | null;
  eosIds: number[];
}

export interface Model {
  readonly facts: ModelFacts;
  readonly tokenizer: Tokenizer;
  readonly io: DecoderIO;
  /** Milliseconds spent in loadModel. */
  readonly loadMs: number;
  /** The thresholds `generate` uses by default: the calibrated profile when current, else the reference. */
  readonly thresholds: ResolvedThresholds;
  /** One line per calibrated profile found but not used (stale, unreadable), for the caller to show. */
  readonly notes: readonly string[];
  /** The patched copy with attention outputs, or null when the original file runs. */
  readonly tapped: TappedCopy | null;
  /**
   * Starts an empty sequence with its own KV cache. `scoreLayers: "last"` fetches only the last
   * layer's attention scores (default "all").
   */
  newSequence(options?: { scoreLayers?: ScoreLayers }): Sequence;
  /** The session, for benchmarks that want the bare loop. */
  readonly session: ort.InferenceSession;
  close(): Promise<void>;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0].slice(0, 300);
}

async function createSession(file: string, threads: number | undefined, shown = file, slotCache = false): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, {
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      // A memory pattern is planned per set of input shapes; with the slot cache's shapes that stay
      // put between regrowths, planning per allocation gave a lower peak at 4,000 tokens on the
      // bundled model at the same speed when this was measured (README "Long runs").
      ...(slotCache ? { enableMemPattern: false } : {}),
      interOpNumThreads: 1,
      ...(threads ? { intraOpNumThreads: threads } : {}),
      // Fatal only: onnxruntime's own error lines would duplicate the one-line error we throw.
      logSeverityLevel: 4,
    });
  } catch (err) {
    const msg = firstLine(err);
    const missing = /External data path does not exist: "?([^"]+)"?/.exec(msg);
    if (missing) throw new ModelError(`${shown}: its external data file ${path.basename(missing[1])} is missing; put it beside the .onnx file (it holds the weights)`);
    throw new ModelError(`${shown}: not a loadable ONNX model (${msg}); re-export or re-download it`);
  }
}

/**
 * Loads a model folder. A relative `dir` is resolved against the current folder; when nothing is
 * there and it names a bundled model ("tiny-stdlib-llama" or "models/tiny-stdlib-llama"), the
 * package's copy is used, so the README's snippet works from any folder.
 */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const t0 = performance.now();
  const folder: ModelFolder = readModelFolder(resolveModelDir(dir), opts);
  const tokenizer = await loadTokenizer(folder.dir);

  let runPath = folder.onnxPath;
  let attentionSource: AttentionSource = "none";
  let attentionNote = "attention taps disabled";
  let tappedCopy: TappedCopy | null = null;
  let slotCache = false;
  if (opts.taps !== false) {
    const tapped = await ensureTappedModel(folder.onnxPath, { cacheDir: opts.cacheDir, onProgress: opts.onProgress });
    runPath = tapped.path;
    attentionSource = tapped.report.source;
    attentionNote = tapped.report.note;
    slotCache = tapped.report.cacheOutput === "new";
    if (tapped.path !== folder.onnxPath) tappedCopy = { path: tapped.path, bytes: (await stat(tapped.path)).size, written: !tapped.reused };
  }
  const session = await createSession(runPath, opts.threads, folder.onnxPath, slotCache);
  const io = planDecoderIO(session, folder.onnxPath);
  if (attentionSource === "taps" && io.scoreOutputs.length === 0) {
    attentionSource = "none";
    attentionNote = "patched model exposes no attn_scores outputs";
  }
  const facts = describe(folder, io, tokenizer, attentionSource, attentionNote);
  let thresholds: ResolvedThresholds = { profile: REFERENCE_PROFILE, label: "reference" };
  const notes: string[] = [];
  if (opts.calibrated !== false) {
    const lookup = await findCalibratedProfile(facts, opts.cacheDir);
    for (const i of lookup.ignored) notes.push(`ignoring calibrated thresholds ${i.path}: ${i.reason}; calibrate the model again`);
    if (lookup.found) thresholds = calibratedThresholds(lookup.found);
  }
  const loadMs = performance.now() - t0;
  return {
    facts,
    tokenizer,
    io,
    loadMs,
    thresholds,
    notes,
    tapped: tappedCopy,
    session,
    newSequence: (options) => new Sequence(session, io, facts, options?.scoreLayers),
    close: () => session.release(),
  };
}

function describe(folder: ModelFolder, io: DecoderIO, tokenizer: Tokenizer, source: AttentionSource, note: string): ModelFacts {
  const c = folder.config;
  const kvHeads = io.kvHeads ?? c.kvHeads;
  const headDim = io.headDim ?? c.headDim;
  if (!kvHeads || !headDim) {
    throw new ModelError(`${folder.onnxPath}: KV cache shape is symbolic and ${c.configFile} does not give num_key_value_heads/head_dim`);
  }
  const vocabSize = io.logits.vocab ?? c.vocabSize;
  if (!vocabSize) throw new ModelError(`${c.configFile}: vocab_size missing and the logits output has no static vocabulary dimension`);
  if (tokenizer.size > vocabSize) {
    throw new ModelError(
      `${folder.dir}: tokenizer has ${tokenizer.size} tokens but the model's logits cover only ${vocabSize}; the tokenizer does not belong to this model`,
    );
  }
  const eosIds = c.eosIds.length > 0 ? c.eosIds : tokenizer.eosId !== null ? [tokenizer.eosId] : [];
  return {
    dir: folder.dir,
    architecture: c.architecture,
    layers: io.cache.length,
    heads: c.heads,
    kvHeads,
    headDim,
    vocabSize,
    contextLength: c.contextLength,
    onnxFile: folder.onnxFile,
    dtype: io.cacheType === "float16" ? "fp16" : dtypeFromName(folder.onnxFile),
    attentionSource: source,
    attentionNote: note,
    bosId: c.bosId ?? tokenizer.bosId,
    eosIds,
  };
}

function dtypeFromName(file: string): string {
  const m = /model_(fp16|quantized|int8|uint8|q4f16|q4|bnb4)\.onnx$/.exec(file);
  if (!m) return "fp32";
  return m[1] === "quantized" ? "q8" : m[1];
}
