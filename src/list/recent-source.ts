// Local model folders used before (recorded on each load), as `entropix list` rows. Folders that
// are gone since are left out: --model would not accept them.
import { recentModels } from "../model/recent.js";
import { describeModelFolder } from "./describe.js";
import type { ModelRow, ModelSource } from "./rows.js";

export function recentSource(cacheDir?: string): ModelSource {
  return {
    name: "recent",
    async rows(): Promise<ModelRow[]> {
      const seen = new Set<string>();
      const rows: ModelRow[] = [];
      for (const m of await recentModels(cacheDir)) {
        if (!m.exists || seen.has(m.dir)) continue;
        seen.add(m.dir);
        rows.push(await describeModelFolder(m.dir, { name: m.dir, source: "recent", isDefault: false }));
      }
      return rows;
    },
  };
}
