// Counts the weights an ONNX file stores: the elements of the main graph's initializers, read from
// their `dims` only (the tensor bytes, inline or external, are skipped without reading).
//
// For an fp32/fp16 export this is the parameter count (a tied embedding exported once counts once).
// For block-quantized exports (MatMulNBits, int4 packed two to a byte) it counts stored elements,
// which is fewer than the model's parameters; callers label the number accordingly.
import { open } from "node:fs/promises";
import { ModelError } from "../errors.js";
import { asModelError, Decoder, FileReader, WIRE_LEN, WIRE_VARINT } from "./protobuf.js";

export interface WeightCount {
  tensors: number;
  elements: number;
}

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_DIMS = 1;

export async function countInitializerElements(file: string): Promise<WeightCount> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch (err) {
    throw new ModelError(`${file}: cannot open ONNX file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const size = (await fh.stat()).size;
    const r = new FileReader(fh, size);
    const count: WeightCount = { tensors: 0, elements: 0 };
    for (let pos = 0; pos < size; ) {
      const f = await r.fieldAt(pos, size);
      pos = f.end;
      if (f.field !== MODEL_GRAPH || f.wire !== WIRE_LEN) continue;
      for (let g = f.valueStart; g < f.end; ) {
        const gf = await r.fieldAt(g, f.end);
        g = gf.end;
        if (gf.field !== GRAPH_INITIALIZER || gf.wire !== WIRE_LEN) continue;
        count.tensors += 1;
        count.elements += await tensorElements(r, gf.valueStart, gf.end);
      }
    }
    return count;
  } catch (err) {
    throw asModelError(err, file);
  } finally {
    await fh.close();
  }
}

/** Product of a TensorProto's dims (a scalar has none: 1 element). Dims come packed or one by one. */
async function tensorElements(r: FileReader, start: number, end: number): Promise<number> {
  let n = 1;
  for (let pos = start; pos < end; ) {
    const f = await r.fieldAt(pos, end);
    pos = f.end;
    if (f.field !== TENSOR_DIMS) continue;
    if (f.wire === WIRE_VARINT) n *= f.varint;
    else if (f.wire === WIRE_LEN) {
      const d = new Decoder(await r.bytes(f.valueStart, f.end), 0, f.end - f.valueStart);
      while (!d.done) n *= d.varint();
    }
  }
  return n;
}
