// `entropix list` output: an aligned table for people, one JSON object for scripts. Pure functions.
import type { ModelRow } from "./rows.js";

/** 1234567 → "1.2 MB" (decimal units, as file managers and the model cards use). */
export function formatBytes(n: number | null): string {
  if (n === null) return "?";
  if (n < 1e3) return `${n} B`;
  const [div, unit] = n < 1e6 ? [1e3, "kB"] : n < 1e9 ? [1e6, "MB"] : [1e9, "GB"];
  return `${(n / div).toFixed(n / div < 10 ? 1 : 0)} ${unit}`;
}

/** 260032 → "260K", 4737792 → "4.7M", 1.2e9 → "1.2B". */
export function formatCount(n: number | null): string {
  if (n === null) return "?";
  if (n < 1e3) return String(n);
  const [div, unit] = n < 1e6 ? [1e3, "K"] : n < 1e9 ? [1e6, "M"] : [1e9, "B"];
  const v = n / div;
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)}${unit}`;
}

const yesNo = (b: boolean | null): string => (b === null ? "?" : b ? "yes" : "no");

export function renderTable(rows: ModelRow[], notes: string[] = []): string {
  if (rows.length === 0) return ["no models found", ...notes.map((n) => `note: ${n}`)].join("\n") + "\n";
  const header = ["NAME", "SOURCE", "SIZE", "DTYPE", "PARAMS", "CONTEXT", "ATTENTION", "CALIBRATED"];
  const cells = rows.map((r) => [
    r.name + (r.isDefault ? " (default)" : ""),
    r.source,
    formatBytes(r.sizeBytes),
    r.dtype ?? "?",
    formatCount(r.parameters),
    r.contextLength === null ? "?" : String(r.contextLength),
    r.attentionSource ?? "?",
    yesNo(r.calibrated),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((s, i) => (i === c.length - 1 ? s : s.padEnd(widths[i]))).join("  ");
  const out = [line(header), ...cells.map(line)];
  for (const r of rows) if (r.problem) out.push(`note: ${r.name}: ${r.problem}`);
  for (const n of notes) out.push(`note: ${n}`);
  return `${out.join("\n")}\n`;
}

/** Stable snake_case keys, like `inspect --json`. */
export function renderJson(rows: ModelRow[], notes: string[] = []): string {
  const models = rows.map((r) => ({
    name: r.name,
    source: r.source,
    path: r.path,
    default: r.isDefault,
    size_bytes: r.sizeBytes,
    dtype: r.dtype,
    parameters: r.parameters,
    context_length: r.contextLength,
    attention_source: r.attentionSource,
    attention_note: r.attentionNote,
    calibrated: r.calibrated,
    problem: r.problem,
  }));
  return `${JSON.stringify({ models, notes })}\n`;
}
