// The markdown table `entropix eval` prints (pure).
import type { Interval } from "./stats.js";
import type { EvalSummary, MetricName, SamplerSummary } from "./summarize.js";

const f = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : "–");
const ci = (i: Interval | undefined | null, d = 3): string => (i ? `${f(i.mean, d)} [${f(i.lo, d)}, ${f(i.hi, d)}]` : "–");
const signed = (i: Interval | undefined | null, d = 3): string => {
  if (!i) return "–";
  const s = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(d)}` : "–");
  return `${s(i.mean)} [${s(i.lo)}, ${s(i.hi)}]`;
};

export function formatMarkdown(s: EvalSummary, o: { judge?: boolean; lexicon?: boolean; partial?: boolean } = {}): string {
  const cols: { head: string; cell: (r: SamplerSummary) => string }[] = [
    { head: "sampler", cell: (r) => `\`${r.label}\`` },
    { head: "distinct-3", cell: (r) => ci(r.metrics.distinct3) },
    { head: "NLL bits/token", cell: (r) => ci(r.metrics.nll) },
    { head: "gap to T frontier", cell: (r) => (r.frontierTemperature !== null ? "(frontier)" : `${signed(r.frontierGap)}${r.extrapolated ? " *" : ""}`) },
    { head: "loop rate", cell: (r) => ci(r.metrics.loop, 2) },
    { head: "rep-4", cell: (r) => ci(r.metrics.repetition4) },
    { head: "distinct-1/2", cell: (r) => `${f(r.metrics.distinct1?.mean ?? NaN, 3)} / ${f(r.metrics.distinct2?.mean ?? NaN, 3)}` },
    { head: "mean H", cell: (r) => f(r.metrics.meanEntropy?.mean ?? NaN, 2) },
  ];
  if (o.lexicon) cols.push({ head: "non-words", cell: (r) => ci(r.metrics.nonWordRate) });
  if (o.judge) cols.push({ head: "judge NLL", cell: (r) => ci(r.metrics.judgeNll) });
  cols.push({ head: "inserted", cell: (r) => f(r.metrics.insertedShare?.mean ?? NaN, 3) });
  cols.push({ head: "tok/s", cell: (r) => f(r.decodeTokensPerS, 0) });
  const lines = [
    `| ${cols.map((c) => c.head).join(" | ")} |`,
    `|${cols.map(() => "---").join("|")}|`,
    ...s.samplers.map((r) => `| ${cols.map((c) => c.cell(r)).join(" | ")} |`),
  ];
  const notes = [
    "",
    `${s.prompts} prompts × ${s.seeds} seeds; means with 95% bootstrap intervals over prompts (${s.resamples} resamples).`,
    "Gap to T frontier: NLL minus the NLL that plain temperature sampling reaches at the same distinct-3 (temperature points joined piecewise-linearly); negative is better." +
      (s.samplers.some((r) => r.extrapolated) ? " * = outside the temperature points' distinct-3 range, extrapolated." : ""),
  ];
  if (s.baseline) {
    notes.push("", `Paired differences against \`${s.baseline}\` (this sampler minus it; 95% intervals):`, "");
    notes.push("| sampler | Δ NLL | Δ distinct-3 | Δ gap to T frontier | Δ loop rate |" + (o.lexicon ? " Δ non-words |" : ""), "|---|---|---|---|---|" + (o.lexicon ? "---|" : ""));
    for (const r of s.samplers) {
      if (r.label === s.baseline) continue;
      const v = r.versusBaseline;
      notes.push(`| \`${r.label}\` | ${signed(v.nll)} | ${signed(v.distinct3)} | ${signed(v.frontierGap)} | ${signed(v.loop, 2)} |` + (o.lexicon ? ` ${signed(v.nonWordRate)} |` : ""));
    }
  }
  if (o.partial) notes.push("", "**Partial**: interrupted before every generation ran; the numbers cover the generations done.");
  return `${[...lines, ...notes].join("\n")}\n`;
}

export type { MetricName };
