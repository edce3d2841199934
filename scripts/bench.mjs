#!/usr/bin/env node
// `npm run bench`: benchmarks of entropix against the bare onnxruntime loop, transformers.js and its
// own parts; writes BENCHMARKS.md (and the raw numbers to build/bench/results.json).
//
//   npm run bench                       # build, then the full run (~6-10 min on 2 cores)
//   node scripts/bench.mjs --quick      # 2 rounds × 32 tokens, to check the script (dist/ must be built)
//   node scripts/bench.mjs --reps 7 --tokens 128 --prompt-tokens 32 --threads 2 --out BENCHMARKS.md
//
// Models: the bundled models/tiny-stdlib-llama, ../shared/fixtures/stories260k (when present) and a
// SmolLM2-135M-shaped random-weight export built once into build/bench/smollm2-shaped/ by
// scripts/bench/build-smollm2-shaped.py (Debian's /usr/bin/python3 with torch + onnx).
// Hand-written analysis between the `<!-- notes -->` markers of an existing BENCHMARKS.md is kept.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BRANCH_ROWS, branchSpeed, branchSpeedTable, samplerSpeed, samplerSpeedTable } from "./bench/sampler-speed.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUILD = path.join(ROOT, "build", "bench");
// Every child runs from a snapshot of dist/, bin/ and the bench scripts taken at the start, so a
// concurrent `npm run build` / `npm test` (which deletes and rebuilds dist/) cannot break or mix the run.
const RUN = path.join(BUILD, "snapshot");
const BENCH = path.join(RUN, "scripts", "bench");
const SMOL = path.join(BUILD, "smollm2-shaped");
const BUNDLED = path.join(ROOT, "models", "tiny-stdlib-llama");
const STORIES = path.resolve(ROOT, "..", "shared", "fixtures", "stories260k");
const PYTHON = process.env.BENCH_PYTHON ?? "/usr/bin/python3";

// ---- flags ----
const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const QUICK = argv.includes("--quick");
const REPS = Number(flag("--reps", QUICK ? 2 : 5));
const TOKENS = Number(flag("--tokens", QUICK ? 32 : 128));
const PROMPT_TOKENS = Number(flag("--prompt-tokens", 32));
const THREADS = Number(flag("--threads", 2));
const OUT = path.resolve(ROOT, flag("--out", "BENCHMARKS.md"));
const SAMPLER_STEPS = QUICK ? 200 : 400;
const COLD_RUNS = QUICK ? 3 : 7;
const REWRITE_RUNS = QUICK ? 1 : 3;
const RSS_RUNS = QUICK ? 1 : 3;
const LONG_TOKENS = QUICK ? 1000 : 4000;
const COMMAND = `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
// A fixed English passage; each model's tokenizer encodes it and the first PROMPT_TOKENS ids are used.
const PROMPT_TEXT =
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of " +
  "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, " +
  "it was the season of Darkness, it was the spring of hope, it was the winter of despair.";

const GOALS = {
  vsBare: 0.97,
  vsTjs: 1.0,
  tapsOverhead: 0.03,
  sample49k: 0.5,
  sample128k: 1.5,
  rewriteS: 2,
  rewriteMB: 200,
  coldS: 1.5,
};

// ---- helpers ----
const median = (xs) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const min = (xs) => Math.min(...xs);
const max = (xs) => Math.max(...xs);
const log = (m) => process.stderr.write(`${m}\n`);
const t0All = performance.now();
const elapsed = () => `${((performance.now() - t0All) / 1000).toFixed(0)}s`;

function node(args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", opts.quietErr ? "ignore" : "inherit"], env: { ...process.env, ...opts.env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`node ${args.join(" ").slice(0, 200)}: exit ${code}`))));
  });
}
const lastJson = (out) => JSON.parse(out.trim().split("\n").at(-1));

// CPU used by other processes during the run: all busy CPU time (/proc/stat) minus this process's and
// its waited-for children's (/proc/self/stat utime+stime+cutime+cstime); both in clock ticks (USER_HZ 100).
function cpuTicks() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] ?? 0); // user nice system irq softirq steal
    const self = readFileSync("/proc/self/stat", "utf8");
    const f = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number); // fields from 3 (state) on
    const ours = f[11] + f[12] + f[13] + f[14]; // utime stime cutime cstime (fields 14-17)
    return { busy, ours, t: performance.now() };
  } catch {
    return null;
  }
}
const ticks0 = cpuTicks();
const loadSamples = [];
const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]), 10_000);
loadTimer.unref();

// ---- machine ----
function machine() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1].trim();
  } catch {}
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return "missing";
    }
  };
  let commit = null;
  try {
    const head = readFileSync(path.join(ROOT, ".git", "HEAD"), "utf8").trim();
    commit = head.startsWith("ref: ") ? readFileSync(path.join(ROOT, ".git", head.slice(5)), "utf8").trim() : head;
  } catch {}
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: pkg("onnxruntime-node"),
    transformers: pkg("@huggingface/transformers"),
    entropix: JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
    commit: commit?.slice(0, 12) ?? null,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    loadStart: os.loadavg()[0],
  };
}

// ---- snapshot of the code under test ----
async function snapshot() {
  const entries = [path.join(ROOT, "dist", "src", "index.js"), path.join(ROOT, "dist", "src", "cli", "main.js")];
  for (let waited = 0; !entries.every((e) => existsSync(e)); waited++) {
    if (waited === 0) log("waiting for dist/ (run `npm run build`; someone may be rebuilding it) ...");
    if (waited >= 120) throw new Error("dist/ is not built: run `npm run bench` (it builds first)");
    await new Promise((r) => setTimeout(r, 1000));
  }
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(path.join(RUN, "scripts"), { recursive: true });
  for (const p of ["dist", "bin", "package.json", "scripts/bench", "scripts/bench-sampler.mjs", "scripts/long-run.mjs"]) cpSync(path.join(ROOT, p), path.join(RUN, p), { recursive: true });
  // package-relative data the CLI reads (the default model); node_modules resolve from the parent folders.
  for (const p of ["models", "data"]) if (existsSync(path.join(ROOT, p))) symlinkSync(path.join(ROOT, p), path.join(RUN, p));
}

// ---- the SmolLM2-shaped model ----
function ensureSmol() {
  if (existsSync(path.join(SMOL, ".complete")) && existsSync(path.join(SMOL, "onnx", "model.onnx"))) return true;
  if (!existsSync(PYTHON)) {
    log(`! ${PYTHON} not found: cannot build ${SMOL} (set BENCH_PYTHON to a Python with torch + onnx)`);
    return false;
  }
  log(`building ${path.relative(ROOT, SMOL)} (once; ~1 min) ...`);
  execFileSync(PYTHON, [path.join(ROOT, "scripts", "bench", "build-smollm2-shaped.py"), "--out", SMOL], { stdio: ["ignore", "inherit", "inherit"] });
  return true;
}

// ---- benchmarks ----
async function decode(dir, extra = {}) {
  const cfg = { dir, tokens: TOKENS, promptTokens: PROMPT_TOKENS, reps: REPS, threads: THREADS, promptText: PROMPT_TEXT, ...extra };
  return lastJson(await node([path.join(BENCH, "decode-worker.mjs"), JSON.stringify(cfg)]));
}

function summarizeDecode(res) {
  const { runs } = res;
  const variants = Object.keys(runs);
  const rows = {};
  for (const v of variants) {
    const d = runs[v].map((r) => r.decodeTps);
    rows[v] = {
      decode: median(d),
      decodeMin: min(d),
      decodeMax: max(d),
      msPerToken: median(runs[v].map((r) => r.decodeMsPerToken)),
      runMs: median(runs[v].map((r) => r.runMsPerToken)),
      outsideMs: median(runs[v].map((r) => r.outsideMsPerToken)),
      prefill: median(runs[v].map((r) => r.prefillTps)),
      firstMs: median(runs[v].map((r) => r.firstMs)),
    };
  }
  // Same-round (paired) ratios: round r of A against round r of B, then the median over rounds.
  const paired = (a, b, key = "decodeTps") =>
    runs[a] && runs[b] ? median(runs[a].map((r, i) => r[key] / runs[b][i][key])) : NaN;
  for (const v of variants) {
    rows[v].vsBare = paired(v, "bare");
    rows[v].vsTjs = paired(v, "tjs");
    rows[v].prefillVsBare = paired(v, "bare", "prefillTps");
  }
  // taps overhead: extra decode time per token of the same loop on the tapped file, same rounds
  const tapsOverhead = runs["bare-taps"] && runs.bare ? median(runs["bare-taps"].map((r, i) => r.decodeMsPerToken / runs.bare[i].decodeMsPerToken)) - 1 : NaN;
  const tapsOverheadLast = runs["bare-taps-last"] && runs.bare ? median(runs["bare-taps-last"].map((r, i) => r.decodeMsPerToken / runs.bare[i].decodeMsPerToken)) - 1 : NaN;
  return { rows, tapsOverhead, tapsOverheadLast };
}

async function samplerBench() {
  const all = [];
  for (let i = 0; i < REPS; i++) all.push(lastJson(await node([path.join(RUN, "scripts", "bench-sampler.mjs"), String(SAMPLER_STEPS), "--json"])));
  return all[0].rows.map((r, k) => ({
    V: r.V,
    metrics: median(all.map((a) => a.rows[k].metrics)),
    sample: median(all.map((a) => a.rows[k].sample)),
    total: median(all.map((a) => a.rows[k].total)),
    totalMax: max(all.map((a) => a.rows[k].total)),
    topKOff: median(all.map((a) => a.rows[k].forced.topKOff)),
  }));
}

async function rewriteBench(src) {
  mkdirSync(path.join(BUILD, "tmp"), { recursive: true });
  const dst = path.join(BUILD, "tmp", `rewrite-${process.pid}.onnx`);
  const runs = [];
  try {
    for (let i = 0; i < REWRITE_RUNS; i++) runs.push(lastJson(await node([path.join(BENCH, "rewrite-worker.mjs"), src, dst])));
  } finally {
    rmSync(dst, { force: true });
  }
  return {
    s: median(runs.map((r) => r.ms)) / 1000,
    peakMB: median(runs.map((r) => r.peakMB)),
    baselineMB: median(runs.map((r) => r.baselineMB)),
    srcMB: runs[0].srcBytes / 1e6,
    layers: runs[0].layers,
    runs: runs.length,
  };
}

/** Peak RSS of `entropix generate` (the CLI, in-process via with-hwm.mjs). */
async function cliPeakRss(args) {
  mkdirSync(path.join(BUILD, "tmp"), { recursive: true });
  const file = path.join(BUILD, "tmp", `hwm-${process.pid}.txt`);
  rmSync(file, { force: true });
  await node([path.join(BENCH, "with-hwm.mjs"), path.join(RUN, "bin", "entropix"), ...args], { env: { BENCH_HWM_FILE: file } });
  const mb = Number(readFileSync(file, "utf8").trim());
  rmSync(file, { force: true });
  return mb;
}

/** Spawn → first stdout byte (and → exit) of `entropix generate ... -n 1`. */
function coldOnce(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(RUN, "bin", "entropix"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] });
    let first = NaN;
    child.stdout.on("data", () => {
      if (Number.isNaN(first)) first = performance.now() - t0;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const exit = performance.now() - t0;
      if (code !== 0) reject(new Error(`entropix ${args.join(" ")}: exit ${code}`));
      else resolve({ first: Number.isNaN(first) ? exit : first, exit });
    });
  });
}

async function coldStart(modelArgs, runs) {
  const args = ["generate", ...modelArgs, "Call me Ishmael", "-n", "1"];
  await coldOnce(args); // makes sure the patched copy is cached
  const res = [];
  for (let i = 0; i < runs; i++) res.push(await coldOnce(args));
  return { first: median(res.map((r) => r.first)) / 1000, exit: median(res.map((r) => r.exit)) / 1000, min: min(res.map((r) => r.first)) / 1000, max: max(res.map((r) => r.first)) / 1000, runs };
}

// ---- main ----
const results = { machine: machine(), settings: { reps: REPS, tokens: TOKENS, promptTokens: PROMPT_TOKENS, threads: THREADS, command: COMMAND } };
log(`entropix bench: ${REPS} rounds, ${TOKENS} tokens, ${PROMPT_TOKENS}-token prompt, ${THREADS} threads → ${path.relative(ROOT, OUT)}`);
await snapshot();
const haveSmol = ensureSmol();
const models = [
  ...(haveSmol ? [{ key: "smollm2", name: "SmolLM2-135M-shaped (random weights)", dir: SMOL }] : []),
  { key: "bundled", name: "tiny-stdlib-llama (bundled)", dir: BUNDLED },
  ...(existsSync(path.join(STORIES, "onnx", "model.onnx")) ? [{ key: "stories", name: "stories260k", dir: STORIES }] : []),
];

results.decode = {};
for (const m of models) {
  log(`[${elapsed()}] decode/prefill: ${m.name}`);
  const raw = await decode(m.dir);
  results.decode[m.key] = { name: m.name, facts: raw.facts, runs: raw.runs, ...summarizeDecode(raw) };
}

log(`[${elapsed()}] metrics + sampling per step`);
results.sampler = await samplerBench();

if (haveSmol) {
  log(`[${elapsed()}] taps rewrite of the ${path.relative(ROOT, SMOL)} model`);
  results.rewrite = await rewriteBench(path.join(SMOL, "onnx", "model.onnx"));
}

log(`[${elapsed()}] peak RSS of generation runs`);
results.rss = [];
const genArgs = (dir) => ["generate", "--model", dir, PROMPT_TEXT, "-n", String(TOKENS), "--ignore-eos", "--seed", "1", "--threads", String(THREADS), "--json"];
for (const m of models.filter((x) => x.key !== "stories")) {
  const ids = results.decode[m.key].facts.promptIds;
  const mb = { cli: [], bare: [], tjs: [] };
  for (let i = 0; i < RSS_RUNS; i++) {
    mb.cli.push(await cliPeakRss(genArgs(m.dir)));
    for (const v of ["bare", "tjs"]) mb[v].push((await decode(m.dir, { variants: [v], reps: 1, promptIds: ids })).facts.workerPeakRssMB);
  }
  results.rss.push({ model: m.name, what: "`entropix generate` (CLI, Entropix sampler)", mb: median(mb.cli), all: mb.cli });
  results.rss.push({ model: m.name, what: "bare greedy loop (unpatched, onnxruntime only)", mb: median(mb.bare), all: mb.bare });
  results.rss.push({ model: m.name, what: "transformers.js `generate`", mb: median(mb.tjs), all: mb.tjs });
}

log(`[${elapsed()}] peak RSS over a long run (scripts/long-run.mjs)`);
results.longRun = [];
for (const dir of [BUNDLED, ...(existsSync(path.join(ROOT, "models", "stories260k")) ? [path.join(ROOT, "models", "stories260k")] : [])]) {
  const out = await node([path.join(RUN, "scripts", "long-run.mjs"), "--model", dir, "--tokens", String(LONG_TOKENS), "--max-ratio", "99"], { quietErr: true }).catch(() => null);
  if (out) results.longRun.push(JSON.parse(out));
}

log(`[${elapsed()}] cold start to first token`);
results.cold = { bundled: await coldStart([], COLD_RUNS) };
if (haveSmol) results.cold.smollm2 = await coldStart(["--model", SMOL], Math.min(3, COLD_RUNS)).catch(() => null);

log(`[${elapsed()}] entropix vs --sampler temperature (same rounds)`);
results.samplerSpeed = samplerSpeed();
results.branchSpeed = branchSpeed(BRANCH_ROWS);

results.machine.loadEnd = os.loadavg()[0];
const ticks1 = cpuTicks();
results.machine.otherCores = ticks0 && ticks1 ? Math.max(0, ticks1.busy - ticks0.busy - (ticks1.ours - ticks0.ours)) / 100 / ((ticks1.t - ticks0.t) / 1000) : NaN;
results.machine.loadMean = loadSamples.length ? loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length : results.machine.loadStart;
results.machine.loadMax = loadSamples.length ? max(loadSamples) : results.machine.loadStart;
results.seconds = (performance.now() - t0All) / 1000;
mkdirSync(BUILD, { recursive: true });
writeFileSync(path.join(BUILD, "results.json"), `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(OUT, renderMarkdown(results));
log(`[${elapsed()}] wrote ${path.relative(ROOT, OUT)} and ${path.relative(ROOT, path.join(BUILD, "results.json"))}`);

// ---- BENCHMARKS.md ----
function renderMarkdown(r) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const x = (v) => (Number.isFinite(v) ? `${v.toFixed(3)}×` : "–");
  const pct = (v) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%` : "–");
  const ok = (b) => (b === null ? "n/a" : b ? "✅ holds" : "❌ missed");
  const mc = r.machine;
  const loaded = Number.isFinite(mc.otherCores) ? mc.otherCores > 0.15 : mc.loadStart > 0.5;
  const L = [];
  L.push("# Benchmarks", "");
  L.push(`Generated by \`scripts/bench.mjs\` on ${mc.date}. Rerun with \`${r.settings.command}\` (this run took ${Math.round(r.seconds / 60)} min); raw numbers of the run are written to \`build/bench/results.json\`.`, "");
  L.push("## Machine", "");
  L.push("| | |", "|---|---|");
  L.push(`| CPU | ${mc.cpu} |`, `| Cores (logical) | ${mc.cores} |`, `| RAM | ${f(mc.ramGiB)} GiB |`, `| OS | ${mc.os} |`);
  L.push(`| Node | ${mc.node} |`, `| onnxruntime-node | ${mc.onnxruntime} (CPU execution provider) |`, `| @huggingface/transformers | ${mc.transformers} |`);
  L.push(`| entropix | ${mc.entropix}${mc.commit ? ` (checkout ${mc.commit})` : ""} |`);
  L.push(`| Other processes during the run | ${f(mc.otherCores, 2)} cores busy on average (all CPU time minus the benchmark's own) |`);
  L.push(`| Load average (1 min, includes the benchmark itself) | start ${f(mc.loadStart, 2)}, mean ${f(mc.loadMean, 2)}, max ${f(mc.loadMax, 2)}, end ${f(mc.loadEnd, 2)} |`);
  L.push("");
  L.push(
    loaded
      ? `**The machine was not idle** during this run: other processes kept ${f(mc.otherCores, 2)} of its ${mc.cores} cores busy on average. Absolute numbers are lower and noisier than on an idle machine; the same-round ratios are the numbers to compare.`
      : `The machine was otherwise idle during this run (other processes: ${f(mc.otherCores, 2)} cores busy on average).`,
    "",
  );
  L.push(`Settings: ${r.settings.reps} rounds per variant, ${r.settings.tokens} generated tokens per run (EOS ignored), a ${r.settings.promptTokens}-token prompt, onnxruntime intra-op threads = ${r.settings.threads} (inter-op 1, sequential, graph optimisation "all") for every variant, seed 1.`, "");

  // goals
  const smol = r.decode.smollm2;
  const s49 = r.sampler.find((s) => s.V === 49152);
  const s128 = r.sampler.find((s) => s.V === 128256);
  const goals = [];
  if (smol) {
    const e = smol.rows.entropix;
    const g = smol.rows.greedy;
    goals.push([`Entropix decode ≥ ${GOALS.vsBare}× the bare greedy loop (SmolLM2-shaped)`, `${x(e.vsBare)} (\`--sampler greedy\`: ${x(g.vsBare)})`, e.vsBare >= GOALS.vsBare]);
    goals.push([`Entropix decode ≥ ${GOALS.vsTjs.toFixed(1)}× transformers.js greedy \`generate\` (SmolLM2-shaped)`, `${x(e.vsTjs)} (\`--sampler greedy\`: ${x(g.vsTjs)})`, e.vsTjs >= GOALS.vsTjs]);
    goals.push([
      `Taps overhead ≤ ${GOALS.tapsOverhead * 100}% of decode time (SmolLM2-shaped, the outputs \`generate\` fetches)`,
      `${pct(smol.tapsOverheadLast)} (all 30 layers' scores fetched: ${pct(smol.tapsOverhead)})`,
      smol.tapsOverheadLast <= GOALS.tapsOverhead,
    ]);
  }
  if (s49) goals.push([`Metrics + sampling ≤ ${GOALS.sample49k} ms per step at vocabulary 49,152`, `${f(s49.total, 3)} ms`, s49.total <= GOALS.sample49k]);
  if (s128) goals.push([`Metrics + sampling ≤ ${GOALS.sample128k} ms per step at vocabulary 128,256`, `${f(s128.total, 3)} ms`, s128.total <= GOALS.sample128k]);
  if (r.rewrite) {
    goals.push([`Taps rewrite of a ~650 MB model ≤ ${GOALS.rewriteS} s`, `${f(r.rewrite.s, 2)} s`, r.rewrite.s <= GOALS.rewriteS]);
    goals.push([`… and ≤ ${GOALS.rewriteMB} MB peak RSS`, `${f(r.rewrite.peakMB, 0)} MB`, r.rewrite.peakMB <= GOALS.rewriteMB]);
  }
  goals.push([`Cold start to first token ≤ ${GOALS.coldS} s (bundled model)`, `${f(r.cold.bundled.first, 2)} s`, r.cold.bundled.first <= GOALS.coldS]);
  L.push("## Goals", "", "| Goal | Measured (median) | |", "|---|---|---|");
  for (const [g, m, b] of goals) L.push(`| ${g} | ${m} | ${ok(b)} |`);
  L.push("");

  // decode tables
  const names = {
    bare: "bare greedy loop, unpatched model (onnxruntime only)",
    "bare-taps": "bare greedy loop, tapped model, all layers' scores fetched",
    "bare-taps-last": "bare greedy loop, tapped model, last layer's scores fetched",
    greedy: "entropix `--sampler greedy`",
    entropix: "entropix `--sampler entropix`",
    tjs: "transformers.js `generate` (greedy)",
  };
  L.push("## Decode and prefill", "");
  L.push(
    "Tokens/s are medians over the rounds; the range is the slowest–fastest round. Per decoded token, \"in `session.run`\" is the time inside onnxruntime's `run` (the model, plus onnxruntime-node's input/output tensor handling) and \"outside it\" everything else the variant does per token (building feeds, metrics, sampling, detokenization, events). Ratios are same-round ratios (round r of one variant against round r of the other, median over rounds), so load that hits a whole round cancels out. Prefill = prompt tokens ÷ time from the call to the first generated token (prompt ids given to every variant, so tokenization is not timed).",
    "",
  );
  for (const key of Object.keys(r.decode)) {
    const d = r.decode[key];
    const fa = d.facts;
    L.push(`### ${d.name}`, "");
    L.push(`${fa.layers} layers, vocabulary ${fa.vocab.toLocaleString("en-US")}, \`onnx/model.onnx\` ${f(fa.onnxBytes / 1e6, 1)} MB; ${fa.promptTokens}-token prompt, ${fa.tokens} tokens per run.`, "");
    L.push("| Variant | decode tok/s | range | ms/token | in `session.run` | outside it | prefill tok/s | decode vs bare | decode vs transformers.js |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const [v, row] of Object.entries(d.rows)) {
      L.push(`| ${names[v] ?? v} | ${f(row.decode)} | ${f(row.decodeMin)}–${f(row.decodeMax)} | ${f(row.msPerToken, 2)} | ${f(row.runMs, 2)} | ${f(row.outsideMs, 3)} | ${f(row.prefill, 0)} | ${x(row.vsBare)} | ${x(row.vsTjs)} |`);
    }
    L.push("");
    const agree = Object.entries(fa.greedyAgreement ?? {}).map(([v, b]) => `${names[v] ?? v}: ${b ? "same" : "DIFFERENT"}`);
    L.push(`Taps overhead (same bare loop, tapped vs unpatched file, ms/token, same rounds): **${pct(d.tapsOverheadLast)}** fetching the last layer's scores (what \`generate\` fetches by default), ${pct(d.tapsOverhead)} fetching every layer's. Greedy token ids against the bare loop: ${agree.join("; ")}.`);
    if (fa.tjs) {
      L.push(
        `transformers.js loaded \`onnx/model.onnx\` (dtype ${fa.tjs.sessionConfig?.dtype}, device ${fa.tjs.sessionConfig?.device}, ${fa.tjs.outputs} outputs = the unpatched file's ${fa.bareOutputs}; the session is an \`onnxruntime-node\` ${mc.onnxruntime} InferenceSession: ${fa.tjs.sameOnnxruntime ? "yes" : "NO"}).`,
      );
    }
    L.push("");
  }

  L.push("## Metrics + sampling per step", "");
  L.push(
    `\`scripts/bench-sampler.mjs ${SAMPLER_STEPS} --json\`, ${r.settings.reps} processes, median of their medians: logit metrics over the whole vocabulary + attention metrics (8 heads × 256 positions) + one Entropix sampler step, on synthetic Zipf-like logits. The last column is the non-default chain (top-k off, top-p 0.9) for reference.`,
    "",
  );
  L.push("| Vocabulary | metrics ms | sampling ms | total ms | worst process, total ms | top-k off, sampling ms |", "|---:|---:|---:|---:|---:|---:|");
  for (const s of r.sampler) L.push(`| ${s.V.toLocaleString("en-US")} | ${f(s.metrics, 3)} | ${f(s.sample, 3)} | **${f(s.total, 3)}** | ${f(s.totalMax, 3)} | ${f(s.topKOff, 3)} |`);
  L.push("");

  if (r.rewrite) {
    const w = r.rewrite;
    L.push("## Taps rewrite", "");
    L.push(`\`addAttentionTaps\` on the SmolLM2-shaped \`model.onnx\` (${f(w.srcMB, 0)} MB, one file, ${w.layers} layers tapped) in a fresh Node process per run, median of ${w.runs}; peak RSS is the process's VmHWM (Node + modules alone: ${f(w.baselineMB, 0)} MB). The source file is in the page cache (it was just read by the decode runs).`, "");
    L.push("| Time | Peak RSS |", "|---:|---:|", `| ${f(w.s, 2)} s | ${f(w.peakMB, 0)} MB |`, "");
  }

  L.push("## Peak RSS of a generation run", "");
  L.push(`One process each, ${r.settings.tokens} tokens from the ${r.settings.promptTokens}-token prompt, ${r.settings.threads} threads; VmHWM at exit, median of ${RSS_RUNS} processes (the spread comes mostly from when V8 collects the output copies onnxruntime-node returns each step: for the bare loop and transformers.js the whole KV cache, for entropix the logits and attention row; see README "Long runs").`, "");
  L.push("| Model | Process | Peak RSS | runs |", "|---|---|---:|---:|");
  for (const q of r.rss) L.push(`| ${q.model} | ${q.what} | ${f(q.mb, 0)} MB | ${(q.all ?? [q.mb]).map((v) => f(v, 0)).join(", ")} |`);
  L.push("");

  if (r.longRun?.length) {
    L.push("## Peak RSS over a long run (issue #13, item 14)", "");
    L.push(`\`node scripts/long-run.mjs --tokens ${LONG_TOKENS}\`: one CLI run with \`--ignore-eos\`, one thread, context raised to 4096 in a temporary config; peak RSS (VmHWM) at token ${r.longRun[0].early_tokens} and at the end. The issue's goal is at most ×1.3.`, "");
    L.push("| Model | at token 200 | at the end | ratio | decode tok/s (whole run) |", "|---|---:|---:|---:|---:|");
    for (const q of r.longRun) L.push(`| ${path.basename(q.model)} | ${f(q.peak_rss_mb_at_early, 0)} MB | ${f(q.peak_rss_mb_at_end, 0)} MB (${q.generated_tokens} tokens) | **×${f(q.ratio, 2)}** | ${f(q.decode_tokens_per_s, 0)} |`);
    L.push("");
  }
  if (r.samplerSpeed) L.push("## Entropix vs plain temperature sampling", "", samplerSpeedTable(r.samplerSpeed), "");
  if (r.branchSpeed) L.push("## Branching vs the plain default (issue #16)", "", branchSpeedTable(r.branchSpeed), "");
  L.push("## Cold start to first token", "");
  L.push(`\`bin/entropix generate "Call me Ishmael" -n 1\` spawned from Node; time from spawn to the first byte on stdout (the first token's text), median of ${r.cold.bundled.runs} runs after one run that makes sure the patched copy is cached. Default threads.`, "");
  L.push("| Model | to first token | range | to exit |", "|---|---:|---:|---:|");
  L.push(`| tiny-stdlib-llama (bundled) | **${f(r.cold.bundled.first, 2)} s** | ${f(r.cold.bundled.min, 2)}–${f(r.cold.bundled.max, 2)} s | ${f(r.cold.bundled.exit, 2)} s |`);
  if (r.cold.smollm2) L.push(`| SmolLM2-shaped (\`--model build/bench/smollm2-shaped\`, ${r.cold.smollm2.runs} runs) | ${f(r.cold.smollm2.first, 2)} s | ${f(r.cold.smollm2.min, 2)}–${f(r.cold.smollm2.max, 2)} s | ${f(r.cold.smollm2.exit, 2)} s |`);
  L.push("");

  L.push("## How it is measured", "");
  L.push(
    "- **bare**: `scripts/bench/decode-worker.mjs` opens `onnx/model.onnx` (not patched) with `onnxruntime-node` and runs the minimal greedy loop: feeds `input_ids`, `attention_mask`, `position_ids` and `past_key_values.*` (the previous `present.*` tensors), argmax over the last logits row, nothing else. This is the stack's limit.",
    "- **bare, tapped model**: the same loop on entropix's patched copy, fetching every output (all layers' `attn_scores.*`) or only the logits, the presents and the last layer's scores (what `generate` fetches with the default `attentionLayers: \"last\"`); the difference to **bare** is the taps overhead.",
    "- **entropix**: the library's `generate(model, \"\", { promptIds, sampler, maxTokens, seed: 1, ignoreEos: true })` with `loadModel(dir, { threads })` (taps on), timed at its token events: the loop includes logit + attention metrics, the sampler, streaming detokenization and event objects.",
    "- **transformers.js**: `AutoModelForCausalLM.from_pretrained(dir, { local_files_only: true, dtype: \"fp32\", device: \"cpu\", session_options })` with `env.allowRemoteModels = false`, then `generate({ input_ids, attention_mask, max_new_tokens, do_sample: false, generation_config: { eos_token_id: null } })`, timed with a minimal streamer that only records when each token id arrives (no detokenization, unlike entropix's loop, which streams text).",
    "- All variants of a model live in one process, are warmed up with one short run each, then run in rounds; each round runs every variant once in an order rotated by one per round.",
    "- Each timed run is preceded by a 4-token run of the same variant, and the order of the variants is rotated each round and reversed every other round: on 2 cores the first step after switching to another onnxruntime session is ~25 ms slower (the previous session's worker threads are still spinning), which would otherwise favour variants that share a session with the one before them.",
    "- Every child process runs from a snapshot of `dist/`, `bin/` and these scripts copied to `build/bench/snapshot/` at the start, so a concurrent rebuild of `dist/` cannot change the code under test mid-run.",
    "- The SmolLM2-shaped model is built by `scripts/bench/build-smollm2-shaped.py` (hidden 576, 30 layers, 9 heads, 3 KV heads, head_dim 64, intermediate 1536, vocabulary 49,152, context 2048; untied output projection; random weights, so its logits are near-uniform: a speed test only).",
    "",
  );
  L.push("## Analysis", "", notesBlock(), "");
  return `${L.join("\n")}\n`;
}

function notesBlock() {
  const open = "<!-- notes: hand-written; scripts/bench.mjs keeps this block when it rewrites the file -->";
  const close = "<!-- /notes -->";
  let body = "_No analysis written yet._";
  try {
    const old = readFileSync(OUT, "utf8");
    const a = old.indexOf(open);
    const b = old.indexOf(close);
    if (a >= 0 && b > a) body = old.slice(a + open.length, b).trim();
  } catch {}
  return `${open}\n${body}\n${close}`;
}
