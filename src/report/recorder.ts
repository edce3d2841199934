// Collects a CLI invocation's runs for `--report` by passing their event streams through, and writes
// the report at the end — also after an interrupt or a failure, with the events seen so far.
import type { GenerationEvent } from "../events.js";
import { renderReport, type ReportMeta, type ReportRun } from "./render.js";
import { writeReport } from "./write.js";

export class ReportRecorder {
  readonly runs: ReportRun[] = [];
  private meta: ReportMeta | null = null;

  constructor(readonly file: string) {}

  /** The settings shown at the top; without them (the run failed before starting) nothing is written. */
  describe(meta: ReportMeta): void {
    this.meta = meta;
  }

  /** Passes `events` through unchanged, keeping a copy for the report. */
  async *record(events: AsyncIterable<GenerationEvent>, info: Pick<ReportRun, "prompt" | "promptIndex" | "id" | "sampler">): AsyncGenerator<GenerationEvent> {
    const run: ReportRun = { ...info, tokens: [], summary: null, notices: [] };
    this.runs.push(run);
    for await (const e of events) {
      if (e.type === "token") run.tokens.push(e);
      else if (e.type === "summary") run.summary = e;
      else run.notices.push(e.message);
      yield e;
    }
  }

  /**
   * Writes the report and says where on `err`. Never throws: a failure to write is one line on `err`
   * and exit code 1, so it cannot hide an error the run itself raised.
   */
  async write(err: NodeJS.WritableStream): Promise<boolean> {
    if (!this.meta || this.runs.length === 0) return false;
    try {
      const abs = await writeReport(this.file, renderReport(this.runs, this.meta));
      err.write(`report: ${abs}\n`);
      return true;
    } catch (e) {
      err.write(`entropix: cannot write the report ${this.file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
      process.exitCode = 1;
      return false;
    }
  }
}
