// Issue 17 item 9: the model flags that pick and run the file: --dtype (each variant name loads its
// own file), a successful --onnx-file, and --threads (onnxruntime really gets that many threads).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI, CLI_KILL_MS, jsonLines, runCli, STORIES, tempDir } from "./helpers.js";
import { tinyDecoder, type TinyDecoderOptions } from "./onnx-build.js";

const root = tempDir("entropix-flags-");
test.after(() => rmSync(root, { recursive: true, force: true }));

/**
 * One folder, five decoders with the same shape and the stories tokenizer: the fp32 model.onnx, the
 * variants --dtype picks by name, and other.onnx. Different weights or precisions give different
 * entropies, which tell the runs apart.
 */
function variantsFolder(): string {
  const dir = path.join(root, "variants");
  mkdirSync(path.join(dir, "onnx"), { recursive: true });
  const files: [string, TinyDecoderOptions][] = [
    ["model.onnx", { seed: 1 }],
    ["model_fp16.onnx", { seed: 1, cache: "float16", logits: "float16" }],
    ["model_quantized.onnx", { seed: 1, quantized: true }],
    ["model_int8.onnx", { seed: 3 }],
    ["other.onnx", { seed: 2 }],
  ];
  for (const [file, opts] of files) {
    const m = tinyDecoder(opts);
    writeFileSync(path.join(dir, "onnx", file), m.onnx);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(m.config));
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(STORIES, f), path.join(dir, f));
  return dir;
}

test("--dtype loads model_<dtype>.onnx and --onnx-file the named file; each run is that file's", async () => {
  const dir = variantsFolder();
  const run = async (extra: string[]) => {
    const r = await runCli(["generate", "-m", dir, "Once upon a time", "--sampler", "greedy", "-n", "4", "--ignore-eos", "--json", "--verbose", ...extra]);
    assert.equal(r.code, 0, `${extra.join(" ")}: ${r.stderr}`);
    const onnx = /^onnx: (\S+) \((\w+)\)/m.exec(r.stderr);
    assert.ok(onnx, r.stderr);
    const entropies = jsonLines(r.stdout).filter((l) => l.type === "token").map((t) => t.entropy as number);
    assert.equal(entropies.length, 4);
    return { file: onnx[1], dtype: onnx[2], entropies };
  };
  const plain = await run([]);
  const runs = {
    fp32: await run(["--dtype", "fp32"]),
    fp16: await run(["--dtype", "fp16"]),
    q8: await run(["--dtype", "q8"]),
    int8: await run(["--dtype", "int8"]),
    other: await run(["--onnx-file", "other.onnx"]),
    otherPath: await run(["--onnx-file", path.join(dir, "onnx", "other.onnx")]),
  };
  assert.deepEqual([plain.file, plain.dtype], [path.join("onnx", "model.onnx"), "fp32"]);
  assert.deepEqual([runs.fp32.file, runs.fp32.dtype], [path.join("onnx", "model.onnx"), "fp32"]);
  assert.deepEqual([runs.fp16.file, runs.fp16.dtype], [path.join("onnx", "model_fp16.onnx"), "fp16"]);
  assert.deepEqual([runs.q8.file, runs.q8.dtype], [path.join("onnx", "model_quantized.onnx"), "q8"]);
  assert.deepEqual([runs.int8.file, runs.int8.dtype], [path.join("onnx", "model_int8.onnx"), "int8"]);
  assert.equal(runs.other.file, path.join("onnx", "other.onnx"));
  assert.equal(runs.otherPath.file, path.join("onnx", "other.onnx"));
  // The numbers come from the file named: fp32 twice is identical, every other file differs from it.
  assert.deepEqual(runs.fp32.entropies, plain.entropies);
  assert.deepEqual(runs.otherPath.entropies, runs.other.entropies);
  for (const k of ["fp16", "q8", "int8", "other"] as const) assert.notDeepEqual(runs[k].entropies, plain.entropies, k);
  // fp16 and int8 quantization of the same weights stay close to fp32; other weights do not.
  for (const k of ["fp16", "q8"] as const) runs[k].entropies.forEach((h, i) => assert.ok(Math.abs(h - plain.entropies[i]) < 0.05, `${k} token ${i}: ${h} vs ${plain.entropies[i]}`));
  // A dtype without its file names what the folder has.
  const missing = await runCli(["generate", "-m", dir, "hi", "--dtype", "q4", "-n", "2"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^entropix: .*no model_q4\.onnx for --dtype q4; available: .*model_fp16\.onnx/);
  assert.ok(readdirSync(path.join(dir, "onnx")).every((f) => !f.endsWith(".tmp")));
});

/** Threads of a running `generate --threads n`, counted from /proc once it has printed a token. */
async function threadsWhileGenerating(n: number): Promise<number> {
  const child = spawn(process.execPath, [CLI, "generate", "-m", STORIES, "Tom", "-n", "100000", "--ignore-eos", "--json", "--no-taps", "--threads", String(n)], { stdio: ["ignore", "pipe", "pipe"] });
  const kill = setTimeout(() => child.kill("SIGKILL"), CLI_KILL_MS);
  let out = "";
  let err = "";
  let count = -1;
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    out += d;
    if (count < 0 && out.includes('"type":"token"')) {
      count = readdirSync(`/proc/${child.pid}/task`).length;
      child.kill("SIGINT");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(kill);
  assert.equal(code, 130, err);
  assert.ok(count > 0, err);
  return count;
}

test("--threads n gives onnxruntime n intra-op threads (n − 1 workers beside the caller)", { skip: process.platform !== "linux" && "counts threads in /proc" }, async () => {
  const one = await threadsWhileGenerating(1);
  const five = await threadsWhileGenerating(5);
  // 4 more; ±1 leaves room for a helper thread of Node's that starts on its own schedule.
  assert.ok(Math.abs(five - one - 4) <= 1, `threads with --threads 1: ${one}, with --threads 5: ${five}`);
});
