// One decoding stream (or a left-padded batch of them) with its KV cache: prefill the prompt, then
// feed one token per row per step. Where the cache lives between runs is kv-store.ts's job.
import * as ort from "onnxruntime-node";
import { RuntimeFailure, UsageError } from "../errors.js";
import type { DecoderIO, IntType } from "./io.js";
import { halfToFloat } from "./half.js";
import { ConcatCache, SlotCache, type KvStore } from "./kv-store.js";

/** Pre-softmax attention scores of one layer for the current query row, layout [heads, kvLen]. */
export interface LayerScores {
  heads: number;
  kvLen: number;
  data: Float32Array;
}

/** Which layers' attention scores a sequence fetches: every tapped layer, or only the last one. */
export type ScoreLayers = "all" | "last";

/** What one forward pass yields for one row: last-position logits and (when tapped) the fetched layers' scores. */
export interface StepOutput {
  logits: Float32Array;
  scores: LayerScores[] | null;
}

interface CacheFacts {
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number | null;
}

/** The attention mask of a run: each row's cached positions, `gap` masked empty slots, then its new positions. */
function maskTensor(type: IntType, mask: number[][], filled: number, gap: number, seqLen: number): ort.Tensor {
  const width = filled + gap + seqLen;
  const flags = new Uint8Array(mask.length * width);
  for (let b = 0; b < mask.length; b++) {
    const row = mask[b];
    for (let i = 0; i < filled; i++) flags[b * width + i] = row[i];
    for (let i = 0; i < seqLen; i++) flags[b * width + filled + gap + i] = row[filled + i];
  }
  return intTensor(type, flags, [mask.length, width]);
}

function intTensor(type: IntType, values: ArrayLike<number>, dims: number[]): ort.Tensor {
  if (type === "int64") {
    const data = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
    return new ort.Tensor("int64", data, dims);
  }
  return new ort.Tensor("int32", Int32Array.from(values), dims);
}

export class Sequence {
  /** The KV cache between runs (see kv-store.ts for the two layouts). */
  private readonly kv: KvStore;
  /** Attention mask per row, covering every position in the cache (0 = padding). */
  private mask: number[][] = [];
  /** Next position id per row. */
  private nextPosition: number[] = [];
  private pastLength = 0;
  private batch = 0;

  /** The attn_scores.* outputs fetched each run (all 30 of a 30-layer model cost 1.5-4% of a decode step). */
  private readonly scoreOutputs: string[];
  private readonly fetches: string[];

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly io: DecoderIO,
    private readonly facts: CacheFacts,
    scoreLayers: ScoreLayers = "all",
  ) {
    this.scoreOutputs = scoreLayers === "last" ? io.scoreOutputs.slice(-1) : io.scoreOutputs;
    this.fetches = [io.logits.name, ...io.cache.flatMap((s) => [s.presentKey, s.presentValue]), ...this.scoreOutputs];
    this.kv = io.cacheOutput === "new" ? new SlotCache(io, facts) : new ConcatCache(io, facts);
  }

  /**
   * Tells the sequence that each row will reach about `positions` positions (prompt + tokens to
   * generate), so the slot cache is allocated once at that size and grows in place. A hint only.
   */
  reserve(positions: number): void {
    this.kv.reserve(positions);
  }

  /** "slots" when the cache is kept in growing buffers the model's new positions are copied into; "concat" when the model's present.* outputs are. */
  get cacheLayout(): "slots" | "concat" {
    return this.kv instanceof SlotCache ? "slots" : "concat";
  }

  /** Positions already in the cache (the padded length for a batch). */
  get length(): number {
    return this.pastLength;
  }

  /**
   * Runs the prompt(s). Rows of different lengths are left-padded; padding is masked out, so each
   * row's logits equal its own unpadded run.
   */
  async prefill(rows: number[][]): Promise<StepOutput[]> {
    if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new UsageError("prompt is empty after tokenization; give some text");
    this.reset(rows.length);
    const width = Math.max(...rows.map((r) => r.length));
    this.checkContext(width);
    const ids: number[] = [];
    const positions: number[] = [];
    for (let b = 0; b < rows.length; b++) {
      const pad = width - rows[b].length;
      this.mask[b] = [...new Array(pad).fill(0), ...new Array(rows[b].length).fill(1)];
      ids.push(...new Array(pad).fill(0), ...rows[b]);
      // HF convention: padded slots get position 1; real tokens count from 0.
      for (let i = 0; i < width; i++) positions.push(i < pad ? 1 : i - pad);
      this.nextPosition[b] = rows[b].length;
    }
    return this.forward(ids, positions, width);
  }

  /**
   * Feeds several tokens onto the cache of a single-row sequence (a chat's next turn) and returns the
   * logits after the last one. Positions continue from the cache.
   */
  async extend(ids: number[]): Promise<StepOutput[]> {
    if (this.batch !== 1) throw new Error(`extend needs a prefilled single-row sequence (batch ${this.batch})`);
    if (ids.length === 0) throw new Error("extend needs at least one id");
    this.checkContext(this.pastLength + ids.length);
    const positions = ids.map((_, i) => this.nextPosition[0] + i);
    this.nextPosition[0] += ids.length;
    for (let i = 0; i < ids.length; i++) this.mask[0].push(1);
    return this.forward(ids, positions, ids.length);
  }

  /**
   * Keeps only the first `n` positions of a single-row cache (a chat turn whose re-rendered history
   * differs from what was fed after that point). Exact: a position's keys/values depend only on the
   * positions before it.
   */
  truncate(n: number): void {
    if (this.batch !== 1) throw new Error(`truncate needs a single-row sequence (batch ${this.batch})`);
    if (n < 0 || n > this.pastLength) throw new Error(`cannot keep ${n} of ${this.pastLength} cached positions`);
    if (n === this.pastLength) return;
    this.kv.truncate(n);
    this.mask[0] = this.mask[0].slice(0, n);
    this.nextPosition[0] = n;
    this.pastLength = n;
  }

  /** Rows in the batch (1 for a single stream). */
  get rows(): number {
    return this.batch;
  }

  /**
   * Turns a single-row sequence into `k` identical rows (its cache tiled on the batch axis), so `k`
   * continuations of the same text run as one batched step each (branching). Undo with keepRow.
   */
  fork(k: number): void {
    if (this.batch !== 1) throw new Error(`fork needs a single-row sequence (batch ${this.batch})`);
    if (!Number.isInteger(k) || k < 1) throw new Error(`fork needs a row count ≥ 1, got ${k}`);
    if (k === 1) return;
    this.kv.fork(k);
    this.mask = Array.from({ length: k }, () => [...this.mask[0]]);
    this.nextPosition = new Array(k).fill(this.nextPosition[0]);
    this.batch = k;
  }

  /** Keeps row `r` of a batch and drops the others (a branch's winner keeps its cache; nothing is re-run). */
  keepRow(r: number): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new Error(`no row ${r} in a batch of ${this.batch}`);
    if (this.batch === 1) return;
    this.kv.keepRow(r);
    this.mask = [this.mask[r]];
    this.nextPosition = [this.nextPosition[r]];
    this.batch = 1;
  }

  /** Room left before the context is full (Infinity when the model states no context length). */
  get room(): number {
    const ctx = this.facts.contextLength;
    return ctx === null ? Infinity : ctx - this.pastLength;
  }

  /** Feeds one token per row and returns the next logits for each row. */
  async step(ids: number[]): Promise<StepOutput[]> {
    if (ids.length !== this.batch) throw new Error(`step expects ${this.batch} ids, got ${ids.length}`);
    this.checkContext(this.pastLength + 1);
    const positions: number[] = [];
    for (let b = 0; b < this.batch; b++) {
      this.mask[b].push(1);
      positions.push(this.nextPosition[b]++);
    }
    return this.forward(ids, positions, 1);
  }

  private reset(batch: number): void {
    this.batch = batch;
    this.pastLength = 0;
    this.mask = [];
    this.nextPosition = [];
    this.kv.reset(batch);
  }

  private checkContext(total: number): void {
    const ctx = this.facts.contextLength;
    if (ctx !== null && total > ctx) throw new ContextFull(ctx);
  }

  /**
   * Teacher forcing: runs `row` in one pass from an empty cache and returns the logits at every
   * position, row-major [row.length × vocab] (fp16 logits converted). Used to score text (eval's NLL).
   */
  async allLogits(row: number[]): Promise<{ logits: Float32Array; vocab: number }> {
    if (row.length === 0) throw new UsageError("nothing to score: the sequence is empty");
    this.reset(1);
    this.checkContext(row.length);
    this.mask[0] = new Array(row.length).fill(1);
    this.nextPosition[0] = row.length;
    const { out } = await this.run(row, [...row.keys()], row.length, 0);
    const t = out[this.io.logits.name] as ort.Tensor;
    const vocab = t.dims[2];
    const raw = t.data as Float32Array | Uint16Array;
    if (t.dims[1] !== row.length) throw new RuntimeFailure(`the model returned logits for ${t.dims[1]} of ${row.length} positions; it cannot score a whole sequence`);
    return { logits: raw instanceof Uint16Array ? halfToFloat(raw) : raw, vocab };
  }

  private async forward(ids: number[], positions: number[], seqLen: number): Promise<StepOutput[]> {
    const { out, filled, slots } = await this.run(ids, positions, seqLen, 1);
    return this.split(out, this.batch, filled, slots);
  }

  /**
   * One session run; `keepLogits` feeds num_logits_to_keep where the model has it (0 = all positions).
   * Returns the outputs, the positions cached before it (`filled`) and the past positions it fed
   * (`slots`: more than `filled` when the slot cache has empty slots).
   */
  private async run(ids: number[], positions: number[], seqLen: number, keepLogits: number): Promise<{ out: ort.InferenceSession.OnnxValueMapType; filled: number; slots: number }> {
    const io = this.io;
    const B = this.batch;
    const total = this.pastLength + seqLen;
    const filled = this.pastLength;
    const slots = this.kv.prepare(B, filled, seqLen);
    const feeds: Record<string, ort.Tensor> = {
      [io.inputIds.name]: intTensor(io.inputIds.type, ids, [B, seqLen]),
      ...this.kv.feeds(B, slots),
    };
    if (io.attentionMask) feeds[io.attentionMask.name] = maskTensor(io.attentionMask.type, this.mask, this.pastLength, slots - this.pastLength, seqLen);
    if (io.positionIds) feeds[io.positionIds.name] = intTensor(io.positionIds.type, positions, [B, seqLen]);
    if (io.numLogitsToKeep) feeds[io.numLogitsToKeep.name] = intTensor(io.numLogitsToKeep.type, [keepLogits], []);
    if (io.useCacheBranch) feeds[io.useCacheBranch] = new ort.Tensor("bool", [this.pastLength > 0], [1]);

    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds, this.fetches);
    } catch (err) {
      throw new RuntimeFailure(`onnxruntime failed at position ${this.pastLength}: ${String((err as Error).message ?? err).split("\n")[0]}`);
    }
    this.kv.store(out, B, filled, seqLen);
    this.pastLength = total;
    return { out, filled, slots };
  }

  /** Cuts the batched outputs into per-row last-position logits and score rows. */
  private split(out: ort.InferenceSession.OnnxValueMapType, B: number, filled: number, slots: number): StepOutput[] {
    const logitsT = out[this.io.logits.name] as ort.Tensor;
    const V = logitsT.dims[2];
    const S = logitsT.dims[1];
    const raw = logitsT.data as Float32Array | Uint16Array;
    const scores = this.scoreOutputs.map((n) => out[n] as ort.Tensor);
    const rows: StepOutput[] = [];
    for (let b = 0; b < B; b++) {
      const start = (b * S + (S - 1)) * V;
      const slice = raw.subarray(start, start + V);
      const logits = slice instanceof Uint16Array ? halfToFloat(slice) : slice;
      let layerScores: LayerScores[] | null = null;
      if (scores.length > 0) {
        layerScores = scores.map((t) => {
          const [, H, , K] = t.dims;
          const data = (t.data as Float32Array).subarray(b * H * K, (b + 1) * H * K);
          return slots > filled ? withoutEmptySlots(data, H, K, filled, slots) : { heads: H, kvLen: K, data };
        });
      }
      rows.push({ logits, scores: layerScores });
    }
    return rows;
  }
}

/**
 * A score row [heads, K] of a slot-cache run, with its empty slots (positions filled..slots, masked)
 * left out: what a concatenating cache would have given, so metrics, traces and reports see the same
 * positions either way.
 */
function withoutEmptySlots(data: Float32Array, H: number, K: number, filled: number, slots: number): LayerScores {
  const kvLen = K - (slots - filled);
  const out = new Float32Array(H * kvLen);
  for (let h = 0; h < H; h++) {
    out.set(data.subarray(h * K, h * K + filled), h * kvLen);
    out.set(data.subarray(h * K + slots, (h + 1) * K), h * kvLen + filled);
  }
  return { heads: H, kvLen, data: out };
}

/** Thrown when the next position would exceed the model's context length. */
export class ContextFull extends Error {
  override name = "ContextFull";
  constructor(readonly contextLength: number) {
    super(`the model's context of ${contextLength} tokens is full`);
  }
}
