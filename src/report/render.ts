// `--report FILE.html`: one self-contained HTML page of a run (or of --compare's runs side by side).
// Pure: events and settings in, a string out. No network: inline CSS, inline SVG, a few lines of
// inline JS for hover highlighting, and a Content-Security-Policy that forbids fetching anything.
//
// Per run: the entropy–varentropy plane (one <circle class="pt"> per generated token, coloured by
// quadrant, threshold lines labelled, the decision regions of §2 shaded), a per-token timeline of
// entropy, varentropy and attention entropy over a quadrant band, the generated text with each
// token coloured by quadrant (hover: its metrics and sampling settings), and the run's summary.
import type { SummaryEvent, TokenEvent } from "../events.js";
import { QUADRANTS, type Quadrant, type SamplerName, type SamplerSettings, type ThresholdProfile } from "../types.js";

/** One generation run as the report shows it. */
export interface ReportRun {
  prompt: string;
  /** Runs with the same promptIndex (e.g. --compare) are shown side by side. */
  promptIndex: number;
  id?: string | number;
  sampler: SamplerName;
  tokens: TokenEvent[];
  /** Null when the run was cut short before its summary (e.g. an error). */
  summary: SummaryEvent | null;
  notices: string[];
}

export interface ReportMeta {
  /** ISO date of the report. */
  created: string;
  version: string;
  model: {
    dir: string;
    architecture: string;
    layers: number;
    heads: number | null;
    vocabSize: number;
    contextLength: number | null;
    onnxFile: string;
    dtype: string;
    attentionSource: string;
    attentionNote: string;
  };
  thresholds: { label: string; path?: string; profile: ThresholdProfile };
  base: SamplerSettings;
  seed: number | null;
  samplers: SamplerName[];
  /** Further settings shown as they are (max tokens, clarify text, attention layers, stop strings…). */
  options?: Record<string, string | number | boolean | null>;
}

/** Marker in every report; the writer overwrites only files that carry it. */
export const REPORT_GENERATOR = "entropix report";

export const QUADRANT_COLORS: Readonly<Record<Quadrant, string>> = Object.freeze({
  confident: "#2e9d4f",
  clarify: "#b03fb5",
  explore: "#c98f00",
  resample: "#d63a3a",
  adaptive: "#1a94b0",
});

const REGION_FILL: Readonly<Record<Quadrant, string>> = Object.freeze({
  confident: "#e3f3e7",
  clarify: "#f5e5f6",
  explore: "#fbf0d2",
  resample: "#fbe2e2",
  adaptive: "#ffffff",
});

/** Escapes text for HTML content and attribute values; control characters become visible escapes. */
export function escapeHtml(s: string): string {
  return s
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  const s = x.toFixed(digits);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** Coordinates with two decimals are plenty and keep the file small. */
function c2(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

/** A "nice" upper bound and tick step for an axis from 0 to max. */
function niceAxis(max: number, ticks = 5): { max: number; step: number } {
  const m = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = m / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  return { max: Math.ceil(m / step - 1e-9) * step, step };
}

function tokenTitle(t: TokenEvent): string {
  const lines = [
    `#${t.index} ${JSON.stringify(t.text)} (id ${t.id}) · ${t.quadrant}`,
    `entropy ${fmt(t.entropy)} bits · varentropy ${fmt(t.varentropy)} bits`,
    t.attn_entropy !== null
      ? `attn entropy ${fmt(t.attn_entropy)} · attn varentropy ${fmt(t.attn_varentropy)} · agreement ${fmt(t.agreement, 4)} · interaction ${fmt(t.interaction_strength)}`
      : "attention metrics unavailable",
    `${t.sampler}: temperature ${fmt(t.temperature)} · top_k ${t.top_k} · top_p ${fmt(t.top_p)} · min_p ${fmt(t.min_p, 4)}`,
    ...(t.lookahead ? ["kept from the winning branch's rollout (lookahead)"] : []),
    ...(t.branch ? branchLines(t.branch) : []),
  ];
  return lines.join("\n");
}

/** A branch point's hover lines: every candidate, its rollout text and its score; the kept one marked. */
function branchLines(b: NonNullable<TokenEvent["branch"]>): string[] {
  return [
    `branch point: ${b.candidates.length} candidates, score ${b.score} (lower wins)`,
    ...b.candidates.map((c, i) => `${i === b.winner ? "▶" : "  "} score ${fmt(c.score)} (nll ${fmt(c.nll)}, entropy ${fmt(c.entropy)} bits) ${JSON.stringify(c.rollout)}`),
  ];
}

/** Stable key linking a token's point, timeline mark and text span (for hover highlighting). */
function key(run: number, i: number): string {
  return `${run}-${i}`;
}

/** Axis ranges shared by the runs of one prompt, so side-by-side plots compare at a glance. */
interface GroupScales {
  /** Upper ends of the entropy and varentropy axes of the plane. */
  hMax: number;
  vMax: number;
  /** Longest run (timeline x range). */
  tokens: number;
  /** Per timeline strip: the largest value. */
  strip: [number, number, number];
}

function maxOf(tokens: readonly TokenEvent[], get: (e: TokenEvent) => number | null): number {
  let m = 0;
  for (const e of tokens) {
    const v = get(e);
    if (v !== null && Number.isFinite(v) && v > m) m = v;
  }
  return m;
}

const STRIP_METRICS: readonly ((e: TokenEvent) => number | null)[] = [(e) => e.entropy, (e) => e.varentropy, (e) => e.attn_entropy];

function groupScales(runs: readonly ReportRun[]): GroupScales {
  const all = runs.flatMap((r) => r.tokens);
  return {
    hMax: maxOf(all, (e) => e.entropy),
    vMax: maxOf(all, (e) => e.varentropy),
    tokens: runs.reduce((m, r) => Math.max(m, r.tokens.length), 0),
    strip: [maxOf(all, STRIP_METRICS[0]), maxOf(all, STRIP_METRICS[1]), maxOf(all, STRIP_METRICS[2])],
  };
}

function scatter(run: ReportRun, runIdx: number, t: ThresholdProfile, scales: GroupScales): string {
  const W = 520;
  const H = 380;
  const L = 52;
  const R = 16;
  const T = 26;
  const B = 44;
  const pw = W - L - R;
  const ph = H - T - B;
  const xa = niceAxis(Math.max(scales.hMax, t.highEntropy, t.mediumEntropy, t.lowEntropy) * 1.05);
  const ya = niceAxis(Math.max(scales.vMax, t.highVarentropy, t.lowVarentropy) * 1.05);
  const x = (h: number) => L + (Math.min(Math.max(h, 0), xa.max) / xa.max) * pw;
  const y = (v: number) => T + ph - (Math.min(Math.max(v, 0), ya.max) / ya.max) * ph;
  const parts: string[] = [];
  parts.push(`<svg class="scatter" viewBox="0 0 ${W} ${H}" role="img" aria-label="entropy–varentropy plane">`);
  // Decision regions (§2, first match wins): paint the later rows first so earlier rows lie on top.
  const rect = (q: Quadrant, h0: number, h1: number, v0: number, v1: number) => {
    const xa0 = x(h0);
    const xa1 = x(h1);
    const y0 = y(v1);
    const y1 = y(v0);
    if (xa1 - xa0 <= 0 || y1 - y0 <= 0) return;
    parts.push(`<rect class="region" x="${c2(xa0)}" y="${c2(y0)}" width="${c2(xa1 - xa0)}" height="${c2(y1 - y0)}" fill="${REGION_FILL[q]}"><title>${q}</title></rect>`);
  };
  rect("adaptive", 0, xa.max, 0, ya.max);
  rect("resample", t.mediumEntropy, xa.max, t.highVarentropy, ya.max);
  rect("explore", 0, t.highEntropy, t.highVarentropy, ya.max);
  rect("clarify", t.highEntropy, xa.max, 0, t.lowVarentropy);
  rect("confident", 0, t.lowEntropy, 0, t.lowVarentropy);
  // Axes and ticks.
  parts.push(`<g class="axis">`);
  for (let v = 0; v <= xa.max + 1e-9; v += xa.step) {
    parts.push(`<line x1="${c2(x(v))}" x2="${c2(x(v))}" y1="${T + ph}" y2="${T + ph + 4}"/><text x="${c2(x(v))}" y="${T + ph + 16}" text-anchor="middle">${fmt(v, 2)}</text>`);
  }
  for (let v = 0; v <= ya.max + 1e-9; v += ya.step) {
    parts.push(`<line x1="${L - 4}" x2="${L}" y1="${c2(y(v))}" y2="${c2(y(v))}"/><text x="${L - 7}" y="${c2(y(v) + 4)}" text-anchor="end">${fmt(v, 2)}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 8}" text-anchor="middle" class="label">entropy H (bits)</text>`);
  parts.push(`<text transform="translate(14 ${T + ph / 2}) rotate(-90)" text-anchor="middle" class="label">varentropy V (bits)</text>`);
  parts.push(`</g>`);
  // Threshold lines, labelled; vertical labels are staggered so close values stay readable.
  parts.push(`<g class="thresholds">`);
  const vlines: [string, number][] = [
    ["low_ent", t.lowEntropy],
    ["med_ent", t.mediumEntropy],
    ["high_ent", t.highEntropy],
  ];
  vlines.forEach(([name, v], i) => {
    const xv = c2(x(v));
    parts.push(`<line class="th" x1="${xv}" x2="${xv}" y1="${T}" y2="${T + ph}"/><text class="th-label" x="${xv}" y="${T - 4 - (i % 2) * 10}" text-anchor="${i === 0 ? "start" : "middle"}">${name} ${fmt(v)}</text>`);
  });
  const hlines: [string, number][] = [
    ["low_vent", t.lowVarentropy],
    ["high_vent", t.highVarentropy],
  ];
  hlines.forEach(([name, v]) => {
    const yv = y(v);
    parts.push(`<line class="th" x1="${L}" x2="${L + pw}" y1="${c2(yv)}" y2="${c2(yv)}"/><text class="th-label" x="${L + pw - 4}" y="${c2(yv - 4)}" text-anchor="end">${name} ${fmt(v)}</text>`);
  });
  parts.push(`</g>`);
  // One point per generated token.
  parts.push(`<g class="points">`);
  for (const e of run.tokens) {
    parts.push(
      `<circle class="pt q-${e.quadrant}" data-k="${key(runIdx, e.index)}" data-quadrant="${e.quadrant}" cx="${c2(x(e.entropy))}" cy="${c2(y(e.varentropy))}" r="3.2"><title>${escapeHtml(tokenTitle(e))}</title></circle>`,
    );
  }
  parts.push(`</g></svg>`);
  return parts.join("");
}

function timeline(run: ReportRun, runIdx: number, t: ThresholdProfile, scales: GroupScales, W: number): string {
  const n = run.tokens.length;
  const span = Math.max(n, scales.tokens);
  const L = 52;
  const R = 12;
  const pw = W - L - R;
  const stripH = 64;
  const gapH = 14;
  const bandH = 14;
  const strips: { name: string; get: (e: TokenEvent) => number | null; lines: [string, number][]; color: string }[] = [
    { name: "entropy", get: STRIP_METRICS[0], lines: [["low_ent", t.lowEntropy], ["med_ent", t.mediumEntropy], ["high_ent", t.highEntropy]], color: "#333" },
    { name: "varentropy", get: STRIP_METRICS[1], lines: [["low_vent", t.lowVarentropy], ["high_vent", t.highVarentropy]], color: "#6a4c93" },
    { name: "attn entropy", get: STRIP_METRICS[2], lines: [], color: "#1f6fb2" },
  ];
  const top = 8;
  const H = top + strips.length * (stripH + gapH) + bandH + 22;
  // Token i is drawn at the middle of its slot; runs of one prompt share the slots.
  const slot = pw / Math.max(1, span);
  const xAt = (i: number) => L + (i + 0.5) * slot;
  const parts: string[] = [`<svg class="timeline" viewBox="0 0 ${W} ${H}" role="img" aria-label="per-token timeline">`];
  strips.forEach((s, si) => {
    const y0 = top + si * (stripH + gapH);
    const vals = run.tokens.map(s.get);
    const finite = vals.filter((v): v is number => v !== null && Number.isFinite(v));
    // The data set the scale; threshold lines above it are left out rather than squashing the curve.
    const ax = niceAxis(Math.max(scales.strip[si], 1e-6) * 1.05, 4);
    const y = (v: number) => y0 + stripH - (Math.min(Math.max(v, 0), ax.max) / ax.max) * stripH;
    parts.push(`<rect x="${L}" y="${y0}" width="${pw}" height="${stripH}" fill="#fafafa" stroke="#ccc"/>`);
    parts.push(`<text class="label" x="${L + 4}" y="${y0 + 11}">${escapeHtml(s.name)} (bits)</text>`);
    parts.push(`<text class="tick" x="${L - 5}" y="${y0 + 9}" text-anchor="end">${fmt(ax.max, 2)}</text><text class="tick" x="${L - 5}" y="${y0 + stripH}" text-anchor="end">0</text>`);
    for (const [name, v] of s.lines) {
      if (v > ax.max) continue;
      parts.push(`<line class="th" x1="${L}" x2="${L + pw}" y1="${c2(y(v))}" y2="${c2(y(v))}"/><text class="th-label" x="${L + pw - 3}" y="${c2(y(v) - y0 < 10 ? y(v) + 9 : y(v) - 2)}" text-anchor="end">${name}</text>`);
    }
    if (finite.length === 0) {
      parts.push(`<text class="label" x="${L + pw / 2}" y="${y0 + stripH / 2 + 4}" text-anchor="middle">unavailable (no attention taps)</text>`);
      return;
    }
    const pts: string[] = [];
    vals.forEach((v, i) => {
      if (v !== null && Number.isFinite(v)) pts.push(`${c2(xAt(i))},${c2(y(v))}`);
    });
    if (pts.length === 1) parts.push(`<circle cx="${pts[0].split(",")[0]}" cy="${pts[0].split(",")[1]}" r="2" fill="${s.color}"></circle>`);
    else parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.3" points="${pts.join(" ")}"/>`);
  });
  const by = top + strips.length * (stripH + gapH);
  parts.push(`<g class="band">`);
  run.tokens.forEach((e, i) => {
    parts.push(`<rect class="mark q-${e.quadrant}" data-k="${key(runIdx, e.index)}" x="${c2(L + i * slot)}" y="${by}" width="${c2(Math.max(slot, 0.5))}" height="${bandH}" fill="${QUADRANT_COLORS[e.quadrant]}"><title>${escapeHtml(tokenTitle(e))}</title></rect>`);
  });
  parts.push(`</g>`);
  parts.push(`<text class="tick" x="${L}" y="${by + bandH + 14}">token 0</text><text class="tick" x="${L + pw}" y="${by + bandH + 14}" text-anchor="end">token ${Math.max(0, span - 1)}</text>`);
  parts.push(`<text class="tick" x="${L - 5}" y="${by + 11}" text-anchor="end">state</text>`);
  parts.push(`</svg>`);
  return parts.join("");
}

function textPanel(run: ReportRun, runIdx: number): string {
  const spans = run.tokens.map(
    (e) => `<span class="tok q-${e.quadrant}${e.branch ? " branch" : ""}${e.lookahead ? " lookahead" : ""}" data-k="${key(runIdx, e.index)}" title="${escapeHtml(tokenTitle(e))}">${escapeHtml(e.text)}</span>`,
  );
  return `<div class="text"><span class="prompt" title="prompt">${escapeHtml(run.prompt)}</span>${spans.join("")}</div>`;
}

function quadrantChips(counts: Record<Quadrant, number>): string {
  return QUADRANTS.map((q) => `<span class="chip"><span class="dot" style="background:${QUADRANT_COLORS[q]}"></span>${q} ${counts[q] ?? 0}</span>`).join(" ");
}

function countQuadrants(tokens: TokenEvent[]): Record<Quadrant, number> {
  const c = Object.fromEntries(QUADRANTS.map((q) => [q, 0])) as Record<Quadrant, number>;
  for (const e of tokens) c[e.quadrant]++;
  return c;
}

function summaryBlock(run: ReportRun): string {
  const s = run.summary;
  const facts: string[] = [`${run.tokens.length} tokens`, `stop: ${s ? s.stop_reason : "unfinished (no summary)"}`];
  if (s) {
    facts.push(
      `mean entropy ${fmt(s.mean_entropy)} bits`,
      `seed ${s.seed}`,
      `prompt ${s.prompt_tokens} tokens`,
      `prefill ${fmt(s.prefill_ms, 1)} ms`,
      `decode ${fmt(s.decode_tokens_per_s, 1)} tok/s`,
      `attention: ${s.attention_source}`,
    );
    if (s.branch) {
      const b = s.branch;
      facts.push(`branching K=${b.k} M=${b.lookahead}${b.commit_rollout ? " (rollouts kept)" : ""}: ${b.points} branch points (underlined; hover for the candidates), ${b.extra_steps} extra steps, winner changed ${b.winner_changed}×`);
    }
    const th = (s as SummaryEvent & { thresholds?: unknown }).thresholds;
    if (typeof th === "string") facts.push(`thresholds: ${th}`);
  }
  const notes = run.notices.map((m) => `<p class="note">note: ${escapeHtml(m)}</p>`).join("");
  // Only the entropix sampler acts on the quadrants; other runs show the states they passed through.
  const label = run.sampler === "entropix" || run.sampler === "entropix-reference" ? "" : `<span class="tick">states seen (not used):</span> `;
  return `<p class="facts">${facts.map(escapeHtml).join(" · ")}</p><p class="chips">${label}${quadrantChips(s ? s.quadrants : countQuadrants(run.tokens))}</p>${notes}`;
}

function firstDivergence(a: ReportRun, b: ReportRun): number | null {
  let i = 0;
  while (i < a.tokens.length && i < b.tokens.length && a.tokens[i].id === b.tokens[i].id) i++;
  return i === a.tokens.length && i === b.tokens.length ? null : i;
}

function settingsTable(meta: ReportMeta): string {
  const m = meta.model;
  const t = meta.thresholds.profile;
  const rows: [string, string][] = [
    ["model", `${m.dir} (${m.architecture}, ${m.layers} layers, ${m.heads ?? "?"} heads, vocab ${m.vocabSize}, context ${m.contextLength ?? "?"})`],
    ["onnx", `${m.onnxFile} (${m.dtype}); attention: ${m.attentionSource}${m.attentionNote ? ` (${m.attentionNote})` : ""}`],
    ["sampler", meta.samplers.join(" vs ")],
    ["seed", meta.seed === null ? "random" : String(meta.seed)],
    [
      "thresholds",
      `${meta.thresholds.label}${meta.thresholds.path ? ` (${meta.thresholds.path})` : ""}: low_ent ${fmt(t.lowEntropy, 4)}, low_vent ${fmt(t.lowVarentropy, 4)}, med_ent ${fmt(t.mediumEntropy, 4)}, high_ent ${fmt(t.highEntropy, 4)}, high_vent ${fmt(t.highVarentropy, 4)} bits`,
    ],
    ["base settings", `temperature ${fmt(meta.base.temperature)}, top_k ${meta.base.topK}, top_p ${fmt(meta.base.topP)}, min_p ${fmt(meta.base.minP, 4)}`],
  ];
  const opts = Object.entries(meta.options ?? {}).map(([k, v]) => `${k} ${v === null ? "—" : typeof v === "string" ? JSON.stringify(v) : String(v)}`);
  if (opts.length > 0) rows.push(["options", opts.join(" · ")]);
  rows.push(["created", `${meta.created} · entropix ${meta.version}`]);
  return `<dl class="kv">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`;
}

function legend(t: ThresholdProfile): string {
  const rows: [Quadrant, string, string][] = [
    ["confident", `H < ${fmt(t.lowEntropy, 4)} and V < ${fmt(t.lowVarentropy, 4)}`, "argmax"],
    ["clarify", `H > ${fmt(t.highEntropy, 4)} and V < ${fmt(t.lowVarentropy, 4)}`, "insert the clarifying text, or sample warmer"],
    ["explore", `H < ${fmt(t.highEntropy, 4)} and V > ${fmt(t.highVarentropy, 4)}`, "higher temperature, wider top-k"],
    ["resample", `H > ${fmt(t.mediumEntropy, 4)} and V > ${fmt(t.highVarentropy, 4)}`, "high temperature, narrower top-p"],
    ["adaptive", "anything else", "settings from the metrics, best of 5"],
  ];
  return `<table class="legend"><tr><th>state</th><th>condition (first match wins)</th><th>action</th></tr>${rows
    .map(([q, cond, act]) => `<tr><td><span class="dot" style="background:${QUADRANT_COLORS[q]}"></span>${q}</td><td>${escapeHtml(cond)}</td><td>${escapeHtml(act)}</td></tr>`)
    .join("")}</table>`;
}

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:16px 22px;color:#222;background:#f4f5f7}
h1{font-size:19px;margin:0 0 10px}h2{font-size:16px;margin:0 0 6px}h3{font-size:13px;margin:10px 0 4px;color:#555;font-weight:600}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 14px;margin-bottom:14px}
.top{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:14px}
.top .card{margin-bottom:0}
.top{margin-bottom:14px}
dl.kv{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:1px 12px;margin:0;font-size:13px}
dl.kv dt{font-weight:600;color:#555}dl.kv dd{margin:0;word-break:break-word}
table.legend{border-collapse:collapse;font-size:13px}table.legend td,table.legend th{padding:1px 10px 1px 0;text-align:left;vertical-align:top}
table.legend td:first-child{white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px;vertical-align:-1px}
.chip{white-space:nowrap;margin-right:8px}
.facts,.chips,.note{margin:2px 0;font-size:13px}.note{color:#8a5a00}
.runs{display:grid;gap:18px}
.run{min-width:0}
.single .body{display:grid;grid-template-columns:minmax(0,540px) minmax(0,1fr);gap:18px;align-items:start}
.pair .scatter{max-width:560px}
svg{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#444}svg .label{font-size:12px;fill:#333}svg .tick{font-size:10px;fill:#666}
.axis line{stroke:#888}
.th{stroke:#555;stroke-dasharray:4 3;stroke-width:1}.th-label{font-size:10px;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px}
.pt{stroke:#fff;stroke-width:.6;fill-opacity:.85}
.q-confident{fill:${QUADRANT_COLORS.confident}}.q-clarify{fill:${QUADRANT_COLORS.clarify}}.q-explore{fill:${QUADRANT_COLORS.explore}}.q-resample{fill:${QUADRANT_COLORS.resample}}.q-adaptive{fill:${QUADRANT_COLORS.adaptive}}
.pt.hl{stroke:#000;stroke-width:2;r:6px;fill-opacity:1}.mark.hl{stroke:#000;stroke-width:1.5}
.text{white-space:pre-wrap;word-break:break-word;font:14px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#fcfcfd;border:1px solid #eee;border-radius:6px;padding:8px 10px;margin:0}
.text .prompt{color:#888;border-bottom:1px dotted #bbb}
.tok{border-radius:3px;cursor:default}
span.q-confident{background:#d8efdf;color:#14532d}span.q-clarify{background:#f1d9f3;color:#5b1a60}span.q-explore{background:#fbeabf;color:#5c4100}span.q-resample{background:#f9d3d3;color:#7a1414}span.q-adaptive{background:#dcf0f5;color:#0b4a5a}
.tok.hl{outline:2px solid #000}
.tok.branch{box-shadow:inset 0 -2px 0 #222}.tok.lookahead{font-style:italic}
.diverge{font-weight:600;margin:0 0 8px}
footer{color:#777;font-size:12px}
`;

const JS = `
document.addEventListener("mouseover",function(e){var k=e.target&&e.target.getAttribute&&e.target.getAttribute("data-k");if(!k)return;document.querySelectorAll('[data-k="'+k+'"]').forEach(function(n){n.classList.add("hl")})});
document.addEventListener("mouseout",function(e){var k=e.target&&e.target.getAttribute&&e.target.getAttribute("data-k");if(!k)return;document.querySelectorAll('[data-k="'+k+'"]').forEach(function(n){n.classList.remove("hl")})});
`;

/** The whole report page for `runs` (grouped by prompt, runs of one prompt side by side). */
export function renderReport(runs: readonly ReportRun[], meta: ReportMeta): string {
  const t = meta.thresholds.profile;
  const groups = new Map<number, { run: ReportRun; idx: number }[]>();
  runs.forEach((run, idx) => {
    const g = groups.get(run.promptIndex) ?? [];
    g.push({ run, idx });
    groups.set(run.promptIndex, g);
  });
  const sections: string[] = [];
  for (const [pi, g] of groups) {
    const head = g[0].run;
    const title = `${groups.size > 1 ? `[${pi}${head.id !== undefined ? ` ${head.id}` : ""}] ` : ""}${head.prompt}`;
    let diverge = "";
    if (g.length === 2) {
      const d = firstDivergence(g[0].run, g[1].run);
      diverge = `<p class="diverge">${escapeHtml(`${g[0].run.sampler} vs ${g[1].run.sampler}: ${d === null ? "identical token sequences" : `first divergence at token ${d}`}`)}</p>`;
    }
    const scales = groupScales(g.map((x) => x.run));
    const pair = g.length > 1;
    const cols = g
      .map(({ run, idx }) => {
        const plane = `<h3>entropy–varentropy plane (${run.tokens.length} tokens)</h3>${scatter(run, idx, t, scales)}`;
        const words = `<h3>text</h3>${textPanel(run, idx)}`;
        const line = `<h3>timeline</h3>${timeline(run, idx, t, scales, pair ? 640 : 1100)}`;
        const body = pair ? `${plane}${line}${words}` : `<div class="body"><div>${plane}</div><div>${words}${line}</div></div>`;
        return `<div class="run" data-run="${idx}" data-sampler="${escapeHtml(run.sampler)}">
<h2>${escapeHtml(run.sampler)}</h2>
${summaryBlock(run)}
${body}
</div>`;
      })
      .join("\n");
    sections.push(`<section class="card prompt-group ${pair ? "pair" : "single"}" data-prompt="${pi}">
<h2>prompt: ${escapeHtml(title.length > 200 ? `${title.slice(0, 197)}...` : title)}</h2>
${diverge}<div class="runs" style="grid-template-columns:repeat(${g.length},minmax(0,1fr))">
${cols}
</div>
</section>`);
  }
  const samplerTitle = meta.samplers.join(" vs ");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="${REPORT_GENERATOR} ${escapeHtml(meta.version)}">
<title>entropix report · ${escapeHtml(samplerTitle)} · ${escapeHtml(meta.created)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>entropix report</h1>
<div class="top">
<div class="card"><h2>settings</h2>${settingsTable(meta)}</div>
<div class="card"><h2>quadrants</h2>${legend(t)}<p class="tick">Hover a token, a point or a timeline mark to see its metrics and sampling settings.</p></div>
</div>
${sections.join("\n")}
<footer>Generated by entropix ${escapeHtml(meta.version)}; self-contained (no network). Entropies in bits, varentropies in bits²; the method is described in docs/method.md of the entropix package.</footer>
<script>${JS}</script>
</body>
</html>
`;
}
