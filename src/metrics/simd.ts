// A small WebAssembly SIMD kernel for the two passes of the logit metrics (max, then Σe, Σe·d, Σe·d²
// with e = exp(d), d = z − max). V8's scalar Math.exp costs ~8–10 ns per call; at a 128k vocabulary
// that alone exceeds the per-token budget, while this kernel evaluates exp two lanes at a time.
//
// The module is assembled here, at load, from the readable instruction lists below (no binary blob,
// no build step). exp(d) for d ∈ [−708, 0]: t = d·log2 e, n = nearest(t), r = (t − n)·ln 2 ∈
// [−0.347, 0.347], exp(d) = 2^n · Σ_{k≤10} r^k/k! (relative error < 1e-13), with 2^n built from the
// exponent bits. d < −708 (e < 1e-307) and −Infinity contribute exactly 0. logits.ts keeps a scalar
// reference of the same sums and uses it when WebAssembly SIMD is unavailable.

/** Sums over one logits vector; d = z − max. */
export interface LogitSums {
  max: number;
  z: number;
  a: number;
  b: number;
}

export interface LogitKernel {
  /** Fills `out`; max is NaN if any logit is NaN. Copies the logits into the module's memory. */
  sums(logits: Float32Array, out: LogitSums): void;
}

// ---- a minimal encoder ----
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const bytesOf = (a: Float64Array | Float32Array | BigInt64Array): number[] => [...new Uint8Array(a.buffer)];
const vec = (b: number[]): number[] => [...uleb(b.length), ...b];
const section = (id: number, b: number[]): number[] => [id, ...uleb(b.length), ...b];
const name = (s: string): number[] => vec([...s].map((c) => c.charCodeAt(0)));

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

// scalar
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const I32_ADD = [0x6a];
const I32_SHL = [0x74];
const I32_GE_U = [0x4f];
const F32_MAX = [0x97];
const F64_ADD = [0xa0];
const F64_STORE = (offset: number) => [0x39, 3, ...uleb(offset)];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const BR = (depth: number) => [0x0c, depth];
const BR_IF = (depth: number) => [0x0d, depth];
// SIMD (0xfd prefix)
const simd = (op: number) => [0xfd, ...uleb(op)];
const V128_LOAD = (offset: number) => [...simd(0x00), 4, ...uleb(offset)];
const V128_LOAD64_ZERO = (offset: number) => [...simd(0x5d), 3, ...uleb(offset)];
const V128_AND = simd(0x4e);
const f64x2 = (x: number) => [...simd(0x0c), ...bytesOf(new Float64Array([x, x]))];
const i64x2 = (x: number) => [...simd(0x0c), ...bytesOf(new BigInt64Array([BigInt(x), BigInt(x)]))];
const f32x4 = (x: number) => [...simd(0x0c), ...bytesOf(new Float32Array([x, x, x, x]))];
const F32X4_EXTRACT = (lane: number) => [...simd(0x1f), lane];
const F32X4_MAX = simd(0xe9);
const F64X2_SPLAT = simd(0x14);
const F64X2_EXTRACT = (lane: number) => [...simd(0x21), lane];
const F64X2_GE = simd(0x4c);
const F64X2_PROMOTE_LOW_F32X4 = simd(0x5f);
const F64X2_NEAREST = simd(0x94);
const F64X2_ADD = simd(0xf0);
const F64X2_SUB = simd(0xf1);
const F64X2_MUL = simd(0xf2);
const I32X4_TRUNC_SAT_F64X2_S_ZERO = simd(0xfc);
const I64X2_EXTEND_LOW_I32X4_S = simd(0xc7);
const I64X2_SHL = simd(0xcb);
const I64X2_ADD = simd(0xce);

/** Logits start here in linear memory; bytes [0, 24) receive z, a, b. */
const DATA = 64;

// max(n): n a multiple of 4. params: n(0); locals: p(1), end(2) i32, m(3) v128
const maxBody = [
  ...f32x4(-Infinity), ...set(3),
  ...i32(DATA), ...set(1),
  ...i32(DATA), ...get(0), ...i32(2), ...I32_SHL, ...I32_ADD, ...set(2),
  ...BLOCK, ...LOOP,
  ...get(1), ...get(2), ...I32_GE_U, ...BR_IF(1),
  ...get(3), ...get(1), ...V128_LOAD(0), ...F32X4_MAX, ...set(3), // NaN propagates
  ...get(1), ...i32(16), ...I32_ADD, ...set(1),
  ...BR(0),
  ...END, ...END,
  ...get(3), ...F32X4_EXTRACT(0), ...get(3), ...F32X4_EXTRACT(1), ...F32_MAX,
  ...get(3), ...F32X4_EXTRACT(2), ...get(3), ...F32X4_EXTRACT(3), ...F32_MAX, ...F32_MAX,
  ...END,
];

// sums(n, max): params n(0) i32, max(1) f64; locals p(2), end(3) i32;
// M(4) Z(5) A(6) B(7) d(8) mask(9) t(10) n(11) r(12) e(13) v128
const EXP_COEFFS = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880, 1 / 3628800];
function twoLanes(offset: number): number[] {
  const horner: number[] = [...f64x2(EXP_COEFFS[10])];
  for (let k = 9; k >= 0; k--) horner.push(...get(12), ...F64X2_MUL, ...f64x2(EXP_COEFFS[k]), ...F64X2_ADD);
  return [
    // d = promote(two floats) − max; mask = d ≥ −708; d &= mask (−Infinity and underflow → 0)
    ...get(2), ...V128_LOAD64_ZERO(offset), ...F64X2_PROMOTE_LOW_F32X4, ...get(4), ...F64X2_SUB, ...tee(8),
    ...f64x2(-708), ...F64X2_GE, ...tee(9),
    ...get(8), ...V128_AND, ...set(8),
    // t = d·log2 e; n = nearest(t); r = (t − n)·ln 2
    ...get(8), ...f64x2(Math.LOG2E), ...F64X2_MUL, ...tee(10), ...F64X2_NEAREST, ...set(11),
    ...get(10), ...get(11), ...F64X2_SUB, ...f64x2(Math.LN2), ...F64X2_MUL, ...set(12),
    // e = poly(r) · 2^n (bits (n + 1023) << 52), masked
    ...horner,
    ...get(11), ...I32X4_TRUNC_SAT_F64X2_S_ZERO, ...I64X2_EXTEND_LOW_I32X4_S, ...i64x2(1023), ...I64X2_ADD, ...i32(52), ...I64X2_SHL,
    ...F64X2_MUL, ...get(9), ...V128_AND, ...tee(13),
    // Z += e; A += e·d; B += e·d·d
    ...get(5), ...F64X2_ADD, ...set(5),
    ...get(13), ...get(8), ...F64X2_MUL, ...tee(13), ...get(6), ...F64X2_ADD, ...set(6),
    ...get(13), ...get(8), ...F64X2_MUL, ...get(7), ...F64X2_ADD, ...set(7),
  ];
}
const storeLanes = (local: number, addr: number) => [
  ...i32(0), ...get(local), ...F64X2_EXTRACT(0), ...get(local), ...F64X2_EXTRACT(1), ...F64_ADD, ...F64_STORE(addr),
];
const sumsBody = [
  ...get(1), ...F64X2_SPLAT, ...set(4),
  ...i32(DATA), ...set(2),
  ...i32(DATA), ...get(0), ...i32(2), ...I32_SHL, ...I32_ADD, ...set(3),
  ...BLOCK, ...LOOP,
  ...get(2), ...get(3), ...I32_GE_U, ...BR_IF(1),
  ...twoLanes(0), ...twoLanes(8),
  ...get(2), ...i32(16), ...I32_ADD, ...set(2),
  ...BR(0),
  ...END, ...END,
  ...storeLanes(5, 0), ...storeLanes(6, 8), ...storeLanes(7, 16),
  ...END,
];

const funcBody = (locals: [number, number][], body: number[]) =>
  vec([...uleb(locals.length), ...locals.flatMap(([count, type]) => [...uleb(count), type]), ...body]);

function assemble(): Uint8Array {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, ...vec([I32]), ...vec([F32]), 0x60, ...vec([I32, F64]), ...vec([])]), // types
    ...section(3, [2, 0, 1]), // functions: max: type 0, sums: type 1
    ...section(5, [1, 0x00, 1]), // one memory, 1 page, no maximum
    ...section(7, [3, ...name("memory"), 0x02, 0, ...name("max"), 0x00, 0, ...name("sums"), 0x00, 1]),
    ...section(10, [2, ...funcBody([[2, I32], [1, V128]], maxBody), ...funcBody([[2, I32], [10, V128]], sumsBody)]),
  ]);
}

// The project compiles with lib ES2022 and Node's types, which do not declare WebAssembly; this is
// the part used here (the global exists in every Node version the project supports).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface Exports {
  memory: WasmMemory;
  max(n: number): number;
  sums(n: number, max: number): void;
}

class SimdKernel implements LogitKernel {
  private f32: Float32Array;
  private out: Float64Array;

  constructor(private readonly x: Exports) {
    this.f32 = new Float32Array(x.memory.buffer);
    this.out = new Float64Array(x.memory.buffer, 0, 3);
  }

  sums(logits: Float32Array, out: LogitSums): void {
    const n = logits.length;
    const padded = (n + 3) & ~3;
    const need = DATA + padded * 4;
    if (this.x.memory.buffer.byteLength < need) {
      this.x.memory.grow(Math.ceil((need - this.x.memory.buffer.byteLength) / 65536));
    }
    // views are detached by grow; re-create them whenever the buffer changed
    if (this.f32.buffer !== this.x.memory.buffer) {
      this.f32 = new Float32Array(this.x.memory.buffer);
      this.out = new Float64Array(this.x.memory.buffer, 0, 3);
    }
    const base = DATA / 4;
    this.f32.set(logits, base);
    for (let i = n; i < padded; i++) this.f32[base + i] = -Infinity;
    const max = this.x.max(padded);
    out.max = max;
    if (!Number.isFinite(max)) {
      out.z = NaN;
      out.a = NaN;
      out.b = NaN;
      return;
    }
    this.x.sums(padded, max);
    out.z = this.out[0];
    out.a = this.out[1];
    out.b = this.out[2];
  }
}

let kernel: LogitKernel | null | undefined;

/** The SIMD kernel, or null where WebAssembly SIMD is unavailable (or ENTROPIX_NO_SIMD=1). */
export function simdLogitKernel(): LogitKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    if (typeof WebAssembly === "object" && !(typeof process === "object" && process.env?.ENTROPIX_NO_SIMD === "1")) {
      const bytes = assemble();
      if (WebAssembly.validate(bytes)) {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
        kernel = new SimdKernel(instance.exports as unknown as Exports);
      }
    }
  } catch {
    kernel = null;
  }
  return kernel;
}
