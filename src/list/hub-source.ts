// Models in the Hugging Face cache that fit the ONNX layout, as `entropix list` rows (named
// hf:OWNER/NAME, what --model takes). Cached repos in other formats are counted in a note.
import { hfCachedModels } from "../hub/list.js";
import { describeModelFolder } from "./describe.js";
import type { ModelRow, ModelSource } from "./rows.js";

export function hubSource(cache?: string): ModelSource {
  let notes: string[] = [];
  return {
    name: "hf-cache",
    async rows(): Promise<ModelRow[]> {
      const listing = await hfCachedModels(cache);
      notes = listing.skipped > 0 ? [`${listing.skipped} other repo(s) in the Hugging Face cache ${listing.cache} are not ONNX models entropix can run (skipped)`] : [];
      const rows: ModelRow[] = [];
      for (const m of listing.models) {
        const row = await describeModelFolder(m.dir, { name: m.name, source: "hf-cache", isDefault: false });
        // Snapshot entries are symlinks into blobs/: the listing has the real sizes.
        row.sizeBytes = m.bytes;
        row.dtype = m.dtypes.join(",");
        rows.push(row);
      }
      return rows;
    },
    notes: () => notes,
  };
}
