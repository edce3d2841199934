// The sampling primitives (entropix-method.md §2: "temperature, top-k, top-p, min-p, then one draw
// from the renormalised distribution"), llama.cpp-style: each one transforms one reusable candidate
// buffer and knows nothing of the others. The Entropix policy only chooses their parameters.
//
// Conventions
// - Every filter acts on the distribution of the candidates left by the previous one, renormalised
//   (as llama.cpp and transformers do): top-p's mass is measured after top-k.
// - Order: descending logit, ties by ascending id. Temperature never changes the order, so top-k
//   selects on raw logits and only the K survivors are ever exponentiated.
// - "Sorted" means candidates [0, size) are in that order; top-k leaves them sorted.
// - min-p compares in log space: keep (z − z_max)/T ≥ ln(min_p), i.e. p ≥ min_p·p_max, independent
//   of any renormalisation (so the floor top-p may use below and min-p agree exactly).
//
// Avoiding a full sort when top-k is off and top-p < 1: top-p partitions (O(size)) the candidates
// whose probability is at least a floor τ to the front and sums their mass; only when that mass
// reaches top-p does it sort them (the nucleus is a prefix of their descending order); otherwise τ is
// lowered (×2^-8, from p_max·2^-8; after five rounds τ = 0, i.e. everything) and the partition
// continues on the rest. When min-p > 0 follows, τ starts at min_p·p_max: if even that set misses
// the mass, the nucleus ∩ min-p set is exactly the min-p set and nothing is sorted at all.
import type { Rng } from "./rng.js";
import type { SamplerSettings } from "../types.js";

/** Slack for "mass reaches top_p" so float rounding of the softmax cannot add a token. */
export const TOP_P_EPSILON = 1e-12;
/** top-k at or below this uses a bounded heap (one scan); larger K uses in-place quickselect. */
const HEAP_TOP_K_MAX = 1024;

/** Reusable candidate array for one vocabulary: ids, logits and probabilities of the live candidates. */
export class CandidateBuffer {
  readonly capacity: number;
  readonly ids: Int32Array;
  readonly logits: Float32Array;
  readonly probs: Float64Array;
  /** Live candidates are [0, size). */
  size = 0;
  /** [0, size) is in descending logit order (ties: ascending id). */
  sorted = false;
  /** 1 / temperature. */
  invTemperature = 1;
  /** probs[0, size) hold softmax(logit/T) over the live candidates, summing to 1. */
  probsValid = false;
  /** Max logit over the live candidates, NaN when not known yet. */
  maxLogit = NaN;
  /** Dense mode: the live candidates are all of `source`, ids 0..size−1, not copied yet. */
  source: Float32Array | null = null;
  private readonly identity: Int32Array;
  private heapIds = new Int32Array(0);
  private heapLogits = new Float32Array(0);

  constructor(vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RangeError(`vocabulary size must be a positive integer, got ${vocabSize}`);
    this.capacity = vocabSize;
    this.ids = new Int32Array(vocabSize);
    this.logits = new Float32Array(vocabSize);
    this.probs = new Float64Array(vocabSize);
    this.identity = new Int32Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) this.identity[i] = i;
  }

  /** Copies a dense source into the arrays (once per step at most, and only if a filter needs it). */
  materialise(): void {
    const src = this.source;
    if (src === null) return;
    this.logits.set(src.subarray(0, this.size));
    this.ids.set(this.identity.subarray(0, this.size));
    this.source = null;
  }

  /** Heap scratch of at least k entries (grown once, reused). */
  heap(k: number): { ids: Int32Array; logits: Float32Array } {
    if (this.heapIds.length < k) {
      this.heapIds = new Int32Array(k);
      this.heapLogits = new Float32Array(k);
    }
    return { ids: this.heapIds, logits: this.heapLogits };
  }
}

/** Start a step: all tokens are candidates, temperature 1. `max` may pass a known max logit. */
export function loadLogits(buf: CandidateBuffer, logits: Float32Array, max = NaN): void {
  if (logits.length !== buf.capacity) throw new RangeError(`expected ${buf.capacity} logits, got ${logits.length}`);
  buf.source = logits;
  buf.size = logits.length;
  buf.sorted = false;
  buf.invTemperature = 1;
  buf.probsValid = false;
  buf.maxLogit = max;
}

/** Index of the largest logit (the first one on ties). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = logits[0];
  for (let i = 1; i < logits.length; i++) {
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

/** Temperature: divides the logits by t (> 0). Lazy: only the exponentiation of survivors uses it. */
export function applyTemperature(buf: CandidateBuffer, t: number): void {
  if (!(t > 0) || !Number.isFinite(t)) throw new RangeError(`temperature must be a positive finite number, got ${t}`);
  buf.invTemperature /= t;
  buf.probsValid = false;
}

function maxLogitOf(buf: CandidateBuffer): number {
  if (!Number.isNaN(buf.maxLogit)) return buf.maxLogit;
  let m = -Infinity;
  if (buf.sorted && buf.size > 0) m = buf.source ? buf.source[0] : buf.logits[0];
  else {
    const src = buf.source ?? buf.logits;
    for (let i = 0; i < buf.size; i++) if (src[i] > m) m = src[i];
  }
  buf.maxLogit = m;
  return m;
}

/** Fills probs[0, size) with the renormalised softmax(logit/T) of the live candidates. */
export function ensureProbs(buf: CandidateBuffer): void {
  if (buf.probsValid) return;
  buf.materialise();
  const max = maxLogitOf(buf);
  const invT = buf.invTemperature;
  const { logits, probs } = buf;
  const n = buf.size;
  let z = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((logits[i] - max) * invT);
    probs[i] = e;
    z += e;
  }
  const inv = 1 / z;
  for (let i = 0; i < n; i++) probs[i] *= inv;
  buf.probsValid = true;
}

function renormalise(buf: CandidateBuffer): void {
  if (!buf.probsValid) return;
  const { probs } = buf;
  let z = 0;
  for (let i = 0; i < buf.size; i++) z += probs[i];
  const inv = 1 / z;
  for (let i = 0; i < buf.size; i++) probs[i] *= inv;
}

// ---- ordering helpers over the parallel arrays (descending logit, then ascending id) ----

function before(buf: CandidateBuffer, i: number, j: number): boolean {
  const a = buf.logits[i];
  const b = buf.logits[j];
  return a > b || (a === b && buf.ids[i] < buf.ids[j]);
}

function swap(buf: CandidateBuffer, i: number, j: number): void {
  const { ids, logits, probs } = buf;
  const id = ids[i];
  ids[i] = ids[j];
  ids[j] = id;
  const l = logits[i];
  logits[i] = logits[j];
  logits[j] = l;
  const p = probs[i];
  probs[i] = probs[j];
  probs[j] = p;
}

/** Hoare-style partition of [lo, hi] around a median-of-three pivot; returns the pivot's final index. */
function partition(buf: CandidateBuffer, lo: number, hi: number): number {
  const mid = lo + ((hi - lo) >> 1);
  if (before(buf, mid, lo)) swap(buf, mid, lo);
  if (before(buf, hi, lo)) swap(buf, hi, lo);
  if (before(buf, mid, hi)) swap(buf, mid, hi);
  // pivot (the median) now sits at hi
  let store = lo;
  for (let i = lo; i < hi; i++) {
    if (before(buf, i, hi)) {
      swap(buf, i, store);
      store++;
    }
  }
  swap(buf, store, hi);
  return store;
}

function insertionSort(buf: CandidateBuffer, lo: number, hi: number): void {
  for (let i = lo + 1; i <= hi; i++) {
    for (let j = i; j > lo && before(buf, j, j - 1); j--) swap(buf, j, j - 1);
  }
}

/** Sorts [lo, hi] in candidate order (in place, no allocation; keys are distinct by id). */
export function sortRange(buf: CandidateBuffer, lo: number, hi: number): void {
  while (hi - lo > 16) {
    const p = partition(buf, lo, hi);
    // recurse into the smaller side, loop on the larger: O(log n) stack
    if (p - lo < hi - p) {
      sortRange(buf, lo, p - 1);
      lo = p + 1;
    } else {
      sortRange(buf, p + 1, hi);
      hi = p - 1;
    }
  }
  insertionSort(buf, lo, hi);
}

/** Rearranges [0, size) so the k best candidates occupy [0, k) (unordered). */
function quickselect(buf: CandidateBuffer, k: number): void {
  let lo = 0;
  let hi = buf.size - 1;
  while (hi > lo) {
    const p = partition(buf, lo, hi);
    if (p === k - 1 || p === k) return;
    if (p < k) lo = p + 1;
    else hi = p - 1;
  }
}

/**
 * Top-k: keep the k most probable candidates; k ≤ 0 or k ≥ size disables it. Partial selection:
 * a bounded min-heap in one scan for k ≤ 1024 (result sorted), in-place quickselect above that.
 */
export function applyTopK(buf: CandidateBuffer, k: number): void {
  if (!(k > 0) || k >= buf.size) return;
  k = Math.floor(k);
  if (buf.sorted) {
    buf.size = k;
    buf.probsValid = false;
    return;
  }
  if (k > HEAP_TOP_K_MAX) {
    buf.materialise();
    quickselect(buf, k);
    buf.size = k;
    buf.sorted = false;
    buf.probsValid = false;
    buf.maxLogit = NaN;
    return;
  }
  const heap = buf.heap(k);
  const hIds = heap.ids;
  const hLog = heap.logits;
  const dense = buf.source;
  const srcLogits = dense ?? buf.logits;
  const srcIds = buf.ids;
  const n = buf.size;
  // heap root = the worst kept candidate (lowest logit; on ties the highest id)
  for (let i = 0; i < k; i++) {
    hLog[i] = srcLogits[i];
    hIds[i] = dense ? i : srcIds[i];
  }
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(hIds, hLog, i, k);
  if (dense) scanDense(dense, n, k, hIds, hLog);
  else scanSparse(srcLogits, srcIds, n, k, hIds, hLog);
  // pop worst-first into [k−1 … 0]: descending order
  const outIds = buf.ids;
  const outLog = buf.logits;
  for (let end = k - 1; end >= 0; end--) {
    outIds[end] = hIds[0];
    outLog[end] = hLog[0];
    hIds[0] = hIds[end];
    hLog[0] = hLog[end];
    siftDown(hIds, hLog, 0, end);
  }
  buf.source = null;
  buf.size = k;
  buf.sorted = true;
  buf.probsValid = false;
  buf.maxLogit = outLog[0];
}

/**
 * One scan of a dense source (ids = indices) keeping the k best in the heap. The inner loop only
 * skips entries not above the current k-th best; ids rise with i, so a tie never beats the root.
 */
function scanDense(src: Float32Array, n: number, k: number, hIds: Int32Array, hLog: Float32Array): void {
  let root = hLog[0];
  let i = k;
  while (i < n) {
    while (i < n && !(src[i] > root)) i++;
    if (i >= n) break;
    hLog[0] = src[i];
    hIds[0] = i;
    siftDown(hIds, hLog, 0, k);
    root = hLog[0];
    i++;
  }
}

/** The same over materialised candidates (arbitrary id order: ties compare ids). */
function scanSparse(logits: Float32Array, ids: Int32Array, n: number, k: number, hIds: Int32Array, hLog: Float32Array): void {
  let root = hLog[0];
  for (let i = k; i < n; i++) {
    const x = logits[i];
    if (x > root || (x === root && ids[i] < hIds[0])) {
      hLog[0] = x;
      hIds[0] = ids[i];
      siftDown(hIds, hLog, 0, k);
      root = hLog[0];
    }
  }
}

/** Min-heap on "worse": lower logit, or equal logit and higher id, is nearer the root. */
function siftDown(ids: Int32Array, logits: Float32Array, i: number, n: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    let c = l;
    const r = l + 1;
    if (r < n && (logits[r] < logits[l] || (logits[r] === logits[l] && ids[r] > ids[l]))) c = r;
    if (logits[c] < logits[i] || (logits[c] === logits[i] && ids[c] > ids[i])) {
      const tl = logits[i];
      logits[i] = logits[c];
      logits[c] = tl;
      const ti = ids[i];
      ids[i] = ids[c];
      ids[c] = ti;
      i = c;
    } else return;
  }
}

/** Moves the candidates in [from, size) with (z − z_max)/T ≥ thr to [from, m); returns m. */
function partitionAbove(buf: CandidateBuffer, from: number, thr: number, max: number): number {
  const { logits } = buf;
  const invT = buf.invTemperature;
  let m = from;
  for (let i = from; i < buf.size; i++) {
    if ((logits[i] - max) * invT >= thr) {
      if (i !== m) swap(buf, i, m);
      m++;
    }
  }
  return m;
}

/**
 * Top-p (nucleus): keep the smallest set of most probable candidates, taken in descending order,
 * whose mass reaches p (ties at the edge: lower id first); p ≥ 1 disables it. `minPAfter` is the
 * min-p that the caller applies next (0: none); it only bounds the work (see the file header).
 */
export function applyTopP(buf: CandidateBuffer, p: number, minPAfter = 0): void {
  if (!(p < 1) || buf.size <= 1) return;
  ensureProbs(buf);
  const { probs } = buf;
  const target = p - TOP_P_EPSILON;
  if (buf.sorted) {
    cutSorted(buf, target);
    return;
  }
  const max = maxLogitOf(buf);
  let front = 0;
  let mass = 0;
  let round = 0;
  // thresholds on (z − z_max)/T = ln(p / p_max)
  let thr = minPAfter > 0 ? Math.log(minPAfter) : -8 * Math.LN2;
  for (;;) {
    const m = partitionAbove(buf, front, thr, max);
    for (let i = front; i < m; i++) mass += probs[i];
    front = m;
    if (mass >= target || front === buf.size) break;
    if (minPAfter > 0) {
      // nucleus ⊇ min-p set: the final set (nucleus ∩ min-p set) is the min-p set itself
      buf.size = front;
      renormalise(buf);
      return;
    }
    round++;
    thr = round >= 5 ? -Infinity : thr - 8 * Math.LN2;
  }
  sortRange(buf, 0, front - 1);
  buf.size = front;
  buf.sorted = true;
  cutSorted(buf, target);
}

function cutSorted(buf: CandidateBuffer, target: number): void {
  const { probs } = buf;
  let cum = 0;
  let keep = buf.size;
  for (let i = 0; i < buf.size; i++) {
    cum += probs[i];
    if (cum >= target) {
      keep = i + 1;
      break;
    }
  }
  buf.size = keep;
  renormalise(buf);
}

/** Min-p: drop candidates with p < min_p · p_max (order kept); min_p ≤ 0 disables it. */
export function applyMinP(buf: CandidateBuffer, minP: number): void {
  if (!(minP > 0) || buf.size <= 1) return;
  buf.materialise();
  const max = maxLogitOf(buf);
  const thr = Math.log(minP);
  const invT = buf.invTemperature;
  const { ids, logits, probs } = buf;
  let m = 0;
  for (let i = 0; i < buf.size; i++) {
    if ((logits[i] - max) * invT >= thr) {
      if (i !== m) {
        ids[m] = ids[i];
        logits[m] = logits[i];
        probs[m] = probs[i];
      }
      m++;
    }
  }
  buf.size = m;
  renormalise(buf);
}

/** The whole chain in the spec's order: temperature, top-k, top-p, min-p. */
export function applyChain(buf: CandidateBuffer, s: SamplerSettings): void {
  applyTemperature(buf, s.temperature);
  applyTopK(buf, s.topK);
  applyTopP(buf, s.topP, s.minP);
  applyMinP(buf, s.minP);
}

/** Index into the live candidates drawn with uniform u ∈ [0, 1) from their renormalised distribution. */
export function drawIndex(buf: CandidateBuffer, u: number): number {
  ensureProbs(buf);
  const { probs } = buf;
  const n = buf.size;
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i];
  const target = u * total;
  let cum = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const p = probs[i];
    if (p > 0) {
      cum += p;
      last = i;
      if (cum > target) return i;
    }
  }
  return last; // rounding: u·total ≥ the running sum at the very end
}

/** One token id drawn from the live candidates with the generator (advances it once). */
export function drawToken(buf: CandidateBuffer, rng: Rng): number {
  return buf.ids[drawIndex(buf, rng.uniform())];
}
