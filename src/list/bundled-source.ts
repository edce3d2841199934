// The models shipped in the package's models/ folder, as `entropix list` rows.
import { bundledModels, DEFAULT_MODEL_NAME, type BundledModel } from "../model/bundled.js";
import { describeModelFolder } from "./describe.js";
import type { ModelRow, ModelSource } from "./rows.js";

export function bundledSource(models: () => BundledModel[] = bundledModels): ModelSource {
  return {
    name: "bundled",
    async rows(): Promise<ModelRow[]> {
      const rows: ModelRow[] = [];
      for (const m of models()) rows.push(await describeModelFolder(m.path, { name: m.name, source: "bundled", isDefault: m.name === DEFAULT_MODEL_NAME }));
      return rows;
    },
  };
}
