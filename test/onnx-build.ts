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
