// Where a Sequence keeps its KV cache between runs. Two layouts, chosen by what the graph outputs:
//
// - ConcatCache: the export's own present.* (past + the new positions, a fresh buffer every run)
//   become the next run's past_key_values.*. Every step allocates and copies the whole cache twice
//   (onnxruntime's output, then onnxruntime-node's copy into a JavaScript buffer), and the buffers
//   grow by one position each step, which fragments both onnxruntime's arena and the heap: peak
//   memory at 4,000 tokens was 2.2× that at 200 on the bundled model (issue 13, item 14).
// - SlotCache: the attention-taps rewrite gives the graph new_kv.* outputs (only the new positions,
//   see src/onnx/taps.ts). The cache lives in one buffer per input, [rows, kv heads, capacity, head
//   size], that grows in steps of about 1/8; each run's new positions are copied into the next free
//   slots. Slots not yet filled are fed as masked positions (attention_mask 0), which the model
//   ignores exactly as it ignores left padding, so input shapes change only when the buffer grows.
import * as ort from "onnxruntime-node";
import type { CacheSlot, DecoderIO } from "./io.js";

export type CacheArray = Float32Array | Uint16Array;
type OutputMap = ort.InferenceSession.OnnxValueMapType;

export interface CacheShape {
  kvHeads: number;
  headDim: number;
  contextLength: number | null;
}

export interface KvStore {
  /** A hint: rows of one sequence will reach about `positions` positions (see SlotCache.reserve). */
  reserve(positions: number): void;
  /**
   * Cache positions the next run feeds as past (≥ `filled`; the extra ones are masked), after making
   * room for `seqLen` new positions per row.
   */
  prepare(rows: number, filled: number, seqLen: number): number;
  /** The past_key_values.* feeds for a run prepared with `slots` positions. */
  feeds(rows: number, slots: number): Record<string, ort.Tensor>;
  /** Keeps a run's outputs: the `seqLen` new positions after `filled` cached ones. */
  store(out: OutputMap, rows: number, filled: number, seqLen: number): void;
  /** An empty cache for `rows` rows. */
  reset(rows: number): void;
  /** Keeps the first `n` cached positions of a single row. */
  truncate(n: number): void;
  /** Tiles a single row's cache into `k` rows. */
  fork(k: number): void;
  /** Keeps row `r` of a forked batch. */
  keepRow(r: number): void;
}

function newArray(half: boolean, n: number): CacheArray {
  return half ? new Uint16Array(n) : new Float32Array(n);
}

/** The cache inputs with the output that feeds each: [past name, output name]. */
function pairs(cache: CacheSlot[]): [string, string][] {
  return cache.flatMap((s) => [
    [s.pastKey, s.presentKey],
    [s.pastValue, s.presentValue],
  ]);
}

export class ConcatCache implements KvStore {
  private past = new Map<string, ort.Tensor>();
  private readonly forkBuffers = new Map<string, CacheArray>();
  private readonly pairs: [string, string][];

  constructor(
    private readonly io: DecoderIO,
    private readonly shape: CacheShape,
  ) {
    this.pairs = pairs(io.cache);
  }

  reserve(): void {
    // Each run's present.* are new buffers sized by onnxruntime; there is nothing to set aside.
  }

  prepare(_rows: number, filled: number): number {
    return filled;
  }

  feeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.past);
  }

  store(out: OutputMap): void {
    for (const [past, present] of this.pairs) this.past.set(past, out[present] as ort.Tensor);
  }

  reset(rows: number): void {
    this.past = new Map();
    const empty = newArray(this.io.cacheType === "float16", 0);
    for (const [name] of this.pairs) {
      this.past.set(name, new ort.Tensor(this.io.cacheType, empty, [rows, this.shape.kvHeads, 0, this.shape.headDim]));
    }
  }

  truncate(n: number): void {
    for (const [name, t] of this.past) {
      const [B, H, P, D] = t.dims;
      const src = t.data as CacheArray;
      const dst = newArray(src instanceof Uint16Array, B * H * n * D);
      for (let h = 0; h < B * H; h++) dst.set(src.subarray(h * P * D, h * P * D + n * D), h * n * D);
      this.past.set(name, new ort.Tensor(this.io.cacheType, dst, [B, H, n, D]));
    }
  }

  fork(k: number): void {
    for (const [name, t] of this.past) {
      const [, H, P, D] = t.dims;
      const src = t.data as CacheArray;
      // A fork's tiled tensors are read by one run only (its outputs replace them), so the next fork
      // may overwrite them: one buffer per input saves allocating the tiled cache at every branch point.
      let buf = this.forkBuffers.get(name);
      if (!buf || buf.length < k * src.length || buf instanceof Uint16Array !== src instanceof Uint16Array) {
        buf = newArray(src instanceof Uint16Array, Math.max(k * src.length, Math.ceil((buf?.length ?? 0) * 1.5)));
        this.forkBuffers.set(name, buf);
      }
      const dst = buf.subarray(0, k * src.length);
      for (let r = 0; r < k; r++) dst.set(src, r * src.length);
      this.past.set(name, new ort.Tensor(this.io.cacheType, dst, [k, H, P, D]));
    }
  }

  keepRow(r: number): void {
    for (const [name, t] of this.past) {
      const [, H, P, D] = t.dims;
      const size = H * P * D;
      // A view, not a copy (onnxruntime reads a typed array's offset): the next step's outputs
      // replace it, and the batch's memory goes with them.
      this.past.set(name, new ort.Tensor(this.io.cacheType, (t.data as CacheArray).subarray(r * size, (r + 1) * size), [1, H, P, D]));
    }
  }
}

/** Capacity for `need` positions: rounded up to a step of about 1/8 of it (at least 64), so a long run regrows ~8 times per doubling. */
export function slotCapacity(need: number, contextLength: number | null): number {
  const step = Math.max(64, 2 ** (Math.floor(Math.log2(Math.max(need, 1))) - 3));
  const rounded = Math.ceil(need / step) * step;
  return contextLength === null ? rounded : Math.max(need, Math.min(rounded, contextLength));
}

/** The most memory a reservation sets aside for the whole cache; longer runs grow by copies beyond it. */
const RESERVE_BYTES = 1024 * 2 ** 20;

export class SlotCache implements KvStore {
  /** [rows, H, capacity, D] per cache input (a buffer may be longer: a reservation). */
  private buffers = new Map<string, CacheArray>();
  /** Positions per row in the buffers' layout (the stride of the positions axis). */
  private capacity = 0;
  /** Rows the buffers are laid out for. */
  private rows = 0;
  /** Positions per row the next single-row allocation makes room for (see reserve). */
  private reserved = 0;
  /** The single-row buffers while a fork's rows are in use, reused when a row is kept. */
  private parked = new Map<string, CacheArray>();
  /** The rows of the last fork, for the next one. */
  private spareTiled = new Map<string, CacheArray>();
  private readonly pairs: [string, string][];
  private readonly half: boolean;

  constructor(
    private readonly io: DecoderIO,
    private readonly shape: CacheShape,
  ) {
    this.pairs = pairs(io.cache);
    this.half = io.cacheType === "float16";
  }

  /**
   * Sizes the next allocation of a single-row cache for `positions` (the run's planned length), so it
   * grows in place instead of by copies. Capped at RESERVE_BYTES over all inputs.
   */
  reserve(positions: number): void {
    const { kvHeads: H, headDim: D, contextLength } = this.shape;
    const perPosition = this.pairs.length * H * D * (this.half ? 2 : 4);
    this.reserved = Math.min(positions, contextLength ?? Infinity, Math.floor(RESERVE_BYTES / perPosition));
  }

  prepare(rows: number, filled: number, seqLen: number): number {
    const need = filled + seqLen;
    if (need > this.capacity) this.grow(rows, filled, slotCapacity(need, this.shape.contextLength));
    return filled === 0 ? 0 : this.capacity;
  }

  /**
   * Gives every buffer room for `capacity` positions per row, keeping the first `filled`. A buffer
   * that is long enough (reserved) is re-laid in place, moving each head's positions from the last
   * head to the first so that no unmoved data is overwritten; otherwise a new one is allocated.
   */
  private grow(rows: number, filled: number, capacity: number): void {
    const { kvHeads: H, headDim: D } = this.shape;
    const old = this.capacity;
    const blocks = rows * H;
    for (const [name] of this.pairs) {
      let buf = this.buffers.get(name);
      if (buf && buf.length >= blocks * capacity * D) {
        for (let h = blocks - 1; h > 0 && filled > 0; h--) buf.copyWithin(h * capacity * D, h * old * D, h * old * D + filled * D);
      } else {
        const positions = rows === 1 ? Math.max(capacity, this.reserved) : capacity;
        const dst = newArray(this.half, blocks * positions * D);
        if (buf && filled > 0) {
          for (let h = 0; h < blocks; h++) dst.set(buf.subarray(h * old * D, h * old * D + filled * D), h * capacity * D);
        }
        buf = dst;
      }
      this.buffers.set(name, buf);
    }
    this.capacity = capacity;
  }

  feeds(rows: number, slots: number): Record<string, ort.Tensor> {
    const { kvHeads: H, headDim: D } = this.shape;
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name] of this.pairs) {
      const data = this.buffers.get(name)!.subarray(0, rows * H * slots * D);
      feeds[name] = new ort.Tensor(this.io.cacheType, data, [rows, H, slots, D]);
    }
    return feeds;
  }

  store(out: OutputMap, rows: number, filled: number, seqLen: number): void {
    const { kvHeads: H, headDim: D } = this.shape;
    const C = this.capacity;
    for (const [name, output] of this.pairs) {
      const src = (out[output] as ort.Tensor).data as CacheArray;
      const dst = this.buffers.get(name)!;
      for (let h = 0; h < rows * H; h++) dst.set(src.subarray(h * seqLen * D, (h + 1) * seqLen * D), (h * C + filled) * D);
    }
  }

  reset(rows: number): void {
    // Buffers are kept for the next prompt when the row count stays (what they hold is masked).
    if (rows !== this.rows) {
      this.buffers = new Map();
      this.capacity = 0;
    }
    this.rows = rows;
  }

  truncate(): void {
    // Positions past the kept ones are masked from now on and overwritten as the row grows again.
  }

  fork(k: number): void {
    const { kvHeads: H, headDim: D } = this.shape;
    const row = H * this.capacity * D;
    this.parked = this.buffers;
    const tiled = new Map<string, CacheArray>();
    for (const [name, src] of this.parked) {
      // The previous fork's rows, when they fit: a branch point then allocates nothing.
      const spare = this.spareTiled.get(name);
      const dst = spare && spare.length === k * row ? spare : newArray(this.half, k * row);
      const used = src.subarray(0, row);
      for (let r = 0; r < k; r++) dst.set(used, r * row);
      tiled.set(name, dst);
    }
    this.buffers = tiled;
    this.rows = k;
  }

  keepRow(r: number): void {
    const { kvHeads: H, headDim: D } = this.shape;
    const row = H * this.capacity * D;
    const kept = new Map<string, CacheArray>();
    for (const [name, src] of this.buffers) {
      const parked = this.parked.get(name);
      const dst = parked && parked.length >= row ? parked : newArray(this.half, row);
      dst.set(src.subarray(r * row, (r + 1) * row));
      kept.set(name, dst);
    }
    this.spareTiled = this.buffers;
    this.buffers = kept;
    this.parked = new Map();
    this.rows = 1;
  }
}
