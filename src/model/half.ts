// IEEE 754 half-precision ↔ single-precision, for fp16 logits and caches. onnxruntime-node hands
// float16 tensors over as raw Uint16Array bits (Node 20 has no Float16Array).

let table: Float32Array | null = null;

function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return table;
}

/** Converts raw fp16 bits into `out` (allocated when not given). */
export function halfToFloat(bits: Uint16Array, out?: Float32Array): Float32Array {
  const t = halfTable();
  const dst = out ?? new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) dst[i] = t[bits[i]];
  return dst;
}
