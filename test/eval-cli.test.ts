// `entropix eval` through the built CLI on a real model (stories260k), and its bad-input errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, REPO_ROOT, runCli, STORIES, tempDir } from "./helpers.js";
import { distinctN } from "../src/eval/text-metrics.js";

const dir = tempDir("entropix-eval-");
const prompts = path.join(dir, "prompts.txt");
writeFileSync(prompts, "Once upon a time, there was a little boy named Tim.\nLily and her mom went to the park to play.\nThe sun was hot and the bird was thirsty.\n");

test("eval: one model load, every prompt × seed × sampler, summary consistent with the generations", async () => {
  const gens = path.join(dir, "gens.jsonl");
  const report = path.join(dir, "eval.html");
  const r = await runCli(["eval", prompts, "-m", STORIES, "--seeds", "2", "-n", "24", "--samplers", "greedy,temperature:0.7,temperature:1.0,entropix,entropix-reference", "--json", "--generations", gens, "--report", report, "--resamples", "200"]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim()) as { prompts: number; seeds: number; partial: boolean; samplers: { label: string; generations: number; metrics: Record<string, { mean: number; lo: number; hi: number }>; frontierGap: { mean: number } | null }[]; frontier: unknown[] };
  assert.equal(summary.prompts, 3);
  assert.equal(summary.seeds, 2);
  assert.equal(summary.partial, false);
  assert.deepEqual(summary.samplers.map((s) => s.generations), [6, 6, 6, 6, 6]);
  assert.equal(summary.frontier.length, 2);
  const rows = jsonLines(readFileSync(gens, "utf8")) as unknown as { sampler: string; seed: number; prompt: number; tokens: number; distinct3: number; nll: number; text: string }[];
  assert.equal(rows.length, 30);
  // Greedy ignores the seed: both seeds give the same text for a prompt.
  const greedy = rows.filter((g) => g.sampler === "greedy");
  for (let p = 0; p < 3; p++) {
    const [a, b] = greedy.filter((g) => g.prompt === p);
    assert.equal(a.text, b.text);
  }
  // The summary's distinct-3 is the mean over prompts of the per-prompt seed means.
  const t1 = rows.filter((g) => g.sampler === "temperature:1.0");
  const perPrompt = [0, 1, 2].map((p) => t1.filter((g) => g.prompt === p).reduce((s, g) => s + g.distinct3, 0) / 2);
  const expected = perPrompt.reduce((s, x) => s + x, 0) / 3;
  const got = summary.samplers.find((s) => s.label === "temperature:1.0")!.metrics.distinct3;
  assert.ok(Math.abs(got.mean - expected) < 1e-9);
  assert.ok(got.lo <= got.mean && got.mean <= got.hi);
  // Greedy picks the most probable token at every step, so its NLL is below T = 1.0's.
  const nll = (label: string) => summary.samplers.find((s) => s.label === label)!.metrics.nll.mean;
  assert.ok(nll("greedy") < nll("temperature:1.0"), `greedy ${nll("greedy")} vs T1 ${nll("temperature:1.0")}`);
  assert.ok(summary.samplers.find((s) => s.label === "entropix")!.frontierGap !== null);
  for (const g of rows) assert.equal(g.tokens, 24, "end-of-sequence is ignored by default so lengths match");
  const html = readFileSync(report, "utf8");
  assert.match(html, /<svg/);
  assert.match(html, /entropix-reference/);
  // `npm run eval` rewrites its reports: an eval report is recognised as one (it was refused before).
  const again = await runCli(["eval", prompts, "-m", STORIES, "--seeds", "1", "-n", "4", "--samplers", "temperature:0.7,temperature:1.0,entropix", "--report", report, "--resamples", "100"]);
  assert.equal(again.code, 0, again.stderr);
});

test("eval: distinct-3 of a generation is recomputable from its tokens", () => {
  assert.equal(distinctN([1, 1, 1, 1], 3), 0.5);
});

test("eval: bad input is one line and exit 2, before any model loads", async () => {
  const empty = path.join(dir, "empty.txt");
  writeFileSync(empty, "\n# nothing\n");
  const binary = path.join(dir, "lexicon.bin");
  writeFileSync(binary, Buffer.from([0, 159, 146, 150, 0, 1]));
  const missingModel = path.join(dir, "no-such-model");
  const cases: [string[], RegExp][] = [
    [["eval", empty, "-m", missingModel], /has no prompts/],
    [["eval", prompts, "-m", missingModel, "--samplers", "greedy,nucleus"], /unknown sampler "nucleus"/],
    [["eval", prompts, "-m", missingModel, "--lexicon", binary], /not UTF-8 text/],
    [["eval", prompts, "-m", missingModel, "--seeds", "x"], /--seeds/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /no-such-model/, "the model was never opened");
  }
});

test("eval: a judge with a different tokenizer is refused in one line, exit 2", async () => {
  const r = await runCli(["eval", prompts, "-m", STORIES, "--judge", path.join(REPO_ROOT, "models", "tiny-stdlib-llama"), "--samplers", "greedy", "--seeds", "1", "-n", "4"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /tokenizer differs/);
});
