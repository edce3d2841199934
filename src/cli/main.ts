// The entropix command line. Thin: parses flags, reads prompts, calls the library, renders events.
// Only this file decides exit codes: 0 ok, 1 runtime/model failure, 2 bad usage.
import { Command, CommanderError } from "commander";
import { ModelError, RuntimeFailure, UsageError, type LoadOptionName } from "../errors.js";
import type { Streams } from "./render.js";
import { ENTROPIX_VERSION } from "../calibrate/version.js";
import { registerCalibrateCommand } from "./calibrate-command.js";
import { registerEvalCommand } from "./eval-command.js";
import { registerListCommand } from "./list-command.js";
import { registerGenerateCommand } from "./generate-command.js";
import { registerInspectCommand } from "./inspect-command.js";
import { addModelOptions, openModel } from "./model-options.js";
import { DOCS_HELP } from "./help-text.js";
import { registerPullCommand } from "./pull-command.js";
import { registerChatCommand } from "./chat-command.js";
import { startYoungGc } from "./young-gc.js";

export { DEFAULT_MODEL_DIR } from "./model-options.js";
/** True while prompts are being read (stdin may never end): Ctrl-C then exits at once. */
let readingPrompts = false;

export function buildProgram(streams: Streams, signal: AbortSignal): Command {
  const program = new Command("entropix")
    .description("Generate text from local ONNX language models with the Entropix adaptive sampler")
    .version(ENTROPIX_VERSION, "-V, --version", "print the version")
    .option("--debug", "print stack traces for errors")
    .addHelpText("after", `\n${DOCS_HELP}\n`)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.out.write(s),
      writeErr: (s) => streams.err.write(s),
      // Commander's parse errors become the same one-line shape as ours.
      outputError: (s, write) => write(`entropix: ${s.replace(/^error: /, "").trim()} (see entropix --help)\n`),
    });

  registerGenerateCommand(program, { streams, signal, setReadingPrompts: (on) => (readingPrompts = on) });
  registerInspectCommand(program, streams);
  registerCalibrateCommand(program, { streams, signal, addModelOptions, openModel });
  registerEvalCommand(program, { streams, signal, addModelOptions, openModel });
  registerListCommand(program, streams);
  registerPullCommand(program, { streams, signal });
  registerChatCommand(program, { streams, signal, addModelOptions, openModel });

  return program;
}

const FLAG_OF: Record<LoadOptionName, string> = { dir: "--model", dtype: "--dtype", onnxFile: "--onnx-file" };

/** Library errors are worded for library callers; here they name the CLI's flags instead. */
function cliMessage(err: UsageError | ModelError | RuntimeFailure): string {
  if (err instanceof UsageError || err instanceof ModelError) {
    if (err.cliMessage) return err.cliMessage;
    if (err instanceof ModelError && err.option) return `${err.message} (${FLAG_OF[err.option]})`;
  }
  return err.message;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof ModelError || err instanceof RuntimeFailure) return 1;
  return 1;
}

export async function main(argv: string[]): Promise<void> {
  const streams: Streams = { out: process.stdout, err: process.stderr };
  const debug = argv.includes("--debug");
  // `entropix ... | head` closes stdout early: end quietly, as other Unix tools do.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  const abort = new AbortController();
  process.on("SIGINT", () => {
    if (abort.signal.aborted || readingPrompts) process.exit(130);
    abort.abort();
  });
  const program = buildProgram(streams, abort.signal);
  startYoungGc();
  try {
    await program.parseAsync(argv);
    if (abort.signal.aborted) process.exitCode = 130;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message; help and version are not errors.
      process.exitCode = err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
      return;
    }
    const known = err instanceof UsageError || err instanceof ModelError || err instanceof RuntimeFailure;
    streams.err.write(`entropix: ${known ? cliMessage(err) : String((err as Error)?.message ?? err).split("\n")[0]}\n`);
    if (debug && err instanceof Error && err.stack) streams.err.write(`${err.stack}\n`);
    else if (!known) streams.err.write("(run with --debug for details)\n");
    process.exitCode = exitCodeFor(err);
  }
}
