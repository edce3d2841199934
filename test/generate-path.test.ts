// Issue 17: the generate path as users hit it, through the built CLI on the real stories260k model:
// stopping at end-of-sequence (item 1), the base flags acting on a run (item 2), `--sampler
// temperature` end to end (item 5) and `--attention-layers all` (item 6). Where a claim can be
// checked against the model itself, the test re-runs the chosen ids through the library and checks
// against the logits or attention scores, not against numbers the CLI wrote.
import { test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, runCli, STORIES, tempDir } from "./helpers.js";
import { loadModel, type Model } from "../src/index.js";

const M = ["-m", STORIES];
type Line = Record<string, unknown>;

async function runJson(args: string[]): Promise<{ tokens: Line[]; summaries: Line[]; stderr: string }> {
  const r = await runCli(["generate", ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  return { tokens: lines.filter((l) => l.type === "token"), summaries: lines.filter((l) => l.type === "summary"), stderr: r.stderr };
}

const ids = (tokens: Line[]) => tokens.map((t) => t.id as number);

let model: Model | null = null;
async function stories(): Promise<Model> {
  model ??= await loadModel(STORIES, { taps: false });
  return model;
}
test.after(async () => {
  await model?.close();
});

/** Natural-log softmax of one logits row, in float64. */
function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const z of logits) if (z > max) max = z;
  let sum = 0;
  for (const z of logits) sum += Math.exp(z - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (z) => z - lse);
}

/** The model's logits before each of `generated`, after the prompt (teacher forcing). */
async function logitsAlong(m: Model, prompt: string, generated: number[]): Promise<Float32Array[]> {
  const seq = m.newSequence();
  let out = (await seq.prefill([m.tokenizer.encode(prompt)]))[0];
  const rows: Float32Array[] = [];
  for (const id of generated) {
    rows.push(Float32Array.from(out.logits));
    out = (await seq.step([id]))[0];
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Item 1: end-of-sequence

/**
 * stories260k ends a story with token 1 (`<s>`), as llama2.c's run.c expects; it never emits
 * `</s>` (2), the only eos id of the fixture's generation_config.json. So this folder is the fixture
 * with llama2.c's stop convention, eos_token_id [2, 1]; everything else is linked, not copied.
 */
function storiesStoppingAtBos(): string {
  const dir = tempDir("entropix-eos-");
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx"]) symlinkSync(path.join(STORIES, f), path.join(dir, f));
  writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 1] }));
  return dir;
}

const EOS_PROMPT = "From that day on, Tim always listened to his mom.";
/** What `--sampler temperature --seed 2` writes before the model ends the story (regression value). */
const EOS_TEXT =
  " They had a big smile on his face and Fred and always had a birds.\nOne day, Fred decided to go to the restaurant. While he was eating, he found a small toy car. From that day on, Fred and his friends played with them all day long. They all lived happily ever after.";

test("end-of-sequence: the run stops at the model's eos token, which is not printed; the text before it is kept", async () => {
  const dir = storiesStoppingAtBos();
  const args = ["-m", dir, EOS_PROMPT, "--sampler", "temperature", "--seed", "2"];
  const stopped = await runJson([...args, "-n", "300"]);
  const s = stopped.summaries[0];
  assert.equal(s.stop_reason, "eos");
  assert.equal(s.text, EOS_TEXT);
  assert.equal(s.text, stopped.tokens.map((t) => t.text).join(""));
  assert.equal(s.generated_tokens, stopped.tokens.length);
  assert.ok(stopped.tokens.length < 300);
  assert.ok(ids(stopped.tokens).every((id) => id !== 1 && id !== 2), "no eos token among the events");
  // The same run past eos: the very next token is the eos token, so the stop was at the first one.
  const past = await runJson([...args, "-n", String(stopped.tokens.length + 1), "--ignore-eos"]);
  assert.deepEqual(ids(past.tokens).slice(0, -1), ids(stopped.tokens));
  assert.equal(past.tokens.at(-1)!.id, 1);
  assert.equal(past.summaries[0].stop_reason, "max_tokens");
  // The tokenizer agrees with the events: the text is the decoding of the ids.
  const m = await stories();
  assert.equal(m.tokenizer.decode([...m.tokenizer.encode(EOS_PROMPT, false), ...ids(stopped.tokens)]), EOS_PROMPT + EOS_TEXT);
});

// ---------------------------------------------------------------------------------------------
// Item 2: the base flags act on a real run

test("--temperature/--top-k/--top-p/--min-p: the per-token settings of --sampler temperature are the flags' values", async () => {
  const r = await runJson([...M, "Tom had a", "--sampler", "temperature", "--seed", "7", "-n", "16", "--ignore-eos", "--temperature", "0.8", "--top-k", "12", "--top-p", "0.85", "--min-p", "0.05"]);
  assert.equal(r.tokens.length, 16);
  for (const t of r.tokens) assert.deepEqual([t.temperature, t.top_k, t.top_p, t.min_p, t.sampler], [0.8, 12, 0.85, 0.05, "temperature"]);
  // And they acted: every chosen token is within the 12 most likely and passes min-p at T = 0.8.
  const rows = await logitsAlong(await stories(), "Tom had a", ids(r.tokens));
  rows.forEach((z, i) => {
    const id = ids(r.tokens)[i];
    const rank = z.filter((x) => x > z[id]).length;
    assert.ok(rank < 12, `token ${i} (id ${id}) has rank ${rank}`);
    const max = Math.max(...z);
    assert.ok((z[id] - max) / 0.8 >= Math.log(0.05) - 1e-6, `token ${i} fails min-p 0.05`);
  });
});

test("--top-k 1 gives the greedy tokens", async () => {
  const greedy = await runJson([...M, "Once upon a time", "--sampler", "greedy", "-n", "30", "--ignore-eos"]);
  const topk1 = await runJson([...M, "Once upon a time", "--sampler", "temperature", "--top-k", "1", "--temperature", "1.5", "--seed", "5", "-n", "30", "--ignore-eos"]);
  assert.deepEqual(ids(topk1.tokens), ids(greedy.tokens));
  assert.ok(topk1.tokens.every((t) => t.top_k === 1));
});

test("a lower --temperature lowers the mean NLL of the chosen tokens over a fixed seed set", async () => {
  // One batch per temperature: the same 6 prompts and seeds; top-k/top-p/min-p off so only T differs.
  const dir = tempDir();
  const prompts = ["Tom had a", "Once upon a time", "The sun was", "Lily saw a", "One day", "The dog"];
  const file = path.join(dir, "p.jsonl");
  writeFileSync(file, prompts.map((p, i) => JSON.stringify({ prompt: p, seed: 100 + i })).join("\n"));
  const meanNll = async (t: string): Promise<number> => {
    const r = await runJson([...M, "--jsonl", file, "--sampler", "temperature", "--temperature", t, "--top-k", "0", "--top-p", "1", "--min-p", "0", "-n", "20", "--ignore-eos"]);
    assert.equal(r.summaries.length, prompts.length);
    let nll = 0;
    let n = 0;
    for (let i = 0; i < prompts.length; i++) {
      const chosen = ids(r.tokens.filter((tk) => tk.prompt_index === i));
      const rows = await logitsAlong(await stories(), prompts[i], chosen);
      rows.forEach((z, k) => {
        nll -= logSoftmax(z)[chosen[k]];
        n++;
      });
    }
    return nll / n;
  };
  const cold = await meanNll("0.5");
  const hot = await meanNll("1.5");
  assert.ok(cold < hot, `mean NLL at T 0.5 = ${cold}, at T 1.5 = ${hot}`);
});

// ---------------------------------------------------------------------------------------------
// Item 5: --sampler temperature end to end

test("--sampler temperature: same seed, same text; another seed, other text; the base settings on every token", async () => {
  const run = (seed: string) => runJson([...M, "Tom had a", "--sampler", "temperature", "--seed", seed, "-n", "30", "--ignore-eos"]);
  const a = await run("11");
  const again = await run("11");
  const b = await run("12");
  assert.equal(again.summaries[0].text, a.summaries[0].text);
  assert.deepEqual(ids(again.tokens), ids(a.tokens));
  assert.notEqual(b.summaries[0].text, a.summaries[0].text);
  assert.equal(a.summaries[0].sampler, "temperature");
  // §2 base settings T0 0.666, K0 27, P0 0.9, M0 0.03, unchanged by the quadrant.
  for (const t of a.tokens) assert.deepEqual([t.temperature, t.top_k, t.top_p, t.min_p, t.sampler], [0.666, 27, 0.9, 0.03, "temperature"]);
  assert.ok(new Set(a.tokens.map((t) => t.quadrant)).size >= 2, "steps in several quadrants, same settings");
  // Sampled, not greedy: the tokens are within the top 27, and not all the argmax.
  const rows = await logitsAlong(await stories(), "Tom had a", ids(a.tokens));
  let notArgmax = 0;
  rows.forEach((z, i) => {
    const rank = z.filter((x) => x > z[ids(a.tokens)[i]]).length;
    assert.ok(rank < 27, `token ${i} has rank ${rank}`);
    if (rank > 0) notArgmax++;
  });
  assert.ok(notArgmax > 0);
});

// ---------------------------------------------------------------------------------------------
// Item 6: --attention-layers all

/** §1 attention metrics of one layer's row [heads, kv] (all positions real), written from the spec. */
function specAttention(data: Float32Array, heads: number, kv: number): number[] {
  const a: number[][] = [];
  let inter = 0;
  for (let h = 0; h < heads; h++) {
    const row = Array.from(data.subarray(h * kv, (h + 1) * kv));
    const max = Math.max(...row);
    const e = row.map((s) => Math.exp(s - max));
    const z = e.reduce((x, y) => x + y, 0);
    a.push(e.map((x) => x / z));
    inter += row.reduce((x, s) => x + Math.abs(s), 0);
  }
  const ent = a.map((p) => -p.reduce((x, v) => x + v * Math.log2(Math.min(1, Math.max(1e-10, v))), 0));
  const meanEnt = ent.reduce((x, y) => x + y, 0) / heads;
  const varEnt = ent.reduce((x, e) => x + (e - meanEnt) ** 2, 0) / heads;
  let agree = 0;
  for (let k = 0; k < kv; k++) {
    const mean = a.reduce((x, p) => x + p[k], 0) / heads;
    for (let h = 0; h < heads; h++) agree += Math.abs(a[h][k] - mean);
  }
  return [meanEnt, varEnt, agree / (heads * kv), inter / (heads * kv)];
}

test("--attention-layers all: attention metrics are the mean over the 5 layers, differ from last, stay finite", async () => {
  const args = [...M, "Once upon a time", "--sampler", "greedy", "-n", "12", "--ignore-eos"];
  const last = await runJson([...args, "--attention-layers", "last"]);
  const all = await runJson([...args, "--attention-layers", "all"]);
  assert.deepEqual(ids(all.tokens), ids(last.tokens), "greedy does not depend on attention");
  const keys = ["attn_entropy", "attn_varentropy", "agreement", "interaction_strength"] as const;
  for (let i = 0; i < all.tokens.length; i++) {
    const a = all.tokens[i];
    const l = last.tokens[i];
    assert.equal(a.entropy, l.entropy);
    for (const k of keys) assert.ok(typeof a[k] === "number" && Number.isFinite(a[k]), `${k} at ${i}: ${a[k]}`);
    assert.notEqual(a.attn_entropy, l.attn_entropy, `token ${i}: all equals last`);
  }
  // Recompute both from the tapped scores of every layer.
  const tapped = await loadModel(STORIES);
  try {
    const seq = tapped.newSequence({ scoreLayers: "all" });
    let out = (await seq.prefill([tapped.tokenizer.encode("Once upon a time")]))[0];
    for (let i = 0; i < all.tokens.length; i++) {
      const perLayer = out.scores!.map((s) => specAttention(s.data, s.heads, s.kvLen));
      assert.equal(perLayer.length, 5);
      const mean = keys.map((_, j) => perLayer.reduce((x, m) => x + m[j], 0) / perLayer.length);
      keys.forEach((k, j) => {
        assert.ok(Math.abs((all.tokens[i][k] as number) - mean[j]) < 1e-4, `all ${k} at ${i}: ${all.tokens[i][k]} vs ${mean[j]}`);
        assert.ok(Math.abs((last.tokens[i][k] as number) - perLayer[4][j]) < 1e-4, `last ${k} at ${i}: ${last.tokens[i][k]} vs ${perLayer[4][j]}`);
      });
      out = (await seq.step([all.tokens[i].id as number]))[0];
    }
  } finally {
    await tapped.close();
  }
});
