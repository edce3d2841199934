// Unit tests for the pure metric modules (entropix-method.md §1, §3.1), with hand-computed values.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { logitMetrics, logitMetricsScalar, logProb, createLogitStats, type LogitStats } from "../src/metrics/logits.js";
import { simdLogitKernel } from "../src/metrics/simd.js";
import {
  attentionMetrics,
  attentionMetricsForLayers,
  createAttentionScratch,
  createAttentionMetrics,
} from "../src/metrics/attention.js";
import { RuntimeFailure } from "../src/errors.js";

const close = (actual: number, expected: number, tol = 1e-9, what = "") =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual} (tol ${tol})`);

/** Logits whose softmax is exactly the given distribution (up to float32 rounding of ln p). */
const fromProbs = (ps: number[]) => Float32Array.from(ps, (p) => (p === 0 ? -Infinity : Math.log(p)));

// Both implementations are held to the same expectations: the SIMD kernel (used by logitMetrics
// where available) and the scalar reference.
const IMPLS: [string, (z: Float32Array, out?: LogitStats) => LogitStats][] = [
  ["logitMetrics", logitMetrics],
  ["logitMetricsScalar", logitMetricsScalar],
];

describe("§1 logit metrics (bits)", () => {
  it("the SIMD kernel is available on this Node (else logitMetrics falls back to the scalar path)", () => {
    assert.notEqual(simdLogitKernel(), null);
  });

  for (const [name, fn] of IMPLS) {
    describe(name, () => {
      it("uniform over V: H = log2 V, V = 0", () => {
        for (const n of [1, 2, 3, 4, 5, 7, 1000, 49152]) {
          for (const level of [0, 17.5, -3]) {
            const m = fn(new Float32Array(n).fill(level));
            close(m.entropy, Math.log2(n), 1e-12, `H(V=${n})`);
            close(m.varentropy, 0, 1e-12, `V(V=${n})`);
          }
        }
      });

      it("one-hot: H = 0, V = 0 (−Infinity entries have zero probability)", () => {
        const m = fn(Float32Array.from([-Infinity, 3, -Infinity, -Infinity, -Infinity]));
        assert.equal(m.entropy, 0);
        assert.equal(m.varentropy, 0);
        const far = fn(Float32Array.from([1000, 0, 0, 0]));
        close(far.entropy, 0, 1e-300);
        close(far.varentropy, 0, 1e-300);
      });

      const cases: [number[], number, number][] = [
        // p, H = −Σ p log2 p, V = Σ p (log2 p + H)²  (worked by hand; see the comments)
        [[0.5, 0.25, 0.25], 1.5, 0.25], // surprisals 1, 2, 2: mean 1.5; deviations ±0.5 → 0.25
        [[0.75, 0.25], 0.8112781244591328, 0.47101989912979886],
        [[0.7, 0.2, 0.1], 1.1567796494470395, 1.0290013700880924],
      ];
      for (const [p, h, v] of cases) {
        it(`two-peak / skewed distribution ${JSON.stringify(p)}: H = ${h}, V = ${v}`, () => {
          const m = fn(fromProbs(p));
          close(m.entropy, h, 1e-6);
          close(m.varentropy, v, 1e-6);
          // shifting every logit changes nothing; huge and very negative logits stay stable
          const shifted = fn(Float32Array.from(fromProbs(p), (x) => x + 1e4));
          close(shifted.entropy, h, 1e-3);
          const padded = fn(Float32Array.from([...fromProbs(p), -1e30, -3.4e38, -Infinity]));
          close(padded.entropy, h, 1e-6);
          close(padded.varentropy, v, 1e-6);
        });
      }

      it("exposes max and log-sum-exp: log p(i) = z_i − logSumExp", () => {
        const z = Float32Array.from([0, Math.log(3)]);
        const m = fn(z);
        close(m.max, Math.fround(Math.log(3)), 0);
        close(m.logSumExp, Math.log(4), 1e-7);
        close(logProb(z, 1, m), Math.log(0.75), 1e-7);
        close(logProb(z, 0, m), Math.log(0.25), 1e-7);
      });

      it("writes into `out` without allocating a new object", () => {
        const out = createLogitStats();
        assert.equal(fn(Float32Array.from([1, 2, 3]), out), out);
      });

      it("NaN, +Infinity, empty or all −Infinity logits are a RuntimeFailure", () => {
        for (const bad of [[1, NaN, 2], [NaN], [0, Infinity], [], [-Infinity, -Infinity]]) {
          assert.throws(() => fn(Float32Array.from(bad)), RuntimeFailure, JSON.stringify(bad));
        }
      });
    });
  }

  it("the SIMD kernel agrees with the scalar reference (random lengths, tails, −Infinity, underflow)", () => {
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const n of [1, 2, 3, 5, 6, 7, 8, 9, 31, 33, 1001, 4099, 49152]) {
      for (const spread of [0.1, 3, 30, 800]) {
        const z = new Float32Array(n);
        for (let i = 0; i < n; i++) z[i] = (rand() - 0.5) * spread;
        if (n > 4) z[Math.floor(rand() * n)] = -Infinity;
        const a = logitMetrics(z, createLogitStats());
        const b = logitMetricsScalar(z, createLogitStats());
        close(a.entropy, b.entropy, 2e-13 * Math.max(1, b.entropy), `H n=${n} spread=${spread}`);
        close(a.varentropy, b.varentropy, 2e-13 * Math.max(1, b.varentropy), `V n=${n} spread=${spread}`);
        close(a.logSumExp, b.logSumExp, 1e-12 * Math.max(1, Math.abs(b.logSumExp)));
        assert.equal(a.max, b.max);
      }
    }
  });
});

describe("§1 attention metrics", () => {
  it("equal scores over K positions: entropy log2 K, varentropy 0, agreement 0, interaction |s|", () => {
    for (const [heads, kv] of [[1, 1], [4, 7], [8, 256]]) {
      const m = attentionMetrics(new Float32Array(heads * kv).fill(-1.5), heads, kv);
      close(m.attnEntropy, Math.log2(kv), 1e-12);
      close(m.attnVarentropy, 0, 1e-12);
      close(m.agreement, 0, 1e-15);
      close(m.interactionStrength, 1.5, 1e-12);
    }
  });

  it("2 heads × 2 positions worked by hand", () => {
    // head 0: scores [0, 0] → a = [.5, .5], E0 = 1
    // head 1: scores [ln 3, 0] → a = [.75, .25], E1 = 0.8112781244591328
    // entropy = mean = 0.9056390622295665; varentropy = ((E0 − m)² + (E1 − m)²)/2 = 0.00890398657691564
    // column means [.625, .375] → every |a − mean| = .125 → agreement .125
    // interaction = (0 + 0 + ln 3 + 0)/4 = 0.27465307216702745
    const m = attentionMetrics(Float32Array.from([0, 0, Math.log(3), 0]), 2, 2);
    close(m.attnEntropy, 0.9056390622295665, 1e-7);
    close(m.attnVarentropy, 0.00890398657691564, 1e-7);
    close(m.agreement, 0.125, 1e-7);
    close(m.interactionStrength, 0.27465307216702745, 1e-7);
  });

  it("the §1 clip: log2(clip(a, 1e-10, 1)) for a tiny attention weight", () => {
    // scores [0, −30]: a1 = e^−30/(1 + e^−30) ≈ 9.4e-14 < 1e-10, so its term is a1·log2(1e-10)
    const m = attentionMetrics(Float32Array.from([0, -30]), 1, 2);
    close(m.attnEntropy, 3.2435594912908485e-12, 1e-15); // ln(1 + 9e-14) rounds at ~1e-16
    assert.ok(Math.abs(m.attnEntropy - 4.185083302631741e-12) > 5e-13, "unclipped value would be 4.19e-12");
  });

  it("§3.1 masked positions are excluded: same result as the unmasked shorter row", () => {
    const heads = 3;
    const real = [
      [0.3, -1.2, 2.5, 0.0, 1.1],
      [1.0, 1.0, -0.5, 0.25, 3.0],
      [-2.0, 0.7, 0.7, 1.9, -0.1],
    ];
    const short = attentionMetrics(Float32Array.from(real.flat()), heads, 5);
    for (const marker of [-Infinity, -3.4028234663852886e38, -1e30, NaN]) {
      // left padding (2 slots), then an empty slot in the middle and two at the end
      const row = (r: number[]) => [marker, marker, r[0], r[1], marker, r[2], r[3], r[4], marker, marker];
      const long = attentionMetrics(Float32Array.from(real.flatMap(row)), heads, 10);
      for (const key of ["attnEntropy", "attnVarentropy", "agreement", "interactionStrength"] as const) {
        close(long[key], short[key], 1e-12, `${key} with marker ${marker}`);
      }
    }
  });

  it("strided views ([heads, q, kv] tensors) read the same numbers as a contiguous row", () => {
    const heads = 2;
    const kv = 3;
    const q = 4; // take query row 3 of a [2, 4, 3] tensor
    const data = new Float32Array(heads * q * kv).map((_, i) => Math.sin(i));
    const contiguous = new Float32Array(heads * kv);
    for (let h = 0; h < heads; h++) for (let k = 0; k < kv; k++) contiguous[h * kv + k] = data[(h * q + 3) * kv + k];
    const a = attentionMetrics(contiguous, heads, kv);
    const b = attentionMetrics(data, heads, kv, undefined, undefined, 3 * kv, q * kv);
    assert.deepEqual(b, a);
  });

  it("all-layers mode: the mean of each metric over layers", () => {
    const l1 = { heads: 2, kvLen: 2, data: Float32Array.from([0, 0, Math.log(3), 0]) };
    const l2 = { heads: 2, kvLen: 2, data: Float32Array.from([0, 0, 0, 0]) };
    const m1 = attentionMetrics(l1.data, 2, 2);
    const m2 = attentionMetrics(l2.data, 2, 2);
    const both = attentionMetricsForLayers([l1, l2], createAttentionScratch());
    close(both.attnEntropy, (m1.attnEntropy + m2.attnEntropy) / 2, 1e-15);
    close(both.attnVarentropy, (m1.attnVarentropy + m2.attnVarentropy) / 2, 1e-15);
    close(both.agreement, (m1.agreement + m2.agreement) / 2, 1e-15);
    close(both.interactionStrength, (m1.interactionStrength + m2.interactionStrength) / 2, 1e-15);
    assert.deepEqual(attentionMetricsForLayers([l1]), m1);
    assert.throws(() => attentionMetricsForLayers([]), RuntimeFailure);
  });

  it("reuses the scratch and the output object; grows the scratch only when the row outgrows it", () => {
    const scratch = createAttentionScratch(2, 8);
    const out = createAttentionMetrics();
    const probs = scratch.probs;
    for (let kv = 1; kv <= 8; kv++) assert.equal(attentionMetrics(new Float32Array(2 * kv), 2, kv, scratch, out), out);
    assert.equal(scratch.probs, probs, "no reallocation within capacity");
    attentionMetrics(new Float32Array(2 * 9), 2, 9, scratch, out);
    assert.ok(scratch.probs.length >= 18);
  });

  it("a head with no real position, or too short a buffer, is a RuntimeFailure", () => {
    assert.throws(() => attentionMetrics(Float32Array.from([0, 1, -Infinity, -Infinity]), 2, 2), RuntimeFailure);
    assert.throws(() => attentionMetrics(new Float32Array(3), 2, 2), RuntimeFailure);
  });
});
