#!/usr/bin/env node
// Times addAttentionTaps(src, dst) in a fresh process and reports the process's peak RSS (VmHWM).
//   node scripts/bench/rewrite-worker.mjs SRC.onnx DST.onnx   → one JSON line on stdout
import { readFileSync, rmSync, statSync } from "node:fs";
import { addAttentionTaps } from "../../dist/src/onnx/taps.js";

const hwmMB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
const [src, dst] = process.argv.slice(2);
const baselineMB = hwmMB(); // node + the imported modules, before any work
const t0 = performance.now();
const report = await addAttentionTaps(src, dst);
const ms = performance.now() - t0;
const peakMB = hwmMB();
const out = { ms, peakMB, baselineMB, srcBytes: statSync(src).size, dstBytes: statSync(dst).size, source: report.source, layers: report.layers };
rmSync(dst, { force: true });
process.stdout.write(`${JSON.stringify(out)}\n`);
