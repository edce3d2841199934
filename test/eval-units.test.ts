// Pure parts of `entropix eval` and of the default sampler, against hand-computed values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distinctN, endsInLoop, nonWordRate, repetition4, wordsOf } from "../src/eval/text-metrics.js";
import { bootstrapDraws, frontierGap, frontierGapDifference, frontierNll, meanInterval, pairedDifference } from "../src/eval/stats.js";
import { parseSamplerList } from "../src/eval/sampler-specs.js";
import { parsePrompts } from "../src/eval/prompts.js";
import { UsageError } from "../src/errors.js";
import { rankOf, scaleFromMeta } from "../src/sampler/scale.js";
import { decideRelative, DEFAULT_RELATIVE_PARAMS, relativeSettings } from "../src/sampler/relative.js";
import { RepeatTracker } from "../src/sampler/repetition.js";
import { BASE_SETTINGS, REFERENCE_PROFILE } from "../src/sampler/thresholds.js";

test("distinct-n counts unique n-grams over all n-grams", () => {
  assert.equal(distinctN([1, 2, 3, 1, 2, 3], 3), 3 / 4); // 123 231 312 123
  assert.equal(distinctN([1, 2, 3, 1, 2, 3], 1), 3 / 6);
  assert.equal(distinctN([5, 6], 3), 1);
});

test("4-gram repetition is the share of 4-grams seen before", () => {
  assert.equal(repetition4([1, 2, 3, 4, 1, 2, 3, 4]), 1 / 5); // 1234 2341 3412 4123 1234
  assert.equal(repetition4([1, 2, 3, 4, 5]), 0);
});

test("a loop is a span of ≥ 8 tokens repeated back to back within the last 32", () => {
  const span = [1, 2, 3, 4, 5, 6, 7, 8];
  assert.equal(endsInLoop([9, 9, ...span, ...span]), true);
  assert.equal(endsInLoop([...span.slice(0, 7), 0, ...span.slice(0, 7)]), false); // 7-token repeat only
  const noise = Array.from({ length: 40 }, (_, i) => 100 + i);
  assert.equal(endsInLoop([...span, ...span, ...noise]), false, "a loop older than the last 32 tokens does not count");
});

test("non-word rate counts alphabetic words missing from the lexicon", () => {
  assert.deepEqual(wordsOf("The whale's  wake, 42 times—Ahab!"), ["the", "whale's", "wake", "times", "ahab"]);
  assert.equal(nonWordRate("the whale blorped", new Set(["the", "whale"])), 1 / 3);
  assert.equal(nonWordRate("123 !!", new Set(["the"])), null);
});

test("frontier: piecewise-linear in distinct-3, extended beyond its ends", () => {
  const pts = [
    { distinct: 0.9, nll: 1.2 },
    { distinct: 0.8, nll: 1.0 },
    { distinct: 1.0, nll: 2.0 },
  ];
  assert.ok(Math.abs(frontierNll(pts, 0.85) - 1.1) < 1e-12);
  assert.ok(Math.abs(frontierNll(pts, 0.95) - 1.6) < 1e-12);
  assert.ok(Math.abs(frontierNll(pts, 0.7) - 0.8) < 1e-12);
});

test("gap to the frontier: a point below it is negative, with an interval from the same resamples", () => {
  const prompts = 30;
  const draws = bootstrapDraws(prompts, 400, 7);
  const constant = (x: number) => new Array(prompts).fill(x);
  const t1 = { distinct: constant(0.8), nll: constant(1.0) };
  const t2 = { distinct: constant(1.0), nll: constant(2.0) };
  const below = { distinct: constant(0.9), nll: constant(1.3) };
  const gap = frontierGap(below, [t1, t2], draws);
  assert.ok(Math.abs(gap.mean + 0.2) < 1e-12);
  assert.ok(gap.lo <= gap.mean && gap.hi >= gap.mean && gap.hi < 0);
  const m = meanInterval([1, 2, 3, 4], bootstrapDraws(4, 500));
  assert.equal(m.mean, 2.5);
  assert.ok(m.lo >= 1 && m.hi <= 4 && m.lo < m.hi);
  const d = pairedDifference([2, 3, 4], [1, 2, 3], bootstrapDraws(3, 100));
  assert.deepEqual([d.mean, d.lo, d.hi], [1, 1, 1]);
});

test("--samplers: every form parses; unknown names and bad values are one-line usage errors", () => {
  const specs = parseSamplerList("greedy,temperature:0.7,min-p:0.1,top-p:0.9,entropix,entropix-reference,entropix(max-t=1.2;heat=0.5;insert=1)");
  assert.deepEqual(specs.map((s) => s.options.sampler), ["greedy", "temperature", "temperature", "temperature", "entropix", "entropix-reference", "entropix"]);
  assert.equal(specs[1].frontierTemperature, 0.7);
  assert.deepEqual(specs[2].options.settings, { temperature: 1, topK: 0, topP: 1, minP: 0.1 });
  assert.deepEqual(specs[6].options.samplerParams, { maxTemperature: 1.2, insert: true });
  assert.deepEqual(specs[6].options.settings, { temperature: 0.5 });
  assert.throws(() => parseSamplerList("greedy,bogus"), (e: unknown) => e instanceof UsageError && /unknown sampler "bogus"/.test(e.message));
  assert.throws(() => parseSamplerList("temperature:-1"), UsageError);
  assert.throws(() => parseSamplerList("entropix(nope=1)"), /unknown entropix knob/);
  assert.throws(() => parseSamplerList("greedy,greedy"), /twice/);
});

test("prompts files: plain lines or JSON Lines; empty is an error", () => {
  assert.deepEqual(parsePrompts("# comment\nfirst\n\nsecond\n", "p.txt").map((p) => p.text), ["first", "second"]);
  assert.deepEqual(parsePrompts('{"prompt":"a","id":"x"}\n{"prompt":"b"}\n', "p.jsonl"), [
    { id: "x", text: "a" },
    { id: "1", text: "b" },
  ]);
  assert.throws(() => parsePrompts("\n  \n# only a comment\n", "empty.txt"), /has no prompts/);
});

test("percentile ranks interpolate between the calibration quantiles", () => {
  const q = { min: 0, p10: 1, p50: 3, p90: 7, max: 9 };
  assert.equal(rankOf(-1, q), 0);
  assert.equal(rankOf(1, q), 0.1);
  assert.ok(Math.abs(rankOf(2, q) - 0.3) < 1e-12);
  assert.ok(Math.abs(rankOf(5, q) - 0.7) < 1e-12);
  assert.equal(rankOf(20, q), 1);
  assert.equal(scaleFromMeta({ statistics: { entropy: q } }), null, "varentropy is required");
});

test("default policy: bounded temperature, argmax when confident, no insert unless asked", () => {
  const scale = { entropy: { min: 0, p10: 1, p50: 2, p90: 3, max: 4 }, varentropy: { min: 0, p10: 1, p50: 2, p90: 3, max: 4 } };
  const hot = { entropy: 4, varentropy: 0.5, attnEntropy: null, attnVarentropy: null, agreement: null, interactionStrength: null };
  const p = { ...DEFAULT_RELATIVE_PARAMS, entropyGain: 10, maxTemperature: 1.2 };
  assert.equal(relativeSettings(hot, scale, BASE_SETTINGS, p).temperature, 1.2, "clamped at the maximum");
  const calm = { ...hot, entropy: 0.05, varentropy: 0.05 };
  const state = { stepsSinceClarify: Infinity, clarifyEvery: 1 };
  assert.equal(decideRelative(calm, REFERENCE_PROFILE, scale, BASE_SETTINGS, DEFAULT_RELATIVE_PARAMS, state).action.kind, "argmax");
  const flat = { ...hot, entropy: 6, varentropy: 0.05 }; // the reference's clarify state
  assert.equal(decideRelative(flat, REFERENCE_PROFILE, scale, BASE_SETTINGS, DEFAULT_RELATIVE_PARAMS, state).quadrant, "clarify");
  assert.equal(decideRelative(flat, REFERENCE_PROFILE, scale, BASE_SETTINGS, DEFAULT_RELATIVE_PARAMS, state).action.kind, "sample");
  assert.equal(decideRelative(flat, REFERENCE_PROFILE, scale, BASE_SETTINGS, { ...DEFAULT_RELATIVE_PARAMS, insert: true }, state).action.kind, "insert");
  // While repeating, a positive repeat gain heats the step and overrides the confident argmax.
  const rp = { ...DEFAULT_RELATIVE_PARAMS, repeatGain: Math.log(2) };
  const d = decideRelative(calm, REFERENCE_PROFILE, scale, BASE_SETTINGS, rp, state, true);
  assert.equal(d.action.kind, "sample");
  if (d.action.kind === "sample") assert.ok(Math.abs(d.action.settings.temperature - 2 * BASE_SETTINGS.temperature) < 1e-12);
});

test("repeat tracker: a token that would complete a trigram seen before", () => {
  const r = new RepeatTracker();
  r.push([1, 2, 3, 4]);
  assert.equal(r.wouldRepeat(3), false, "last two tokens are 3 4, never seen before");
  r.push([1, 2]);
  assert.equal(r.wouldRepeat(3), true, "1 2 3 occurred");
  assert.equal(r.wouldRepeat(5), false);
});

test("frontierGapDifference: paired over the same resamples; a sampler against itself is exactly 0", () => {
  const temps = [
    { distinct: [0.5, 0.6, 0.55, 0.52], nll: [1, 1.2, 1.1, 1.05] },
    { distinct: [0.8, 0.9, 0.85, 0.82], nll: [2, 2.2, 2.1, 2.05] },
  ];
  const b = { distinct: [0.7, 0.7, 0.7, 0.7], nll: [1.5, 1.6, 1.5, 1.4] };
  const a = { distinct: b.distinct, nll: b.nll.map((x) => x - 0.1) };
  const draws = bootstrapDraws(4, 200);
  const same = frontierGapDifference(b, b, temps, draws);
  assert.deepEqual([same.mean, same.lo, same.hi], [0, 0, 0]);
  const lower = frontierGapDifference(a, b, temps, draws);
  assert.ok(Math.abs(lower.mean + 0.1) < 1e-9 && Math.abs(lower.lo + 0.1) < 1e-9 && Math.abs(lower.hi + 0.1) < 1e-9);
});
