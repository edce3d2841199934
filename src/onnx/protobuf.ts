// Minimal protobuf wire-format reading and writing for ONNX model files.
//
// Reading happens two ways:
// - `FileReader`: positioned reads over an open file handle through a small window, so a multi-GB
//   model can be walked field by field (tag + length) and large fields skipped without reading them.
// - `Decoder`: synchronous decoding of a small message already in memory (a NodeProto, a ValueInfoProto).
// Writing builds small messages in memory (`Encoder`); big content is never re-encoded, only copied.
//
// Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. Groups (3, 4) are not used by ONNX
// and are treated as corruption.
import type { FileHandle } from "node:fs/promises";
import { ModelError } from "../errors.js";

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** One field of a message: where its tag starts, where its value lies, and the varint value if any. */
export interface Field {
  field: number;
  wire: number;
  /** Offset of the tag (start of the whole field). */
  start: number;
  /** Offset of the value (after tag, and after the length varint for wire type 2). */
  valueStart: number;
  /** Offset just past the field. */
  end: number;
  /** Value of a varint field (wire 0); lossy above 2^53, exact for lengths, enums and small ints. */
  varint: number;
}

/** Thrown by the decoders; callers turn it into a ModelError that names the file. */
export class WireError extends Error {
  override name = "WireError";
  constructor(
    message: string,
    readonly offset: number,
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

const INITIAL_WINDOW = 64 * 1024;

/**
 * Positioned reads through a window buffer. Offsets are absolute file offsets.
 * `fieldAt(pos, end)` decodes one field header at `pos` inside a message that ends at `end`.
 */
export class FileReader {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_WINDOW);
  private winStart = 0;
  private winEnd = 0;
  /** Bytes read from disk, for diagnostics and tests. */
  bytesRead = 0;

  constructor(
    readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** Makes [pos, pos+n) (clipped to the file) available in the window. */
  private async ensure(pos: number, n: number): Promise<void> {
    const want = Math.min(pos + n, this.size);
    if (pos >= this.winStart && want <= this.winEnd) return;
    const need = want - pos;
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    // Read what is needed, at least a small window (never the whole grown buffer: after one big
    // field, header reads between skipped initializers must stay small).
    const len = Math.min(Math.max(need, INITIAL_WINDOW), this.buf.length, this.size - pos);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(this.buf, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.bytesRead += got;
    this.winStart = pos;
    this.winEnd = pos + got;
    if (this.winEnd < want) throw new WireError(`file shrank while reading at byte ${this.winEnd}`, this.winEnd, true);
  }

  /** Copy of the bytes [start, end). */
  async bytes(start: number, end: number): Promise<Uint8Array> {
    if (end > this.size) throw new WireError(`needs bytes up to ${end} but the file has ${this.size}`, start, true);
    await this.ensure(start, end - start);
    const off = start - this.winStart;
    return Uint8Array.prototype.slice.call(this.buf, off, off + (end - start));
  }

  /** Decodes the field header at `pos` of a message ending at `end` (end ≤ file size). */
  async fieldAt(pos: number, end: number): Promise<Field> {
    await this.ensure(pos, 20);
    const off = pos - this.winStart;
    const limit = Math.min(end, this.winEnd) - this.winStart;
    const d = new Decoder(this.buf, off, limit, this.winStart);
    const f = d.field(end);
    return f;
  }
}

/** Synchronous decoder over an in-memory byte range. `base` maps buffer offsets to file offsets. */
export class Decoder {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly base = 0,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    const at = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`varint runs past the end at byte ${this.base + this.pos}`, this.base + at, true);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new WireError(`malformed varint at byte ${this.base + at}`, this.base + at, false);
  }

  /** Signed 64-bit value of a varint (two's complement for negatives), exact. */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    const at = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`varint runs past the end at byte ${this.base + this.pos}`, this.base + at, true);
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new WireError(`malformed varint at byte ${this.base + at}`, this.base + at, false);
  }

  /**
   * Decodes one field header. `outerEnd` is the absolute (file) end of the enclosing message; for
   * length-delimited fields the length is checked against it. The decoder's own `end` may be shorter
   * (a window); only the header must fit in it.
   */
  field(outerEnd: number = this.base + this.end): Field {
    const start = this.base + this.pos;
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new WireError(`invalid field number 0 at byte ${start}`, start, false);
    let varint = 0;
    let end: number;
    let valueStart: number;
    switch (wire) {
      case WIRE_VARINT:
        valueStart = this.base + this.pos;
        varint = this.varint();
        end = this.base + this.pos;
        break;
      case WIRE_FIXED64:
        valueStart = this.base + this.pos;
        end = valueStart + 8;
        break;
      case WIRE_FIXED32:
        valueStart = this.base + this.pos;
        end = valueStart + 4;
        break;
      case WIRE_LEN: {
        const len = this.varint();
        valueStart = this.base + this.pos;
        end = valueStart + len;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${wire} (field ${field}) at byte ${start}`, start, false);
    }
    if (end > outerEnd) {
      throw new WireError(`field ${field} at byte ${start} runs to byte ${end}, past the end of its message at ${outerEnd}`, start, true);
    }
    // Positioned after the field (possibly past this decoder's window, which then reads as done).
    this.pos = end - this.base;
    return { field, wire, start, valueStart, end, varint };
  }

  /** Sub-decoder over a length-delimited field's value (must be inside this buffer). */
  sub(f: Field): Decoder {
    return new Decoder(this.buf, f.valueStart - this.base, f.end - this.base, this.base);
  }

  string(f: Field): string {
    return textDecoder.decode(this.buf.subarray(f.valueStart - this.base, f.end - this.base));
  }

  bytesOf(f: Field): Uint8Array {
    return this.buf.subarray(f.valueStart - this.base, f.end - this.base);
  }

  float32(f: Field): number {
    const off = f.valueStart - this.base;
    return new DataView(this.buf.buffer, this.buf.byteOffset + off, 4).getFloat32(0, true);
  }
}

const textDecoder = new TextDecoder("utf-8");
const textEncoder = new TextEncoder();

/** Appends protobuf fields to a growing byte array. */
export class Encoder {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(256);
  private n = 0;

  get length(): number {
    let total = this.n;
    for (const c of this.chunks) total += c.length;
    return total;
  }

  private room(k: number): void {
    if (this.n + k <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.n));
    this.cur = new Uint8Array(Math.max(256, k));
    this.n = 0;
  }

  raw(bytes: Uint8Array): this {
    if (bytes.length > 1024) {
      this.chunks.push(this.cur.subarray(0, this.n), bytes);
      this.cur = new Uint8Array(256);
      this.n = 0;
      return this;
    }
    this.room(bytes.length);
    this.cur.set(bytes, this.n);
    this.n += bytes.length;
    return this;
  }

  /** Unsigned or signed (two's complement, 10 bytes for negatives) varint. */
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    this.room(10);
    if (x < 0x80n) {
      this.cur[this.n++] = Number(x);
      return this;
    }
    while (x >= 0x80n) {
      this.cur[this.n++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.cur[this.n++] = Number(x);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.raw(b);
  }

  bytes(field: number, b: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(b.length).raw(b);
  }

  string(field: number, s: string): this {
    return this.bytes(field, textEncoder.encode(s));
  }

  /** Nested message built by `build`. */
  message(field: number, build: (e: Encoder) => void): this {
    const inner = new Encoder();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const total = this.length;
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    out.set(this.cur.subarray(0, this.n), off);
    return out;
  }
}

/** Bytes of a varint, for computing header sizes. */
export function varintBytes(v: number | bigint): Uint8Array {
  return new Encoder().varint(v).finish();
}

/** Turns a WireError into a one-line ModelError naming the file; passes other errors through. */
export function asModelError(err: unknown, path: string): unknown {
  if (err instanceof WireError) {
    const what = err.truncated ? "truncated or corrupt ONNX file" : "not an ONNX model file (invalid protobuf)";
    return new ModelError(`${path}: ${what}: ${err.message}; re-export or re-download the model`);
  }
  return err;
}
