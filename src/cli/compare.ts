// --compare: two runs on the same prompt, seed and session, and where their token streams part ways.
import type { SummaryEvent } from "../events.js";
import type { SamplerName } from "../types.js";
import { formatQuadrants } from "./render.js";

export interface RunRecord {
  sampler: SamplerName;
  ids: number[];
  summary: SummaryEvent | null;
}

function runStats(r: RunRecord) {
  const s = r.summary!;
  return {
    sampler: r.sampler,
    tokens: s.generated_tokens,
    decode_tokens_per_s: s.decode_tokens_per_s,
    quadrants: s.quadrants,
    mean_entropy: s.mean_entropy,
    text: s.text,
  };
}

/** The `{"type":"comparison"}` record: where two runs on the same prompt and seed part ways. */
export function comparison(a: RunRecord, b: RunRecord) {
  let diverge = 0;
  while (diverge < a.ids.length && diverge < b.ids.length && a.ids[diverge] === b.ids[diverge]) diverge++;
  const same = diverge === a.ids.length && diverge === b.ids.length;
  return { type: "comparison" as const, seed: a.summary!.seed, first_divergence: same ? null : diverge, runs: [runStats(a), runStats(b)] };
}

export function formatComparison(c: ReturnType<typeof comparison>): string {
  const where = c.first_divergence === null ? "identical token sequences" : `first divergence at token ${c.first_divergence}`;
  const rows = c.runs.map(
    (r) => `  ${r.sampler.padEnd(11)} ${r.tokens} tokens, ${r.decode_tokens_per_s.toFixed(1)} tok/s, mean entropy ${r.mean_entropy ?? "n/a"} bits, quadrants: ${formatQuadrants(r.quadrants)}`,
  );
  return [`comparison (seed ${c.seed}): ${where}`, ...rows].join("\n");
}
