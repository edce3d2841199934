// `entropix generate` / `inspect` driven as a child process on the real stories260k model (issues 3, 6).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI_KILL_MS, jsonLines, runCli, STORIES, STORIES_GREEDY, tempDir } from "./helpers.js";
import { generate, loadModel } from "../src/index.js";

const M = ["-m", STORIES];

test("--sampler greedy continues the published greedy text", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--sampler", "greedy", "-n", "40"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${r.stdout.trimEnd()}`), `got: ${r.stdout}`);
  assert.ok(r.stdout.length > 100);
  assert.match(r.stderr, /40 tokens \(prompt 5\)/);
});

test("--json trace: token lines with every field, then a summary; entropix reaches ≥ 3 quadrants", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--sampler", "entropix-reference", "--json", "--seed", "3", "-n", "120", "--ignore-eos"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const tokens = lines.filter((l) => l.type === "token");
  const summary = lines.at(-1)!;
  assert.equal(tokens.length, 120);
  assert.equal(summary.type, "summary");
  const keys = ["type", "index", "id", "text", "quadrant", "entropy", "varentropy", "attn_entropy", "attn_varentropy", "agreement", "interaction_strength", "temperature", "top_k", "top_p", "min_p", "sampler"];
  for (const t of tokens) assert.deepEqual(Object.keys(t).filter((k) => keys.includes(k)), keys, "token line fields");
  assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i));
  const states = new Set(tokens.map((t) => t.quadrant));
  assert.ok(states.size >= 3, `quadrants seen: ${[...states].join(", ")}`);
  // Values: the ids are the model's vocabulary, the text is their decoding, the quadrant is §2's for
  // the reference profile, and H, V are the model's own logits' entropy and varentropy (bits),
  // recomputed here by teacher forcing the ids.
  const model = await loadModel(STORIES, { taps: false });
  try {
    const ids = tokens.map((t) => t.id as number);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 512));
    assert.equal(model.tokenizer.decode([...model.tokenizer.encode("Once upon a time", false), ...ids]), `Once upon a time${summary.text}`);
    const seq = model.newSequence();
    let out = (await seq.prefill([model.tokenizer.encode("Once upon a time")]))[0];
    for (const t of tokens) {
      const z = out.logits;
      const max = Math.max(...z);
      const lse = max + Math.log(z.reduce((a, x) => a + Math.exp(x - max), 0));
      let h = 0;
      let v = 0;
      for (const x of z) h -= Math.exp(x - lse) * ((x - lse) / Math.LN2);
      for (const x of z) v += Math.exp(x - lse) * ((x - lse) / Math.LN2 + h) ** 2;
      assert.ok(Math.abs((t.entropy as number) - h) < 1e-4, `token ${t.index}: entropy ${t.entropy} vs ${h}`);
      assert.ok(Math.abs((t.varentropy as number) - v) < 1e-3 * Math.max(1, v), `token ${t.index}: varentropy ${t.varentropy} vs ${v}`);
      const q = h < 0.1 && v < 0.1 ? "confident" : h > 5 && v < 0.1 ? "clarify" : h < 5 && v > 5 ? "explore" : h > 3 && v > 5 ? "resample" : "adaptive";
      assert.equal(t.quadrant, q, `token ${t.index}`);
      for (const k of ["attn_entropy", "attn_varentropy", "agreement", "interaction_strength"]) assert.ok(typeof t[k] === "number" && (t[k] as number) >= 0 && Number.isFinite(t[k]), `${k}: ${t[k]}`);
      assert.ok((t.attn_entropy as number) <= Math.log2(5 + (t.index as number)) + 1e-9, "attention entropy ≤ log2 of the positions");
      assert.equal(t.sampler, "entropix-reference");
      out = (await seq.step([t.id as number]))[0];
    }
  } finally {
    await model.close();
  }
  assert.deepEqual(
    { ...summary, prefill_ms: 0, prefill_tokens_per_s: 0, decode_tokens_per_s: 0 },
    {
      type: "summary",
      prompt_tokens: 5,
      generated_tokens: 120,
      inserts: tokens.filter((t) => t.inserted === true).length,
      inserted_tokens: tokens.filter((t) => t.inserted === true).reduce((a, t) => a + (t.ids as number[]).length, 0),
      quadrants: Object.fromEntries(["confident", "clarify", "explore", "resample", "adaptive"].map((q) => [q, tokens.filter((t) => t.quadrant === q).length])),
      prefill_ms: 0,
      prefill_tokens_per_s: 0,
      decode_tokens_per_s: 0,
      mean_entropy: Math.round((tokens.reduce((a, t) => a + (t.entropy as number), 0) / 120) * 1e4) / 1e4,
      seed: 3,
      sampler: "entropix-reference",
      attention_source: "taps",
      stop_reason: "max_tokens",
      thresholds: "reference",
      text: tokens.map((t) => t.text).join(""),
    },
  );
  for (const k of ["prefill_ms", "prefill_tokens_per_s", "decode_tokens_per_s"]) assert.ok(typeof summary[k] === "number" && (summary[k] as number) > 0, `${k}: ${summary[k]}`);
});

test("the same seed gives the same tokens across processes; another seed differs", async () => {
  const run = async (seed: string) => {
    const r = await runCli(["generate", ...M, "Tom had a", "--json", "--seed", seed, "-n", "40", "--ignore-eos"]);
    assert.equal(r.code, 0, r.stderr);
    return jsonLines(r.stdout).filter((l) => l.type === "token").map((l) => l.id);
  };
  const a = await run("11");
  assert.deepEqual(await run("11"), a);
  assert.notDeepEqual(await run("12"), a);
});

test("--no-taps runs on logit metrics with one notice", async () => {
  const r = await runCli(["generate", ...M, "Tom had a", "--json", "--no-taps", "-n", "5", "--seed", "1"]);
  assert.equal(r.code, 0, r.stderr);
  const tokens = jsonLines(r.stdout).filter((l) => l.type === "token");
  assert.ok(tokens.every((t) => t.attn_entropy === null && t.agreement === null));
  assert.equal(r.stderr.match(/attention metrics unavailable/g)?.length, 1);
});

test("inspect --json reports the architecture and the attention source", async () => {
  const r = await runCli(["inspect", ...M, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const facts = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(facts), ["architecture", "layers", "heads", "kv_heads", "head_dim", "vocab_size", "context_length", "onnx_file", "dtype", "attention_source", "attention_note", "taps_file", "taps_file_bytes", "taps_file_written_now"]);
  assert.equal(facts.layers, 5);
  assert.equal(facts.kv_heads, 4);
  assert.equal(facts.attention_source, "taps");
  assert.equal(facts.onnx_file, path.join("onnx", "model.onnx"));
});

test("piped stdin is the prompt, or is appended to the prompt argument", async () => {
  const alone = await runCli(["generate", ...M, "--sampler", "greedy", "-n", "8", "--json"], { input: "Once upon a time" });
  assert.equal(alone.code, 0, alone.stderr);
  const both = await runCli(["generate", ...M, "Once upon", "--sampler", "greedy", "-n", "8", "--json"], { input: "a time\n" });
  assert.equal(both.code, 0, both.stderr);
  const s1 = jsonLines(alone.stdout).at(-1)!;
  const s2 = jsonLines(both.stdout).at(-1)!;
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${s1.text}`));
  // The prompt was "Once upon" + newline + the piped text: same ids, same greedy continuation.
  const model = await loadModel(STORIES, { taps: false });
  try {
    const expected = async (prompt: string) => {
      const ids: number[] = [];
      for await (const e of generate(model, prompt, { sampler: "greedy", maxTokens: 8 })) if (e.type === "token") ids.push(e.id);
      return { promptTokens: model.tokenizer.encode(prompt).length, ids };
    };
    const idsOf = (out: string) => jsonLines(out).filter((l) => l.type === "token").map((l) => l.id);
    assert.deepEqual({ promptTokens: s1.prompt_tokens, ids: idsOf(alone.stdout) }, await expected("Once upon a time"));
    assert.deepEqual({ promptTokens: s2.prompt_tokens, ids: idsOf(both.stdout) }, await expected("Once upon\na time"));
    assert.equal(s2.prompt_tokens, 6, "the newline is a token of its own, not a space");
  } finally {
    await model.close();
  }
});

test("--file and --jsonl run batches with prompt indexes; a bad JSONL line is reported and skipped", async () => {
  const dir = tempDir();
  const file = path.join(dir, "prompts.txt");
  writeFileSync(file, "Once upon a time\n\nTom had a dog\n");
  const r = await runCli(["generate", ...M, "--file", file, "--sampler", "greedy", "-n", "5", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.deepEqual([...new Set(lines.map((l) => l.prompt_index))], [0, 1]);
  const jsonl = path.join(dir, "prompts.jsonl");
  writeFileSync(jsonl, '{"prompt":"Once upon a time","id":"a","max_tokens":3}\nnot json\n{"prompt":"Tom had a","id":"b","seed":4}\n');
  const j = await runCli(["generate", ...M, "--jsonl", jsonl, "-n", "6", "--json"]);
  assert.equal(j.code, 0, j.stderr);
  assert.match(j.stderr, /prompts\.jsonl:2: not valid JSON/);
  const sums = jsonLines(j.stdout).filter((l) => l.type === "summary");
  assert.deepEqual(sums.map((s) => [s.prompt_index, s.prompt_id, s.generated_tokens]), [[0, "a", 3], [1, "b", 6]]); // issue 13: "prompt_id", not "id"
  assert.equal(sums[1].seed, 4);
  const strict = await runCli(["generate", ...M, "--jsonl", jsonl, "--strict", "-n", "2"]);
  assert.equal(strict.code, 2);
  const fromStdin = await runCli(["generate", ...M, "--file", "-", "-n", "2", "--json"], { input: "one\ntwo\nthree\n" });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(jsonLines(fromStdin.stdout).filter((l) => l.type === "summary").length, 3);
});

test("--compare greedy: both runs on the same seed, then a comparison line", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--compare", "greedy", "--seed", "5", "-n", "30", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const cmp = lines.at(-1)!;
  assert.equal(cmp.type, "comparison");
  const samplers = lines.filter((l) => l.type === "summary").map((l) => l.sampler);
  assert.deepEqual(samplers, ["entropix", "greedy"]);
  const ids = (s: string) => lines.filter((l) => l.type === "token" && l.sampler === s).map((l) => l.id);
  const a = ids("entropix");
  const b = ids("greedy");
  const d = cmp.first_divergence as number;
  assert.deepEqual(a.slice(0, d), b.slice(0, d));
  assert.notEqual(a[d], b[d]);
  const text = await runCli(["generate", ...M, "Once upon a time", "--compare", "greedy", "--seed", "5", "-n", "30"]);
  assert.match(text.stdout, /--- entropix ---[\s\S]*--- greedy ---/);
  assert.match(text.stderr, new RegExp(`first divergence at token ${d}`));
});

test("--stop ends generation before the stop text, which is not printed", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--sampler", "greedy", "-n", "60", "--stop", "Lily", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = jsonLines(r.stdout).at(-1)!;
  assert.equal(s.stop_reason, "stop_string");
  assert.equal(s.text, ", there was a little girl named ");
});

test("--chat applies the tokenizer's chat template; a model without one is a usage error", async () => {
  const dir = tempDir();
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "onnx"]) symlinkSync(path.join(STORIES, f), path.join(dir, f));
  const cfg = JSON.parse(readFileSync(path.join(STORIES, "tokenizer_config.json"), "utf8"));
  cfg.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  const r = await runCli(["generate", "-m", dir, "Hi", "--chat", "--system", "Be brief", "-n", "12", "--sampler", "greedy", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const s = lines.at(-1)!;
  // The template's text, tokenized as it is (the template writes any BOS): the same prompt ids give
  // the same greedy tokens through the library.
  const expected = "system: Be brief\nuser: Hi\nassistant:";
  const m = await loadModel(dir, { taps: false });
  try {
    const promptIds = m.tokenizer.encode(expected, false);
    assert.deepEqual(m.tokenizer.applyChatTemplate([{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }]), promptIds);
    assert.equal(s.prompt_tokens, promptIds.length);
    const ids: number[] = [];
    for await (const e of generate(m, "ignored", { promptIds, sampler: "greedy", maxTokens: 12 })) if (e.type === "token") ids.push(e.id);
    assert.deepEqual(lines.filter((l) => l.type === "token").map((l) => l.id), ids);
    const plain: number[] = [];
    for await (const e of generate(m, "Hi", { sampler: "greedy", maxTokens: 12 })) if (e.type === "token") plain.push(e.id);
    assert.notDeepEqual(ids, plain, "the template changed the prompt");
  } finally {
    await m.close();
  }
  const none = await runCli(["generate", ...M, "Hi", "--chat", "-n", "3"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no chat template/);
});

test("no colour when stdout is not a TTY; colour on a TTY unless NO_COLOR or --no-color", async () => {
  const plain = await runCli(["generate", ...M, "Tom", "-n", "5", "--seed", "1"]);
  assert.doesNotMatch(plain.stdout, /\x1b\[/);
  // `script` gives the child a pseudo-terminal.
  const cmd = (extra: string) => `${process.execPath} ${path.resolve("bin/entropix")} generate -m ${STORIES} Tom -n 5 --seed 1 ${extra}`;
  const tty = await runScript(cmd(""), {});
  assert.match(tty, /\x1b\[3\dm/);
  assert.match(tty, /quadrants:/);
  assert.doesNotMatch(await runScript(cmd(""), { NO_COLOR: "1" }), /\x1b\[3\dm/);
  assert.doesNotMatch(await runScript(cmd("--no-color"), {}), /\x1b\[3\dm/);
});

async function runScript(command: string, env: Record<string, string>): Promise<string> {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("script", ["-qec", command, "/dev/null"], { env: { ...process.env, NO_COLOR: undefined, ...env } as NodeJS.ProcessEnv, encoding: "utf8", timeout: CLI_KILL_MS });
  return r.stdout;
}

test("a closed stdout pipe (| head) ends quietly", async () => {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${process.execPath} bin/entropix generate -m ${STORIES} "Tom" -n 400 --ignore-eos --json | head -c 10 >/dev/null`], { encoding: "utf8", timeout: CLI_KILL_MS });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
});

test("SIGINT stops generation, keeps the printed text and prints the partial summary", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["bin/entropix", "generate", ...M, "Tom", "-n", "100000", "--ignore-eos", "--json", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    let sent = false;
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      if (!sent && out.includes('"type":"token"')) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const kill = setTimeout(() => child.kill("SIGKILL"), CLI_KILL_MS);
    child.on("close", (c) => {
      clearTimeout(kill);
      resolve(c);
    });
  });
  assert.equal(code, 130, err);
  const lines = jsonLines(out);
  const tokens = lines.filter((l) => l.type === "token");
  const summary = lines.at(-1)!;
  assert.equal(summary.type, "summary", err);
  assert.equal(summary.stop_reason, "interrupted");
  assert.ok(tokens.length >= 1 && tokens.length < 500, `interrupted after ${tokens.length} tokens`);
  assert.equal(summary.generated_tokens, tokens.length);
  assert.equal(lines.length, tokens.length + 1);
  assert.equal(summary.text, tokens.map((t) => t.text).join(""), "the printed text is kept");
});
