// `entropix pull OWNER/NAME[@REVISION] [--dtype q8]`, and the `--model hf:…` hook every command that
// takes --model goes through. The work is in src/hub/.
import type { Command } from "commander";
import { Option } from "commander";
import { UsageError } from "../errors.js";
import { DTYPES } from "../model/folder.js";
import { oneOf } from "./numbers.js";
import { isHubRef, parseHubRef, formatRef } from "../hub/ref.js";
import { DownloadInterrupted, pullHubModel, resolveHubModel, type HubModel } from "../hub/resolve.js";
import { formatBytes, terminalProgress } from "../hub/progress.js";
import type { Streams } from "./render.js";

interface PullFlags {
  dtype?: string;
  json?: boolean;
}

export interface PullDeps {
  streams: Streams;
  signal: AbortSignal;
}

function hubOptions(dtype: string | undefined, json: boolean | undefined, err: NodeJS.WriteStream, signal?: AbortSignal) {
  return {
    dtype,
    // Bars only on a terminal, and never mixed into --json output.
    progress: json ? null : terminalProgress(err),
    note: (m: string) => err.write(`note: ${m}\n`),
    signal,
  };
}

/** Ctrl-C's signal (set when the command is registered), for downloads started by openModel. */
let hubSignal: AbortSignal | undefined;

/**
 * The local folder for a --model value: `hf:OWNER/NAME[@REV]` becomes its Hugging Face cache
 * snapshot (downloaded first when missing); anything else is returned as is.
 */
export async function resolveModelFlag(
  flags: { model: string; dtype?: string; onnxFile?: string; json?: boolean },
  err: NodeJS.WriteStream,
  signal: AbortSignal | undefined = hubSignal,
): Promise<string> {
  if (!isHubRef(flags.model)) return flags.model;
  const ref = parseHubRef(flags.model);
  if (flags.onnxFile !== undefined) throw new UsageError("--onnx-file does not combine with an hf: model; pick the decoder variant with --dtype");
  const model = await resolveHubModel(ref, hubOptions(flags.dtype, flags.json, err, signal));
  if (model.bytes > 0 && !flags.json && err.isTTY) err.write(`${formatRef(ref)}: downloaded ${formatBytes(model.bytes)} into ${model.dir}\n`);
  return model.dir;
}

function summary(m: HubModel): Record<string, unknown> {
  return { repo: m.ref.repo, revision: m.ref.revision ?? "main", commit: m.commit, dir: m.dir, onnx: m.onnx, files_downloaded: m.files, bytes_downloaded: m.bytes };
}

export function registerPullCommand(program: Command, deps: PullDeps): Command {
  hubSignal = deps.signal;
  return program
    .command("pull")
    .description("download a model from the Hugging Face Hub into the standard HF cache (prints its folder)")
    .argument("<model>", "OWNER/NAME or OWNER/NAME@REVISION (hf: prefix optional), e.g. onnx-community/SmolLM2-135M-Instruct")
    .addOption(new Option("--dtype <dtype>", "which decoder variant to fetch (default fp32 model.onnx)").argParser(oneOf("--dtype", DTYPES)))
    .option("--json", "print one JSON object instead of the folder")
    .action(async (model: string, flags: PullFlags) => {
      const ref = parseHubRef(model);
      let pulled: HubModel;
      try {
        pulled = await pullHubModel(ref, hubOptions(flags.dtype, flags.json, process.stderr, deps.signal));
      } catch (err) {
        // Ctrl-C: say how to resume; main exits 130 as for any interrupted command.
        if (!(err instanceof DownloadInterrupted)) throw err;
        deps.streams.err.write(`note: ${err.message}\n`);
        return;
      }
      if (flags.json) {
        deps.streams.out.write(`${JSON.stringify(summary(pulled))}\n`);
        return;
      }
      deps.streams.err.write(
        pulled.bytes > 0
          ? `${formatRef(ref)} @ ${pulled.commit.slice(0, 10)}: ${pulled.files} file(s), ${formatBytes(pulled.bytes)} downloaded\n`
          : `${formatRef(ref)} @ ${pulled.commit.slice(0, 10)}: already in the cache, nothing downloaded\n`,
      );
      // stdout: the folder alone, so `entropix generate -m "$(entropix pull X)"` works too.
      deps.streams.out.write(`${pulled.dir}\n`);
    });
}
