// --compare: two runs on the same prompt, seed and session, and where their token streams part ways.
import type { SummaryEvent, TokenEvent } from "../events.js";
import type { SamplerName } from "../types.js";
import { formatQuadrants, quadrantLabel, type TerminalRenderer } from "./render.js";

export interface RunRecord {
  sampler: SamplerName;
  events: TokenEvent[];
  summary: SummaryEvent | null;
}

/** Ids of an event: an insert's ids, else the one token. */
const idsOf = (e: TokenEvent): number[] => e.ids ?? [e.id];
const sameEvent = (a: TokenEvent, b: TokenEvent): boolean => a.inserted === b.inserted && idsOf(a).join(",") === idsOf(b).join(",");

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

/** One side of a divergence: the event each run chose there (null: that run had ended). */
function divergentToken(r: RunRecord, at: number) {
  const e = r.events[at];
  if (!e) return { sampler: r.sampler, id: null, text: null, inserted: false, logprob: null, probability: null, ended: r.summary!.stop_reason };
  const logprob = e.logprob ?? null;
  return {
    sampler: r.sampler,
    id: e.id,
    text: e.text,
    inserted: e.inserted,
    logprob,
    probability: logprob === null ? null : round(Math.exp(logprob), 4),
    ended: null,
  };
}

/**
 * The `{"type":"comparison"}` record: where two runs on the same prompt and seed part ways (by token
 * event; an insert is one), the text they share, and the token each chose there with its probability
 * under the (shared) untempered distribution of that step.
 */
export function comparison(a: RunRecord, b: RunRecord) {
  let diverge = 0;
  while (diverge < a.events.length && diverge < b.events.length && sameEvent(a.events[diverge], b.events[diverge])) diverge++;
  const same = diverge === a.events.length && diverge === b.events.length;
  return {
    type: "comparison" as const,
    seed: a.summary!.seed,
    first_divergence: same ? null : diverge,
    shared_text: a.events.slice(0, diverge).map((e) => e.text).join(""),
    divergence: same ? null : [divergentToken(a, diverge), divergentToken(b, diverge)],
    runs: [runStats(a), runStats(b)],
  };
}

export type Comparison = ReturnType<typeof comparison>;

/** The statistics lines on stderr; every number rounded the same way in both rows. */
export function formatComparison(c: Comparison): string {
  const where = c.first_divergence === null ? "identical token sequences" : `first divergence at token ${c.first_divergence}`;
  const width = Math.max(...c.runs.map((r) => r.sampler.length));
  const rows = c.runs.map(
    (r) =>
      `  ${r.sampler.padEnd(width)}  ${r.tokens} tokens, ${r.decode_tokens_per_s.toFixed(1)} tok/s, mean entropy ${r.mean_entropy === null ? "n/a" : r.mean_entropy.toFixed(3)} bits, ${quadrantLabel(r.sampler)}: ${formatQuadrants(r.quadrants)}`,
  );
  return [`comparison (seed ${c.seed}): ${where}`, ...rows].join("\n");
}

/** `"text" (p 0.312)` for one side of the divergence. */
function describeSide(d: NonNullable<Comparison["divergence"]>[number]): string {
  if (d.id === null) return `(run ended: ${d.ended})`;
  const p = d.probability === null ? "" : ` (p ${d.probability.toFixed(3)})`;
  return `${JSON.stringify(d.text)}${d.inserted ? " [clarifying insert]" : ""}${p}`;
}

/**
 * --compare on a terminal, after both runs: the prompt (dimmed, when echoed) and the shared prefix
 * once, the two tokens where the runs part ways in two labelled lines, then each continuation.
 */
export function printComparedRuns(term: TerminalRenderer, stdout: NodeJS.WritableStream, runs: RunRecord[], c: Comparison, prompt: string | null): void {
  const out = (s: string) => stdout.write(s);
  const d = c.first_divergence ?? runs[0].events.length;
  if (prompt !== null) out(term.dim(prompt));
  out(runs[0].events.slice(0, d).map((e) => term.paint(e)).join(""));
  out("\n");
  if (c.divergence === null) {
    out("--- identical continuations ---\n");
    return;
  }
  const width = Math.max(...runs.map((r) => r.sampler.length));
  out(`--- the runs part ways at token ${d} ---\n`);
  for (const side of c.divergence) out(`  ${side.sampler.padEnd(width)}  ${describeSide(side)}\n`);
  for (const r of runs) {
    out(`--- ${r.sampler} ---\n`);
    out(`${term.dim("…")}${r.events.slice(d).map((e) => term.paint(e)).join("")}\n`);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
