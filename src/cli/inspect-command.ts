// `entropix inspect`: what a model folder is and where its attention comes from, including the
// patched copy (as large as the model) that the first use writes.
import type { Command } from "commander";
import type { Streams } from "./render.js";
import { addModelOptions, openModel, type ModelFlags } from "./model-options.js";

export function registerInspectCommand(program: Command, streams: Streams): Command {
  return addModelOptions(program.command("inspect").description("describe a model folder and its attention source"))
    .option("--json", "print one JSON object")
    .action((flags: ModelFlags & { json?: boolean }) => runInspect(flags, streams));
}

async function runInspect(flags: ModelFlags & { json?: boolean }, streams: Streams): Promise<void> {
  const model = await openModel(flags, process.stderr);
  try {
    const f = model.facts;
    const t = model.tapped;
    const facts = {
      architecture: f.architecture,
      layers: f.layers,
      heads: f.heads,
      kv_heads: f.kvHeads,
      head_dim: f.headDim,
      vocab_size: f.vocabSize,
      context_length: f.contextLength,
      onnx_file: f.onnxFile,
      dtype: f.dtype,
      attention_source: f.attentionSource,
      attention_note: f.attentionNote,
      // The patched copy with attention outputs that generate runs (null: the original file runs).
      taps_file: t ? t.path : null,
      taps_file_bytes: t ? t.bytes : null,
      taps_file_written_now: t ? t.written : null,
    };
    if (flags.json) streams.out.write(`${JSON.stringify(facts)}\n`);
    else {
      const width = Math.max(...Object.keys(facts).map((k) => k.length));
      for (const [k, v] of Object.entries(facts)) {
        if (k === "taps_file_bytes" || k === "taps_file_written_now") continue;
        const shown = k === "taps_file" && t ? `${t.path} (${(t.bytes / 1e6).toFixed(1)} MB${t.written ? ", written now" : ", reused"})` : (v ?? (k === "taps_file" ? "none (the original file runs)" : "unknown"));
        streams.out.write(`${k.padEnd(width)}  ${shown}\n`);
      }
    }
  } finally {
    await model.close();
  }
}
