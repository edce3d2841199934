// Logit metrics of one decoding step (entropix-method.md §1): entropy and varentropy of
// p = softmax(z) over the full vocabulary, in bits. Pure; no allocation when `out` is passed.
import { RuntimeFailure } from "../errors.js";
import type { LogitMetrics } from "../types.js";
import { simdLogitKernel, type LogitSums } from "./simd.js";

/** Logit metrics plus the two normalisers the sampler can reuse (log p(i) = z_i − logSumExp). */
export interface LogitStats extends LogitMetrics {
  /** max_i z_i. */
  max: number;
  /** ln Σ_i exp(z_i), in nats. */
  logSumExp: number;
}

export function createLogitStats(): LogitStats {
  return { entropy: 0, varentropy: 0, max: 0, logSumExp: 0 };
}

/**
 * Entropy H = −Σ p·log2 p and varentropy V = Σ p·(log2 p + H)² of softmax(logits), in bits (§1).
 *
 * Two passes, no sort: the max, then one accumulation of Z = Σe, A = Σe·d, B = Σe·d² with
 * d = z − max and e = exp(d). With the surprisal s = ln Z − d (nats), H = E[s] = ln Z − A/Z and
 * V = Var[s] = Var[d] = B/Z − (A/Z)². Entries of −Infinity have zero probability and add nothing.
 * The passes run in a WebAssembly SIMD kernel (simd.ts) where available, else in scalar JS
 * (`logitMetricsScalar`); both agree to ~1e-13 relative.
 * Throws RuntimeFailure on NaN, +Infinity, an empty array or all −Infinity (no distribution).
 */
export function logitMetrics(logits: Float32Array, out: LogitStats = createLogitStats()): LogitStats {
  const kernel = simdLogitKernel();
  if (kernel === null) return logitMetricsScalar(logits, out);
  kernel.sums(logits, sums);
  return finish(logits, sums, out);
}

const sums: LogitSums = { max: 0, z: 0, a: 0, b: 0 };

/** The same metrics in plain JS with Math.exp: the reference the SIMD kernel is tested against. */
export function logitMetricsScalar(logits: Float32Array, out: LogitStats = createLogitStats()): LogitStats {
  const n = logits.length;
  let max = -Infinity;
  let nan = false;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    if (x > max) max = x;
    else if (x !== x) nan = true;
  }
  let z = 0;
  let a = 0;
  let b = 0;
  if (nan || max === Infinity || max === -Infinity) {
    z = NaN; // no distribution; reported by finish()
  } else {
    for (let i = 0; i < n; i++) {
      const d = logits[i] - max;
      if (d === -Infinity) continue;
      const e = Math.exp(d);
      const ed = e * d;
      z += e;
      a += ed;
      b += ed * d;
    }
  }
  sumsScalar.max = max;
  sumsScalar.z = z;
  sumsScalar.a = a;
  sumsScalar.b = b;
  return finish(logits, sumsScalar, out);
}

const sumsScalar: LogitSums = { max: 0, z: 0, a: 0, b: 0 };

function finish(logits: Float32Array, s: LogitSums, out: LogitStats): LogitStats {
  const { max, z, a, b } = s;
  if (!Number.isFinite(max) || !(z >= 1) || !Number.isFinite(z) || !Number.isFinite(b)) {
    throw new RuntimeFailure(`logits are not a distribution (${describeBad(logits)})`);
  }
  const lnZ = Math.log(z);
  const meanD = a / z;
  const hNats = lnZ - meanD;
  const vNats = b / z - meanD * meanD;
  out.max = max;
  out.logSumExp = max + lnZ;
  out.entropy = hNats > 0 ? hNats * Math.LOG2E : 0;
  out.varentropy = vNats > 0 ? vNats * (Math.LOG2E * Math.LOG2E) : 0;
  return out;
}

/** log p(id) in nats under the untempered full-vocabulary softmax, from stats of the same logits. */
export function logProb(logits: Float32Array, id: number, stats: LogitStats): number {
  return logits[id] - stats.logSumExp;
}

function describeBad(logits: Float32Array): string {
  if (logits.length === 0) return "empty";
  let nan = 0;
  let posInf = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x !== x) nan++;
    else if (x === Infinity) posInf++;
  }
  if (nan > 0) return `${nan} NaN of ${logits.length}`;
  if (posInf > 0) return `${posInf} +Infinity of ${logits.length}`;
  return `all ${logits.length} are −Infinity`;
}
