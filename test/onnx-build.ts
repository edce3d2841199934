// Test-only: builds small ONNX models byte by byte with the project's own protobuf encoder, so tests
// need no Python. Field numbers from onnx.proto (see src/onnx/scan.ts).
import { Encoder } from "../src/onnx/protobuf.js";

export const F32 = 1;
export const I32 = 6;
export const I64 = 7;
export const BOOL = 9;
export const F16 = 10;

export interface ValueSpec {
  name: string;
  elem: number;
  dims: (number | string)[] | null;
}

export interface AttrSpec {
  name: string;
  i?: number | bigint;
  f?: number;
  s?: string;
  ints?: (number | bigint)[];
  /** Encoded GraphProto bytes. */
  g?: Uint8Array;
  /** Encoded TensorProto bytes. */
  t?: Uint8Array;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: AttrSpec[];
}

export function valueInfo(e: Encoder, field: number, v: ValueSpec): void {
  e.message(field, (vi) => {
    vi.string(1, v.name);
    vi.message(2, (tp) =>
      tp.message(1, (tt) => {
        tt.int(1, v.elem);
        if (v.dims) tt.message(2, (sh) => v.dims!.forEach((d) => sh.message(1, (x) => (typeof d === "number" ? x.int(1, d) : x.string(2, d)))));
      }),
    );
  });
}

export function tensor(name: string, elem: number, dims: number[], raw: Uint8Array | null, external?: { location: string; offset: number; length: number }): Uint8Array {
  const t = new Encoder();
  for (const d of dims) t.int(1, d);
  t.int(2, elem).string(8, name);
  if (raw) t.bytes(9, raw);
  if (external) {
    for (const [k, v] of [["location", external.location], ["offset", String(external.offset)], ["length", String(external.length)]]) {
      t.message(13, (kv) => kv.string(1, k).string(2, v));
    }
    t.int(14, 1);
  }
  return t.finish();
}

export function node(e: Encoder, field: number, n: NodeSpec): void {
  e.message(field, (m) => {
    for (const i of n.inputs) m.string(1, i);
    for (const o of n.outputs) m.string(2, o);
    m.string(3, n.name ?? `${n.op}_${n.outputs[0]}`).string(4, n.op);
    for (const a of n.attrs ?? []) {
      m.message(5, (x) => {
        x.string(1, a.name);
        if (a.i !== undefined) x.int(20, 2).int(3, a.i);
        else if (a.f !== undefined) x.int(20, 1).float(2, a.f);
        else if (a.s !== undefined) x.int(20, 3).string(4, a.s);
        else if (a.ints !== undefined) {
          x.int(20, 7);
          for (const v of a.ints) x.int(8, v);
        } else if (a.g !== undefined) x.int(20, 5).bytes(6, a.g);
        else if (a.t !== undefined) x.int(20, 4).bytes(5, a.t);
      });
    }
    if (n.domain) m.string(7, n.domain);
  });
}

export function graph(g: { name?: string; nodes: NodeSpec[]; inputs: ValueSpec[]; outputs: ValueSpec[]; initializers?: Uint8Array[] }): Uint8Array {
  const e = new Encoder();
  for (const n of g.nodes) node(e, 1, n);
  e.string(2, g.name ?? "g");
  for (const t of g.initializers ?? []) e.bytes(5, t);
  for (const v of g.inputs) valueInfo(e, 11, v);
  for (const v of g.outputs) valueInfo(e, 12, v);
  return e.finish();
}

export function model(m: { irVersion?: number; opsets: [string, number][]; graph: Uint8Array; producer?: string }): Uint8Array {
  const e = new Encoder();
  e.int(1, m.irVersion ?? 8);
  e.string(2, m.producer ?? "entropix-test");
  e.bytes(7, m.graph);
  for (const [domain, version] of m.opsets) e.message(8, (o) => o.string(1, domain).int(2, version));
  return e.finish();
}

export function f32bytes(xs: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(xs).buffer);
}

// ---------------------------------------------------------------------------------------------
// A tiny random decoder LM in the Hugging Face ONNX layout, for compatibility tests. Plain attention
// per layer: MatMul(Q, Kᵀ) → Mul(1/√d) → Add(mask) → Softmax → MatMul(V), a KV cache through Concat,
// tied-free logits. Random weights give near-uniform logits: it tests plumbing, not text.

export const U8 = 2;
export const I8 = 3;

export interface TinyDecoderOptions {
  layers?: number;
  heads?: number;
  headDim?: number;
  vocab?: number;
  /** Rows of the learned position table (when position_ids is an input). */
  context?: number;
  /** Element type of input_ids, attention_mask and position_ids. */
  ids?: "int64" | "int32";
  positionIds?: boolean;
  cache?: "float32" | "float16";
  logits?: "float32" | "float16";
  /** optimum's decoder_model_merged layout: a `use_cache_branch` input selects an If branch. */
  merged?: boolean;
  /** Projections as DynamicQuantizeLinear → MatMulInteger (int8 weights), as optimum's dynamic quantization. */
  quantized?: boolean;
  /** Put the weights into this external data file (relative `location`, e.g. "model.onnx_data"). */
  externalData?: string;
  /** Renames graph inputs/outputs (e.g. `{ logits: "hidden" }`), for malformed-model tests. */
  rename?: Record<string, string>;
  seed?: number;
}

export interface TinyDecoder {
  onnx: Uint8Array;
  /** External data bytes when `externalData` was given. */
  data: Uint8Array | null;
  /** A matching config.json (LlamaForCausalLM-style keys). */
  config: Record<string, unknown>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function i64bytes(xs: (number | bigint)[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(xs.map((x) => BigInt(x))).buffer);
}

/** Builds a tiny decoder (see TinyDecoderOptions); defaults: 2 layers, 2 heads × 8, vocab 512, fp32, int64 ids. */
export function tinyDecoder(o: TinyDecoderOptions = {}): TinyDecoder {
  const L = o.layers ?? 2;
  const H = o.heads ?? 2;
  const D = o.headDim ?? 8;
  const E = H * D;
  const V = o.vocab ?? 512;
  const C = o.context ?? 128;
  const idElem = o.ids === "int32" ? I32 : I64;
  const cacheElem = o.cache === "float16" ? F16 : F32;
  const logitsElem = o.logits === "float16" ? F16 : F32;
  const N = (name: string) => o.rename?.[name] ?? name;
  const rnd = mulberry32(o.seed ?? 1);

  const inits: Uint8Array[] = [];
  const dataChunks: Uint8Array[] = [];
  let dataLen = 0;
  const init = (name: string, elem: number, dims: number[], raw: Uint8Array, weight = false) => {
    if (weight && o.externalData) {
      const pad = (64 - (dataLen % 64)) % 64;
      if (pad) dataChunks.push(new Uint8Array(pad));
      dataLen += pad;
      inits.push(tensor(name, elem, dims, null, { location: o.externalData, offset: dataLen, length: raw.length }));
      dataChunks.push(raw);
      dataLen += raw.length;
    } else {
      inits.push(tensor(name, elem, dims, raw));
    }
    return name;
  };
  const randn = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
  /** A weight [rows, cols]: float32, or int8 + a scale for the quantized variant. */
  const weight = (name: string, rows: number, cols: number, scale: number) => {
    const w = randn(rows * cols, scale);
    if (!o.quantized) return { w: init(name, F32, [rows, cols], f32bytes(w), true) };
    const s = Math.max(...w.map(Math.abs)) / 127;
    const q = Int8Array.from(w, (x) => Math.round(x / s));
    return { w: init(name, I8, [rows, cols], new Uint8Array(q.buffer), true), s: init(`${name}_scale`, F32, [], f32bytes([s])) };
  };

  // Shared constants and weights (main graph initializers, visible inside If branches).
  const embed = init("embed.weight", F32, [V, E], f32bytes(randn(V * E, 1)), true);
  const posTable = o.positionIds !== false ? init("pos.weight", F32, [C, E], f32bytes(randn(C * E, 0.5)), true) : null;
  const layers = Array.from({ length: L }, (_, l) => ({
    q: weight(`layers.${l}.q.weight`, E, E, 1 / Math.sqrt(E)),
    k: weight(`layers.${l}.k.weight`, E, E, 1 / Math.sqrt(E)),
    v: weight(`layers.${l}.v.weight`, E, E, 1 / Math.sqrt(E)),
    o: weight(`layers.${l}.o.weight`, E, E, 1 / Math.sqrt(E)),
  }));
  const lm = weight("lm_head.weight", E, V, 1 / Math.sqrt(E));
  const c = {
    heads: init("c/heads_shape", I64, [4], i64bytes([0, 0, H, D])),
    merge: init("c/merge_shape", I64, [3], i64bytes([0, 0, E])),
    axes12: init("c/axes12", I64, [2], i64bytes([1, 2])),
    axes1: init("c/axes1", I64, [1], i64bytes([1])),
    idx1: init("c/idx1", I64, [], i64bytes([1])),
    zeroI: init("c/zero_i", I64, [], i64bytes([0])),
    oneI: init("c/one_i", I64, [], i64bytes([1])),
    oneF: init("c/one_f", F32, [], f32bytes([1])),
    zeroF: init("c/zero_f", F32, [], f32bytes([0])),
    neg: init("c/neg", F32, [], f32bytes([-1e9])),
    scale: init("c/scale", F32, [], f32bytes([1 / Math.sqrt(D)])),
  };

  /** Emits one forward pass (with or without the past) into `nodes`; names get `prefix`. */
  const body = (usePast: boolean, prefix: string, outNames: string[]) => {
    const nodes: NodeSpec[] = [];
    let k = 0;
    const op = (type: string, inputs: string[], attrs: AttrSpec[] = [], nOut = 1, domain?: string): string[] => {
      const outs = Array.from({ length: nOut }, (_, i) => `${prefix}${type}_${k}${nOut > 1 ? `_${i}` : ""}`);
      nodes.push({ op: type, inputs, outputs: outs, name: `${prefix}${type}_${k++}`, attrs, domain });
      return outs;
    };
    const op1 = (type: string, inputs: string[], attrs: AttrSpec[] = []) => op(type, inputs, attrs)[0];
    const proj = (x: string, w: { w: string; s?: string }) => {
      if (!w.s) return op1("MatMul", [x, w.w]);
      const [xq, xs, xz] = op("DynamicQuantizeLinear", [x], [], 3);
      const y = op1("Cast", [op1("MatMulInteger", [xq, w.w, xz])], [{ name: "to", i: F32 }]);
      return op1("Mul", [y, op1("Mul", [xs, w.s])]);
    };
    const heads = (x: string) => op1("Transpose", [op1("Reshape", [x, c.heads])], [{ name: "perm", ints: [0, 2, 1, 3] }]);
    const cast = (x: string, to: number) => op1("Cast", [x], [{ name: "to", i: to }]);

    let x = op1("Gather", [embed, N("input_ids")]);
    if (posTable) x = op1("Add", [x, op1("Gather", [posTable, N("position_ids")])]);
    // Padding mask [B,1,1,T] plus causal mask [S,T]: query i (absolute T-S+i) sees keys j ≤ T-S+i.
    const pad = op1("Unsqueeze", [op1("Mul", [op1("Sub", [c.oneF, cast(N("attention_mask"), F32)]), c.neg]), c.axes12]);
    const S = op1("Gather", [op1("Shape", [N("input_ids")]), c.idx1]);
    const T = op1("Gather", [op1("Shape", [N("attention_mask")]), c.idx1]);
    const rows = op1("Unsqueeze", [op1("Range", [op1("Sub", [T, S]), T, c.oneI]), c.axes1]);
    const future = op1("Greater", [op1("Range", [c.zeroI, T, c.oneI]), rows]);
    const mask = op1("Add", [pad, op1("Where", [future, c.neg, c.zeroF])]);
    const outputs: string[] = [];
    for (let l = 0; l < L; l++) {
      const w = layers[l];
      const q = heads(proj(x, w.q));
      const present: string[] = [];
      for (const [kind, wt] of [["key", w.k], ["value", w.v]] as const) {
        let t = heads(proj(x, wt));
        if (cacheElem === F16) t = cast(t, F16);
        t = usePast ? op1("Concat", [N(`past_key_values.${l}.${kind}`), t], [{ name: "axis", i: 2 }]) : t;
        outputs.push(t);
        present.push(cacheElem === F16 ? cast(t, F32) : t);
      }
      const kT = op1("Transpose", [present[0]], [{ name: "perm", ints: [0, 1, 3, 2] }]);
      const scores = op1("Add", [op1("Mul", [op1("MatMul", [q, kT]), c.scale]), mask]);
      const probs = op1("Softmax", [scores], [{ name: "axis", i: -1 }]);
      const ctx = op1("Reshape", [op1("Transpose", [op1("MatMul", [probs, present[1]])], [{ name: "perm", ints: [0, 2, 1, 3] }]), c.merge]);
      x = op1("Add", [x, proj(ctx, w.o)]);
    }
    let logits = proj(x, lm);
    if (logitsElem === F16) logits = cast(logits, F16);
    [logits, ...outputs].forEach((v, i) => nodes.push({ op: "Identity", inputs: [v], outputs: [outNames[i]], name: `${prefix}out_${i}` }));
    return nodes;
  };

  const ioOut = [N("logits"), ...Array.from({ length: L }, (_, l) => [N(`present.${l}.key`), N(`present.${l}.value`)]).flat()];
  const inputs: ValueSpec[] = [
    { name: N("input_ids"), elem: idElem, dims: ["batch_size", "sequence_length"] },
    { name: N("attention_mask"), elem: idElem, dims: ["batch_size", "total_sequence_length"] },
  ];
  if (posTable) inputs.push({ name: N("position_ids"), elem: idElem, dims: ["batch_size", "sequence_length"] });
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"]) inputs.push({ name: N(`past_key_values.${l}.${kind}`), elem: cacheElem, dims: ["batch_size", H, "past_sequence_length", D] });
  }
  const outputs: ValueSpec[] = [
    { name: ioOut[0], elem: logitsElem, dims: ["batch_size", "sequence_length", V] },
    ...ioOut.slice(1).map((name) => ({ name, elem: cacheElem, dims: ["batch_size", H, "total_sequence_length", D] })),
  ];
  let nodes: NodeSpec[];
  if (o.merged) {
    inputs.push({ name: N("use_cache_branch"), elem: BOOL, dims: [1] });
    const branch = (usePast: boolean, p: string) => {
      const names = ioOut.map((n) => `${p}${n}`);
      return graph({ name: p.slice(0, -1), nodes: body(usePast, p, names), inputs: [], outputs: outputs.map((v, i) => ({ name: names[i], elem: v.elem, dims: null })) });
    };
    nodes = [
      {
        op: "If",
        name: "optimum::if",
        inputs: [N("use_cache_branch")],
        outputs: ioOut,
        attrs: [
          { name: "then_branch", g: branch(true, "with_past/") },
          { name: "else_branch", g: branch(false, "no_past/") },
        ],
      },
    ];
  } else {
    nodes = body(true, "", ioOut);
  }
  const onnx = model({ opsets: [["", 17]], graph: graph({ name: "tiny_decoder", nodes, inputs, outputs, initializers: inits }) });
  let data: Uint8Array | null = null;
  if (o.externalData) {
    data = new Uint8Array(dataLen);
    let off = 0;
    for (const ch of dataChunks) {
      data.set(ch, off);
      off += ch.length;
    }
  }
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: H,
    hidden_size: E,
    head_dim: D,
    vocab_size: V,
    max_position_embeddings: C,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  return { onnx, data, config };
}
