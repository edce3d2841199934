// Unit tests for the pure sampler modules: generator, filter primitives, §2 policy, samplers and the
// threshold profile format (entropix-method.md §2, §3.2–§3.4). Expectations are worked by hand.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRng, randomSeed, Xoshiro128, MAX_SEED } from "../src/sampler/rng.js";
import {
  CandidateBuffer,
  loadLogits,
  applyTemperature,
  applyTopK,
  applyTopP,
  applyMinP,
  applyChain,
  ensureProbs,
  drawIndex,
  argmax,
} from "../src/sampler/filters.js";
import { decide, quadrantOf, adaptiveSettings, ADAPTIVE_CANDIDATES, type ClarifyState } from "../src/sampler/policy.js";
import { createSampler, GREEDY_SETTINGS, type SamplerOptions } from "../src/sampler/samplers.js";
import {
  REFERENCE_PROFILE,
  BASE_SETTINGS,
  parseThresholdProfile,
  parseProfileFile,
  formatThresholdProfile,
} from "../src/sampler/thresholds.js";
import { UsageError } from "../src/errors.js";
import type { SamplerSettings, StepMetrics } from "../src/types.js";

const close = (actual: number, expected: number, tol = 1e-12, what = "") =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);

const fromProbs = (ps: number[]) => Float32Array.from(ps, (p) => (p === 0 ? -Infinity : Math.log(p)));

/** The live candidates as sorted id list (order-free comparison). */
const liveIds = (buf: CandidateBuffer) => [...buf.ids.subarray(0, buf.size)].sort((a, b) => a - b);
const liveInOrder = (buf: CandidateBuffer) => [...buf.ids.subarray(0, buf.size)];
const liveProbs = (buf: CandidateBuffer) => {
  ensureProbs(buf);
  const m = new Map<number, number>();
  for (let i = 0; i < buf.size; i++) m.set(buf.ids[i], buf.probs[i]);
  return m;
};

function loaded(ps: number[] | Float32Array): CandidateBuffer {
  const z = ps instanceof Float32Array ? ps : fromProbs(ps);
  const buf = new CandidateBuffer(z.length);
  loadLogits(buf, z);
  return buf;
}

const metrics = (m: Partial<StepMetrics>): StepMetrics => ({
  entropy: 2,
  varentropy: 2,
  attnEntropy: null,
  attnVarentropy: null,
  agreement: null,
  interactionStrength: null,
  ...m,
});

describe("§3.2 seeded generator (xoshiro128** seeded by splitmix32)", () => {
  it("matches the published xoshiro128** sequence from state [1, 2, 3, 4]", () => {
    // worked by hand: out = rotl(s1·5, 7)·9; 1st: rotl(10, 7)·9 = 1280·9 = 11520; then s1 = 0 → 0;
    // then s1 = 1029 → rotl(5145, 7)·9 = 658560·9 = 5927040
    const g = new Xoshiro128(0, [1, 2, 3, 4]);
    assert.deepEqual([g.nextUint32(), g.nextUint32(), g.nextUint32()], [11520, 0, 5927040]);
  });

  it("same seed ⇒ same sequence; different seeds ⇒ different sequences", () => {
    for (const seed of [0, 1, 42, MAX_SEED]) {
      const a = createRng(seed);
      const b = createRng(seed);
      const xs = Array.from({ length: 50 }, () => a.uniform());
      assert.deepEqual(Array.from({ length: 50 }, () => b.uniform()), xs);
    }
    const s1 = Array.from({ length: 8 }, ((g) => () => g.nextUint32())(createRng(1)));
    const s2 = Array.from({ length: 8 }, ((g) => () => g.nextUint32())(createRng(2)));
    assert.notDeepEqual(s1, s2);
  });

  it("advances on every draw; uniform() is in [0, 1) with mean ≈ 1/2", () => {
    const g = createRng(7);
    const xs = Array.from({ length: 20000 }, () => g.uniform());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.equal(new Set(xs).size, xs.length, "no repeats: the state advances");
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    close(mean, 0.5, 0.01, "mean");
  });

  it("is a fixed function of the seed across processes (regression values)", () => {
    const g = createRng(0);
    const first = [g.nextUint32(), g.nextUint32(), g.nextUint32()];
    // recomputed independently of the class: splitmix32 state fill, then the xoshiro128** step
    const sm = (x: number) => {
      x = (x + 0x9e3779b9) | 0;
      let t = x ^ (x >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return [x, (t ^ (t >>> 15)) >>> 0];
    };
    let s = 0;
    const st: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, o] = sm(s);
      s = n;
      st.push(o);
    }
    const ref = new Xoshiro128(0, st as [number, number, number, number]);
    assert.deepEqual(first, [ref.nextUint32(), ref.nextUint32(), ref.nextUint32()]);
    // Pinned: a change here changes every seeded run users have recorded.
    assert.deepEqual(first, [1789933344, 44971166, 2521387044]);
    const top = createRng(2 ** 32 - 1);
    assert.deepEqual([top.nextUint32(), top.nextUint32()], [4104197751, 1825856343]);
    const u = createRng(42);
    assert.deepEqual([u.uniform(), u.uniform(), u.uniform()], [0.15377165265745885, 0.018084542542176507, 0.5348906284683476]);
  });

  it("rejects seeds outside 0..2^32−1 with a UsageError; randomSeed() is a valid seed", () => {
    for (const bad of [-1, 1.5, 2 ** 32, NaN, Infinity]) assert.throws(() => createRng(bad), UsageError);
    for (let i = 0; i < 20; i++) {
      const s = randomSeed();
      assert.ok(Number.isInteger(s) && s >= 0 && s <= MAX_SEED);
    }
  });
});

describe("§2 filter primitives", () => {
  it("temperature T: p ∝ p0^(1/T)", () => {
    const buf = loaded([0.5, 0.3, 0.2]);
    applyTemperature(buf, 2);
    const p = liveProbs(buf);
    const s = Math.sqrt(0.5) + Math.sqrt(0.3) + Math.sqrt(0.2);
    close(p.get(0)!, Math.sqrt(0.5) / s, 1e-7);
    close(p.get(1)!, Math.sqrt(0.3) / s, 1e-7);
    close(p.get(2)!, Math.sqrt(0.2) / s, 1e-7);
    assert.throws(() => applyTemperature(buf, 0), RangeError);
  });

  it("top-k keeps the k largest, sorted; ties at the edge go to the lower id; k ≤ 0 or ≥ V disables", () => {
    let buf = loaded(Float32Array.from([1, 5, 3, 5, 2]));
    applyTopK(buf, 2);
    assert.deepEqual(liveInOrder(buf), [1, 3]);
    buf = loaded(Float32Array.from([1, 5, 3, 5, 2]));
    applyTopK(buf, 3);
    assert.deepEqual(liveInOrder(buf), [1, 3, 2]);
    buf = loaded(Float32Array.from([5, 4, 4, 4]));
    applyTopK(buf, 2);
    assert.deepEqual(liveInOrder(buf), [0, 1]);
    for (const k of [0, -1, 5, 9]) {
      buf = loaded(Float32Array.from([1, 5, 3, 5, 2]));
      applyTopK(buf, k);
      assert.equal(buf.size, 5, `k=${k}`);
    }
  });

  it("top-k (heap and quickselect paths) equals a full sort on random logits with ties", () => {
    let seed = 3;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const [V, k] of [[50, 7], [5000, 27], [5000, 100], [5000, 1500], [3000, 2999]]) {
      const z = Float32Array.from({ length: V }, () => Math.round(rand() * 40) / 4); // many ties
      const expected = [...z.keys()].sort((a, b) => z[b] - z[a] || a - b).slice(0, k).sort((a, b) => a - b);
      const buf = loaded(z);
      applyTopK(buf, k);
      assert.deepEqual(liveIds(buf), expected, `V=${V} k=${k}`);
      // after materialising, the sparse path must agree too (top-k of top-k)
      applyTemperature(buf, 1);
      applyTopP(buf, 0.999999);
      const again = [...buf.ids.subarray(0, buf.size)];
      const buf2 = loaded(z);
      applyTopK(buf2, k);
      applyTopP(buf2, 0.999999);
      assert.deepEqual([...buf2.ids.subarray(0, buf2.size)], again);
    }
  });

  it("top-k over materialised candidates in arbitrary order still breaks ties by the lower id", () => {
    let seed = 5;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const k of [1, 5, 30]) {
      // quickselect (k > 1024) leaves the candidates permuted and unsorted; top-k then scans them
      const z = Float32Array.from({ length: 5000 }, () => Math.round(rand() * 8));
      const expected = [...z.keys()].sort((a, b) => z[b] - z[a] || a - b).slice(0, k).sort((a, b) => a - b);
      const buf = loaded(z);
      applyTopK(buf, 2000);
      assert.equal(buf.sorted, false);
      applyTopK(buf, k);
      assert.deepEqual(liveIds(buf), expected, `k=${k}`);
    }
    for (const k of [1, 5, 30]) {
      const z = Float32Array.from({ length: 400 }, () => Math.round(rand() * 8));
      const expected = [...z.keys()].sort((a, b) => z[b] - z[a] || a - b).slice(0, k).sort((a, b) => a - b);
      const buf = loaded(z);
      // min-p set (z ≥ 4 of 0..8) misses the mass: materialised, permuted by the partition, unsorted
      applyTopP(buf, 0.9999999, 0.01);
      assert.equal(buf.sorted, false);
      assert.equal(buf.size, [...z].filter((x) => x >= 4).length);
      applyTopK(buf, k);
      assert.deepEqual(liveIds(buf), expected, `k=${k}`);
    }
  });

  it("top-p keeps the most probable tokens in descending order until the mass reaches p (not the ascending bug, §3.2)", () => {
    // ids 0..3 with p = .1 .5 .15 .25 → descending 1 (.5), 3 (.25): .75 ≥ .7
    let buf = loaded([0.1, 0.5, 0.15, 0.25]);
    applyTopP(buf, 0.7);
    assert.deepEqual(liveIds(buf), [1, 3]);
    const p = liveProbs(buf);
    close(p.get(1)!, 0.5 / 0.75, 1e-7);
    close(p.get(3)!, 0.25 / 0.75, 1e-7);
    // exactly reached at two tokens: no third token
    buf = loaded([0.1, 0.5, 0.15, 0.25]);
    applyTopP(buf, 0.75);
    assert.deepEqual(liveIds(buf), [1, 3]);
    // exactly reached, with logits exact in float32: z = [0, 1, 2], p = mass of the top two
    buf = loaded(Float32Array.from([0, 1, 2]));
    applyTopP(buf, (Math.E ** 2 + Math.E) / (1 + Math.E + Math.E ** 2));
    assert.deepEqual(liveIds(buf), [1, 2]);
    // just above: the third one is needed
    buf = loaded([0.1, 0.5, 0.15, 0.25]);
    applyTopP(buf, 0.76);
    assert.deepEqual(liveIds(buf), [1, 2, 3]);
    // the most probable token alone when it already reaches p
    buf = loaded([0.1, 0.5, 0.15, 0.25]);
    applyTopP(buf, 0.5);
    assert.deepEqual(liveIds(buf), [1]);
    // tie at the edge: .4, then one of the two .3 — the lower id
    buf = loaded([0.3, 0.4, 0.3]);
    applyTopP(buf, 0.6);
    assert.deepEqual(liveIds(buf), [0, 1]);
    // p = 1 disables
    buf = loaded([0.1, 0.5, 0.15, 0.25]);
    applyTopP(buf, 1);
    assert.equal(buf.size, 4);
  });

  it("top-p on a sorted buffer (after top-k) and without top-k give the same set", () => {
    for (const p of [0.3, 0.6, 0.8, 0.95]) {
      const a = loaded([0.05, 0.3, 0.1, 0.2, 0.15, 0.2]);
      applyTopK(a, 6 - 1); // sorted path, drops the 0.05
      applyTopK(a, 0);
      const b = loaded(Float32Array.from(fromProbs([0.05, 0.3, 0.1, 0.2, 0.15, 0.2]).map((x, i) => (i === 0 ? -Infinity : x))));
      applyTopP(a, p);
      applyTopP(b, p);
      assert.deepEqual(liveIds(a), liveIds(b), `p=${p}`);
    }
  });

  it("top-p without top-k (partition + floor lowering, no full sort) equals a brute-force nucleus", () => {
    let seed = 11;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const [V, scale] of [[3000, 1], [3000, 4], [3000, 12], [200, 0.01]]) {
      const z = Float32Array.from({ length: V }, () => -Math.log(rand() + 1e-12) * scale);
      const zs = Float64Array.from(z);
      const max = Math.max(...zs);
      const e = zs.map((x) => Math.exp(x - max));
      const Z = e.reduce((s, x) => s + x, 0);
      const order = [...z.keys()].sort((a, b) => z[b] - z[a] || a - b);
      for (const p of [0.1, 0.5, 0.9, 0.99]) {
        let cum = 0;
        let n = 0;
        while (n < V && cum < p - 1e-12) cum += e[order[n++]] / Z;
        const expected = order.slice(0, n).sort((a, b) => a - b);
        const buf = loaded(z);
        applyTopP(buf, p);
        assert.deepEqual(liveIds(buf), expected, `V=${V} scale=${scale} p=${p}`);
        for (const minP of [0.001, 0.05, 0.5]) {
          const withMin = loaded(z);
          applyTopP(withMin, p, minP);
          applyMinP(withMin, minP);
          const kept = expected.filter((i) => e[i] >= minP * 1 - 1e-15);
          assert.deepEqual(liveIds(withMin), kept, `V=${V} scale=${scale} p=${p} min_p=${minP}`);
        }
      }
    }
  });

  it("min-p drops p < min_p · p_max; 0 disables", () => {
    let buf = loaded([0.5, 0.3, 0.15, 0.05]);
    applyMinP(buf, 0.2); // threshold 0.1
    assert.deepEqual(liveIds(buf), [0, 1, 2]);
    const p = liveProbs(buf);
    close(p.get(2)!, 0.15 / 0.95, 1e-7);
    buf = loaded([0.5, 0.3, 0.15, 0.05]);
    applyMinP(buf, 0.7); // threshold 0.35
    assert.deepEqual(liveIds(buf), [0]);
    buf = loaded([0.5, 0.3, 0.15, 0.05]);
    applyMinP(buf, 0);
    assert.equal(buf.size, 4);
  });

  it("the chain renormalises between filters: top-p after top-k measures the kept mass", () => {
    // [.4 .3 .2 .1], top-k 2 → [.571, .429]; top-p .5 then needs only the first.
    // (Measured on the unrenormalised .4 it would keep both.)
    const buf = loaded([0.4, 0.3, 0.2, 0.1]);
    applyChain(buf, { temperature: 1, topK: 2, topP: 0.5, minP: 0 });
    assert.deepEqual(liveIds(buf), [0]);
    // temperature flattens before min-p: T = 2 → p ∝ √p0; min-p .5 keeps √.3/√.4 = .87 and √.2/√.4 = .71
    const b2 = loaded([0.4, 0.3, 0.2, 0.1]);
    applyChain(b2, { temperature: 2, topK: 0, topP: 1, minP: 0.6 });
    assert.deepEqual(liveIds(b2), [0, 1, 2]);
  });

  it("draws by inverse CDF over the live candidates; zero-probability tokens are never drawn", () => {
    const buf = loaded([0.5, 0, 0.3, 0.2]);
    assert.equal(buf.ids[drawIndex(buf, 0)], 0);
    assert.equal(buf.ids[drawIndex(buf, 0.4999)], 0);
    assert.equal(buf.ids[drawIndex(buf, 0.5001)], 2);
    assert.equal(buf.ids[drawIndex(buf, 0.7999)], 2);
    assert.equal(buf.ids[drawIndex(buf, 0.8001)], 3);
    assert.equal(buf.ids[drawIndex(buf, 0.9999999999)], 3);
    const rng = createRng(5);
    const counts = [0, 0, 0, 0];
    const N = 20000;
    for (let i = 0; i < N; i++) counts[buf.ids[drawIndex(buf, rng.uniform())]]++;
    assert.equal(counts[1], 0);
    [0.5, 0, 0.3, 0.2].forEach((p, i) => close(counts[i] / N, p, 4 * Math.sqrt((p * (1 - p)) / N) + 1e-9, `token ${i}`));
  });

  it("argmax takes the first of equal maxima", () => {
    assert.equal(argmax(Float32Array.from([1, 3, 2, 3])), 1);
    assert.equal(argmax(Float32Array.from([-Infinity, -5])), 1);
  });
});

describe("§2 policy: the five rows, in order, with the exact settings", () => {
  const never: ClarifyState = { stepsSinceClarify: Infinity, clarifyEvery: 64 };
  const base = BASE_SETTINGS;

  it("reference constants", () => {
    assert.deepEqual({ ...REFERENCE_PROFILE }, { lowEntropy: 0.1, lowVarentropy: 0.1, mediumEntropy: 3.0, highEntropy: 5.0, highVarentropy: 5.0 });
    assert.deepEqual({ ...BASE_SETTINGS }, { temperature: 0.666, topK: 27, topP: 0.9, minP: 0.03 });
  });

  it("row 1 confident: H < 0.1 and V < 0.1 → argmax", () => {
    const d = decide(metrics({ entropy: 0.05, varentropy: 0.05 }), REFERENCE_PROFILE, base, never);
    assert.deepEqual(d, { quadrant: "confident", action: { kind: "argmax" } });
  });

  it("row 2 clarify: H > 5 and V < 0.1 → insert; when rate-limited, T = min(1.5, T0·(1.3 + 0.2·attn_entropy))", () => {
    const m = metrics({ entropy: 5.5, varentropy: 0.05, attnEntropy: 0.5 });
    assert.deepEqual(decide(m, REFERENCE_PROFILE, base, never), { quadrant: "clarify", action: { kind: "insert" } });
    const d = decide(m, REFERENCE_PROFILE, base, { stepsSinceClarify: 3, clarifyEvery: 64 });
    assert.equal(d.quadrant, "clarify");
    assert.equal(d.action.kind, "sample");
    if (d.action.kind !== "sample") return;
    close(d.action.settings.temperature, 0.666 * 1.4); // 0.9324
    assert.deepEqual({ ...d.action.settings, temperature: 0 }, { ...base, temperature: 0 });
    assert.equal(d.action.candidates, 1);
    // the 1.5 cap: 0.666·(1.3 + 0.2·5) = 1.5318 → 1.5
    const capped = decide(metrics({ entropy: 5.5, varentropy: 0.05, attnEntropy: 5 }), REFERENCE_PROFILE, base, { stepsSinceClarify: 0, clarifyEvery: 1 });
    assert.ok(capped.action.kind === "sample" && capped.action.settings.temperature === 1.5);
    // nothing to insert → sample
    const none = decide(m, REFERENCE_PROFILE, base, { ...never, canInsert: false });
    assert.equal(none.action.kind, "sample");
  });

  it("row 3 explore: H < 5 and V > 5 → T = min(1.5, T0·(1.2 + 0.3·interaction)), top_k = max(5, floor(K0·(1 + 0.5·(1 − agreement))))", () => {
    const d = decide(metrics({ entropy: 2, varentropy: 6, interactionStrength: 1, agreement: 0 }), REFERENCE_PROFILE, base, never);
    assert.equal(d.quadrant, "explore");
    assert.ok(d.action.kind === "sample");
    if (d.action.kind !== "sample") return;
    close(d.action.settings.temperature, 0.666 * 1.5); // 0.999
    assert.equal(d.action.settings.topK, 40); // floor(27·1.5 = 40.5); round would give 41
    assert.equal(d.action.settings.topP, 0.9);
    assert.equal(d.action.settings.minP, 0.03);
    // the 1.5 cap: 0.666·(1.2 + 0.3·4) = 1.5984 → 1.5
    const hot = decide(metrics({ entropy: 2, varentropy: 6, interactionStrength: 4 }), REFERENCE_PROFILE, base, never);
    assert.ok(hot.action.kind === "sample" && hot.action.settings.temperature === 1.5);
    // the floor of 5: K0 = 3, agreement 1 → floor(3·1) = 3 → 5; null attention → agreement 0 → floor(3·1.5) = 4 → 5
    const small = decide(metrics({ entropy: 2, varentropy: 6, agreement: 1 }), REFERENCE_PROFILE, { ...base, topK: 3 }, never);
    assert.ok(small.action.kind === "sample" && small.action.settings.topK === 5);
    const nulls = decide(metrics({ entropy: 2, varentropy: 6 }), REFERENCE_PROFILE, base, never);
    assert.ok(nulls.action.kind === "sample");
    if (nulls.action.kind !== "sample") return;
    close(nulls.action.settings.temperature, 0.666 * 1.2);
    assert.equal(nulls.action.settings.topK, 40);
  });

  it("row 4 resample: H > 3 and V > 5 (and not row 3) → T = max(2, T0·(2 + 0.5·attn_varentropy)), top_p = max(0.5, P0 − 0.2·attn_entropy)", () => {
    const d = decide(metrics({ entropy: 6, varentropy: 6, attnVarentropy: 0.4, attnEntropy: 1 }), REFERENCE_PROFILE, base, never);
    assert.equal(d.quadrant, "resample");
    assert.ok(d.action.kind === "sample");
    if (d.action.kind !== "sample") return;
    assert.equal(d.action.settings.temperature, 2); // 0.666·2.2 = 1.4652 → 2
    close(d.action.settings.topP, 0.7);
    assert.equal(d.action.settings.topK, 27);
    const hot = decide(metrics({ entropy: 6, varentropy: 6, attnVarentropy: 4, attnEntropy: 3 }), REFERENCE_PROFILE, base, never);
    assert.ok(hot.action.kind === "sample");
    if (hot.action.kind !== "sample") return;
    close(hot.action.settings.temperature, 0.666 * 4); // 2.664
    assert.equal(hot.action.settings.topP, 0.5); // 0.9 − 0.6 = 0.3 → 0.5
  });

  it("row 5 adaptive: the four formulas and n = 5 candidates", () => {
    // UL = 3, UA = 1.5, agreement .2, interaction 1
    const d = decide(
      metrics({ entropy: 2, varentropy: 1, attnEntropy: 1, attnVarentropy: 0.5, agreement: 0.2, interactionStrength: 1 }),
      REFERENCE_PROFILE,
      base,
      never,
    );
    assert.equal(d.quadrant, "adaptive");
    assert.ok(d.action.kind === "sample");
    if (d.action.kind !== "sample") return;
    assert.equal(d.action.candidates, 5);
    assert.equal(ADAPTIVE_CANDIDATES, 5);
    close(d.action.settings.temperature, 0.666 * (1 + 0.9 + 0.3 - 0.04)); // 1.43856
    close(d.action.settings.topP, 0.9 * 1.05); // .945
    assert.equal(d.action.settings.topK, 34); // round(27·1.26 = 34.02)
    assert.equal(d.action.settings.minP, 0.01); // 0.03·(1 − 1.5) < 0.01
  });

  it("row 5 adaptive: round (not floor) for top_k, clips to [1, 100], min_p and top_p clips", () => {
    const s = (m: Partial<StepMetrics>) => adaptiveSettings(metrics(m), base);
    assert.equal(s({ interactionStrength: 4 / 3 }).topK, 38); // 27·1.4 = 37.8 → 38
    assert.equal(s({ interactionStrength: 10 }).topK, 100); // 108 → 100
    assert.equal(s({ agreement: 10 }).topK, 1);
    close(s({ entropy: 0.05, varentropy: 0.5 }).minP, 0.03 * (1 - 0.275)); // 0.02175
    assert.equal(s({ entropy: 0, varentropy: 0 }).minP, 0.03);
    assert.equal(adaptiveSettings(metrics({ entropy: 0, varentropy: 0 }), { ...base, minP: 0.9 }).minP, 0.5);
    assert.equal(s({ attnVarentropy: 2 }).topP, 1); // 0.9·1.2 = 1.08 → 1
    assert.equal(adaptiveSettings(metrics({}), { ...base, topP: 0.05 }).topP, 0.1);
  });

  it("null attention metrics count as 0 in the formulas", () => {
    const s = adaptiveSettings(metrics({ entropy: 1, varentropy: 1 }), base);
    close(s.temperature, 0.666 * 1.6);
    close(s.topP, 0.9);
    assert.equal(s.topK, 27);
  });

  it("first match wins at the boundaries (strict inequalities)", () => {
    const q = (entropy: number, varentropy: number) => quadrantOf({ entropy, varentropy }, REFERENCE_PROFILE);
    assert.equal(q(0.1, 0.05), "adaptive"); // H < 0.1 is strict
    assert.equal(q(4, 6), "explore"); // both rows 3 and 4 match: row 3 first
    assert.equal(q(5, 6), "resample"); // H < 5 fails, H > 3 holds
    assert.equal(q(5, 0.05), "adaptive"); // H > 5 is strict
    assert.equal(q(2, 5), "adaptive"); // V > 5 is strict
    assert.equal(q(6, 0.1), "adaptive"); // V < 0.1 is strict
    // a custom profile moves the cut-offs
    assert.equal(quadrantOf({ entropy: 4.5, varentropy: 0.05 }, { ...REFERENCE_PROFILE, highEntropy: 4 }), "clarify");
  });
});

describe("samplers", () => {
  const opts = (o: Partial<SamplerOptions>): SamplerOptions => ({
    name: "entropix",
    base: BASE_SETTINGS,
    profile: REFERENCE_PROFILE,
    seed: 1234,
    clarifyIds: [7, 8],
    clarifyEvery: 2,
    vocabSize: 16,
    ...o,
  });
  const logitsFor = (step: number, V = 16) => Float32Array.from({ length: V }, (_, i) => Math.sin(i * 1.7 + step) * 2);

  it("§3.4 clarify rate limit: at most one insert per clarifyEvery steps", () => {
    const clarify = metrics({ entropy: 5.5, varentropy: 0.05 });
    const kinds = (every: number, ids: number[] = [7, 8]) => {
      const s = createSampler(opts({ clarifyEvery: every, clarifyIds: ids }));
      return Array.from({ length: 7 }, (_, t) => s.next(logitsFor(t), clarify).action);
    };
    assert.deepEqual(kinds(2), ["insert", "sample", "sample", "insert", "sample", "sample", "insert"]);
    assert.deepEqual(kinds(1), ["insert", "sample", "insert", "sample", "insert", "sample", "insert"]); // the reference's rule
    assert.deepEqual(kinds(0), Array(7).fill("insert"));
    assert.deepEqual(kinds(2, []), Array(7).fill("sample"));
    // non-clarify steps count towards the limit too
    const s = createSampler(opts({ clarifyEvery: 2 }));
    assert.equal(s.next(logitsFor(0), clarify).action, "insert");
    s.next(logitsFor(1), metrics({ entropy: 2, varentropy: 2 }));
    s.next(logitsFor(2), metrics({ entropy: 2, varentropy: 2 }));
    const step = s.next(logitsFor(3), clarify);
    assert.deepEqual(step.ids, [7, 8]);
    assert.equal(step.quadrant, "clarify");
    assert.deepEqual(step.settings, GREEDY_SETTINGS);
  });

  it("same seed ⇒ same tokens; the generator advances (not one token repeated)", () => {
    const run = (seed: number, name: "entropix" | "temperature") => {
      const s = createSampler(opts({ seed, name, vocabSize: 64 }));
      const ids: number[] = [];
      for (let t = 0; t < 200; t++) {
        const m = metrics({ entropy: (t % 7) * 1.0, varentropy: (t % 5) * 1.5 });
        ids.push(...s.next(logitsFor(t % 3, 64), m).ids);
      }
      return ids;
    };
    for (const name of ["entropix", "temperature"] as const) {
      const a = run(99, name);
      assert.deepEqual(run(99, name), a);
      assert.notDeepEqual(run(100, name), a);
      assert.ok(new Set(a).size > 3, `${name}: varied tokens from the same three logit vectors`);
    }
  });

  it("greedy is argmax and still reports the Entropix quadrant; temperature uses the base chain", () => {
    const g = createSampler(opts({ name: "greedy" }));
    const z = logitsFor(4);
    const step = g.next(z, metrics({ entropy: 2, varentropy: 6 }));
    assert.deepEqual(step.ids, [argmax(z)]);
    assert.equal(step.quadrant, "explore");
    assert.equal(step.sampler, "greedy");
    assert.deepEqual(step.settings, GREEDY_SETTINGS);
    const t = createSampler(opts({ name: "temperature" }));
    const ts = t.next(z, metrics({ entropy: 5.5, varentropy: 0.05 }));
    assert.equal(ts.quadrant, "clarify");
    assert.equal(ts.action, "sample"); // only Entropix inserts
    assert.deepEqual(ts.settings, BASE_SETTINGS);
  });

  it("Entropix confident steps are argmax; explore/resample report the settings used", () => {
    const s = createSampler(opts({}));
    const z = logitsFor(2);
    const c = s.next(z, metrics({ entropy: 0.01, varentropy: 0.01 }));
    assert.deepEqual(c.ids, [argmax(z)]);
    assert.equal(c.action, "argmax");
    const r = s.next(z, metrics({ entropy: 6, varentropy: 6 }));
    assert.equal(r.quadrant, "resample");
    assert.equal(r.settings.temperature, 2);
  });

  it("adaptive draws 5 candidates and keeps the highest untempered log p (first on ties)", () => {
    const V = 40;
    const m = metrics({ entropy: 2, varentropy: 1, attnEntropy: 1, attnVarentropy: 0.5, agreement: 0.2, interactionStrength: 1 });
    const settings: SamplerSettings = adaptiveSettings(m, BASE_SETTINGS);
    const s = createSampler(opts({ vocabSize: V, seed: 77 }));
    // replay by hand with the same seed: filter once, 5 draws, best raw logit
    const rng = createRng(77);
    const buf = new CandidateBuffer(V);
    let differs = 0;
    for (let t = 0; t < 100; t++) {
      const z = logitsFor(t, V);
      loadLogits(buf, z);
      applyChain(buf, settings);
      const draws = Array.from({ length: 5 }, () => buf.ids[drawIndex(buf, rng.uniform())]);
      const best = draws.reduce((b, id) => (z[id] > z[b] ? id : b), draws[0]);
      if (best !== draws[0]) differs++;
      const step = s.next(z, m);
      assert.equal(step.quadrant, "adaptive");
      assert.deepEqual(step.ids, [best], `step ${t}`);
      assert.deepEqual(step.settings, settings);
    }
    assert.ok(differs > 0, "the best-of-5 rule changed some choices");
  });

  it("rejects bad options: logits length, clarify ids outside the vocabulary, bad settings", () => {
    const s = createSampler(opts({}));
    assert.throws(() => s.next(new Float32Array(15), metrics({})), RangeError);
    assert.throws(() => createSampler(opts({ clarifyIds: [16] })), RangeError);
    assert.throws(() => createSampler(opts({ base: { ...BASE_SETTINGS, temperature: 0 } })), UsageError);
    assert.throws(() => createSampler(opts({ base: { ...BASE_SETTINGS, topP: 1.5 } })), UsageError);
    assert.throws(() => createSampler(opts({ clarifyEvery: -1 })), UsageError);
    assert.throws(() => createSampler(opts({ seed: -1 })), UsageError);
  });
});

describe("§3.3 threshold profile files", () => {
  it("overrides any constant, keeping the others", () => {
    assert.deepEqual(parseThresholdProfile('{"high_ent": 4.0}', "t.json"), { ...REFERENCE_PROFILE, highEntropy: 4 });
    assert.deepEqual(parseThresholdProfile('{"thresholds": {"low_ent": 0.2, "low_vent": 0.3}}', "t.json"), {
      ...REFERENCE_PROFILE,
      lowEntropy: 0.2,
      lowVarentropy: 0.3,
    });
    assert.deepEqual(parseThresholdProfile('{"med_ent": 2, "high_vent": 6, "meta": {"model": "x"}}', "t.json"), {
      ...REFERENCE_PROFILE,
      mediumEntropy: 2,
      highVarentropy: 6,
    });
  });

  it("profile files may also set base settings (parseProfileFile)", () => {
    const p = parseProfileFile('{"high_ent": 4, "settings": {"top_k": 40}, "temperature": 0.8}', "p.json");
    assert.deepEqual(p.thresholds, { ...REFERENCE_PROFILE, highEntropy: 4 });
    assert.deepEqual(p.settings, { topK: 40, temperature: 0.8 });
  });

  const rejects = (text: string, ...parts: string[]) => {
    assert.throws(
      () => parseProfileFile(text, "prof.json"),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, `UsageError for ${text}`);
        assert.ok(!e.message.includes("\n"), "one line");
        for (const part of ["prof.json", ...parts]) assert.ok(e.message.includes(part), `"${e.message}" should name ${part}`);
        return true;
      },
    );
  };

  it("rejects malformed JSON, non-objects, unknown keys, bad values, duplicates — naming the file and key", () => {
    rejects('{"high_ent": 4.0', "JSON");
    rejects("[1, 2]", "object");
    rejects("3", "object");
    rejects('{"hi_ent": 4}', '"hi_ent"');
    rejects('{"thresholds": {"top_k": 3}}', '"thresholds.top_k"');
    rejects('{"high_ent": -1}', '"high_ent"');
    rejects('{"high_ent": 1e999}', '"high_ent"');
    rejects('{"high_ent": "4"}', '"high_ent"');
    rejects('{"high_ent": null}', '"high_ent"');
    rejects('{"thresholds": 3}', '"thresholds"');
    rejects('{"top_k": 2.5}', '"top_k"');
    rejects('{"top_p": 0}', '"top_p"');
    rejects('{"min_p": 1.5}', '"min_p"');
    rejects('{"temperature": 0}', '"temperature"');
    rejects('{"high_ent": 4, "thresholds": {"high_ent": 5}}', '"high_ent"', "twice");
  });

  it("parseThresholdProfile refuses sampling settings instead of ignoring them", () => {
    assert.throws(() => parseThresholdProfile('{"top_k": 40}', "t.json"), /t\.json: "top_k" is a sampling setting/);
  });

  it("formatThresholdProfile round-trips", () => {
    const profile = { ...REFERENCE_PROFILE, highEntropy: 3.25 };
    const text = formatThresholdProfile(profile, { topK: 31 }, { calibratedOn: "sample.txt" });
    const back = parseProfileFile(text, "x.json");
    assert.deepEqual(back.thresholds, profile);
    assert.deepEqual(back.settings, { topK: 31 });
  });
});
