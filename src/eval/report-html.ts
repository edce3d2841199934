// `entropix eval --report FILE.html`: the frontier plot (distinct-3 vs NLL) with every sampler as a
// point with 95% whiskers, and the table. Self-contained (inline SVG, no scripts). Pure.
import type { EvalSummary } from "./summarize.js";
import { REPORT_GENERATOR } from "../report/render.js";

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function renderEvalReport(s: EvalSummary, o: { title: string; markdownTable: string }): string {
  const pts = s.samplers.filter((r) => r.metrics.distinct3 && r.metrics.nll);
  const xs = pts.flatMap((r) => [r.metrics.distinct3!.lo, r.metrics.distinct3!.hi]).filter(Number.isFinite);
  const ys = pts.flatMap((r) => [r.metrics.nll!.lo, r.metrics.nll!.hi]).filter(Number.isFinite);
  const W = 760;
  const H = 480;
  const m = { l: 64, r: 24, t: 20, b: 48 };
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const padX = (x1 - x0) * 0.05 || 0.01;
  const padY = (y1 - y0) * 0.05 || 0.05;
  const sx = (x: number) => m.l + ((x - (x0 - padX)) / (x1 - x0 + 2 * padX)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - (y0 - padY)) / (y1 - y0 + 2 * padY)) * (H - m.t - m.b);
  const frontier = s.frontier.map((p) => `${sx(p.distinct3).toFixed(1)},${sy(p.nll).toFixed(1)}`).join(" ");
  const marks = pts
    .map((r) => {
      const d = r.metrics.distinct3!;
      const n = r.metrics.nll!;
      const isT = r.frontierTemperature !== null;
      const color = r.label.startsWith("entropix-reference") ? "#c0392b" : r.label.startsWith("entropix") ? "#16a085" : isT ? "#555" : "#2c6fbb";
      const gap = r.frontierGap ? ` · gap ${r.frontierGap.mean.toFixed(3)} [${r.frontierGap.lo.toFixed(3)}, ${r.frontierGap.hi.toFixed(3)}]` : "";
      return `<g><title>${esc(r.label)}: distinct-3 ${d.mean.toFixed(3)} [${d.lo.toFixed(3)}, ${d.hi.toFixed(3)}], NLL ${n.mean.toFixed(3)} [${n.lo.toFixed(3)}, ${n.hi.toFixed(3)}]${gap}</title>
<line x1="${sx(d.lo).toFixed(1)}" x2="${sx(d.hi).toFixed(1)}" y1="${sy(n.mean).toFixed(1)}" y2="${sy(n.mean).toFixed(1)}" stroke="${color}"/>
<line x1="${sx(d.mean).toFixed(1)}" x2="${sx(d.mean).toFixed(1)}" y1="${sy(n.lo).toFixed(1)}" y2="${sy(n.hi).toFixed(1)}" stroke="${color}"/>
<circle cx="${sx(d.mean).toFixed(1)}" cy="${sy(n.mean).toFixed(1)}" r="4" fill="${color}"/>
<text x="${(sx(d.mean) + 6).toFixed(1)}" y="${(sy(n.mean) - 6).toFixed(1)}" font-size="11" fill="${color}">${esc(r.label)}</text></g>`;
    })
    .join("\n");
  const ticks = (lo: number, hi: number, n: number) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const axis = [
    ...ticks(x0, x1, 5).map((x) => `<text x="${sx(x).toFixed(1)}" y="${H - m.b + 16}" font-size="11" text-anchor="middle">${x.toFixed(3)}</text>`),
    ...ticks(y0, y1, 5).map((y) => `<text x="${m.l - 6}" y="${(sy(y) + 4).toFixed(1)}" font-size="11" text-anchor="end">${y.toFixed(2)}</text>`),
    `<text x="${(W / 2).toFixed(0)}" y="${H - 8}" font-size="12" text-anchor="middle">distinct-3 (higher = more diverse)</text>`,
    `<text x="14" y="${(H / 2).toFixed(0)}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(H / 2).toFixed(0)})">NLL, bits/token (lower = more probable)</text>`,
  ].join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="${REPORT_GENERATOR} (eval)"><title>${esc(o.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px}pre{white-space:pre-wrap;font-size:12px}</style></head>
<body><h1>${esc(o.title)}</h1>
<p>Each point is a sampler: mean distinct-3 and NLL over ${s.prompts} prompts × ${s.seeds} seeds, with 95% bootstrap whiskers. The grey line is the temperature frontier; points below it reach the same diversity with less NLL. Hover a point for its numbers.</p>
<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="frontier plot">
<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#ccc"/>
<polyline points="${frontier}" fill="none" stroke="#999" stroke-width="2" stroke-dasharray="6 4"/>
${marks}
${axis}
</svg>
<h2>Table</h2><pre>${esc(o.markdownTable)}</pre>
</body></html>
`;
}
