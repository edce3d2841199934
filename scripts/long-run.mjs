#!/usr/bin/env node
// Long-run check (issue 9; not part of `npm test`): one 2,000-token generation with --ignore-eos,
// peak RSS sampled at 200 tokens and at the end; fails when the end/200 ratio exceeds 1.5.
//
//   npm run build && node scripts/long-run.mjs [--model DIR] [--tokens 2000] [--max-ratio 1.5] [--sampler entropix]
//
// The generation runs in a child process (the real CLI, `--json`); this script reads its token lines
// and samples the child's /proc/<pid>/status: VmHWM (peak resident set) and VmRSS.
//
// Context: the bundled models/tiny-stdlib-llama and stories260k both declare a 512-token context.
// Their graphs compute rotary positions from position_ids (no 512-row table), so they run past it; the
// script then runs a temporary copy of the folder whose config.json says 4096 (every other file is a
// symlink to the original). Text beyond the trained length is poor; memory and speed are what is
// measured. --no-extend runs the folder as is and measures the longest run its context allows.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const modelDir = path.resolve(opt("--model", path.join(root, "models", "tiny-stdlib-llama")));
const tokens = Number(opt("--tokens", "2000"));
const early = Number(opt("--early", "200"));
const maxRatio = Number(opt("--max-ratio", "1.5"));
const sampler = opt("--sampler", "entropix");
const prompt = opt("--prompt", "Once upon a time");
const extend = !args.includes("--no-extend");

const config = JSON.parse(readFileSync(path.join(modelDir, "config.json"), "utf8"));
const declared = config.max_position_embeddings ?? null;
let runDir = modelDir;
let tmp = null;
let note = `context ${declared ?? "unknown"} (config.json)`;
let want = tokens;
if (declared !== null && declared < tokens + 64) {
  if (extend) {
    tmp = mkdtempSync(path.join(os.tmpdir(), "entropix-long-"));
    for (const f of readdirSync(modelDir)) if (f !== "config.json") symlinkSync(path.join(modelDir, f), path.join(tmp, f));
    const ctx = 2 ** Math.ceil(Math.log2(tokens + 64));
    writeFileSync(path.join(tmp, "config.json"), JSON.stringify({ ...config, max_position_embeddings: ctx }));
    runDir = tmp;
    note = `context raised from ${declared} to ${ctx} in a temporary copy of config.json (rotary positions are computed, so the graph runs past its trained length)`;
  } else {
    note = `context ${declared}: the run stops at stop_reason context_full`;
  }
}

function status(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
    return { hwm: kb("VmHWM") / 1024, rss: kb("VmRSS") / 1024 };
  } catch {
    return null;
  }
}

const cli = path.join(root, "bin", "entropix");
const child = spawn(process.execPath, [cli, "generate", "-m", runDir, prompt, "-n", String(want), "--ignore-eos", "--json", "--sampler", sampler, "--seed", "1", "--threads", "1"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let count = 0;
let buf = "";
let atEarly = null;
let last = null;
let summary = null;
let stderr = "";
const t0 = performance.now();
let tEarly = 0;
child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
child.stdout.setEncoding("utf8").on("data", (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const j = JSON.parse(line);
    if (j.type === "token") {
      count++;
      const s = status(child.pid);
      if (s) last = s;
      if (count === early) {
        atEarly = s;
        tEarly = performance.now();
      }
    } else if (j.type === "summary") {
      summary = j;
      // The summary comes last: the child is still alive, so this is the peak over the whole run.
      const s = status(child.pid);
      if (s) last = s;
    }
  }
});
const code = await new Promise((resolve) => child.on("close", resolve));
if (tmp) rmSync(tmp, { recursive: true, force: true });
if (code !== 0 || !summary || !atEarly || !last) {
  process.stderr.write(`long-run: generation failed (exit ${code}, ${count} tokens)\n${stderr}`);
  process.exit(1);
}
const ratio = last.hwm / atEarly.hwm;
const lateRate = ((count - early) * 1000) / (performance.now() - tEarly);
const report = {
  model: path.relative(root, modelDir) || modelDir,
  note,
  prompt_tokens: summary.prompt_tokens,
  generated_tokens: summary.generated_tokens,
  stop_reason: summary.stop_reason,
  peak_rss_mb_at_early: Number(atEarly.hwm.toFixed(1)),
  peak_rss_mb_at_end: Number(last.hwm.toFixed(1)),
  early_tokens: early,
  ratio: Number(ratio.toFixed(3)),
  max_ratio: maxRatio,
  decode_tokens_per_s: summary.decode_tokens_per_s,
  tokens_per_s_after_early: Number(lateRate.toFixed(1)),
  wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  attention_source: summary.attention_source,
};
console.log(JSON.stringify(report, null, 2));
if (summary.generated_tokens < want && summary.stop_reason !== "context_full") {
  console.error(`long-run: FAIL: only ${summary.generated_tokens} of ${want} tokens (${summary.stop_reason})`);
  process.exit(1);
}
if (ratio > maxRatio) {
  console.error(`long-run: FAIL: peak RSS grew ${ratio.toFixed(2)}× between token ${early} and token ${count} (limit ${maxRatio}×)`);
  process.exit(1);
}
console.error(`long-run: ok: peak RSS ${atEarly.hwm.toFixed(1)} MB at token ${early}, ${last.hwm.toFixed(1)} MB at token ${count} (×${ratio.toFixed(2)} ≤ ${maxRatio})`);
