// `entropix calibrate` (issue 8, entropix-method.md §3.3): per-model thresholds from percentiles of
// the model's own metrics, stored beside the model or in the cache, and picked up by `generate`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, REPO_ROOT, runCli, STORIES, tempDir } from "./helpers.js";
import { CLI_KILL_MS } from "./helpers.js";
import { parseProfileFile, REFERENCE_PROFILE } from "../src/sampler/thresholds.js";
import { quadrantOf } from "../src/sampler/policy.js";
import { CALIBRATION_PERCENTILES, enforceMonotone, isMonotone, percentile, percentileRank, thresholdsFromSamples } from "../src/calibrate/statistics.js";
import { collectCalibrationSamples } from "../src/calibrate/calibrate.js";
import { loadModel } from "../src/model/model.js";
import { logitMetrics } from "../src/metrics/logits.js";
import type { ThresholdProfile } from "../src/types.js";

/** A writable copy of the read-only stories260k fixture. */
function writableStories(): string {
  const dir = path.join(tempDir("entropix-calib-"), "stories260k");
  cpSync(STORIES, dir, { recursive: true });
  const walk = (d: string): void => {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else chmodSync(path.join(d, e.name), 0o644);
    }
  };
  walk(dir);
  return dir;
}

function profileOf(json: Record<string, unknown>): ThresholdProfile {
  return parseProfileFile(JSON.stringify(json), "test").thresholds;
}

async function generateJson(args: string[], env: Record<string, string>) {
  const r = await runCli(["generate", ...args, "Once upon a time", "--json", "-n", "24", "--seed", "4", "--ignore-eos"], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  return { r, tokens: lines.filter((l) => l.type === "token"), summary: lines.at(-1)! };
}

// --- pure parts -------------------------------------------------------------------------------

test("percentile interpolates between closest ranks; percentileRank inverts it", () => {
  const xs = Float64Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(percentile(xs, 0), 0);
  assert.equal(percentile(xs, 10), 1);
  assert.equal(percentile(xs, 60), 6);
  assert.equal(percentile(xs, 95), 9.5);
  assert.equal(percentile(xs, 100), 10);
  assert.equal(percentile(Float64Array.from([2, 4]), 50), 3);
  assert.ok(Math.abs(percentileRank(xs, 6) - (100 * 6.5) / 11) < 1e-9);
});

test("thresholds are the documented percentiles of H and V", () => {
  const h = Array.from({ length: 101 }, (_, i) => i / 10); // 0 … 10
  const v = Array.from({ length: 101 }, (_, i) => 100 - i); // 100 … 0 (order must not matter)
  const { profile, adjusted } = thresholdsFromSamples(h, v);
  assert.deepEqual(adjusted, []);
  assert.deepEqual(CALIBRATION_PERCENTILES, { low_ent: 10, low_vent: 10, med_ent: 60, high_ent: 90, high_vent: 90 });
  assert.deepEqual(profile, { lowEntropy: 1, mediumEntropy: 6, highEntropy: 9, lowVarentropy: 10, highVarentropy: 90 });
});

test("degenerate samples still give strictly monotone thresholds", () => {
  const zeros = new Array(50).fill(0);
  const r = thresholdsFromSamples(zeros, zeros);
  assert.ok(isMonotone(r.profile), JSON.stringify(r.profile));
  assert.deepEqual(r.adjusted, ["med_ent", "high_ent", "high_vent"]);
  const inverted = enforceMonotone({ lowEntropy: 2, mediumEntropy: 1, highEntropy: 0.5, lowVarentropy: 3, highVarentropy: 3 });
  assert.ok(isMonotone(inverted.profile), JSON.stringify(inverted.profile));
  assert.equal(inverted.profile.lowEntropy, 2);
  assert.ok(!isMonotone({ lowEntropy: 1, mediumEntropy: 1, highEntropy: 2, lowVarentropy: 0, highVarentropy: 1 }));
});

// --- teacher forcing ------------------------------------------------------------------------------

test("each calibration sample is the model's prediction of the next corpus token (teacher forcing)", async () => {
  const model = await loadModel(STORIES);
  try {
    const ids = model.tokenizer.encode("Once upon a time, there was a little girl named Lily. She loved to play.", false);
    const s = await collectCalibrationSamples(model, ids, { tokens: 100, window: 8, warmup: 2 });
    // Windows of 8 tokens, the first 2 predictions of each skipped: 6 samples per full window.
    assert.equal(s.windowTokens, 8);
    assert.equal(s.count, Math.min(100, Math.floor(ids.length / 8) * 6 + Math.max(0, (ids.length % 8) - 2)));
    assert.ok(s.attnEntropy && s.attnEntropy.length === s.count, "taps give attention samples");
    // Sample 0 predicts window token 2 from [BOS, t0, t1]; sample 7 predicts token 8 + 3 from [BOS, t8 … t10].
    const bos = model.facts.bosId!;
    for (const [k, prefix] of [
      [0, [bos, ...ids.slice(0, 2)]],
      [7, [bos, ...ids.slice(8, 11)]],
    ] as const) {
      const out = (await model.newSequence().prefill([[...prefix]]))[0];
      const m = logitMetrics(out.logits);
      assert.ok(Math.abs(m.entropy - s.entropy[k]) < 1e-4, `sample ${k}: ${s.entropy[k]} vs ${m.entropy}`);
      assert.ok(Math.abs(m.varentropy - s.varentropy[k]) < 1e-3, `sample ${k}: ${s.varentropy[k]} vs ${m.varentropy}`);
    }
  } finally {
    await model.close();
  }
});

// --- the command ---------------------------------------------------------------------------------

test("calibrate writes a monotone profile with its provenance beside a writable model; generate uses it", async () => {
  const dir = writableStories();
  const env = { ENTROPIX_CACHE_DIR: tempDir("entropix-cache-") };
  // With the heat search (7 heats × 8 generations) this run is the suite's longest CLI call: allow
  // it 3× the usual kill time (the worst time seen for it under load is in WORST_CLI_MS's note).
  const r = await runCli(["calibrate", "-m", dir, "--tokens", "512", "--json"], { env, timeoutMs: 3 * CLI_KILL_MS });
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const file = path.join(dir, "entropix.thresholds.json");
  assert.equal(result.path, file);
  assert.equal(result.where, "model");
  const json = JSON.parse(readFileSync(file, "utf8"));
  const profile = profileOf(json); // the --thresholds parser accepts it, meta included
  assert.ok(isMonotone(profile), JSON.stringify(profile));
  assert.notDeepEqual(profile, REFERENCE_PROFILE);
  const meta = json.meta;
  assert.deepEqual(meta.percentiles, CALIBRATION_PERCENTILES);
  assert.equal(meta.model.name, "stories260k");
  assert.equal(meta.model.onnx_file, path.join("onnx", "model.onnx"));
  assert.match(meta.model.onnx_sha256, /^[0-9a-f]{64}$/);
  assert.equal(meta.model.vocab_size, 512);
  assert.equal(meta.tokens, 512);
  assert.equal(meta.corpus.name, "calibration.txt");
  assert.ok(!Number.isNaN(Date.parse(meta.date)));
  assert.equal(meta.entropix_version, JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).version);
  // Each threshold is its percentile of the model's metrics over the corpus: recollect the samples
  // and take the percentiles here (linear between closest ranks, rank = p/100·(n − 1)).
  const m = await loadModel(dir, { taps: false });
  try {
    const corpus = readFileSync(path.join(REPO_ROOT, "data", "calibration.txt"), "utf8");
    const samples = await collectCalibrationSamples(m, m.tokenizer.encode(corpus, false), { tokens: 512 });
    assert.equal(samples.count, 512);
    const pct = (xs: ArrayLike<number>, p: number) => {
      const sorted = Array.from(xs).sort((a, b) => a - b);
      const rank = (p / 100) * (sorted.length - 1);
      const lo = Math.floor(rank);
      return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (rank - lo);
    };
    const want = {
      lowEntropy: pct(samples.entropy, 10),
      mediumEntropy: pct(samples.entropy, 60),
      highEntropy: pct(samples.entropy, 90),
      lowVarentropy: pct(samples.varentropy, 10),
      highVarentropy: pct(samples.varentropy, 90),
    };
    for (const k of Object.keys(want) as (keyof ThresholdProfile)[]) assert.ok(Math.abs(profile[k] - want[k]) < 1e-5, `${k}: ${profile[k]} vs p${JSON.stringify(want[k])}`);
    assert.ok(Math.abs(meta.statistics.entropy.p50 - pct(samples.entropy, 50)) < 1e-5, "recorded median");
  } finally {
    await m.close();
  }
  assert.equal(typeof meta.statistics.attn_entropy.p50, "number");

  // The heat: the grid, each point's loop rate, and the rule "coolest heat whose loop rate is 0"
  // (else the lowest loop rate, hotter on ties), applied here to the recorded grid.
  const heat = meta.heat as { heat: number; grid: { heat: number; loop_rate: number; nll: number; distinct3: number }[] };
  assert.deepEqual(heat.grid.map((g) => g.heat), [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
  for (const g of heat.grid) assert.ok(g.loop_rate >= 0 && g.loop_rate <= 1 && g.nll > 0 && g.distinct3 > 0 && g.distinct3 <= 1);
  const clean = heat.grid.find((g) => g.loop_rate === 0);
  const want = clean ?? [...heat.grid].sort((a, b) => a.loop_rate - b.loop_rate || b.heat - a.heat)[0];
  assert.equal(heat.heat, want.heat);
  assert.equal(json.temperature, heat.heat, "the heat is the profile's base temperature");
  assert.equal(result.heat, heat.heat);

  const cal = await generateJson(["-m", dir, "--verbose"], env);
  assert.equal(cal.summary.thresholds, "calibrated");
  // The default sampler starts from the calibrated heat: its sampled steps are at most 4.5× it (copy
  // guard) and, away from copies, exactly it.
  const sampled = cal.tokens.filter((t) => t.temperature !== 0);
  assert.ok(sampled.some((t) => Math.abs((t.temperature as number) - heat.heat) < 1e-12), JSON.stringify(sampled.map((t) => t.temperature)));
  assert.match(cal.r.stderr, /thresholds \(calibrated: .*entropix\.thresholds\.json\)/);
  // The quadrants are the calibrated profile's, not the reference's.
  for (const t of cal.tokens) assert.equal(t.quadrant, quadrantOf(t as { entropy: number; varentropy: number }, profile));
  assert.ok(cal.tokens.some((t) => quadrantOf(t as { entropy: number; varentropy: number }, REFERENCE_PROFILE) !== t.quadrant), "profiles differ on this run");

  const ref = await generateJson(["-m", dir, "--thresholds", "reference"], env);
  assert.equal(ref.summary.thresholds, "reference");
  for (const t of ref.tokens) assert.equal(t.quadrant, quadrantOf(t as { entropy: number; varentropy: number }, REFERENCE_PROFILE));
});

test("a read-only model folder gets its profile in the cache, keyed so generate finds it", async () => {
  const cache = tempDir("entropix-cache-");
  const before = readdirSync(STORIES);
  const r = await runCli(["calibrate", "-m", STORIES, "--tokens", "256", "--no-heat"], { env: { ENTROPIX_CACHE_DIR: cache } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(STORIES), before, "nothing written into the read-only fixture");
  assert.match(r.stdout, /^calibrated stories260k on 256 tokens of calibration\.txt: low_ent [\d.e-]+ \(p10\), .* → .*thresholds.*\.json \(in the cache/);
  const files = readdirSync(path.join(cache, "thresholds"));
  assert.equal(files.length, 1);
  const profile = profileOf(JSON.parse(readFileSync(path.join(cache, "thresholds", files[0]), "utf8")));
  assert.ok(isMonotone(profile));

  const hit = await generateJson(["-m", STORIES], { ENTROPIX_CACHE_DIR: cache });
  assert.equal(hit.summary.thresholds, "calibrated");
  const miss = await generateJson(["-m", STORIES], { ENTROPIX_CACHE_DIR: tempDir("entropix-cache-") });
  assert.equal(miss.summary.thresholds, "reference");
});

test("a profile calibrated on another model file is ignored with a note", async () => {
  const dir = writableStories();
  const env = { ENTROPIX_CACHE_DIR: tempDir("entropix-cache-") };
  assert.equal((await runCli(["calibrate", "-m", dir, "--tokens", "128", "--no-heat"], { env })).code, 0);
  const file = path.join(dir, "entropix.thresholds.json");
  const json = JSON.parse(readFileSync(file, "utf8"));
  json.meta.model.onnx_size += 1;
  writeFileSync(file, JSON.stringify(json));
  const g = await generateJson(["-m", dir], env);
  assert.equal(g.summary.thresholds, "reference");
  assert.match(g.r.stderr, /ignoring calibrated thresholds .*entropix\.thresholds\.json: onnx\/model\.onnx changed since it was calibrated/);
  rmSync(file);
});

test("--output writes the profile elsewhere; generate --thresholds FILE names the file", async () => {
  const dir = writableStories();
  const out = path.join(tempDir(), "p.json");
  const env = { ENTROPIX_CACHE_DIR: tempDir("entropix-cache-") };
  const r = await runCli(["calibrate", "-m", dir, "--tokens", "128", "--output", out, "--no-heat"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
  assert.ok(!existsSync(path.join(dir, "entropix.thresholds.json")));
  const g = await generateJson(["-m", dir, "--thresholds", out], env);
  assert.equal(g.summary.thresholds, out);
  const profile = profileOf(JSON.parse(readFileSync(out, "utf8")));
  for (const t of g.tokens) assert.equal(t.quadrant, quadrantOf(t as { entropy: number; varentropy: number }, profile));
});

test("calibrate: bad corpus, too few tokens and a missing output folder are one-line usage errors", async () => {
  const env = { ENTROPIX_CACHE_DIR: tempDir("entropix-cache-") };
  const missing = await runCli(["calibrate", "-m", STORIES, "--corpus", "/nonexistent/corpus.txt"], { env });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^entropix: \/nonexistent\/corpus\.txt: cannot read the corpus \(ENOENT\)\n$/);
  const few = await runCli(["calibrate", "-m", STORIES, "--tokens", "10"], { env });
  assert.equal(few.code, 2);
  assert.match(few.stderr, /--tokens must be a whole number of at least 64/);
  const tiny = path.join(tempDir(), "tiny.txt");
  writeFileSync(tiny, "Once upon a time.");
  const short = await runCli(["calibrate", "-m", STORIES, "--corpus", tiny], { env });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /calibration needs at least 64/);
  const noDir = await runCli(["calibrate", "-m", STORIES, "--output", "/nonexistent/dir/p.json"], { env });
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /does not exist/);
});
