// Scans an ONNX model file without loading it: opset imports, graph inputs/outputs, every node's
// op_type/domain/inputs/outputs/attributes (tensor values and initializers skipped by length),
// subgraphs of control-flow nodes, model-local functions, and the external-data files referenced.
// Then classifies how the model computes attention (plain Softmax, fused kernels, inside subgraphs).
//
// Field numbers are those of onnx.proto (proto2):
//   ModelProto: 1 ir_version, 7 graph, 8 opset_import, 25 functions
//   OperatorSetIdProto: 1 domain, 2 version
//   GraphProto: 1 node, 2 name, 5 initializer, 11 input, 12 output, 13 value_info, 15 sparse_initializer
//   NodeProto: 1 input, 2 output, 3 name, 4 op_type, 5 attribute, 7 domain
//   AttributeProto: 1 name, 2 f, 3 i, 4 s, 5 t, 6 g, 7 floats, 8 ints, 10 tensors, 11 graphs, 20 type
//   ValueInfoProto: 1 name, 2 type; TypeProto: 1 tensor_type; TypeProto.Tensor: 1 elem_type, 2 shape
//   TensorShapeProto: 1 dim; Dimension: 1 dim_value, 2 dim_param
//   TensorProto: 8 name, 13 external_data (StringStringEntryProto: 1 key, 2 value), 14 data_location
//   SparseTensorProto: 1 values, 2 indices; FunctionProto: 1 name, 7 node, 10 domain
import { open } from "node:fs/promises";
import { ModelError } from "../errors.js";
import { Decoder, FileReader, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT, WireError, asModelError, type Field } from "./protobuf.js";

export const ATTR = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
  TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export const ELEM = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface ValueInfoSummary {
  name: string;
  /** TensorProto.DataType of a tensor type; null for non-tensor types. */
  elemType: number | null;
  /** Dimensions (number, symbolic name, or null when unknown); null when no shape is given. */
  dims: (number | string | null)[] | null;
  /** File offset of the field's tag (graph outputs, which the cache rewrite demotes in place). */
  start?: number;
}

export interface AttrSummary {
  name: string;
  type: number;
  /** INT value (exact for |i| < 2^53). */
  i?: number;
  f?: number;
  /** STRING value when short. */
  s?: string;
  ints?: number[];
}

export interface NodeSummary {
  index: number;
  name: string;
  opType: string;
  /** "" for the default ONNX domain ("ai.onnx" is normalised to ""). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: AttrSummary[];
  /** File range of the whole `node` field (tag, length and content). */
  start: number;
  end: number;
  /** Graphs held in GRAPH / GRAPHS attributes (If branches, Loop/Scan bodies). */
  subgraphs: GraphSummary[];
}

export interface GraphSummary {
  name: string;
  nodes: NodeSummary[];
  inputs: ValueInfoSummary[];
  outputs: ValueInfoSummary[];
  initializerCount: number;
  valueInfoCount: number;
  /** File range of the graph's content (inside the length-delimited field). */
  contentStart: number;
  contentEnd: number;
}

export interface FunctionSummary {
  name: string;
  domain: string;
  nodes: NodeSummary[];
}

export interface ModelScan {
  path: string;
  size: number;
  irVersion: number;
  opsets: OpsetImport[];
  /** The main graph. */
  graph: GraphSummary;
  /** File range of the ModelProto `graph` field (tag through end of content). */
  graphFieldStart: number;
  functions: FunctionSummary[];
  /** Relative `location`s of external-data tensors (initializers, Constant values, subgraphs). */
  externalData: string[];
  /** Bytes actually read from disk while scanning. */
  bytesRead: number;
}

/** Fused attention kernels: domain:op_type → whether the rewrite can make it emit scores. */
export const FUSED_ATTENTION: ReadonlyMap<string, "gqa" | "onnx-attention" | "unsupported"> = new Map([
  ["com.microsoft:GroupQueryAttention", "gqa"],
  [":Attention", "onnx-attention"],
  ["com.microsoft:Attention", "unsupported"],
  ["com.microsoft:MultiHeadAttention", "unsupported"],
  ["com.microsoft:DecoderMaskedMultiHeadAttention", "unsupported"],
  ["com.microsoft:DecoderMaskedSelfAttention", "unsupported"],
  ["com.microsoft:PackedAttention", "unsupported"],
  ["com.microsoft:PackedMultiHeadAttention", "unsupported"],
  ["com.microsoft:SparseAttention", "unsupported"],
  ["com.microsoft:PagedAttention", "unsupported"],
  ["com.microsoft:QAttention", "unsupported"],
  ["com.microsoft:LongformerAttention", "unsupported"],
  ["com.microsoft:RelativePositionBiasAttention", "unsupported"],
]);

export function fusedKind(n: Pick<NodeSummary, "domain" | "opType">): "gqa" | "onnx-attention" | "unsupported" | null {
  return FUSED_ATTENTION.get(`${n.domain}:${n.opType}`) ?? null;
}

export function qualifiedOp(n: Pick<NodeSummary, "domain" | "opType">): string {
  return n.domain ? `${n.domain}.${n.opType}` : n.opType;
}

const MAX_SMALL = 64 * 1024 * 1024;
const MAX_DEPTH = 32;

class Scanner {
  readonly externalData = new Set<string>();
  constructor(readonly r: FileReader) {}

  async string(f: Field): Promise<string> {
    if (f.wire !== WIRE_LEN) throw new WireError(`field ${f.field} at byte ${f.start} should be length-delimited`, f.start, false);
    if (f.end - f.valueStart > MAX_SMALL) throw new WireError(`string field ${f.field} at byte ${f.start} is implausibly long`, f.start, false);
    return new TextDecoder().decode(await this.r.bytes(f.valueStart, f.end));
  }

  async small(f: Field): Promise<Decoder> {
    if (f.wire !== WIRE_LEN) throw new WireError(`field ${f.field} at byte ${f.start} should be a message`, f.start, false);
    if (f.end - f.valueStart > MAX_SMALL) throw new WireError(`message field ${f.field} at byte ${f.start} is implausibly long`, f.start, false);
    const bytes = await this.r.bytes(f.valueStart, f.end);
    return new Decoder(bytes, 0, bytes.length, f.valueStart);
  }

  expectLen(f: Field): void {
    if (f.wire !== WIRE_LEN) throw new WireError(`field ${f.field} at byte ${f.start} should be length-delimited`, f.start, false);
  }

  async graph(start: number, end: number, depth: number): Promise<GraphSummary> {
    if (depth > MAX_DEPTH) throw new WireError(`subgraphs nested deeper than ${MAX_DEPTH} at byte ${start}`, start, false);
    const g: GraphSummary = {
      name: "", nodes: [], inputs: [], outputs: [], initializerCount: 0, valueInfoCount: 0, contentStart: start, contentEnd: end,
    };
    for (let pos = start; pos < end; ) {
      const f = await this.r.fieldAt(pos, end);
      pos = f.end;
      switch (f.field) {
        case 1:
          this.expectLen(f);
          g.nodes.push(await this.node(f, g.nodes.length, depth));
          break;
        case 2:
          g.name = await this.string(f);
          break;
        case 5:
          this.expectLen(f);
          g.initializerCount++;
          await this.tensor(f.valueStart, f.end);
          break;
        case 15:
          this.expectLen(f);
          g.initializerCount++;
          await this.sparseTensor(f.valueStart, f.end);
          break;
        case 11:
          g.inputs.push(valueInfo(await this.small(f)));
          break;
        case 12:
          g.outputs.push({ ...valueInfo(await this.small(f)), start: f.start });
          break;
        case 13:
          g.valueInfoCount++;
          break;
        default:
          break;
      }
    }
    return g;
  }

  async node(nf: Field, index: number, depth: number): Promise<NodeSummary> {
    const n: NodeSummary = {
      index, name: "", opType: "", domain: "", inputs: [], outputs: [], attrs: [], start: nf.start, end: nf.end, subgraphs: [],
    };
    for (let pos = nf.valueStart; pos < nf.end; ) {
      const f = await this.r.fieldAt(pos, nf.end);
      pos = f.end;
      switch (f.field) {
        case 1:
          n.inputs.push(await this.string(f));
          break;
        case 2:
          n.outputs.push(await this.string(f));
          break;
        case 3:
          n.name = await this.string(f);
          break;
        case 4:
          n.opType = await this.string(f);
          break;
        case 7:
          n.domain = normDomain(await this.string(f));
          break;
        case 5:
          this.expectLen(f);
          n.attrs.push(await this.attribute(f, n, depth));
          break;
        default:
          break;
      }
    }
    return n;
  }

  async attribute(af: Field, n: NodeSummary, depth: number): Promise<AttrSummary> {
    const a: AttrSummary = { name: "", type: 0 };
    for (let pos = af.valueStart; pos < af.end; ) {
      const f = await this.r.fieldAt(pos, af.end);
      pos = f.end;
      switch (f.field) {
        case 1:
          a.name = await this.string(f);
          break;
        case 20:
          a.type = f.varint;
          break;
        case 2:
          if (f.wire === WIRE_FIXED32) {
            const b = await this.r.bytes(f.valueStart, f.end);
            a.f = new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
          }
          break;
        case 3:
          if (f.wire === WIRE_VARINT) a.i = toSigned(f.varint);
          break;
        case 4:
          if (f.end - f.valueStart <= 4096) a.s = await this.string(f);
          break;
        case 8: {
          a.ints ??= [];
          if (f.wire === WIRE_VARINT) a.ints.push(toSigned(f.varint));
          else if (f.wire === WIRE_LEN) {
            const d = await this.small(f);
            while (!d.done) a.ints.push(toSigned(d.varint()));
          }
          break;
        }
        case 5:
          this.expectLen(f);
          await this.tensor(f.valueStart, f.end);
          break;
        case 10:
          this.expectLen(f);
          await this.tensor(f.valueStart, f.end);
          break;
        case 22:
        case 23:
          this.expectLen(f);
          await this.sparseTensor(f.valueStart, f.end);
          break;
        case 6:
        case 11:
          this.expectLen(f);
          n.subgraphs.push(await this.graph(f.valueStart, f.end, depth + 1));
          break;
        default:
          break;
      }
    }
    return a;
  }

  /** Walks a TensorProto for its external-data location; raw data is skipped by length. */
  async tensor(start: number, end: number): Promise<void> {
    let location: string | null = null;
    let external = false;
    for (let pos = start; pos < end; ) {
      const f = await this.r.fieldAt(pos, end);
      pos = f.end;
      if (f.field === 13) {
        const d = await this.small(f);
        let key = "";
        let value = "";
        while (!d.done) {
          const e = d.field();
          if (e.field === 1 && e.wire === WIRE_LEN) key = d.string(e);
          else if (e.field === 2 && e.wire === WIRE_LEN) value = d.string(e);
        }
        if (key === "location") location = value;
      } else if (f.field === 14 && f.wire === WIRE_VARINT) {
        external = f.varint === 1;
      }
    }
    if (external && location) this.externalData.add(location);
  }

  async sparseTensor(start: number, end: number): Promise<void> {
    for (let pos = start; pos < end; ) {
      const f = await this.r.fieldAt(pos, end);
      pos = f.end;
      if ((f.field === 1 || f.field === 2) && f.wire === WIRE_LEN) await this.tensor(f.valueStart, f.end);
    }
  }

  async function_(ff: Field): Promise<FunctionSummary> {
    const fn: FunctionSummary = { name: "", domain: "", nodes: [] };
    for (let pos = ff.valueStart; pos < ff.end; ) {
      const f = await this.r.fieldAt(pos, ff.end);
      pos = f.end;
      if (f.field === 1) fn.name = await this.string(f);
      else if (f.field === 10) fn.domain = normDomain(await this.string(f));
      else if (f.field === 7) {
        this.expectLen(f);
        fn.nodes.push(await this.node(f, fn.nodes.length, 1));
      }
    }
    return fn;
  }
}

function normDomain(d: string): string {
  return d === "ai.onnx" ? "" : d;
}

function toSigned(v: number): number {
  return v >= 2 ** 63 ? v - 2 ** 64 : v;
}

function valueInfo(d: Decoder): ValueInfoSummary {
  const vi: ValueInfoSummary = { name: "", elemType: null, dims: null };
  while (!d.done) {
    const f = d.field();
    if (f.field === 1 && f.wire === WIRE_LEN) vi.name = d.string(f);
    else if (f.field === 2 && f.wire === WIRE_LEN) {
      const t = d.sub(f);
      while (!t.done) {
        const tf = t.field();
        if (tf.field !== 1 || tf.wire !== WIRE_LEN) continue; // only tensor_type
        const tt = t.sub(tf);
        while (!tt.done) {
          const x = tt.field();
          if (x.field === 1 && x.wire === WIRE_VARINT) vi.elemType = x.varint;
          else if (x.field === 2 && x.wire === WIRE_LEN) {
            vi.dims = [];
            const sh = tt.sub(x);
            while (!sh.done) {
              const df = sh.field();
              if (df.field !== 1 || df.wire !== WIRE_LEN) continue;
              const dd = sh.sub(df);
              let dim: number | string | null = null;
              while (!dd.done) {
                const y = dd.field();
                if (y.field === 1 && y.wire === WIRE_VARINT) dim = y.varint;
                else if (y.field === 2 && y.wire === WIRE_LEN) dim = dd.string(y);
              }
              vi.dims.push(dim);
            }
          }
        }
      }
    }
  }
  return vi;
}

/** Scans `path`. Throws ModelError (one line, naming the file) when it is not a readable ONNX model. */
export async function scanModel(path: string): Promise<ModelScan> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw new ModelError(`${path}: cannot open ONNX file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const size = (await fh.stat()).size;
    const r = new FileReader(fh, size);
    const s = new Scanner(r);
    let irVersion: number | null = null;
    const opsets: OpsetImport[] = [];
    let graph: GraphSummary | null = null;
    let graphFieldStart = -1;
    const functions: FunctionSummary[] = [];
    for (let pos = 0; pos < size; ) {
      const f = await r.fieldAt(pos, size);
      pos = f.end;
      switch (f.field) {
        case 1:
          if (f.wire !== WIRE_VARINT) throw new WireError(`ir_version at byte ${f.start} is not a varint`, f.start, false);
          irVersion = f.varint;
          break;
        case 7:
          if (f.wire !== WIRE_LEN) throw new WireError(`graph at byte ${f.start} is not length-delimited`, f.start, false);
          if (graph) throw new ModelError(`${path}: the model holds its graph in two pieces; not supported by the attention-taps rewrite`);
          graphFieldStart = f.start;
          graph = await s.graph(f.valueStart, f.end, 0);
          break;
        case 8: {
          const d = await s.small(f);
          const o: OpsetImport = { domain: "", version: 0 };
          while (!d.done) {
            const e = d.field();
            if (e.field === 1 && e.wire === WIRE_LEN) o.domain = normDomain(d.string(e));
            else if (e.field === 2 && e.wire === WIRE_VARINT) o.version = e.varint;
          }
          opsets.push(o);
          break;
        }
        case 25:
          s.expectLen(f);
          functions.push(await s.function_(f));
          break;
        default:
          break;
      }
    }
    if (irVersion === null || graph === null) {
      throw new ModelError(`${path}: not an ONNX model file (no ${irVersion === null ? "ir_version" : "graph"} field); re-export or re-download the model`);
    }
    return {
      path, size, irVersion, opsets, graph, graphFieldStart, functions, externalData: [...s.externalData], bytesRead: r.bytesRead,
    };
  } catch (err) {
    throw asModelError(err, path);
  } finally {
    await fh.close();
  }
}

/** Version of the default ONNX operator set (0 when absent). */
export function defaultOpset(scan: Pick<ModelScan, "opsets">): number {
  return scan.opsets.find((o) => o.domain === "")?.version ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Attention classification

/** Ops a Softmax's probabilities may pass through on their way to the ×V MatMul. */
const PASS_THROUGH = new Set(["Cast", "Identity", "Dropout", "Where", "Reshape", "Expand"]);

/** Softmax nodes of `g` whose output reaches a MatMul (the probabilities × V) within a few pass-through ops. */
export function attentionSoftmaxes(g: GraphSummary): NodeSummary[] {
  const consumers = new Map<string, NodeSummary[]>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      let list = consumers.get(i);
      if (!list) consumers.set(i, (list = []));
      list.push(n);
    }
  }
  const reachesMatMul = (name: string, hops: number): boolean => {
    for (const c of consumers.get(name) ?? []) {
      if (c.domain === "" && c.opType === "MatMul") return true;
      if (hops > 0 && c.domain === "" && PASS_THROUGH.has(c.opType) && c.outputs[0] && reachesMatMul(c.outputs[0], hops - 1)) return true;
    }
    return false;
  };
  return g.nodes.filter((n) => n.domain === "" && n.opType === "Softmax" && n.inputs[0] && n.outputs[0] && reachesMatMul(n.outputs[0], 3));
}

export interface AttentionCensus {
  /** Softmax nodes in the main graph that feed a MatMul, in node order. */
  softmax: NodeSummary[];
  /** All Softmax nodes in the main graph. */
  softmaxTotal: number;
  /** Fused attention nodes in the main graph, in node order. */
  fused: NodeSummary[];
  /** Attention found only inside subgraphs: "If", "Loop", … with what was found there. */
  inSubgraph: { opType: string; nodeName: string; what: string } | null;
  /** Attention found inside model-local functions called from the graph. */
  inFunction: { name: string; what: string } | null;
}

function graphHasAttention(g: GraphSummary): string | null {
  for (const n of g.nodes) {
    if (fusedKind(n)) return qualifiedOp(n);
  }
  if (attentionSoftmaxes(g).length > 0) return "Softmax";
  for (const n of g.nodes) {
    for (const sg of n.subgraphs) {
      const w = graphHasAttention(sg);
      if (w) return w;
    }
  }
  return null;
}

/** Counts the main graph's attention and notes attention hidden in subgraphs or local functions. */
export function attentionCensus(scan: ModelScan): AttentionCensus {
  const g = scan.graph;
  const opset = defaultOpset(scan);
  const fused = g.nodes.filter((n) => {
    const k = fusedKind(n);
    // ONNX's own Attention exists from opset 23; an ":Attention" below that is a custom op of that name.
    return k !== null && !(k === "onnx-attention" && opset < 23);
  });
  let inSubgraph: AttentionCensus["inSubgraph"] = null;
  for (const n of g.nodes) {
    for (const sg of n.subgraphs) {
      const w = graphHasAttention(sg);
      if (w && !inSubgraph) inSubgraph = { opType: n.opType, nodeName: n.name, what: w };
    }
  }
  let inFunction: AttentionCensus["inFunction"] = null;
  const called = new Set(g.nodes.map((n) => `${n.domain}:${n.opType}`));
  for (const fn of scan.functions) {
    if (!called.has(`${fn.domain}:${fn.name}`)) continue;
    const w = graphHasAttention({ name: fn.name, nodes: fn.nodes, inputs: [], outputs: [], initializerCount: 0, valueInfoCount: 0, contentStart: 0, contentEnd: 0 });
    if (w && !inFunction) inFunction = { name: fn.domain ? `${fn.domain}.${fn.name}` : fn.name, what: w };
  }
  return {
    softmax: attentionSoftmaxes(g),
    softmaxTotal: g.nodes.filter((n) => n.domain === "" && n.opType === "Softmax").length,
    fused,
    inSubgraph,
    inFunction,
  };
}
