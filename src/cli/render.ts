// Output consumers of the event stream: coloured terminal text + stderr summary, or JSON Lines.
import { Chalk, type ChalkInstance } from "chalk";
import type { SummaryEvent, TokenEvent } from "../events.js";
import { QUADRANTS, type Quadrant } from "../types.js";

export interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Colour only on a TTY, never with NO_COLOR (any value) or --no-color. */
export function colorEnabled(flag: boolean, stream: NodeJS.WriteStream): boolean {
  if (!flag) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  return stream.isTTY === true;
}

const PAINT: Record<Quadrant, (c: ChalkInstance) => ChalkInstance> = {
  confident: (c) => c.green,
  clarify: (c) => c.magenta,
  explore: (c) => c.yellow,
  resample: (c) => c.red,
  adaptive: (c) => c.cyan,
};

export class TerminalRenderer {
  private readonly chalk: ChalkInstance;
  constructor(
    private readonly streams: Streams,
    readonly color: boolean,
  ) {
    this.chalk = new Chalk({ level: color ? 1 : 0 });
  }

  legend(): void {
    if (!this.color) return;
    const items = QUADRANTS.map((q) => PAINT[q](this.chalk)(q));
    this.streams.err.write(`${this.chalk.dim("quadrants:")} ${items.join(" ")}\n`);
  }

  /** The prompt, dimmed, before its continuation (a single prompt on a terminal). */
  prompt(text: string): void {
    this.streams.out.write(this.chalk.dim(text));
  }

  token(e: TokenEvent): void {
    this.streams.out.write(this.paint(e));
  }

  /** A token's text in its quadrant's colour. */
  paint(e: TokenEvent): string {
    return e.text && this.color ? PAINT[e.quadrant](this.chalk)(e.text) : e.text;
  }

  dim(text: string): string {
    return this.chalk.dim(text);
  }

  notice(message: string): void {
    this.streams.err.write(`${this.chalk.yellow("note:")} ${message}\n`);
  }

  summary(s: SummaryEvent, loadMs: number | null): void {
    this.streams.out.write("\n");
    this.streams.err.write(`${formatSummary(s, loadMs)}\n`);
  }

  summaryLine(s: SummaryEvent, loadMs: number | null): string {
    return formatSummary(s, loadMs);
  }
}

/**
 * How a summary names its quadrant tally: only the entropix sampler acts on the quadrants; greedy and
 * temperature runs log the state each step would have been in.
 */
export function quadrantLabel(sampler: string): string {
  return sampler === "entropix" || sampler === "entropix-reference" ? "quadrants" : "states seen (not used)";
}

export function formatQuadrants(q: Record<Quadrant, number>): string {
  return QUADRANTS.filter((k) => q[k] > 0).map((k) => `${k} ${q[k]}`).join(", ") || "none";
}

/** The branching part of the summary line. */
export function formatBranchSummary(b: NonNullable<SummaryEvent["branch"]>): string {
  const rest = `extra steps ${b.extra_steps}, winner changed ${b.winner_changed}${b.over_budget > 0 ? `, over budget ${b.over_budget}` : ""}`;
  return `branch K=${b.k} M=${b.lookahead}${b.commit_rollout ? " commit" : ""}: ${b.points} point${b.points === 1 ? "" : "s"} (${rest})`;
}

/** One llama.cpp-style timings line. */
export function formatSummary(s: SummaryEvent, loadMs: number | null): string {
  const parts = [
    `${s.generated_tokens} tokens (prompt ${s.prompt_tokens}${s.inserts > 0 ? `; ${s.inserts} clarifying insert${s.inserts > 1 ? "s" : ""} of ${s.inserted_tokens} tokens` : ""})`,
    `${quadrantLabel(s.sampler)}: ${formatQuadrants(s.quadrants)}`,
    ...(loadMs !== null ? [`load ${loadMs.toFixed(0)} ms`] : []),
    `prefill ${s.prefill_ms.toFixed(1)} ms (${s.prefill_tokens_per_s.toFixed(1)} tok/s)`,
    `decode ${s.decode_tokens_per_s.toFixed(1)} tok/s`,
    `sampler ${s.sampler}`,
    ...(s.branch ? [formatBranchSummary(s.branch)] : []),
    `seed ${s.seed}`,
    `thresholds ${s.thresholds}`,
    `attention: ${s.attention_source}`,
    `stop: ${s.stop_reason}`,
  ];
  return `[${parts.join(" · ")}]`;
}

/** JSON Lines on stdout; `extra` fields (prompt_index, id) are merged into every line. */
export class JsonRenderer {
  constructor(
    private readonly streams: Streams,
    private readonly extra: Record<string, unknown> = {},
  ) {}

  line(obj: object): void {
    this.streams.out.write(`${JSON.stringify({ ...obj, ...this.extra })}\n`);
  }

  notice(message: string): void {
    this.streams.err.write(`note: ${message}\n`);
  }
}
