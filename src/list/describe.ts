// Describes a model folder for `entropix list` without loading it into onnxruntime: size on disk,
// weight count (initializer dims), context length (config), attention source (the same scan and
// tap plan `generate` uses, with nothing written), and whether a calibrated profile is current.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { dtypeOf, readModelFolder } from "../model/folder.js";
import { scanModel } from "../onnx/scan.js";
import { planTaps } from "../onnx/taps.js";
import { countInitializerElements } from "../onnx/weights.js";
import { findCalibratedProfile } from "../calibrate/profile-store.js";
import type { ModelRow } from "./rows.js";

/** entropix's own derived files (patched copies and their sidecars): not part of the model. */
const DERIVED = /\.taps\.(onnx|json)$/;

export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(p);
    else if (entry.isFile() && !DERIVED.test(entry.name)) total += statSync(p).size;
  }
  return total;
}

export async function describeModelFolder(dir: string, id: { name: string; source: string; isDefault: boolean }): Promise<ModelRow> {
  const row: ModelRow = {
    ...id,
    path: dir,
    sizeBytes: null,
    dtype: null,
    parameters: null,
    contextLength: null,
    attentionSource: null,
    attentionNote: null,
    calibrated: null,
    problem: null,
  };
  // Facts are gathered in order until one fails: the row keeps what was found and says what is wrong,
  // so one broken folder does not hide the other models.
  try {
    row.sizeBytes = folderBytes(dir);
    const folder = readModelFolder(dir);
    row.dtype = dtypeOf(folder.onnxFile);
    row.contextLength = folder.config.contextLength;
    row.parameters = (await countInitializerElements(folder.onnxPath)).elements;
    const plan = await planTaps(await scanModel(folder.onnxPath));
    row.attentionSource = plan.report.source;
    row.attentionNote = plan.report.note;
    row.calibrated = (await findCalibratedProfile({ dir: folder.dir })).found !== null;
  } catch (err) {
    row.problem = String((err as Error)?.message ?? err).split("\n")[0];
  }
  return row;
}
