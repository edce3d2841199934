// What a new user trips over (issue 13), checked through the built CLI on real models: --stop escapes,
// prompt_id, clarifying inserts as one event (issue 17 item 4), numeric flags checked before the load,
// stdin rules, -V/-p/--help, states seen (not used), --compare, silent writes, the prompt echo,
// --logprobs, the docs, and report paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI, jsonLines, REPO_ROOT, runCli, STORIES, STORIES_GREEDY, tempDir, type CliResult } from "./helpers.js";

const M = ["-m", STORIES];
/** The reference sampler inserts the clarifying text in the clarify state (the default one does with --clarify). */
const REF = ["--sampler", "entropix-reference"];
type Line = Record<string, unknown>;
const tokensOf = (lines: Line[]) => lines.filter((l) => l.type === "token");
const summaryOf = (lines: Line[]) => lines.find((l) => l.type === "summary")!;

async function json(args: string[], env?: Record<string, string>): Promise<Line[]> {
  const r = await runCli(["generate", ...args, "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout);
}

/** A threshold profile under which every step of stories260k is "clarify" (H > ~0, V < 1000). */
function clarifyEverywhere(): string {
  const file = path.join(tempDir(), "clarify.json");
  writeFileSync(file, JSON.stringify({ low_ent: 0, low_vent: 1000, med_ent: 0.00005, high_ent: 0.0001, high_vent: 2000 }));
  return file;
}

// ---------- 1. --stop escapes, --stop-raw, JSONL "stop" ----------

test('--stop "\\n" stops at a newline; --stop-raw keeps backslash-n literal; \\" is a quote; JSONL "stop" too', async () => {
  const greedy = [...M, "Once upon a time", "--sampler", "greedy", "-n", "120"];
  const nl = summaryOf(await json([...greedy, "--stop", "\\n"]));
  assert.equal(nl.stop_reason, "stop_string");
  assert.equal(`Once upon a time${nl.text}`, STORIES_GREEDY);
  const raw = summaryOf(await json([...greedy, "--stop-raw", "\\n"]));
  assert.equal(raw.stop_reason, "max_tokens", "a literal backslash-n never occurs");
  assert.match(raw.text as string, /\n/);
  const quote = summaryOf(await json([...greedy, "--stop", 'said, \\"']));
  assert.equal(quote.stop_reason, "stop_string");
  assert.ok((quote.text as string).endsWith("Lily's mom "), JSON.stringify(quote.text));
  const bad = await runCli(["generate", ...greedy, "--stop", "a\\qb"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^entropix: --stop "a\\qb": unknown escape \\q/);
  const jsonl = path.join(tempDir(), "p.jsonl");
  writeFileSync(jsonl, `${JSON.stringify({ prompt: "Once upon a time", id: "x", stop: "\\n" })}\n`);
  const lines = await json([...M, "--jsonl", jsonl, "--sampler", "greedy", "-n", "120"]);
  assert.equal(summaryOf(lines).stop_reason, "stop_string");
  assert.equal(`Once upon a time${summaryOf(lines).text}`, STORIES_GREEDY);
});

// ---------- 2. prompt_id next to the token id ----------

test("--jsonl --json: every line carries prompt_id; token lines keep their token id", async () => {
  const jsonl = path.join(tempDir(), "p.jsonl");
  writeFileSync(jsonl, '{"prompt":"Once upon a time","id":"first"}\n{"prompt":"Tom had a","id":7}\n');
  const lines = await json([...M, "--jsonl", jsonl, "--sampler", "greedy", "-n", "4"]);
  assert.deepEqual([...new Set(lines.map((l) => l.prompt_id))], ["first", 7]);
  const tokens = tokensOf(lines);
  assert.equal(tokens.length, 8);
  assert.ok(tokens.every((t) => Number.isInteger(t.id) && t.id !== t.prompt_id));
  const single = await json([...M, "Once upon a time", "--sampler", "greedy", "-n", "4"]);
  assert.deepEqual(tokensOf(single).map((t) => t.id), tokensOf(lines).slice(0, 4).map((t) => t.id));
});

// ---------- 5 (and issue 17 item 4). Clarifying inserts ----------

test("a multi-token insert is one event with its ids; counted once, not toward -n; no doubled spaces", async () => {
  const th = clarifyEverywhere();
  const lines = await json([...M, "Once upon a time", ...REF, "--thresholds", th, "--seed", "3", "-n", "12", "--clarify-every", "1"]);
  const tokens = tokensOf(lines);
  const s = summaryOf(lines);
  const inserts = tokens.filter((t) => t.inserted === true);
  const sampled = tokens.filter((t) => t.inserted === false);
  assert.ok(inserts.length >= 5, `inserts: ${inserts.length}`);
  assert.equal(sampled.length, 12, "-n counts sampled tokens only");
  assert.equal(s.generated_tokens, 12);
  assert.equal(s.inserts, inserts.length);
  const ids = inserts.map((t) => t.ids as number[]);
  assert.ok(ids.every((i) => i.length >= 2), "stories260k spells ' ...' with several tokens");
  assert.equal(s.inserted_tokens, ids.reduce((n, i) => n + i.length, 0));
  assert.ok(inserts.every((t) => t.id === (t.ids as number[])[0] && (t.text === " ..." || t.text === "...")), JSON.stringify(inserts.map((t) => t.text)));
  assert.ok(inserts.every((t) => t.temperature === 0 && t.top_k === 1), "inserts report the argmax settings");
  assert.ok(sampled.every((t) => !("ids" in t)));
  // Every step is "clarify" under this profile: the tally counts events, an insert once.
  assert.deepEqual(s.quadrants, { confident: 0, clarify: tokens.length, explore: 0, resample: 0, adaptive: 0 });
  assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i));
  assert.equal(s.text, tokens.map((t) => t.text).join(""));
  assert.doesNotMatch(`Once upon a time${s.text}`, / {2}/, "no doubled space");
  // --clarify-every 1: an insert never directly follows another.
  for (let i = 1; i < tokens.length; i++) assert.ok(!(tokens[i].inserted && tokens[i - 1].inserted), `back-to-back inserts at ${i}`);
});

test("--clarify-text and --clarify-every: the text given, at most once per N steps; an insert at the -n limit is whole", async () => {
  const th = clarifyEverywhere();
  const lines = await json([...M, "Once upon a time", ...REF, "--thresholds", th, "--seed", "4", "-n", "9", "--clarify-text", " Wait,", "--clarify-every", "3"]);
  const tokens = tokensOf(lines);
  const at = tokens.flatMap((t, i) => (t.inserted ? [i] : []));
  assert.deepEqual(at, [0, 4, 8], "every step is clarify: an insert, then 3 sampled steps, …");
  assert.equal(tokens.length, 12);
  for (const i of at) assert.match(tokens[i].text as string, /^ ?Wait,$/);
  assert.equal(summaryOf(lines).generated_tokens, 9);
  // -n 1: the insert comes whole, and one sampled token after it.
  const one = await json([...M, "Once upon a time", ...REF, "--thresholds", th, "--seed", "4", "-n", "1"]);
  const t1 = tokensOf(one);
  assert.deepEqual(t1.map((t) => t.inserted), [true, false]);
  assert.equal((t1[0].text as string).trim(), "...");
  assert.equal(summaryOf(one).generated_tokens, 1);
});

test('--clarify-text "" never inserts: clarify steps sample at the row-2 temperature', async () => {
  const th = clarifyEverywhere();
  const lines = await json([...M, "Once upon a time", ...REF, "--thresholds", th, "--seed", "5", "-n", "10", "--clarify-text", ""]);
  const tokens = tokensOf(lines);
  assert.equal(tokens.length, 10);
  assert.ok(tokens.every((t) => t.inserted === false && t.quadrant === "clarify"));
  for (const t of tokens) {
    // Row 2 fallback, written out here: T = min(1.5, T0·(1.3 + 0.2·attn_entropy)), T0 = 0.666.
    const want = Math.min(1.5, 0.666 * (1.3 + 0.2 * (t.attn_entropy as number)));
    assert.ok(Math.abs((t.temperature as number) - want) < 1e-9, `${t.temperature} vs ${want}`);
  }
  assert.equal(summaryOf(lines).inserts, 0);
});

// ---------- 4. numeric flags before the load; --temperature 0 ----------

test("every numeric flag is checked before the model loads, naming the flag", async () => {
  // An existing folder that is no model: loading it would fail with "config.json missing" (exit 1).
  const nowhere = ["-m", tempDir()];
  const cases: [string[], RegExp][] = [
    [["--temperature", "-1"], /--temperature must be 0 or more, got -1/],
    [["--temperature", "hot"], /--temperature needs a finite number/],
    [["--top-k", "2.5"], /--top-k must be a whole number/],
    [["--top-p", "0"], /--top-p must be in \(0, 1\]/],
    [["--min-p", "1.5"], /--min-p must be in \[0, 1\]/],
    [["-n", "0"], /--max-tokens must be a whole number/],
    [["--seed", "-3"], /--seed must be a whole number/],
    [["--clarify-every", "0"], /--clarify-every must be a whole number/],
    [["--threads", "0"], /--threads must be a whole number/],
    [["--logprobs", "21"], /--logprobs must be a whole number from 0 to 20/],
  ];
  for (const [flags, want] of cases) {
    const r = await runCli(["generate", ...nowhere, "hi", ...flags]);
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.doesNotMatch(r.stderr, /config\.json missing/, "rejected before the load");
  }
});

test("--temperature 0 is greedy", async () => {
  const zero = await json([...M, "Once upon a time", "--temperature", "0", "-n", "20", "--seed", "9"]);
  const greedy = await json([...M, "Once upon a time", "--sampler", "greedy", "-n", "20"]);
  assert.deepEqual(tokensOf(zero).map((t) => t.id), tokensOf(greedy).map((t) => t.id));
  assert.equal(summaryOf(zero).sampler, "greedy");
});

// ---------- 7. stdin ----------

/** Runs the CLI with `stdin` as its standard input: a file path, or "pipe" with `input` written to it. */
function runWithStdin(args: string[], stdin: { file: string } | { pipe: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const fd = "file" in stdin ? openSync(stdin.file, "r") : null;
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [fd ?? "pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: undefined } as NodeJS.ProcessEnv });
    if (fd !== null) closeSync(fd);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if ("pipe" in stdin) child.stdin!.end(stdin.pipe);
  });
}

test("stdin: a pipe is appended; a regular file is not read with a prompt argument unless - is given; --no-stdin", async () => {
  const file = path.join(tempDir(), "rest.txt");
  writeFileSync(file, "there was a dog\n");
  const args = ["generate", ...M, "Once upon a time", "--sampler", "greedy", "-n", "3", "--json"];
  const promptTokens = (r: CliResult) => {
    assert.equal(r.code, 0, r.stderr);
    return summaryOf(jsonLines(r.stdout)).prompt_tokens as number;
  };
  const alone = promptTokens(await runCli(args));
  const piped = promptTokens(await runWithStdin(args, { pipe: "there was a dog" }));
  assert.ok(piped > alone, "piped stdin is appended");
  assert.equal(promptTokens(await runWithStdin(args, { file })), alone, "a file on stdin is not read (the while-read loop case)");
  assert.equal(promptTokens(await runWithStdin([...args, "-"], { file })), piped, '"-" reads it');
  assert.equal(promptTokens(await runWithStdin([...args, "--no-stdin"], { pipe: "there was a dog" })), alone);
  // Without a prompt argument a file on stdin is the prompt (entropix generate < prompt.txt).
  const fromFile = await runWithStdin(["generate", ...M, "--sampler", "greedy", "-n", "3", "--json"], { file });
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const help = await runCli(["generate", "--help"]);
  assert.match(help.stdout, /Stdin: .*piped stdin is appended.*regular file or \/dev\/null.*--no-stdin/s);
});

test("the while-read loop runs every line of the list", () => {
  const list = path.join(tempDir(), "list.txt");
  writeFileSync(list, "Once upon a time\nTom had a\nThe cat\n");
  const r = spawnSync("bash", ["-c", `while read p; do ${process.execPath} ${CLI} generate -m ${STORIES} "$p" -n 2 --sampler greedy --json | tail -1; done < ${list}`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(jsonLines(r.stdout).filter((l) => l.type === "summary").length, 3);
});

// ---------- 8. --version, -p, --help defaults ----------

test("--version/-V, -p/--prompt, and --help shows every default and the docs", async () => {
  const version = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).version as string;
  for (const flag of ["--version", "-V"]) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
  const viaFlag = await json([...M, "-p", "Once upon a time", "--sampler", "greedy", "-n", "5"]);
  const viaArg = await json([...M, "Once upon a time", "--sampler", "greedy", "-n", "5"]);
  assert.deepEqual(summaryOf(viaFlag).text, summaryOf(viaArg).text);
  const both = await runCli(["generate", ...M, "-p", "a", "b"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either with -p\/--prompt or as an argument/);
  const help = (await runCli(["generate", "--help"])).stdout.replace(/\s+/g, " ");
  for (const d of ["(default: 0.666)", "(default: 27)", "(default: 0.9)", "(default: 0.03)", "(default: 128)", '(default: " ...")', "(default: 64)"]) assert.ok(help.includes(d), d);
  for (const doc of ["docs/method.md", "docs/json-schema.md"]) {
    assert.ok(help.includes(doc), doc);
    assert.ok(existsSync(path.join(REPO_ROOT, doc)), `${doc} exists`);
  }
  assert.match((await runCli(["--help"])).stdout, /docs\/method\.md/);
});

// ---------- 10. states seen (not used) ----------

test("greedy and temperature summaries say 'states seen (not used)'; entropix says 'quadrants'", async () => {
  for (const [sampler, label] of [["greedy", "states seen (not used):"], ["temperature", "states seen (not used):"], ["entropix", "quadrants:"], ["entropix-reference", "quadrants:"]]) {
    const r = await runCli(["generate", ...M, "Tom had a", "--sampler", sampler, "-n", "4", "--seed", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(label), `${sampler}: ${r.stderr}`);
    if (!sampler.startsWith("entropix")) assert.ok(!r.stderr.includes("quadrants:"));
  }
  const file = path.join(tempDir(), "r.html");
  const r = await runCli(["generate", ...M, "Tom had a", "--sampler", "greedy", "-n", "4", "--report", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(file, "utf8"), /states seen \(not used\)/);
});

// ---------- 11. --compare ----------

test("--compare prints the shared prefix once, the two diverging tokens with p, then both continuations", async () => {
  const args = [...M, "Once upon a time", "--compare", "greedy", "--seed", "5", "-n", "30"];
  const lines = await json(args);
  const cmp = lines.at(-1)!;
  const d = cmp.first_divergence as number;
  const div = cmp.divergence as Line[];
  assert.equal(div.length, 2);
  for (const side of div) {
    const token = tokensOf(lines).filter((t) => t.sampler === side.sampler)[d];
    assert.equal(side.id, token.id);
    assert.ok((side.probability as number) > 0 && (side.probability as number) <= 1);
    assert.ok(!("logprob" in token), "logprobs only with --logprobs");
  }
  const greedyTokens = tokensOf(lines).filter((t) => t.sampler === "greedy");
  assert.equal(cmp.shared_text, greedyTokens.slice(0, d).map((t) => t.text).join(""));
  // Greedy takes the most likely token, so its side is at least as probable.
  assert.ok((div[1].probability as number) >= (div[0].probability as number));

  const r = await runCli(["generate", ...args]);
  assert.equal(r.code, 0, r.stderr);
  const shared = cmp.shared_text as string;
  assert.ok(shared.length > 0);
  assert.equal(r.stdout.split(shared).length - 1, 1, "the shared prefix is printed once");
  const p = (x: unknown) => (x as number).toFixed(3);
  assert.ok(r.stdout.includes(`entropix  ${JSON.stringify(div[0].text)} (p ${p(div[0].probability)})`), r.stdout);
  assert.ok(r.stdout.includes(`greedy    ${JSON.stringify(div[1].text)} (p ${p(div[1].probability)})`), r.stdout);
  assert.match(r.stdout, /--- entropix ---\n[\s\S]*--- greedy ---\n/);
  const entropies = [...r.stderr.matchAll(/mean entropy (\S+) bits/g)].map((m) => m[1]);
  assert.equal(entropies.length, 2);
  for (const e of entropies) assert.match(e, /^\d+\.\d{3}$/, "same rounding in both rows");
});

// ---------- 9. --logprobs ----------

test("--logprobs N adds the chosen token's log p and the top N alternatives, untempered", async () => {
  const greedy = tokensOf(await json([...M, "Once upon a time", "--sampler", "greedy", "-n", "8", "--logprobs", "3"]));
  for (const t of greedy) {
    const top = t.top_logprobs as { id: number; text: string; logprob: number }[];
    assert.equal(top.length, 3);
    assert.ok(top[0].logprob >= top[1].logprob && top[1].logprob >= top[2].logprob);
    assert.equal(top[0].id, t.id, "greedy picks the most likely token");
    assert.equal(top[0].logprob, t.logprob);
    assert.ok((t.logprob as number) <= 0);
    assert.ok(top.reduce((s, x) => s + Math.exp(x.logprob), 0) <= 1 + 1e-6);
  }
  assert.equal(greedy.map((t) => (t.top_logprobs as { text: string }[])[0].text).join(""), greedy.map((t) => t.text).join(""));
  // A high temperature changes the draw, not the logged (untempered) log p of the same prefix's first step.
  const hot = tokensOf(await json([...M, "Once upon a time", "--sampler", "temperature", "--temperature", "1.5", "-n", "1", "--logprobs", "3", "--seed", "2"]));
  assert.deepEqual(hot[0].top_logprobs, greedy[0].top_logprobs);
  const zero = tokensOf(await json([...M, "Once upon a time", "--sampler", "greedy", "-n", "2", "--logprobs", "0"]));
  assert.ok(zero.every((t) => typeof t.logprob === "number" && !("top_logprobs" in t)));
});

// ---------- 12. silent writes ----------

test("the first run that writes the patched copy says so in one line; inspect shows it; later runs are quiet", async () => {
  const dir = path.join(tempDir(), "stories");
  cpSync(STORIES, dir, { recursive: true });
  spawnSync("chmod", ["-R", "u+w", dir]); // the fixture is read-only; its copy must be writable
  const first = await runCli(["generate", "-m", dir, "Tom", "-n", "2", "--sampler", "greedy"]);
  assert.equal(first.code, 0, first.stderr);
  const line = /^note: patched copy with attention outputs: (.+) \((\d+\.\d) MB\)\n/m.exec(first.stderr);
  assert.ok(line, first.stderr);
  const patched = path.join(dir, "onnx", "model.taps.onnx");
  assert.equal(line[1], patched);
  assert.equal(line[2], (statSync(patched).size / 1e6).toFixed(1));
  const again = await runCli(["generate", "-m", dir, "Tom", "-n", "2", "--sampler", "greedy"]);
  assert.doesNotMatch(again.stderr, /patched copy/);
  const inspect = await runCli(["inspect", "-m", dir]);
  assert.match(inspect.stdout, new RegExp(`taps_file +${patched.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+\\.\\d MB, reused\\)`));
  const inspectJson = JSON.parse((await runCli(["inspect", "-m", dir, "--json"])).stdout);
  assert.equal(inspectJson.taps_file, patched);
  assert.equal(inspectJson.taps_file_written_now, false);
});

test("calibrate without --model leaves the bundled model's shipped profile alone and writes to the cache", async () => {
  const shipped = path.join(REPO_ROOT, "models", "tiny-stdlib-llama", "entropix.thresholds.json");
  const before = readFileSync(shipped, "utf8");
  const mtime = statSync(shipped).mtimeMs;
  const cache = tempDir("entropix-cache-");
  const r = await runCli(["calibrate", "--tokens", "64", "--no-heat"], { env: { ENTROPIX_CACHE_DIR: cache }, timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /in the cache; the bundled model's shipped profile is kept \(--force overwrites it\)/);
  assert.equal(readFileSync(shipped, "utf8"), before);
  assert.equal(statSync(shipped).mtimeMs, mtime);
  const files = readdirSync(path.join(cache, "thresholds"));
  assert.equal(files.length, 1);
  // generate then uses the newer, user-made profile from the cache.
  const v = await runCli(["generate", "Call me", "-n", "1", "--verbose"], { env: { ENTROPIX_CACHE_DIR: cache } });
  assert.equal(v.code, 0, v.stderr);
  assert.ok(v.stderr.includes(`thresholds (calibrated: ${path.join(cache, "thresholds", files[0])})`), v.stderr);
});

// ---------- 13. prompt echo ----------

test("a single prompt on a terminal is echoed dimmed; not when piped or with --json", async () => {
  const cmd = `${process.execPath} ${CLI} generate -m ${STORIES} "Once upon a time" -n 3 --sampler greedy`;
  const tty = spawnSync("script", ["-qec", cmd, "/dev/null"], { env: { ...process.env, NO_COLOR: undefined } as NodeJS.ProcessEnv, encoding: "utf8" }).stdout;
  assert.match(tty, /\x1b\[2mOnce upon a time\x1b\[22m/);
  const piped = await runCli(["generate", ...M, "Once upon a time", "-n", "3", "--sampler", "greedy"]);
  assert.ok(!piped.stdout.includes("Once upon a time"));
  const jsonTty = spawnSync("script", ["-qec", `${cmd} --json`, "/dev/null"], { encoding: "utf8" }).stdout;
  assert.ok(!jsonTty.includes("Once upon a time"));
});

// ---------- 15. docs and report paths ----------

test("docs/json-schema.md documents every field the CLI writes", async () => {
  const doc = readFileSync(path.join(REPO_ROOT, "docs", "json-schema.md"), "utf8");
  const documented = new Set([...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]));
  const th = clarifyEverywhere();
  const jsonl = path.join(tempDir(), "p.jsonl");
  writeFileSync(jsonl, '{"prompt":"Once upon a time","id":"a"}\n');
  const lines = [
    ...(await json([...M, "--jsonl", jsonl, "--compare", "greedy", "-n", "6", "--seed", "1", "--logprobs", "2"])),
    ...(await json([...M, "Once upon a time", ...REF, "--thresholds", th, "-n", "3", "--seed", "1"])),
  ];
  const types = new Set(lines.map((l) => l.type));
  assert.deepEqual([...types].sort(), ["comparison", "summary", "token"]);
  assert.ok(lines.some((l) => l.inserted === true));
  for (const l of lines) for (const k of Object.keys(l)) assert.ok(documented.has(k), `${l.type}.${k} is not in docs/json-schema.md`);
  assert.match(doc, /varentropy.*bits²/);
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  assert.ok(!readme.includes("../shared"), "README links stay inside the repo");
  assert.match(readme, /\(docs\/method\.md\)/);
  assert.match(readme, /\(docs\/json-schema\.md\)/);
  const method = readFileSync(path.join(REPO_ROOT, "docs", "method.md"), "utf8");
  assert.match(method, /## The reference sampler \(`entropix-reference`\)/);
  assert.match(method, /## The default sampler/);
});

test("reports leave out local absolute paths unless --report-paths", async () => {
  const dir = tempDir();
  const plain = path.join(dir, "plain.html");
  const withPaths = path.join(dir, "paths.html");
  for (const [file, extra] of [[plain, []], [withPaths, ["--report-paths"]]] as const) {
    const r = await runCli(["generate", ...M, "Tom", "-n", "3", "--seed", "1", "--report", file, ...extra]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(!readFileSync(plain, "utf8").includes(STORIES), "no absolute model folder");
  assert.ok(readFileSync(plain, "utf8").includes("stories260k"));
  assert.ok(readFileSync(withPaths, "utf8").includes(STORIES));
  assert.ok(!readFileSync(plain, "utf8").includes("../shared"));
});

// ---------- 3. the library agrees with the CLI ----------

test("library: loadModel from another folder finds the bundled model and its calibrated profile, like the CLI", async () => {
  const cwd = tempDir();
  const script = `
    import { loadModel, generate, defaultModelPath } from ${JSON.stringify(path.join(REPO_ROOT, "dist", "src", "index.js"))};
    const byName = await loadModel("models/tiny-stdlib-llama");
    const ids = [];
    let summary;
    for await (const e of generate(byName, "Call me Ishmael", { maxTokens: 12, seed: 1 })) {
      if (e.type === "token") ids.push(...(e.ids ?? [e.id]));
      if (e.type === "summary") summary = e;
    }
    await byName.close();
    let message = "";
    try { await loadModel("no/such/folder"); } catch (err) { message = err.message; }
    console.log(JSON.stringify({ ids, thresholds: summary.thresholds, quadrants: summary.quadrants, dir: byName.facts.dir, def: defaultModelPath(), message }));
  `;
  writeFileSync(path.join(cwd, "snippet.mjs"), script);
  const r = spawnSync(process.execPath, ["snippet.mjs"], { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const lib = JSON.parse(r.stdout);
  assert.equal(lib.dir, lib.def);
  assert.equal(lib.thresholds, "calibrated");
  assert.match(lib.message, /no\/such\/folder: model folder not found; pass an existing folder$/);
  const cli = await json(["Call me Ishmael", "-n", "12", "--seed", "1"]);
  assert.deepEqual(lib.ids, tokensOf(cli).flatMap((t) => (t.ids as number[] | undefined) ?? [t.id]));
  assert.deepEqual(lib.quadrants, summaryOf(cli).quadrants);
  const missing = await runCli(["generate", "-m", "no/such/folder", "hi"]);
  assert.match(missing.stderr, /^entropix: --model no\/such\/folder: no such model folder/, "the CLI names its flag");
});

// ---------- 6. bin/entropix rebuilds a stale build ----------

test("bin/entropix rebuilds when a src/ file is newer than the build, and says so once", () => {
  const root = tempDir("entropix-checkout-");
  mkdirSync(path.join(root, "bin"));
  copyFileSync(CLI, path.join(root, "bin", "entropix"));
  for (const f of ["package.json", "tsconfig.json"]) copyFileSync(path.join(REPO_ROOT, f), path.join(root, f));
  for (const d of ["src", "dist"]) cpSync(path.join(REPO_ROOT, d), path.join(root, d), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(root, "node_modules"));
  const entry = path.join(root, "dist", "src", "cli", "main.js");
  const run = () => spawnSync(process.execPath, [path.join(root, "bin", "entropix"), "--version"], { encoding: "utf8" });
  // The copies are as new as each other: nothing to rebuild.
  const old = new Date(Date.now() - 60_000);
  utimesSync(entry, new Date(), new Date());
  const fresh = run();
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.equal(fresh.stderr, "");
  // Simulate `git pull`: a source file newer than the build; the build must then pick up its change.
  const version = path.join(root, "src", "calibrate", "version.ts");
  writeFileSync(version, readFileSync(version, "utf8").replace('typeof v === "string" ? v : "unknown"', 'typeof v === "string" ? `${v}-rebuilt` : "unknown"'));
  utimesSync(entry, old, old);
  const stale = run();
  assert.equal(stale.status, 0, stale.stderr);
  assert.equal(stale.stderr, "entropix: src/ changed since the last build; rebuilding (npm run build)…\n");
  assert.match(stale.stdout, /-rebuilt\n$/);
  const after = run();
  assert.equal(after.stderr, "", "built once");
  assert.match(after.stdout, /-rebuilt\n$/);
});
