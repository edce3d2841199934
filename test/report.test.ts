// `generate --report FILE.html` (issue 8): one self-contained page per invocation; the scatter has
// exactly one point per generated token; --compare puts both runs side by side; Ctrl-C still writes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI, CLI_KILL_MS, jsonLines, runCli, STORIES, tempDir } from "./helpers.js";
import { escapeHtml, renderReport, type ReportMeta, type ReportRun } from "../src/report/render.js";
import { REFERENCE_PROFILE, BASE_SETTINGS } from "../src/sampler/thresholds.js";
import type { TokenEvent } from "../src/events.js";

const M = ["-m", STORIES];

/** Structural checks every report must pass; returns the page. */
function checkWellFormed(html: string): void {
  assert.ok(html.startsWith("<!DOCTYPE html>\n<html"), "doctype first");
  assert.ok(html.trimEnd().endsWith("</html>"));
  for (const tag of ["html", "head", "body", "svg", "circle", "section", "div", "span", "table", "script", "style", "title", "g", "p", "h2", "h3", "dl"]) {
    const open = (html.match(new RegExp(`<${tag}[\\s>]`, "g")) ?? []).length;
    const close = (html.match(new RegExp(`</${tag}>`, "g")) ?? []).length;
    assert.equal(open, close, `<${tag}> opened ${open} times, closed ${close} times`);
  }
  // Self-contained: nothing to fetch.
  assert.doesNotMatch(html, /https?:\/\//, "no URLs");
  assert.doesNotMatch(html, /\s(src|href)\s*=/i, "no src/href attributes");
  assert.doesNotMatch(html, /url\(|@import/i, "no CSS fetches");
  assert.equal((html.match(/<script>/g) ?? []).length, 1, "only the inline hover script");
}

function points(html: string): { quadrant: string; k: string }[] {
  return [...html.matchAll(/<circle class="pt q-(\w+)" data-k="([\d-]+)"/g)].map((m) => ({ quadrant: m[1], k: m[2] }));
}

test("--report writes a well-formed page with one scatter point and one text span per token", async () => {
  const file = path.join(tempDir(), "run.html");
  const r = await runCli(["generate", ...M, "Once upon a time", "--json", "-n", "30", "--seed", "5", "--ignore-eos", "--report", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`report: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n`));
  const tokens = jsonLines(r.stdout).filter((l) => l.type === "token");
  assert.equal(tokens.length, 30);
  const html = readFileSync(file, "utf8");
  checkWellFormed(html);
  const pts = points(html);
  assert.equal(pts.length, tokens.length, "one point per generated token");
  assert.deepEqual(pts.map((p) => p.quadrant), tokens.map((t) => t.quadrant), "points in token order, coloured by quadrant");
  assert.equal((html.match(/<span class="tok q-/g) ?? []).length, tokens.length);
  assert.equal((html.match(/<rect class="mark q-/g) ?? []).length, tokens.length, "one timeline mark per token");
  // Threshold lines are drawn and labelled; the settings are shown.
  for (const label of ["low_ent 0.1", "med_ent 3", "high_ent 5", "low_vent 0.1", "high_vent 5"]) assert.ok(html.includes(`>${label}</text>`), label);
  assert.match(html, /thresholds<\/dt><dd>reference: low_ent 0\.1/);
  assert.match(html, /seed<\/dt><dd>5</);
  assert.match(html, /stories260k/);
  assert.equal((html.match(/class="run"/g) ?? []).length, 1);
});

test("--report with --compare shows both runs side by side", async () => {
  const file = path.join(tempDir(), "cmp.html");
  const r = await runCli(["generate", ...M, "Tom had a", "--json", "-n", "20", "--seed", "9", "--ignore-eos", "--compare", "greedy", "--report", file]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const html = readFileSync(file, "utf8");
  checkWellFormed(html);
  const runs = [...html.matchAll(/<div class="run" data-run="(\d)" data-sampler="(\w+)">/g)].map((m) => m[2]);
  assert.deepEqual(runs, ["entropix", "greedy"]);
  assert.match(html, /<div class="runs" style="grid-template-columns:repeat\(2,/);
  const pts = points(html);
  assert.equal(pts.length, 40);
  assert.equal(pts.filter((p) => p.k.startsWith("0-")).length, 20);
  assert.equal(pts.filter((p) => p.k.startsWith("1-")).length, 20);
  const cmp = lines.find((l) => l.type === "comparison")!;
  const diverge = cmp.first_divergence === null ? "identical token sequences" : `first divergence at token ${cmp.first_divergence}`;
  assert.ok(html.includes(`entropix vs greedy: ${diverge}`));
});

test("renderReport escapes every piece of text", () => {
  const evil = `</span><script>alert("x")</script>&amp;'`;
  const token: TokenEvent = {
    type: "token", index: 0, id: 7, text: evil, quadrant: "explore", entropy: 1, varentropy: 6,
    attn_entropy: null, attn_varentropy: null, agreement: null, interaction_strength: null,
    temperature: 0.8, top_k: 27, top_p: 0.9, min_p: 0.03, sampler: "entropix",
  };
  const run: ReportRun = { prompt: `<b>"hi"</b>`, promptIndex: 0, sampler: "entropix", tokens: [token], summary: null, notices: ["<i>note</i>"] };
  const meta: ReportMeta = {
    created: "2026-01-01T00:00:00Z", version: "0.0.0",
    model: { dir: "/m/<x>", architecture: "Llama", layers: 1, heads: 1, vocabSize: 10, contextLength: 8, onnxFile: "onnx/model.onnx", dtype: "fp32", attentionSource: "none", attentionNote: "" },
    thresholds: { label: "<file>.json", profile: REFERENCE_PROFILE }, base: BASE_SETTINGS, seed: 1, samplers: ["entropix"],
    options: { stop: `["</html>"]` },
  };
  const html = renderReport([run], meta);
  checkWellFormed(html);
  assert.ok(!html.includes("<script>alert"), "token text cannot inject markup");
  assert.ok(!html.includes("<b>") && !html.includes("<i>note"));
  assert.ok(html.includes(escapeHtml(evil)));
  assert.ok(html.includes("&lt;file&gt;.json"));
  assert.equal(escapeHtml(`a<b>&"'\u0001`), "a&lt;b&gt;&amp;&quot;&#39;\\x01");
  assert.equal(points(html).length, 1);
  assert.match(html, /unavailable \(no attention taps\)/);
});

test("--report: a missing folder, a folder, or a file that is not a report is a usage error before the run", async () => {
  const dir = tempDir();
  const noFolder = await runCli(["generate", ...M, "hi", "-n", "2", "--report", path.join(dir, "nope", "r.html")]);
  assert.equal(noFolder.code, 2);
  assert.match(noFolder.stderr, /^entropix: --report .*r\.html: folder .*nope does not exist\n$/);
  mkdirSync(path.join(dir, "d.html"));
  const isDir = await runCli(["generate", ...M, "hi", "-n", "2", "--report", path.join(dir, "d.html")]);
  assert.equal(isDir.code, 2);
  assert.match(isDir.stderr, /is a folder/);
  const other = path.join(dir, "notes.html");
  writeFileSync(other, "<p>my notes</p>");
  const clobber = await runCli(["generate", ...M, "hi", "-n", "2", "--report", other]);
  assert.equal(clobber.code, 2);
  assert.match(clobber.stderr, /exists and is not an entropix report/);
  assert.equal(readFileSync(other, "utf8"), "<p>my notes</p>");
  // An earlier report is replaced.
  const rep = path.join(dir, "r.html");
  assert.equal((await runCli(["generate", ...M, "hi", "-n", "3", "--report", rep])).code, 0);
  assert.equal((await runCli(["generate", ...M, "hi", "-n", "5", "--report", rep, "--ignore-eos"])).code, 0);
  assert.equal(points(readFileSync(rep, "utf8")).length, 5);
});

test("Ctrl-C writes the report with the events so far", async () => {
  const dir = tempDir();
  const prompts = path.join(dir, "prompts.txt");
  writeFileSync(prompts, Array.from({ length: 40 }, (_, i) => `Once upon a time ${i}`).join("\n"));
  const file = path.join(dir, "int.html");
  const child = spawn(process.execPath, [CLI, "generate", ...M, "--file", prompts, "-n", "400", "--ignore-eos", "--json", "--seed", "1", "--report", file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let sent = false;
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    stdout += d;
    if (!sent && stdout.includes('"type":"token"')) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  const kill = setTimeout(() => child.kill("SIGKILL"), CLI_KILL_MS);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(kill);
  assert.equal(code, 130, stderr);
  assert.ok(existsSync(file), stderr);
  const lines = jsonLines(stdout);
  const tokens = lines.filter((l) => l.type === "token");
  const summaries = lines.filter((l) => l.type === "summary");
  assert.ok(summaries.length < 40, "interrupted before the batch ended");
  assert.equal(summaries.at(-1)!.stop_reason, "interrupted");
  const html = readFileSync(file, "utf8");
  checkWellFormed(html);
  assert.equal(points(html).length, tokens.length, "every token printed is in the report");
  assert.match(html, /stop: interrupted/);
});

/** Inverse of escapeHtml for the characters it replaces (entities last: &amp; first would double-decode). */
function unescapeHtml(s: string): string {
  return s
    .replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

test("report contents: each token's embedded data is its --json event; the threshold lines are the profile used", async () => {
  const dir = tempDir();
  // Not the reference numbers, so a report that drew the reference profile would fail.
  const profile = { low_ent: 0.35, low_vent: 1.7, med_ent: 1.9, high_ent: 2.6, high_vent: 3.4 };
  const thresholds = path.join(dir, "profile.json");
  writeFileSync(thresholds, JSON.stringify(profile));
  const file = path.join(dir, "contents.html");
  const r = await runCli(["generate", ...M, "Once upon a time", "--json", "-n", "40", "--seed", "6", "--ignore-eos", "--thresholds", thresholds, "--report", file]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const tokens = lines.filter((l) => l.type === "token");
  const summary = lines.at(-1)!;
  assert.equal(tokens.length, 40);
  const html = readFileSync(file, "utf8");
  checkWellFormed(html);

  // Scatter points: one per event, in order, with the event's numbers in the tooltip.
  const pts = [...html.matchAll(/<circle class="pt q-(\w+)" data-k="0-(\d+)" data-quadrant="(\w+)" cx="([\d.]+)" cy="([\d.]+)" r="3.2"><title>([^<]*)<\/title>/g)];
  assert.equal(pts.length, tokens.length);
  const near = (text: string, want: unknown, digits: number, what: string) =>
    assert.ok(Math.abs(Number(text) - (want as number)) <= 0.5 * 10 ** -digits + 1e-12, `${what}: ${text} vs ${want}`);
  pts.forEach((p, i) => {
    const t = tokens[i];
    assert.deepEqual([p[1], Number(p[2]), p[3]], [t.quadrant, t.index, t.quadrant], `point ${i}`);
    const title = unescapeHtml(p[6]).split("\n");
    assert.equal(title[0], `#${t.index} ${JSON.stringify(t.text)} (id ${t.id}) · ${t.quadrant}`);
    const m = /^entropy ([\d.]+) bits · varentropy ([\d.]+) bits$/.exec(title[1]);
    assert.ok(m, title[1]);
    near(m[1], t.entropy, 3, `entropy ${i}`);
    near(m[2], t.varentropy, 3, `varentropy ${i}`);
    const a = /^attn entropy ([\d.]+) · attn varentropy ([\d.]+) · agreement ([\d.]+) · interaction ([\d.]+)$/.exec(title[2]);
    assert.ok(a, title[2]);
    near(a[1], t.attn_entropy, 3, `attn_entropy ${i}`);
    near(a[2], t.attn_varentropy, 3, `attn_varentropy ${i}`);
    near(a[3], t.agreement, 4, `agreement ${i}`);
    near(a[4], t.interaction_strength, 3, `interaction ${i}`);
    const s = /^(\w+): temperature ([\d.]+) · top_k (\d+) · top_p ([\d.]+) · min_p ([\d.]+)$/.exec(title[3]);
    assert.ok(s, title[3]);
    assert.equal(s[1], t.sampler);
    near(s[2], t.temperature, 3, `temperature ${i}`);
    assert.equal(Number(s[3]), t.top_k);
    near(s[4], t.top_p, 3, `top_p ${i}`);
    near(s[5], t.min_p, 4, `min_p ${i}`);
  });
  // Text spans: the events' text, in order; together the summary's text.
  const spans = [...html.matchAll(/<span class="tok q-(\w+)" data-k="0-(\d+)" title="[^"]*">([^<]*)<\/span>/g)];
  assert.deepEqual(spans.map((s) => unescapeHtml(s[3])), tokens.map((t) => t.text));
  assert.equal(spans.map((s) => unescapeHtml(s[3])).join(""), summary.text);

  // Geometry: points sit at (H, V) on linear axes, and the threshold lines on the same axes at the
  // profile's values. Fit each axis on two points, then check every point and every line.
  const axis = (values: number[], coords: number[]) => {
    const i = values.indexOf(Math.min(...values));
    const j = values.indexOf(Math.max(...values));
    const scale = (coords[j] - coords[i]) / (values[j] - values[i]);
    return (v: number) => coords[i] + (v - values[i]) * scale;
  };
  const x = axis(tokens.map((t) => t.entropy as number), pts.map((p) => Number(p[4])));
  const y = axis(tokens.map((t) => t.varentropy as number), pts.map((p) => Number(p[5])));
  pts.forEach((p, i) => {
    assert.ok(Math.abs(Number(p[4]) - x(tokens[i].entropy as number)) < 0.05, `point ${i} x`);
    assert.ok(Math.abs(Number(p[5]) - y(tokens[i].varentropy as number)) < 0.05, `point ${i} y`);
  });
  const scatter = html.slice(html.indexOf('<svg class="scatter"'), html.indexOf("</svg>", html.indexOf('<svg class="scatter"')));
  const drawn = new Map([...scatter.matchAll(/<line class="th" x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="([\d.]+)"\/><text class="th-label"[^>]*>(\w+) ([\d.]+)<\/text>/g)].map((m) => [m[5], m]));
  assert.deepEqual([...drawn.keys()].sort(), Object.keys(profile).sort());
  for (const [name, value] of Object.entries(profile)) {
    const m = drawn.get(name)!;
    assert.equal(Number(m[6]), value, `${name} label`);
    if (name.endsWith("_ent")) assert.ok(Math.abs(Number(m[1]) - x(value)) < 0.05, `${name} line at x ${m[1]}, expected ${x(value)}`);
    else assert.ok(Math.abs(Number(m[3]) - y(value)) < 0.05, `${name} line at y ${m[3]}, expected ${y(value)}`);
  }
  // The settings block names the file and its numbers.
  assert.ok(html.includes(`thresholds</dt><dd>${escapeHtml(thresholds)}: low_ent 0.35, low_vent 1.7, med_ent 1.9, high_ent 2.6, high_vent 3.4 bits`), "thresholds line");
  // And the quadrants it shows are the profile's, which are not the reference's here.
  assert.ok(tokens.some((t) => t.quadrant === "resample" || t.quadrant === "clarify"), "the custom profile reaches rows the reference does not on this run");
});
