// The only place that knows ONNX decoder I/O names. Everything is read from the session's own
// input/output metadata: names, element types, and the KV cache's head count and head size.
import type { InferenceSession } from "onnxruntime-node";
import { ModelError } from "../errors.js";

export type IntType = "int64" | "int32";
export type FloatType = "float32" | "float16";

export interface CacheSlot {
  layer: number;
  pastKey: string;
  pastValue: string;
  /** The output that feeds pastKey: present.N.key (past + new) or, after the taps rewrite, new_kv.N.key (new only). */
  presentKey: string;
  presentValue: string;
}

export interface DecoderIO {
  inputIds: { name: string; type: IntType };
  attentionMask: { name: string; type: IntType } | null;
  positionIds: { name: string; type: IntType } | null;
  numLogitsToKeep: { name: string; type: IntType } | null;
  useCacheBranch: string | null;
  cache: CacheSlot[];
  /**
   * "present": the cache outputs hold past + new positions (the export's own present.*); "new": they
   * hold only the new positions (new_kv.*, added by the attention-taps rewrite), and the caller keeps
   * the cache (see kv-store.ts).
   */
  cacheOutput: "present" | "new";
  cacheType: FloatType;
  /** KV heads and head size from the past tensors' static dims (null when symbolic). */
  kvHeads: number | null;
  headDim: number | null;
  logits: { name: string; type: FloatType; vocab: number | null };
  /** Tapped attention outputs `attn_scores.{layer}`, in layer order. */
  scoreOutputs: string[];
}

type Meta = { name: string; isTensor: boolean; type?: string; shape?: ReadonlyArray<number | string> };

function metaOf(list: readonly unknown[]): Meta[] {
  return list as Meta[];
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const PRESENT = /^present\.(\d+)\.(key|value)$/;
const NEW_KV = /^new_kv\.(\d+)\.(key|value)$/;
const SCORES = /^attn_scores\.(\d+)$/;

function intType(m: Meta, what: string, file: string): IntType {
  if (m.type === "int64" || m.type === "int32") return m.type;
  throw new ModelError(`${file}: input ${m.name} (${what}) has type ${m.type}; expected int64 or int32`);
}

function floatType(m: Meta, file: string): FloatType {
  if (m.type === "float32" || m.type === "float16") return m.type;
  throw new ModelError(`${file}: ${m.name} has type ${m.type}; only float32 and float16 are supported`);
}

const dim = (shape: ReadonlyArray<number | string> | undefined, i: number): number | null => {
  const d = shape?.[i];
  return typeof d === "number" && d > 0 ? d : null;
};

/** Builds the I/O plan of a decoder session; throws a one-line ModelError for anything that does not fit. */
export function planDecoderIO(session: InferenceSession, file: string): DecoderIO {
  const inputs = metaOf(session.inputMetadata as readonly unknown[]);
  const outputs = metaOf(session.outputMetadata as readonly unknown[]);
  const byName = (list: Meta[], n: string) => list.find((m) => m.name === n);

  const ids = byName(inputs, "input_ids");
  if (!ids) {
    const names = inputs.map((m) => m.name).join(", ");
    throw new ModelError(`${file}: not a decoder language model (no input_ids input; inputs are ${names}); entropix runs causal LMs exported "with past" (optimum task text-generation-with-past)`);
  }
  const logits = byName(outputs, "logits");
  if (!logits) {
    const names = outputs.filter((m) => !SCORES.test(m.name)).map((m) => m.name).join(", ");
    throw new ModelError(`${file}: not a causal language model (no logits output; outputs are ${names}); entropix runs causal LMs exported "with past" (optimum task text-generation-with-past)`);
  }
  if (logits.shape && logits.shape.length > 0 && logits.shape.length !== 3) {
    throw new ModelError(`${file}: logits output has ${logits.shape.length} dimensions; expected [batch, sequence, vocab]`);
  }
  if (inputs.some((m) => /^past_\d+$/.test(m.name))) {
    throw new ModelError(
      `${file}: uses the legacy packed cache past_{i} [2,B,H,P,D] of old GPT-2 exports, which entropix does not support; re-export with optimum (past_key_values.{i}.key/value)`,
    );
  }

  const cache = new Map<number, Partial<CacheSlot>>();
  const known = new Set(["input_ids", "attention_mask", "position_ids", "num_logits_to_keep", "logits_to_keep", "use_cache_branch"]);
  let cacheMeta: Meta | null = null;
  for (const m of inputs) {
    const hit = PAST.exec(m.name);
    if (hit) {
      const slot = cache.get(+hit[1]) ?? { layer: +hit[1] };
      if (hit[2] === "key") slot.pastKey = m.name;
      else slot.pastValue = m.name;
      cache.set(+hit[1], slot);
      cacheMeta ??= m;
    } else if (!known.has(m.name)) {
      throw new ModelError(`${file}: input ${m.name} is not a decoder input entropix knows (expected input_ids, attention_mask, position_ids, past_key_values.*)`);
    }
  }
  // The rewrite turns present.* into internal values and adds new_kv.*; a graph has one kind or the other.
  const cacheOutput = outputs.some((m) => NEW_KV.test(m.name)) ? "new" : "present";
  for (const m of outputs) {
    const hit = (cacheOutput === "new" ? NEW_KV : PRESENT).exec(m.name);
    if (!hit) continue;
    const slot = cache.get(+hit[1]);
    if (!slot) throw new ModelError(`${file}: output ${m.name} has no matching past_key_values.${hit[1]}.${hit[2]} input`);
    if (hit[2] === "key") slot.presentKey = m.name;
    else slot.presentValue = m.name;
  }
  const slots = [...cache.values()].sort((a, b) => a.layer! - b.layer!);
  for (const s of slots) {
    const missing = [
      s.pastKey ? null : `past_key_values.${s.layer}.key`,
      s.pastValue ? null : `past_key_values.${s.layer}.value`,
      s.presentKey ? null : `present.${s.layer}.key`,
      s.presentValue ? null : `present.${s.layer}.value`,
    ].filter((n) => n !== null);
    if (missing.length > 0) {
      throw new ModelError(
        `${file}: cache of layer ${s.layer} cannot be paired: no ${missing.join(", ")} (need past_key_values.${s.layer}.key/value in and present.${s.layer}.key/value out)`,
      );
    }
  }
  if (slots.length === 0) throw new ModelError(`${file}: no KV cache inputs (past_key_values.*); export the model "with past" so tokens can be decoded one at a time`);

  const opt = (name: string, what: string) => {
    const m = byName(inputs, name);
    return m ? { name, type: intType(m, what, file) } : null;
  };
  if (cacheOutput === "new" && !(byName(inputs, "attention_mask") && byName(inputs, "position_ids"))) {
    throw new ModelError(`${file}: has new_kv.* outputs but no attention_mask or position_ids input to place them with; delete the .taps.onnx copy so entropix rebuilds it`);
  }
  const scoreOutputs = outputs
    .map((m) => ({ m, hit: SCORES.exec(m.name) }))
    .filter((x) => x.hit)
    .sort((a, b) => +a.hit![1] - +b.hit![1])
    .map((x) => x.m.name);

  return {
    inputIds: { name: "input_ids", type: intType(ids, "token ids", file) },
    attentionMask: opt("attention_mask", "attention mask"),
    positionIds: opt("position_ids", "positions"),
    numLogitsToKeep: opt("num_logits_to_keep", "logits to keep") ?? opt("logits_to_keep", "logits to keep"),
    useCacheBranch: byName(inputs, "use_cache_branch") ? "use_cache_branch" : null,
    cache: slots as CacheSlot[],
    cacheOutput,
    cacheType: floatType(cacheMeta!, file),
    kvHeads: dim(cacheMeta!.shape, 1),
    headDim: dim(cacheMeta!.shape, 3),
    logits: { name: "logits", type: floatType(logits, file), vocab: dim(logits.shape, 2) },
    scoreOutputs,
  };
}
