// `entropix generate` / `inspect` driven as a child process on the real stories260k model (issues 3, 6).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, runCli, STORIES, STORIES_GREEDY, tempDir } from "./helpers.js";

const M = ["-m", STORIES];

test("--sampler greedy continues the published greedy text", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--sampler", "greedy", "-n", "40"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${r.stdout.trimEnd()}`), `got: ${r.stdout}`);
  assert.ok(r.stdout.length > 100);
  assert.match(r.stderr, /40 tokens \(prompt 5\)/);
});

test("--json trace: token lines with every field, then a summary; entropix reaches ≥ 3 quadrants", async () => {
  const r = await runCli(["generate", ...M, "Once upon a time", "--json", "--seed", "3", "-n", "120", "--ignore-eos"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const tokens = lines.filter((l) => l.type === "token");
  const summary = lines.at(-1)!;
  assert.equal(tokens.length, 120);
  assert.equal(summary.type, "summary");
  const keys = ["index", "id", "text", "quadrant", "entropy", "varentropy", "attn_entropy", "attn_varentropy", "agreement", "interaction_strength", "temperature", "top_k", "top_p", "min_p", "sampler"];
  for (const t of tokens) for (const k of keys) assert.ok(k in t, `token line lacks ${k}`);
  assert.ok(tokens.every((t) => typeof t.attn_entropy === "number"), "taps give attention metrics");
  const states = new Set(tokens.map((t) => t.quadrant));
  assert.ok(states.size >= 3, `quadrants seen: ${[...states].join(", ")}`);
  for (const k of ["prompt_tokens", "generated_tokens", "quadrants", "prefill_ms", "decode_tokens_per_s", "seed", "attention_source", "text"]) assert.ok(k in summary, k);
  assert.equal(summary.seed, 3);
  assert.equal(summary.attention_source, "taps");
  assert.equal(summary.text, tokens.map((t) => t.text).join(""));
  const counts = summary.quadrants as Record<string, number>;
  for (const q of states) assert.equal(counts[q as string], tokens.filter((t) => t.quadrant === q).length);
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
  assert.ok((s2.prompt_tokens as number) > 3);
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
  const r = await runCli(["generate", "-m", dir, "Hi", "--chat", "--system", "Be brief", "-n", "3", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = jsonLines(r.stdout).at(-1)!;
  const expected = "system: Be brief\nuser: Hi\nassistant:";
  const { loadModel } = await import("../src/index.js");
  const m = await loadModel(dir, { taps: false });
  assert.equal(s.prompt_tokens, m.tokenizer.encode(expected, false).length);
  await m.close();
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
  const r = spawnSync("script", ["-qec", command, "/dev/null"], { env: { ...process.env, NO_COLOR: undefined, ...env } as NodeJS.ProcessEnv, encoding: "utf8", timeout: 60_000 });
  return r.stdout;
}

test("a closed stdout pipe (| head) ends quietly", async () => {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${process.execPath} bin/entropix generate -m ${STORIES} "Tom" -n 400 --ignore-eos --json | head -c 10 >/dev/null`], { encoding: "utf8", timeout: 60_000 });
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
      if (!sent && out.split("\n").length > 20) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("close", (c) => resolve(c));
  });
  const lines = jsonLines(out);
  const summary = lines.at(-1)!;
  assert.equal(summary.type, "summary", err);
  assert.equal(summary.stop_reason, "interrupted");
  assert.equal(summary.generated_tokens, lines.length - 1);
  assert.equal(code, 130);
});
