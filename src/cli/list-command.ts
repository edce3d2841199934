// `entropix list`: the models entropix can run by name, from every source (bundled models now).
import type { Command } from "commander";
import { bundledSource } from "../list/bundled-source.js";
import { collectRows, type ModelSource } from "../list/rows.js";
import { renderJson, renderTable } from "../list/render.js";
import type { Streams } from "./render.js";

/** Where `list` looks, in display order. A new source (e.g. downloaded models) is one more entry. */
export function modelSources(): ModelSource[] {
  return [bundledSource()];
}

export function registerListCommand(program: Command, streams: Streams): Command {
  return program
    .command("list")
    .description("list the models you can pass to --model by name, with size, parameters, context and attention source")
    .option("--json", "print one JSON object ({ models: [...] })")
    .action(async (flags: { json?: boolean }) => {
      const rows = await collectRows(modelSources());
      streams.out.write(flags.json ? renderJson(rows) : renderTable(rows));
    });
}
