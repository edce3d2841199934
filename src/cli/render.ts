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

  token(e: TokenEvent): void {
    if (e.text) this.streams.out.write(this.color ? PAINT[e.quadrant](this.chalk)(e.text) : e.text);
  }

  notice(message: string): void {
    this.streams.err.write(`${this.chalk.yellow("note:")} ${message}\n`);
  }

  summary(s: SummaryEvent, loadMs: number | null): void {
    this.streams.out.write("\n");
    this.streams.err.write(`${formatSummary(s, loadMs)}\n`);
  }
}

export function formatQuadrants(q: Record<Quadrant, number>): string {
  return QUADRANTS.filter((k) => q[k] > 0).map((k) => `${k} ${q[k]}`).join(", ") || "none";
}

/** One llama.cpp-style timings line. */
export function formatSummary(s: SummaryEvent, loadMs: number | null): string {
  const parts = [
    `${s.generated_tokens} tokens (prompt ${s.prompt_tokens})`,
    `quadrants: ${formatQuadrants(s.quadrants)}`,
    ...(loadMs !== null ? [`load ${loadMs.toFixed(0)} ms`] : []),
    `prefill ${s.prefill_ms.toFixed(1)} ms (${s.prefill_tokens_per_s.toFixed(1)} tok/s)`,
    `decode ${s.decode_tokens_per_s.toFixed(1)} tok/s`,
    `sampler ${s.sampler}`,
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
