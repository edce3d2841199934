// The attention-taps rewrite (entropix-method.md §4): expose each layer's pre-softmax attention scores
// of the last query row as a float32 graph output `attn_scores.{layer}` of shape [batch, heads, 1, kv_len].
//
// The file is never loaded: a scan reads field headers and skips initializers by length; then every
// ModelProto field except the graph is copied byte for byte, and the graph is re-emitted as tag + new
// length + its original content copied in ranges (a fused GroupQueryAttention / Attention node being
// re-encoded in place) + new nodes and outputs appended at the end (protobuf repeated fields may
// continue anywhere in a message). Weights are never decoded. When no node changes and the graph's
// length keeps its varint size, the kernel copies the file and only the header and the end of the
// graph are rewritten (see writePlan).
//
// Note: a fused op asked for its scores materialises the full [batch, heads, query_len, kv_len] matrix
// at prefill (in the op's own dtype) before the Slice keeps the last row; plain-Softmax exports
// compute that matrix anyway.
import { constants, createReadStream } from "node:fs";
import { copyFile, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import path from "node:path";
import { ModelError } from "../errors.js";
import { Decoder, Encoder, FileReader, WIRE_LEN, asModelError } from "./protobuf.js";
import {
  ATTR,
  ELEM,
  type GraphSummary,
  type ValueInfoSummary,
  attentionCensus,
  defaultOpset,
  fusedKind,
  qualifiedOp,
  scanModel,
  type ModelScan,
  type NodeSummary,
} from "./scan.js";

export interface TapReport {
  /** "taps" when the patched model exposes attention scores; "none" when it cannot. */
  source: "taps" | "none";
  /** Number of tapped layers (0 when none). */
  layers: number;
  /** Names of the new graph outputs, in layer order. */
  outputs: string[];
  /** What was done, or why nothing could be. One line. */
  note: string;
  /**
   * "new": the copy's present.* outputs became internal values and new_kv.* outputs (each layer's
   * new positions only) were added, so the caller keeps the cache (src/model/kv-store.ts);
   * "present" (or absent, in older sidecars): the cache outputs are the export's own.
   */
  cacheOutput?: "present" | "new";
}

export const SCORE_OUTPUT = /^attn_scores\.(\d+)$/;
export const scoreOutputName = (layer: number): string => `attn_scores.${layer}`;

const INT64_MAX = (1n << 63n) - 1n;
const COPY_CHUNK = 8 * 1024 * 1024;

/** A planned rewrite: node fields replaced in place, and bytes appended to the graph's content. */
export interface TapPlan {
  report: TapReport;
  /** True when the source already has the outputs; the rewrite is then a plain copy. */
  alreadyTapped: boolean;
  /** Sorted, non-overlapping file ranges of the graph content to replace. */
  replacements: { start: number; end: number; bytes: Uint8Array }[];
  /** New NodeProto and ValueInfoProto fields appended to the graph content. */
  appended: Uint8Array;
}

function none(note: string): TapPlan {
  return { report: { source: "none", layers: 0, outputs: [], note }, alreadyTapped: false, replacements: [], appended: new Uint8Array(0) };
}

export interface TapOptions {
  /**
   * Also add new_kv.* outputs and make present.* internal where the graph allows (see cacheRewrite),
   * for the slot cache of src/model/kv-store.ts. Off by default: the copy then keeps every original
   * output unchanged.
   */
  cache?: boolean;
}

/** Decides what to tap. Reads the fused attention nodes' bytes (small) from the file; nothing else. */
export async function planTaps(scan: ModelScan, options: TapOptions = {}): Promise<TapPlan> {
  const g = scan.graph;
  const existing = g.outputs.map((o) => o.name).filter((n) => SCORE_OUTPUT.test(n));
  if (existing.length > 0) {
    return {
      report: { source: "taps", layers: existing.length, outputs: existing, note: `model already exposes ${existing.length} attn_scores outputs` },
      alreadyTapped: true,
      replacements: [],
      appended: new Uint8Array(0),
    };
  }
  const census = attentionCensus(scan);
  const opset = defaultOpset(scan);
  const names = new UniqueNames(scan);
  const shape = new ShapeHints(scan);

  if (census.fused.length > 0) {
    const bad = census.fused.find((n) => fusedKind(n) === "unsupported");
    if (bad) return none(`fused ${qualifiedOp(bad)} has no score output`);
    const fh = await open(scan.path, "r");
    try {
      const r = new FileReader(fh, scan.size);
      const b = new TapBuilder(opset, names);
      const replacements: TapPlan["replacements"] = [];
      for (const [layer, n] of census.fused.entries()) {
        const kind = fusedKind(n);
        // GQA: qk_output 1 = QK before softmax (masked). ONNX Attention: qk_matmul_output_mode 2 = after
        // mask and softcap, i.e. exactly the softmax input (onnxruntime 1.30's CPU kernel leaves the mask
        // out of mode 1, so mode 2 is also the only one that shows masked positions there).
        const spec =
          kind === "gqa" ? { attr: "qk_output", value: 1, index: 3 } : { attr: "qk_matmul_output_mode", value: 2, index: 3 };
        const current = n.attrs.find((a) => a.name === spec.attr)?.i ?? 0;
        let scores = n.outputs[spec.index] ?? "";
        if (scores && current !== spec.value) {
          return none(`fused ${qualifiedOp(n)} node ${n.name || n.index} already outputs ${spec.attr}=${current}, not pre-softmax scores`);
        }
        if (!scores) {
          scores = names.take(`${n.name || `${n.opType}_${n.index}`}/entropix_scores`);
          const bytes = await r.bytes(n.start, n.end);
          replacements.push({ start: n.start, end: n.end, bytes: reencodeWithScores(bytes, n.start, spec, scores) });
        }
        const heads = n.attrs.find((a) => a.name === (kind === "gqa" ? "num_heads" : "q_num_heads"))?.i ?? null;
        b.tap(layer, scores, shape.dims(heads));
      }
      const what = kind2name(census.fused);
      return {
        report: {
          source: "taps",
          layers: census.fused.length,
          outputs: b.outputs,
          note: `${census.fused.length} fused ${what} node(s) set to output pre-softmax scores (last query row, float32)`,
        },
        alreadyTapped: false,
        replacements,
        appended: b.finish(),
      };
    } finally {
      await fh.close();
    }
  }

  if (census.softmax.length > 0) {
    const b = new TapBuilder(opset, names);
    for (const [layer, n] of census.softmax.entries()) b.tap(layer, n.inputs[0], shape.dims(null));
    const cache = options.cache ? await cacheRewrite(scan, b) : null;
    return {
      report: {
        source: "taps",
        layers: census.softmax.length,
        outputs: b.outputs,
        note: `${census.softmax.length} attention Softmax input(s) tapped (last query row, float32)${cache ? CACHE_NOTE : ""}`,
        cacheOutput: cache ? "new" : "present",
      },
      alreadyTapped: false,
      replacements: cache ?? [],
      appended: b.finish(),
    };
  }
  if (census.inSubgraph) {
    const s = census.inSubgraph;
    return none(`attention (${s.what}) inside ${s.opType} subgraph${s.nodeName ? ` of node ${s.nodeName}` : ""}; taps only cover the main graph`);
  }
  if (census.inFunction) {
    return none(`attention (${census.inFunction.what}) inside model-local function ${census.inFunction.name}; taps only cover the main graph`);
  }
  if (census.softmaxTotal > 0) return none(`${census.softmaxTotal} Softmax node(s) found but none feeds a MatMul; no attention to tap`);
  return none("no Softmax found and no fused attention op; no attention to tap");
}

const PRESENT_OUTPUT = /^present\.(\d+)\.(key|value)$/;
/** The tags of a GraphProto `output` (field 12) and `value_info` (field 13) entry: one byte each. */
const OUTPUT_TAG = (12 << 3) | WIRE_LEN;
const VALUE_INFO_TAG = (13 << 3) | WIRE_LEN;

/**
 * The new-positions input of each present.* output, when every one of them is
 * Concat(past_key_values.N.*, new, axis 2) in the main graph and the model takes attention_mask and
 * position_ids (which place new positions after masked empty slots). Null otherwise: fused attention
 * ops, merged decoders (If), anything else keeps its present.* outputs.
 */
function concatenatedCache(g: GraphSummary): { present: ValueInfoSummary; added: string; name: string }[] | null {
  const inputs = new Set(g.inputs.map((i) => i.name));
  if (!inputs.has("attention_mask") || !inputs.has("position_ids")) return null;
  const producer = new Map<string, NodeSummary>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const presents = g.outputs.filter((o) => PRESENT_OUTPUT.test(o.name));
  if (presents.length === 0) return null;
  const found = [];
  for (const p of presents) {
    const [, layer, kind] = PRESENT_OUTPUT.exec(p.name)!;
    const n = producer.get(p.name);
    const axis = n?.attrs.find((a) => a.name === "axis")?.i;
    if (!n || n.opType !== "Concat" || n.domain !== "" || n.inputs.length !== 2) return null;
    if (n.inputs[0] !== `past_key_values.${layer}.${kind}` || (axis !== 2 && axis !== -2) || p.start === undefined) return null;
    if (p.dims !== null && p.dims.length !== 4) return null;
    found.push({ present: p, added: n.inputs[1], name: `new_kv.${layer}.${kind}` });
  }
  return found;
}

/**
 * Adds new_kv.* outputs to `b` and demotes present.* from graph outputs to value_info entries (one tag
 * byte each, so the copy keeps its size): onnxruntime then neither allocates nor returns the whole
 * cache every run. Returns the byte replacements, or null when the graph does not fit (see above).
 */
async function cacheRewrite(scan: ModelScan, b: TapBuilder): Promise<TapPlan["replacements"] | null> {
  const found = concatenatedCache(scan.graph);
  if (!found) return null;
  const fh = await open(scan.path, "r");
  try {
    const r = new FileReader(fh, scan.size);
    for (const f of found) if ((await r.bytes(f.present.start!, f.present.start! + 1))[0] !== OUTPUT_TAG) return null;
  } finally {
    await fh.close();
  }
  for (const f of found) b.expose(f.name, f.added, f.present.elemType, f.present.dims?.map((d, i) => (i === 2 ? "new_kv_len" : d)) ?? null);
  return found.map((f) => ({ start: f.present.start!, end: f.present.start! + 1, bytes: Uint8Array.of(VALUE_INFO_TAG) }));
}

const CACHE_NOTE = "; present.* made internal and new_kv.* added (entropix keeps the cache)";

function kind2name(nodes: NodeSummary[]): string {
  return [...new Set(nodes.map(qualifiedOp))].join("/");
}

/** Every value and node name of the main graph, to make new names unique. */
class UniqueNames {
  private used = new Set<string>();
  constructor(scan: ModelScan) {
    const g = scan.graph;
    for (const v of [...g.inputs, ...g.outputs]) this.used.add(v.name);
    for (const n of g.nodes) {
      this.used.add(n.name);
      for (const x of n.inputs) this.used.add(x);
      for (const x of n.outputs) this.used.add(x);
    }
  }
  take(want: string): string {
    let name = want;
    for (let k = 1; this.used.has(name); k++) name = `${want}_${k}`;
    this.used.add(name);
    return name;
  }
}

/** Symbolic dimension names borrowed from the model's own inputs/outputs, for the declared shapes. */
class ShapeHints {
  private batch: string | number = "batch_size";
  private kv: string | number = "attn_kv_len";
  constructor(scan: ModelScan) {
    const g = scan.graph;
    const b = g.inputs.find((i) => i.dims && i.dims.length >= 2)?.dims?.[0];
    if (typeof b === "string" && b) this.batch = b;
    const present = g.outputs.find((o) => /^present/.test(o.name) && o.dims?.length === 4);
    const kv = present?.dims?.[2];
    if (typeof kv === "string" && kv) this.kv = kv;
  }
  dims(heads: number | null): (string | number)[] {
    return [this.batch, heads && heads > 0 ? heads : "attn_heads", 1, this.kv];
  }
}

/** Builds the appended nodes (Constant, Slice, Cast) and graph outputs. */
class TapBuilder {
  private nodes = new Encoder();
  private outs = new Encoder();
  readonly outputs: string[] = [];
  private consts: { starts: string; ends: string; axes: string } | null = null;

  constructor(
    private readonly opset: number,
    private readonly names: UniqueNames,
  ) {}

  private constant(name: string, value: bigint): string {
    const out = this.names.take(`/entropix_taps/${name}_output_0`);
    const nodeName = this.names.take(`/entropix_taps/${name}`);
    this.nodes.message(1, (n) => {
      n.string(2, out).string(3, nodeName).string(4, "Constant");
      n.message(5, (a) => {
        a.string(1, "value").int(20, ATTR.TENSOR);
        a.message(5, (t) => {
          const raw = new Uint8Array(8);
          new DataView(raw.buffer).setBigInt64(0, value, true);
          t.int(1, 1).int(2, ELEM.INT64).string(8, out).bytes(9, raw);
        });
      });
    });
    return out;
  }

  tap(layer: number, scores: string, dims: (string | number)[]): void {
    const outName = scoreOutputName(layer);
    const sliced = this.names.take(`/entropix_taps/layer${layer}/Slice_output_0`);
    const sliceName = this.names.take(`/entropix_taps/layer${layer}/Slice`);
    const castName = this.names.take(`/entropix_taps/layer${layer}/Cast`);
    this.names.take(outName);
    if (this.opset >= 10) {
      this.consts ??= { starts: this.constant("starts", -1n), ends: this.constant("ends", INT64_MAX), axes: this.constant("axes", 2n) };
      const c = this.consts;
      this.nodes.message(1, (n) => {
        n.string(1, scores).string(1, c.starts).string(1, c.ends).string(1, c.axes);
        n.string(2, sliced).string(3, sliceName).string(4, "Slice");
      });
    } else {
      this.nodes.message(1, (n) => {
        n.string(1, scores).string(2, sliced).string(3, sliceName).string(4, "Slice");
        n.message(5, (a) => a.string(1, "starts").int(20, ATTR.INTS).int(8, -1));
        n.message(5, (a) => a.string(1, "ends").int(20, ATTR.INTS).int(8, INT64_MAX));
        n.message(5, (a) => a.string(1, "axes").int(20, ATTR.INTS).int(8, 2));
      });
    }
    this.nodes.message(1, (n) => {
      n.string(1, sliced).string(2, outName).string(3, castName).string(4, "Cast");
      if (this.opset >= 6 || this.opset === 0) n.message(5, (a) => a.string(1, "to").int(20, ATTR.INT).int(3, ELEM.FLOAT));
      else n.message(5, (a) => a.string(1, "to").int(20, ATTR.STRING).string(4, "FLOAT"));
    });
    this.output(outName, ELEM.FLOAT, dims);
    this.outputs.push(outName);
  }

  /** A graph output `outName` that is a copy (Identity) of the value `value`. */
  expose(outName: string, value: string, elemType: number | null, dims: (string | number | null)[] | null): void {
    this.names.take(outName);
    const nodeName = this.names.take(`/entropix_cache/${outName}/Identity`);
    this.nodes.message(1, (n) => n.string(1, value).string(2, outName).string(3, nodeName).string(4, "Identity"));
    this.output(outName, elemType, dims);
  }

  /** A graph output entry (ValueInfoProto): tensor type and shape; a null dimension stays unnamed. */
  private output(name: string, elemType: number | null, dims: (string | number | null)[] | null): void {
    this.outs.message(12, (vi) => {
      vi.string(1, name);
      vi.message(2, (tp) =>
        tp.message(1, (tt) => {
          if (elemType !== null) tt.int(1, elemType);
          if (dims) {
            tt.message(2, (sh) => {
              for (const d of dims) sh.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : typeof d === "string" ? dim.string(2, d) : dim));
            });
          }
        }),
      );
    });
  }

  finish(): Uint8Array {
    return new Encoder().raw(this.nodes.finish()).raw(this.outs.finish()).finish();
  }
}

/**
 * Re-encodes a NodeProto field (tag + length + content, as read from `fileStart`) so that output
 * `spec.index` is `scores` and attribute `spec.attr` is `spec.value`. Other fields are copied as is;
 * the outputs and the attribute are emitted after them (repeated fields keep their relative order).
 */
function reencodeWithScores(field: Uint8Array, fileStart: number, spec: { attr: string; value: number; index: number }, scores: string): Uint8Array {
  const outer = new Decoder(field, 0, field.length, fileStart);
  const nf = outer.field();
  const d = outer.sub(nf);
  const body = new Encoder();
  const outputs: string[] = [];
  while (!d.done) {
    const f = d.field();
    if (f.field === 2 && f.wire === WIRE_LEN) {
      outputs.push(d.string(f));
      continue;
    }
    if (f.field === 5 && f.wire === WIRE_LEN) {
      const a = d.sub(f);
      let name = "";
      while (!a.done) {
        const af = a.field();
        if (af.field === 1 && af.wire === WIRE_LEN) name = a.string(af);
      }
      if (name === spec.attr) continue;
    }
    body.raw(field.subarray(f.start - fileStart, f.end - fileStart));
  }
  while (outputs.length < spec.index) outputs.push("");
  outputs[spec.index] = scores;
  for (const o of outputs) body.string(2, o);
  body.message(5, (a) => a.string(1, spec.attr).int(20, ATTR.INT).int(3, spec.value));
  return new Encoder().bytes(1, body.finish()).finish();
}

/**
 * Writes the tapped copy of `srcPath` to `dstPath` (atomically: temp file, fsync, rename) and
 * returns what was done. When the report says "none", nothing is written.
 * Throws ModelError for files that are not readable ONNX models; nothing is written then either.
 */
export async function addAttentionTaps(srcPath: string, dstPath: string, options: TapOptions = {}): Promise<TapReport> {
  const scan = await scanModel(srcPath);
  const plan = await planTaps(scan, options);
  if (plan.report.source === "none") return plan.report;
  try {
    await writePlan(scan, plan, dstPath);
  } catch (err) {
    if (err instanceof ModelError) throw err;
    const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
    throw new ModelError(`${dstPath}: cannot write the attention-tapped model (${code})`);
  }
  return plan.report;
}

/** A piece of the output: a source range copied, new bytes, or a source range read (hashed) but dropped. */
type Segment = { copy: [number, number] } | { bytes: Uint8Array } | { skip: [number, number] };

/** The output file as a list of segments; the source ranges of all segments cover the file in order. */
function segments(scan: ModelScan, plan: TapPlan): Segment[] {
  if (plan.alreadyTapped) return [{ copy: [0, scan.size] }];
  const g = scan.graph;
  let len = g.contentEnd - g.contentStart + plan.appended.length;
  for (const r of plan.replacements) len += r.bytes.length - (r.end - r.start);
  const segs: Segment[] = [
    { copy: [0, scan.graphFieldStart] },
    { skip: [scan.graphFieldStart, g.contentStart] },
    { bytes: new Encoder().tag(7, WIRE_LEN).varint(len).finish() },
  ];
  let at = g.contentStart;
  for (const r of plan.replacements) {
    segs.push({ copy: [at, r.start] }, { skip: [r.start, r.end] }, { bytes: r.bytes });
    at = r.end;
  }
  segs.push({ copy: [at, g.contentEnd] }, { bytes: plan.appended }, { copy: [g.contentEnd, scan.size] });
  return segs;
}

export interface WriteResult {
  /** sha256 (hex) of the source file (null when not asked for). */
  sourceSha256: string | null;
  /** sha256 (hex) of the written file (null when not asked for). */
  sha256: string | null;
  size: number;
}

/**
 * Writes the plan's output to `dstPath` via a temp file in the same folder (`dst.tmp-<pid>-<random>`),
 * fsync, rename. With `hash`, also returns the sha256 of the source and of the output (computed on
 * worker threads, in parallel). Errors other than a corrupt source (e.g. EACCES on the folder) pass
 * through unchanged.
 *
 * Fast path (no node re-encoded, graph length varint keeps its size): the kernel copies the file
 * (copy_file_range, or a reflink where the filesystem can), then the graph's length is overwritten in
 * place and the appended entries + the few bytes after the graph are written at the end of the graph.
 * Otherwise the output is streamed through user-space buffers.
 */
export async function writePlan(
  scan: ModelScan,
  plan: TapPlan,
  dstPath: string,
  opts: { hash?: boolean; /** "stream" forces the user-space copy (tests compare both paths). */ strategy?: "auto" | "stream" } = {},
): Promise<WriteResult> {
  const tmp = `${dstPath}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let src: FileHandle | null = null;
  let dst: FileHandle | null = null;
  let created = false;
  try {
    src = await open(scan.path, "r");
    const st = await src.stat();
    if (st.size !== scan.size) throw new ModelError(`${scan.path}: file changed while being patched (size ${scan.size} → ${st.size})`);
    const inPlace = opts.strategy === "stream" ? null : inPlaceEdits(scan, plan);
    let size: number;
    if (inPlace) {
      await copyFile(scan.path, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      created = true;
      dst = await open(tmp, "r+");
      if ((await dst.stat()).size !== scan.size) throw new ModelError(`${scan.path}: file changed while being patched`);
      size = scan.size;
      for (const e of inPlace) {
        await writeSegments(src, dst, e.segs, e.at);
        size = Math.max(size, e.at + segLength(e.segs));
      }
    } else {
      dst = await open(tmp, "wx");
      created = true;
      size = await writeSegments(src, dst, segments(scan, plan), 0);
    }
    await dst.sync();
    const [sourceSha256, sha256] = opts.hash ? await Promise.all([sha256File(scan.path), sha256File(tmp)]) : [null, null];
    await dst.close();
    dst = null;
    await rename(tmp, dstPath);
    created = false;
    await syncDir(path.dirname(dstPath));
    return { sourceSha256, sha256, size };
  } catch (err) {
    if (dst) await dst.close().catch(() => {});
    if (created) await unlink(tmp).catch(() => {});
    throw asModelError(err, scan.path);
  } finally {
    if (src) await src.close();
  }
}

function segLength(segs: Segment[]): number {
  let n = 0;
  for (const s of segs) n += "bytes" in s ? s.bytes.length : "copy" in s ? s.copy[1] - s.copy[0] : 0;
  return n;
}

/**
 * The plan as edits of a byte-for-byte copy of the source, when that is possible: every replacement
 * keeps its length (no node re-encoded) and the graph's new length encodes in as many bytes as the
 * old one. Null otherwise.
 */
function inPlaceEdits(scan: ModelScan, plan: TapPlan): { at: number; segs: Segment[] }[] | null {
  if (plan.alreadyTapped) return [];
  if (plan.replacements.some((r) => r.bytes.length !== r.end - r.start)) return null;
  const g = scan.graph;
  const header = new Encoder().tag(7, WIRE_LEN).varint(g.contentEnd - g.contentStart + plan.appended.length).finish();
  if (header.length !== g.contentStart - scan.graphFieldStart) return null;
  return [
    { at: scan.graphFieldStart, segs: [{ bytes: header }] },
    // Same-length replacements (the tag bytes of demoted outputs) are overwritten where they are.
    ...plan.replacements.map((r) => ({ at: r.start, segs: [{ bytes: r.bytes }] as Segment[] })),
    { at: g.contentEnd, segs: [{ bytes: plan.appended }, { copy: [g.contentEnd, scan.size] }] },
  ];
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every platform allows fsync on a directory; the rename itself is still atomic.
  }
}

const SLOTS = 4;

/**
 * Writes segments at `start` in `dst` through a small pool of buffers: reads are sequential, while
 * each buffer's write completes in the background; a buffer is reused once its write is done.
 * Returns the end offset.
 */
async function writeSegments(src: FileHandle, dst: FileHandle, segs: Segment[], start: number): Promise<number> {
  const slots = Array.from({ length: SLOTS }, () => ({ buf: null as Buffer | null, busy: Promise.resolve() as Promise<unknown> }));
  let next = 0;
  let out = start;
  const inflight: Promise<unknown>[] = [];
  /** Tracks a background write; its failure surfaces when awaited, never as an unhandled rejection. */
  const track = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    inflight.push(p);
    return p;
  };
  const writeAll = async (buf: Uint8Array, at: number): Promise<void> => {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await dst.write(buf, done, buf.length - done, at + done);
      done += bytesWritten;
    }
  };
  try {
    for (const s of segs) {
      if ("skip" in s) continue;
      if ("bytes" in s) {
        track(writeAll(s.bytes, out));
        out += s.bytes.length;
        continue;
      }
      let pos = s.copy[0];
      const end = s.copy[1];
      while (pos < end) {
        const slot = slots[next];
        next = (next + 1) % SLOTS;
        await slot.busy; // its previous write is done
        const want = Math.min(COPY_CHUNK, end - pos);
        slot.buf ??= Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(want, 64 * 1024)));
        if (slot.buf.length < want) slot.buf = Buffer.allocUnsafe(COPY_CHUNK);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await src.read(slot.buf, got, want - got, pos + got);
          if (bytesRead === 0) throw new ModelError(`source ended at byte ${pos + got}, expected ${end}`);
          got += bytesRead;
        }
        slot.busy = track(writeAll(slot.buf.subarray(0, got), out));
        out += got;
        pos += got;
      }
    }
    await Promise.all(inflight);
    return out;
  } finally {
    // Let in-flight writes settle before the caller closes the file, even after an error.
    await Promise.allSettled(inflight);
  }
}

const HASH_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync } = require("node:fs");
const h = createHash("sha256");
const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
const fd = openSync(workerData, "r");
try {
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
} finally {
  closeSync(fd);
}
parentPort.postMessage(h.digest("hex"));`;

/** Files above this size are hashed on a worker thread (two files then hash in parallel). */
const WORKER_HASH_MIN = 16 * 1024 * 1024;

/** sha256 (hex) of a whole file. */
export async function sha256File(file: string): Promise<string> {
  const size = (await stat(file)).size;
  if (size < WORKER_HASH_MIN) {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
    return h.digest("hex");
  }
  return new Promise((resolve, reject) => {
    const w = new Worker(HASH_WORKER, { eval: true, workerData: file });
    w.once("message", (digest: string) => resolve(digest));
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`hash worker for ${file} exited with code ${code}`));
    });
  });
}
