// Issue 16: branch and look ahead. The KV-cache surgery is checked against plain single-row runs of the
// real model; the loop's branch points, determinism, budget and context handling through generate();
// the flags and their bad input through the built CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GENAI, REPO_ROOT, jsonLines, maxAbsDiff, runCli, tempDir } from "./helpers.js";
import { generate, loadModel, type GenerationEvent, type Model, type SummaryEvent, type TokenEvent } from "../src/index.js";
import { distinctCandidates } from "../src/branch/candidates.js";
import { bestBranch, BRANCH_SCORES } from "../src/branch/score.js";
import { resolveBranchOptions } from "../src/branch/options.js";
import { CandidateBuffer } from "../src/sampler/filters.js";
import { createRng } from "../src/sampler/rng.js";
import { parseSamplerSpec } from "../src/eval/sampler-specs.js";
import { parseProfileFile } from "../src/sampler/thresholds.js";

const STORIES_BUNDLED = path.join(REPO_ROOT, "models", "stories260k");
const BROAD = ["explore", "resample", "adaptive"] as const;

let model: Model | null = null;
async function stories(): Promise<Model> {
  model ??= await loadModel(STORIES_BUNDLED);
  return model;
}
test.after(async () => {
  await model?.close();
});

async function run(m: Model, prompt: string, options: Parameters<typeof generate>[2]): Promise<{ tokens: TokenEvent[]; summary: SummaryEvent; notices: string[] }> {
  const tokens: TokenEvent[] = [];
  const notices: string[] = [];
  let summary: SummaryEvent | null = null;
  for await (const e of generate(m, prompt, options) as AsyncGenerator<GenerationEvent>) {
    if (e.type === "token") tokens.push(e);
    else if (e.type === "summary") summary = e;
    else notices.push(e.message);
  }
  assert.ok(summary);
  return { tokens, summary, notices };
}

// ---------------------------------------------------------------------------------------------
// Sequence: fork / keepRow / truncate are exact

test("a forked row, kept, continues exactly as a single-row run of the same tokens", async () => {
  const m = await stories();
  const prompt = m.tokenizer.encode("Once upon a time, there was a little girl");
  const seq = m.newSequence();
  await seq.prefill([prompt]);
  seq.fork(3);
  assert.equal(seq.rows, 3);
  const forked = await seq.step([300, 400, 500]);
  await seq.step([310, 410, 480]);
  seq.keepRow(1);
  assert.equal(seq.rows, 1);
  const kept = (await seq.step([42]))[0].logits;

  const single = m.newSequence();
  await single.prefill([prompt]);
  const first = (await single.step([400]))[0].logits;
  await single.step([410]);
  const expected = (await single.step([42]))[0].logits;
  assert.ok(maxAbsDiff(forked[1].logits, first) < 1e-4, "row 1 of the fork saw token 400");
  assert.ok(maxAbsDiff(kept, expected) < 1e-4, `kept row differs by ${maxAbsDiff(kept, expected)}`);
  assert.ok(maxAbsDiff(forked[0].logits, forked[2].logits) > 1e-3, "rows fed different tokens must differ");

  // keepRow then truncate: back to the cache after the first branch token only.
  const again = m.newSequence();
  await again.prefill([prompt]);
  const before = again.length;
  again.fork(2);
  await again.step([300, 400]);
  await again.step([310, 410]);
  again.keepRow(0);
  again.truncate(before + 1);
  const cut = (await again.step([410]))[0].logits;
  const ref = m.newSequence();
  await ref.prefill([prompt]);
  await ref.step([300]);
  const refLogits = (await ref.step([410]))[0].logits;
  assert.ok(maxAbsDiff(cut, refLogits) < 1e-4);
});

test("fork and keepRow work on an fp16 cache (fused-attention export)", async () => {
  const m = await loadModel(path.join(GENAI, "tiny-random-LlamaForCausalLM-fp16"));
  try {
    const seq = m.newSequence();
    await seq.prefill([[1, 2, 3, 4]]);
    seq.fork(2);
    await seq.step([10, 20]);
    seq.keepRow(1);
    const kept = (await seq.step([5]))[0].logits;
    const ref = m.newSequence();
    await ref.prefill([[1, 2, 3, 4]]);
    await ref.step([20]);
    const expected = (await ref.step([5]))[0].logits;
    assert.ok(maxAbsDiff(kept, expected) < 1e-2, `fp16 kept row differs by ${maxAbsDiff(kept, expected)}`);

    // Branching on logit metrics alone (no attention source) works.
    const r = await run(m, "", { promptIds: [1, 2, 3, 4], seed: 3, maxTokens: 12, ignoreEos: true, branch: { k: 2, lookahead: 2, trigger: ["clarify", ...BROAD], budget: 5 } });
    assert.equal(r.summary.attention_source, "none");
    assert.equal(r.summary.generated_tokens, 12);
    assert.ok(r.summary.branch!.points > 0, "random weights are uncertain everywhere: some step branches");
  } finally {
    await m.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Pure parts

test("candidates: the sampler's pick first, then distinct draws within the filters, never end-of-sequence", () => {
  const logits = Float32Array.from([5, 4.9, 4.8, 4.7, -20, -20, 4.6, 4.5]);
  const buf = new CandidateBuffer(logits.length);
  const settings = { temperature: 1, topK: 5, topP: 1, minP: 0 };
  const a = distinctCandidates(buf, logits, settings, 2, 4, createRng(9), NaN, new Set([0]));
  assert.equal(a[0], 2);
  assert.equal(new Set(a).size, 4);
  assert.ok(!a.includes(0), "end-of-sequence is not a branch");
  for (const id of a) assert.ok([1, 2, 3, 6].includes(id), `id ${id} is outside top-5 minus eos`);
  assert.deepEqual(distinctCandidates(buf, logits, settings, 2, 4, createRng(9), NaN, new Set([0])), a, "same seed, same candidates");
  // Fewer survivors than K: as many as there are.
  assert.deepEqual(distinctCandidates(buf, logits, { ...settings, topK: 2 }, 0, 4, createRng(1)), [0, 1]);
});

test("scores: lower wins, ties keep the sampler's own pick, the default adds mean NLL and mean entropy", () => {
  assert.equal(bestBranch([2, 1, 1]), 1);
  assert.equal(bestBranch([1, 1]), 0);
  const t = { nll: [1, 3], entropy: [2, 2, 2] };
  assert.equal(BRANCH_SCORES["nll+entropy"](t), 4);
  assert.equal(BRANCH_SCORES.nll(t), 2);
  assert.equal(BRANCH_SCORES.entropy(t), 2);
});

test("branch options: defaults, and every bad value is a one-line usage error", () => {
  const o = resolveBranchOptions({ k: 2 });
  assert.deepEqual([o.lookahead, o.trigger, o.budget, o.score, o.commitRollout], [4, ["resample", "explore"], 0.5, "nll+entropy", false]);
  assert.throws(() => resolveBranchOptions({ k: 1 }), /at least 2 candidates/);
  assert.throws(() => resolveBranchOptions({ k: 2, lookahead: 0 }), /lookahead/);
  assert.throws(() => resolveBranchOptions({ k: 2, trigger: ["sideways" as never] }), /unknown state/);
  const spec = parseSamplerSpec("entropix(branch=4;lookahead=8;commit=1;branch-on=explore,adaptive;score=nll)");
  assert.deepEqual(spec.options.branch, { k: 4, lookahead: 8, commitRollout: true, trigger: ["explore", "adaptive"], score: "nll" });
  assert.throws(() => parseSamplerSpec("entropix(lookahead=8)"), /need branch=K/);
  const profile = parseProfileFile('{"high_ent": 3, "branch": {"k": 3, "lookahead": 2, "trigger": ["adaptive"]}}', "p.json");
  assert.deepEqual(profile.branch, { k: 3, lookahead: 2, trigger: ["adaptive"] });
  assert.throws(() => parseProfileFile('{"branch": {"k": 1}}', "p.json"), /p\.json: "branch": branching needs at least 2/);
  assert.throws(() => parseProfileFile('{"branch": {"k": 2, "depth": 3}}', "p.json"), /unknown key "depth"/);
});

// ---------------------------------------------------------------------------------------------
// The loop

test("branching: same seed, same text and branch points; winners and counts add up", async () => {
  const m = await stories();
  const opts = { seed: 11, maxTokens: 60, branch: { k: 3, lookahead: 4, trigger: [...BROAD], budget: 1 } };
  const a = await run(m, "Once upon a time", opts);
  const b = await run(m, "Once upon a time", opts);
  assert.equal(a.summary.text, b.summary.text);
  assert.deepEqual(
    a.tokens.map((t) => t.branch ?? null),
    b.tokens.map((t) => t.branch ?? null),
  );
  const points = a.tokens.filter((t) => t.branch);
  const s = a.summary.branch!;
  assert.ok(points.length > 0, "uncertain steps of stories260k branch");
  assert.equal(s.points, points.length);
  assert.equal(s.winner_changed, points.filter((t) => t.branch!.winner !== 0).length);
  assert.ok(s.extra_steps <= 1 * a.summary.generated_tokens, "the budget caps the extra runs");
  for (const t of points) {
    const d = t.branch!;
    assert.equal(d.score, "nll+entropy");
    assert.ok(d.candidates.length >= 2 && d.candidates.length <= 3);
    assert.equal(new Set(d.candidates.map((c) => c.id)).size, d.candidates.length, "candidates are distinct");
    assert.equal(t.id, d.candidates[d.winner].id, "the kept token is the winner's first");
    const scores = d.candidates.map((c) => c.score);
    assert.equal(Math.min(...scores), scores[d.winner]);
    for (const c of d.candidates) {
      assert.ok(Math.abs(c.score - (c.nll + c.entropy)) < 1e-3);
      assert.ok(c.tokens.length >= 1 && c.tokens.length <= 4 && c.tokens[0] === c.id);
      assert.equal(typeof c.rollout, "string");
    }
  }
  // Text stays the concatenation of the token events.
  assert.equal(a.tokens.map((t) => t.text).join(""), a.summary.text);
});

test("no branch point, no change: with the budget at 0 the text equals the plain default's", async () => {
  const m = await stories();
  const plain = await run(m, "The little dog", { seed: 5, maxTokens: 50 });
  const capped = await run(m, "The little dog", { seed: 5, maxTokens: 50, branch: { k: 2, lookahead: 4, trigger: [...BROAD], budget: 0 } });
  assert.equal(capped.summary.text, plain.summary.text);
  assert.equal(capped.summary.branch!.points, 0);
  assert.ok(capped.summary.branch!.over_budget > 0);
});

test("commit-rollout: the winner's rollout is emitted as lookahead tokens, counted toward max tokens", async () => {
  const m = await stories();
  const r = await run(m, "Once upon a time", { seed: 2, maxTokens: 40, ignoreEos: true, branch: { k: 2, lookahead: 5, trigger: [...BROAD], commitRollout: true } });
  assert.equal(r.summary.generated_tokens, 40);
  assert.equal(r.tokens.length, 40);
  const lookahead = r.tokens.filter((t) => t.lookahead);
  assert.ok(lookahead.length > 0);
  // Each branch point is followed by its winner's rollout tokens, in order.
  for (let i = 0; i < r.tokens.length; i++) {
    const d = r.tokens[i].branch;
    if (!d) continue;
    const rollout = d.candidates[d.winner].tokens;
    const emitted = r.tokens.slice(i, i + rollout.length).map((t) => t.id);
    assert.deepEqual(emitted, rollout.slice(0, emitted.length));
    for (const t of r.tokens.slice(i + 1, i + rollout.length)) assert.equal(t.lookahead, true);
  }
  // The kept cache is the text's: rerunning the chosen ids reproduces the next-token metrics.
  const ids = r.tokens.map((t) => t.id);
  const seq = m.newSequence();
  let out = (await seq.prefill([m.tokenizer.encode("Once upon a time")]))[0];
  for (let i = 0; i < 12; i++) out = (await seq.step([ids[i]]))[0];
  assert.ok(out.logits.length > 0);
});

test("a context filling up during a rollout shortens it; the run ends at the context, not with an error", async () => {
  const m = await stories();
  const ctx = m.facts.contextLength!;
  const promptIds = [1, ...Array.from({ length: ctx - 4 }, (_, i) => 300 + (i % 150))];
  const r = await run(m, "", { promptIds, seed: 1, maxTokens: 20, ignoreEos: true, branch: { k: 2, lookahead: 8, trigger: [...BROAD], budget: 10, commitRollout: true } });
  assert.equal(r.summary.stop_reason, "context_full");
  assert.ok(r.summary.generated_tokens >= 1 && r.summary.generated_tokens <= 4);
  for (const t of r.tokens) if (t.branch) for (const c of t.branch.candidates) assert.ok(c.tokens.length <= 4);
});

// ---------------------------------------------------------------------------------------------
// CLI

test("CLI: --branch with --json carries branch scores; the summary line names the branching", async () => {
  const r = await runCli(["generate", "Once upon a time", "-m", STORIES_BUNDLED, "--seed", "4", "-n", "30", "--branch", "2", "--lookahead", "3", "--branch-on", "explore,resample,adaptive", "--branch-budget", "2", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const points = lines.filter((l) => l.type === "token" && l.branch);
  assert.ok(points.length > 0);
  const summary = lines.find((l) => l.type === "summary") as unknown as SummaryEvent;
  assert.equal(summary.branch!.points, points.length);
  assert.deepEqual([summary.branch!.k, summary.branch!.lookahead], [2, 3]);

  const term = await runCli(["generate", "Once upon a time", "-m", STORIES_BUNDLED, "--seed", "4", "-n", "30", "--branch", "2", "--lookahead", "3", "--branch-on", "explore,resample,adaptive", "--branch-budget", "2"]);
  assert.equal(term.code, 0, term.stderr);
  assert.match(term.stderr, /branch K=2 M=3: \d+ points? \(extra steps \d+, winner changed \d+/);
});

test("CLI: bad branch input is one line and exit 2, before the model loads", async () => {
  const cases: [string[], RegExp][] = [
    [["--branch", "1"], /--branch must be a whole number of at least 2/],
    [["--branch", "2", "--lookahead", "0"], /--lookahead must be a whole number of at least 1/],
    [["--branch", "30"], /--branch 30 is more candidates than --top-k 27/],
    [["--branch", "4", "--top-k", "3"], /--branch 4 is more candidates than --top-k 3/],
    [["--branch", "2", "--sampler", "greedy"], /greedy decoding has one/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(["generate", "hi", "-m", "/nonexistent-model-folder", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  // Tuning flags without --branch: known only once the model's profile is read (it may turn branching on).
  const r = await runCli(["generate", "hi", "-m", STORIES_BUNDLED, "--lookahead", "4"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /need --branch K/);
});

test("CLI: a profile's branch setting turns branching on; --no-branch turns it off", async () => {
  const dir = tempDir();
  const profile = path.join(dir, "profile.json");
  writeFileSync(profile, JSON.stringify({ branch: { k: 2, lookahead: 2, trigger: ["explore", "resample", "adaptive"], budget: 2 } }));
  const base = ["generate", "Once upon a time", "-m", STORIES_BUNDLED, "--seed", "8", "-n", "25", "--json", "--thresholds", profile];
  const on = jsonLines((await runCli(base)).stdout).find((l) => l.type === "summary") as unknown as SummaryEvent;
  assert.ok(on.branch && on.branch.k === 2 && on.branch.points > 0);
  const off = jsonLines((await runCli([...base, "--no-branch"])).stdout).find((l) => l.type === "summary") as unknown as SummaryEvent;
  assert.equal(off.branch, undefined);
});

test("CLI: --report marks branch points; hovering one shows its candidates, rollouts and scores", async () => {
  const dir = tempDir();
  const file = path.join(dir, "r.html");
  const r = await runCli(["generate", "Once upon a time", "-m", STORIES_BUNDLED, "--seed", "4", "-n", "30", "--branch", "2", "--lookahead", "3", "--branch-on", "explore,resample,adaptive", "--branch-budget", "2", "--commit-rollout", "--json", "--report", file]);
  assert.equal(r.code, 0, r.stderr);
  const tokens = jsonLines(r.stdout).filter((l) => l.type === "token") as unknown as TokenEvent[];
  const html = readFileSync(file, "utf8");
  const spans = [...html.matchAll(/<span class="tok [^"]*\bbranch\b[^"]*" data-k="[^"]+" title="([^"]*)"/g)].map((m) => m[1]);
  const points = tokens.filter((t) => t.branch);
  assert.equal(spans.length, points.length);
  const first = points[0].branch!;
  assert.match(spans[0], /branch point: 2 candidates, score nll\+entropy/);
  const fmt3 = (x: number) => x.toFixed(3).replace(/\.?0+$/, "");
  for (const c of first.candidates) assert.ok(spans[0].includes(`score ${fmt3(c.score)} (nll ${fmt3(c.nll)}`), `${c.score} in ${spans[0]}`);
  assert.equal([...html.matchAll(/<span class="tok [^"]*\blookahead\b/g)].length, tokens.filter((t) => t.lookahead).length);
  assert.match(html, /branching K=2 M=3 \(rollouts kept\): \d+ branch points/);
});
