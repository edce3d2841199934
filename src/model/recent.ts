// Local model folders used before, for `entropix list`: recorded in entropix's cache
// (`models-used.json`) each time a model loads. Hugging Face cache snapshots are not recorded (the
// list reads those from the HF cache itself). Best effort: a cache that cannot be written is ignored.
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../atomic-write.js";
import { besideProfilePath, cacheProfilePath } from "../calibrate/profile-store.js";
import { isHubSnapshotPath } from "../hub/layout.js";
import { defaultCacheDir } from "../onnx/patch-cache.js";
import type { ModelFacts } from "./model.js";

export const MAX_RECENT = 50;

export interface RecentModel {
  dir: string;
  last_used: string;
  onnx_file: string;
  dtype: string;
  attention_source: string;
}

export interface RecentRow extends RecentModel {
  /** The folder is still there. */
  exists: boolean;
  /** A calibrated profile exists beside the model or in the cache. */
  profile: boolean;
}

function recentFile(cacheDir: string): string {
  return path.join(cacheDir, "models-used.json");
}

function readRecent(cacheDir: string): RecentModel[] {
  try {
    const list = JSON.parse(readFileSync(recentFile(cacheDir), "utf8")) as unknown;
    return Array.isArray(list) ? list.filter((m): m is RecentModel => typeof (m as RecentModel)?.dir === "string") : [];
  } catch {
    return [];
  }
}

/** Notes that `facts.dir` was loaded (newest first, one entry per folder and file). */
export async function recordModelUse(facts: ModelFacts, cacheDir: string = defaultCacheDir(), now = new Date()): Promise<void> {
  if (isHubSnapshotPath(facts.dir)) return;
  const entry: RecentModel = { dir: facts.dir, last_used: now.toISOString(), onnx_file: facts.onnxFile, dtype: facts.dtype, attention_source: facts.attentionSource };
  const rest = readRecent(cacheDir).filter((m) => !(m.dir === entry.dir && m.onnx_file === entry.onnx_file));
  try {
    await mkdir(cacheDir, { recursive: true });
    await writeFileAtomic(recentFile(cacheDir), `${JSON.stringify([entry, ...rest].slice(0, MAX_RECENT), null, 1)}\n`);
  } catch {
    // read-only or full cache: the list just misses this entry
  }
}

/** The recorded folders, newest first, with whether they still exist and have a calibrated profile. */
export async function recentModels(cacheDir: string = defaultCacheDir()): Promise<RecentRow[]> {
  const rows: RecentRow[] = [];
  for (const m of readRecent(cacheDir)) {
    const exists = existsSync(m.dir);
    const profile = exists && (existsSync(besideProfilePath(m.dir)) || existsSync(await cacheProfilePath(m.dir, cacheDir)));
    rows.push({ ...m, exists, profile });
  }
  return rows;
}
