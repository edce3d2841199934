// `entropix list`: the models entropix can run by name, from every source (bundled models now).
import type { Command } from "commander";
import { bundledSource } from "../list/bundled-source.js";
import { hubSource } from "../list/hub-source.js";
import { recentSource } from "../list/recent-source.js";
import { collectRows, type ModelSource } from "../list/rows.js";
import { renderJson, renderTable } from "../list/render.js";
import type { Streams } from "./render.js";

/** Where `list` looks, in display order. A new source (e.g. downloaded models) is one more entry. */
export function modelSources(): ModelSource[] {
  return [bundledSource(), hubSource(), recentSource()];
}

export function registerListCommand(program: Command, streams: Streams): Command {
  return program
    .command("list")
    .description("list the models you can pass to --model (bundled, in the Hugging Face cache, used before), with size, dtype, parameters, context, attention source")
    .option("--json", "print one JSON object ({ models: [...] })")
    .action(async (flags: { json?: boolean }) => {
      const sources = modelSources();
      const rows = await collectRows(sources);
      const notes = sources.flatMap((s) => s.notes?.() ?? []);
      streams.out.write(flags.json ? renderJson(rows, notes) : renderTable(rows, notes));
    });
}
