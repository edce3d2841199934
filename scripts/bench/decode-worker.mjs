#!/usr/bin/env node
// One model, every decoding variant, in one process: loads each variant once, warms each up, then
// runs `reps` rounds; each round runs every variant once, in an order changed per round so slow
// phases of a loaded machine hit all variants alike. Prints one JSON object on stdout.
//
//   node scripts/bench/decode-worker.mjs '{"dir": "...", "tokens": 128, "promptTokens": 32, "reps": 5, "threads": 2}'
//
// Variants (all get the same prompt ids, the same thread settings, never stop at EOS):
//   bare       minimal greedy loop on the raw onnxruntime session of the UNPATCHED onnx/model.onnx
//   bare-taps  the same loop on the attention-tapped copy (fetches every output, all layers' scores)
//   bare-taps-last  the same, fetching only the last layer's scores (what `generate` fetches by default)
//   greedy     entropix `generate` with sampler greedy (library API, taps on)
//   entropix   entropix `generate` with the Entropix sampler (seed 1)
//   entropix-reference, temperature   the same with those samplers (only when asked for in opts.variants)
//   entropix(knob=v;…)  the default with `entropix eval` knobs, e.g. entropix(branch=4;lookahead=4)
//   tjs        @huggingface/transformers AutoModelForCausalLM.generate, do_sample false
// Prefill = prompt tokens / time from the call to the first generated token (prompt ids given,
// tokenization excluded). Decode = (tokens − 1) / time from the first to the last generated token.
import { readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { loadModel, generate } from "../../dist/src/index.js";
import { parseSamplerSpec } from "../../dist/src/eval/sampler-specs.js";
import { addAttentionTaps } from "../../dist/src/onnx/taps.js";
import { AutoModelForCausalLM, Tensor, env } from "@huggingface/transformers";

const opts = JSON.parse(process.argv[2]);
const dir = path.resolve(opts.dir);
const N = opts.tokens;
const THREADS = opts.threads;
const VARIANTS = opts.variants ?? ["bare", "bare-taps", "bare-taps-last", "greedy", "entropix", "tjs"];
const PROMPT_TEXT = opts.promptText;
const SESSION_OPTIONS = {
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  interOpNumThreads: 1,
  intraOpNumThreads: THREADS,
  logSeverityLevel: 3,
};
const now = () => performance.now();
const log = (m) => process.stderr.write(`  [${path.basename(dir)}] ${m}\n`);

/** Counts the time spent inside session.run, so the time outside onnxruntime can be reported. */
function instrument(session) {
  if (!session || session.runMs !== undefined) return;
  const run = session.run.bind(session);
  session.runMs = 0;
  /** [start, end] of every run, so a loop's decode time can be read off its model calls. */
  session.runLog = [];
  session.run = async (...args) => {
    const t = now();
    try {
      return await run(...args);
    } finally {
      const end = now();
      session.runMs += end - t;
      session.runLog.push([t, end]);
    }
  };
}

// ---- models ----
// The entropix model (patched copy, taps on) is loaded only when a variant needs it, so a process
// running only `bare` or only `tjs` shows that stack's own peak RSS; prompt ids may then be given.
const needEntropix = VARIANTS.some((v) => ["bare-taps", "bare-taps-last", "greedy", "entropix", "entropix-reference", "temperature"].includes(v) || v.startsWith("entropix(")) || !opts.promptIds;
const model = needEntropix ? await loadModel(dir, { threads: THREADS, taps: true }) : null;
const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
let promptIds = opts.promptIds ?? model.tokenizer.encode(PROMPT_TEXT);
if (promptIds.length < opts.promptTokens) throw new Error(`prompt has only ${promptIds.length} tokens`);
promptIds = promptIds.slice(0, opts.promptTokens);
const onnxPath = path.join(dir, "onnx", "model.onnx");
const bareSession = VARIANTS.includes("bare") ? await ort.InferenceSession.create(onnxPath, SESSION_OPTIONS) : null;
// The bare loop feeds present.* back, so bare-taps runs a copy with the taps alone: the copy entropix
// runs also moves the cache to new_kv.* outputs (src/model/kv-store.ts), which this loop cannot use.
async function tapsOnlySession() {
  const file = path.join(os.tmpdir(), `entropix-bench-taps-${process.pid}.onnx`);
  try {
    await addAttentionTaps(onnxPath, file);
    return await ort.InferenceSession.create(file, SESSION_OPTIONS);
  } finally {
    rmSync(file, { force: true });
  }
}
const tapsSession = VARIANTS.some((v) => v.startsWith("bare-taps")) ? await tapsOnlySession() : null;

let tjs = null;
if (VARIANTS.includes("tjs")) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = "";
  tjs = await AutoModelForCausalLM.from_pretrained(dir, {
    local_files_only: true,
    dtype: "fp32",
    device: "cpu",
    session_options: { ...SESSION_OPTIONS },
  });
}

// ---- the bare loop ----
function kvShape(session) {
  const kvHeads = cfg.num_key_value_heads ?? cfg.num_attention_heads;
  const headDim = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads;
  const past = session.inputNames.filter((n) => /^past_key_values\.\d+\.(key|value)$/.test(n));
  return { kvHeads, headDim, past, present: past.map((n) => n.replace("past_key_values", "present")) };
}

function argmaxLast(t) {
  const [, S, V] = t.dims;
  const d = t.data;
  const off = (S - 1) * V;
  let best = 0;
  let bv = d[off];
  for (let i = 1; i < V; i++) {
    const v = d[off + i];
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** The bare greedy loop, one token per `next()`: the first call runs the prompt, each later one a step. */
async function* bareTokens(session, n, fetches) {
  const { kvHeads, headDim, past, present } = kvShape(session);
  const run = fetches ? (f) => session.run(f, fetches) : (f) => session.run(f);
  const hasPos = session.inputNames.includes("position_ids");
  const P = promptIds.length;
  const feeds = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(promptIds, BigInt), [1, P]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(P).fill(1n), [1, P]),
  };
  if (hasPos) feeds.position_ids = new ort.Tensor("int64", BigInt64Array.from({ length: P }, (_, i) => BigInt(i)), [1, P]);
  const empty = new Float32Array(0);
  for (const name of past) feeds[name] = new ort.Tensor("float32", empty, [1, kvHeads, 0, headDim]);
  let out = await run(feeds);
  let id = argmaxLast(out.logits);
  yield id;
  for (let total = P + 1, k = 1; k < n; total++, k++) {
    const f = {
      input_ids: new ort.Tensor("int64", BigInt64Array.of(BigInt(id)), [1, 1]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
    };
    if (hasPos) f.position_ids = new ort.Tensor("int64", BigInt64Array.of(BigInt(total - 1)), [1, 1]);
    for (let i = 0; i < past.length; i++) f[past[i]] = out[present[i]];
    out = await run(f);
    id = argmaxLast(out.logits);
    yield id;
  }
}

async function bareLoop(session, n, fetches) {
  const ids = [];
  const t0 = now();
  let tFirst = 0;
  let run0 = 0;
  for await (const id of bareTokens(session, n, fetches)) {
    if (ids.length === 0) {
      tFirst = now();
      run0 = session.runMs;
    }
    ids.push(id);
  }
  const tLast = now();
  return { ids, firstMs: tFirst - t0, decodeMs: tLast - tFirst, runMs: session.runMs - run0 };
}

// ---- entropix ----
async function entropixRun(sampler, n, extra = {}) {
  const ids = [];
  const t0 = now();
  let tFirst = 0;
  let tLast = 0;
  let quadrants = null;
  let run0 = 0;
  const log0 = model.session.runLog.length;
  let run1 = 0;
  for await (const e of generate(model, "", { promptIds, sampler, ...extra, maxTokens: n, seed: 1, ignoreEos: true })) {
    // An inserted clarifying text is not a generated token (it does not count toward maxTokens).
    if (e.type === "token" && !e.inserted) {
      tLast = now();
      run1 = model.session.runMs;
      if (ids.length === 0) {
        tFirst = tLast;
        run0 = run1;
      }
      ids.push(e.id);
    } else if (e.type === "summary") quadrants = e.quadrants;
  }
  // A token whose text is "" (part of a character; random-weight models make many) is yielded
  // together with the next token that has text, so event times can bunch up. The model calls do not:
  // decode = from the end of the prefill run to the end of the last step run (N − 1 runs), as the
  // bare loop's first-to-last-token time covers N − 1 runs.
  const runs = model.session.runLog.slice(log0);
  const decodeMs = runs.length >= 2 ? runs.at(-1)[1] - runs[0][1] : tLast - tFirst;
  const decodeRunMs = runs.slice(1).reduce((a, [b, e]) => a + (e - b), 0);
  return { ids, firstMs: tFirst - t0, decodeMs, runMs: runs.length >= 2 ? decodeRunMs : run1 - run0, quadrants };
}

// ---- transformers.js ----
async function tjsRun(n) {
  const ids = [];
  let tFirst = 0;
  let tLast = 0;
  let calls = 0;
  let run0 = 0;
  let run1 = 0;
  const session = tjs.sessions.model;
  const streamer = {
    put(value) {
      if (calls++ === 0) return; // the prompt
      tLast = now();
      run1 = session.runMs;
      if (ids.length === 0) {
        tFirst = tLast;
        run0 = run1;
      }
      ids.push(Number(value[0][0]));
    },
    end() {},
  };
  const P = promptIds.length;
  const t0 = now();
  await tjs.generate({
    input_ids: new Tensor("int64", BigInt64Array.from(promptIds, BigInt), [1, P]),
    attention_mask: new Tensor("int64", new BigInt64Array(P).fill(1n), [1, P]),
    max_new_tokens: n,
    do_sample: false,
    generation_config: { eos_token_id: null },
    streamer,
  });
  return { ids, firstMs: tFirst - t0, decodeMs: tLast - tFirst, runMs: run1 - run0 };
}

const lastFetches = tapsSession ? tapsSession.outputNames.filter((o) => !o.startsWith("attn_scores.") || o === model.io.scoreOutputs.at(-1)) : null;

instrument(bareSession);
instrument(model?.session);
instrument(tapsSession);
instrument(tjs?.sessions.model);

const runners = {
  bare: (n) => bareLoop(bareSession, n),
  "bare-taps": (n) => bareLoop(tapsSession, n),
  // what `generate` fetches by default (attentionLayers "last"): logits, presents, the last layer's scores
  "bare-taps-last": (n) => bareLoop(tapsSession, n, lastFetches),
  greedy: (n) => entropixRun("greedy", n),
  entropix: (n) => entropixRun("entropix", n),
  "entropix-reference": (n) => entropixRun("entropix-reference", n),
  temperature: (n) => entropixRun("temperature", n),
  tjs: (n) => tjsRun(n),
};
for (const v of VARIANTS.filter((x) => x.startsWith("entropix("))) {
  const { options } = parseSamplerSpec(v);
  runners[v] = (n) => entropixRun(options.sampler, n, options);
}

// ---- facts that make the comparison fair ----
const facts = {
  model: dir,
  layers: cfg.num_hidden_layers,
  vocab: cfg.vocab_size,
  attentionSource: model?.facts.attentionSource ?? null,
  onnxBytes: statSync(onnxPath).size,
  bareOutputs: bareSession?.outputNames.length ?? null,
  tappedOutputs: model?.session.outputNames.length ?? null,
  promptIds,
  promptTokens: promptIds.length,
  tokens: N,
  threads: THREADS,
};
if (tjs) {
  const s = tjs.sessions.model;
  facts.tjs = {
    sessionConfig: s.config, // {dtype, device}: fp32 → onnx/model.onnx, device cpu → onnxruntime-node CPU EP
    sameOnnxruntime: s instanceof ort.InferenceSession,
    outputs: s.outputNames.length,
    scoreOutputs: s.outputNames.filter((o) => o.startsWith("attn_scores")).length,
  };
}

// ---- warm-up, then interleaved rounds ----
// Each timed run is preceded by a 4-token run of the same variant: the first step after switching
// to another onnxruntime session is ~25 ms slower on 2 cores (the previous session's worker threads
// still spin), which would otherwise favour variants that share a session with their predecessor.
const PRE = 4;
for (const v of VARIANTS) await runners[v](Math.min(8, N));
const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
const idsOf = {};
for (let r = 0; r < opts.reps; r++) {
  // rotated, and reversed every other round, so that no variant always follows the same one
  const rotated = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
  const order = r % 2 ? rotated.reverse() : rotated;
  for (const v of order) {
    await runners[v](PRE);
    const res = await runners[v](N);
    if (res.ids.length !== N) throw new Error(`${v}: produced ${res.ids.length} tokens, expected ${N}`);
    runs[v].push({
      prefillTps: (promptIds.length * 1000) / res.firstMs,
      decodeTps: ((N - 1) * 1000) / res.decodeMs,
      decodeMsPerToken: res.decodeMs / (N - 1),
      // per decoded token: time inside session.run, and everything else (feeds, metrics, sampling, events)
      runMsPerToken: res.runMs / (N - 1),
      outsideMsPerToken: (res.decodeMs - res.runMs) / (N - 1),
      firstMs: res.firstMs,
    });
    if (r === 0) idsOf[v] = res.ids;
  }
  log(`round ${r + 1}/${opts.reps}: ${VARIANTS.map((v) => `${v} ${runs[v].at(-1).decodeTps.toFixed(1)}`).join(", ")} tok/s`);
}
// Greedy variants must agree token for token (same graph, same runtime): a sanity check of the setup.
const ref = idsOf.bare ?? idsOf["bare-taps"];
facts.greedyAgreement = Object.fromEntries(
  ["bare-taps", "bare-taps-last", "greedy", "tjs"].filter((v) => idsOf[v] && ref).map((v) => [v, idsOf[v].every((id, i) => id === ref[i])]),
);
const status = readFileSync("/proc/self/status", "utf8");
facts.workerPeakRssMB = Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
process.stdout.write(`${JSON.stringify({ facts, runs })}\n`);
await model?.close();
await bareSession?.release();
process.exit(0);
