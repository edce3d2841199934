// The models in the Hugging Face cache that entropix can run (for `entropix list`): snapshots with
// config.json, tokenizer.json and an ONNX decoder. Other cached repos (safetensors, GGUF, datasets…)
// are only counted. (@huggingface/hub's scanCacheDir does not look into snapshot subfolders such as
// onnx/, so this reads the layout itself.)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { cacheProfilePath } from "../calibrate/profile-store.js";
import { readModelFolder } from "../model/folder.js";
import { knownTapReport } from "../onnx/patch-cache.js";
import { availableDtypes } from "./files.js";
import { REQUIRED_FILES } from "./files.js";
import { hubCacheDir, repoFromFolder } from "./layout.js";

export interface HfCachedModel {
  /** What to pass to --model: hf:OWNER/NAME, with @REF or @COMMIT when main is not this snapshot. */
  name: string;
  repo: string;
  commit: string;
  refs: string[];
  dir: string;
  /** Decoder variants present in the snapshot (transformers.js dtype names), or the file names of other decoders. */
  dtypes: string[];
  /** Bytes of the snapshot's files (the blobs they point to). */
  bytes: number;
  /** Whether `entropix calibrate` has stored a profile for this snapshot. */
  profile: boolean;
  /** "taps" once a run has patched its decoder; null while unknown (never run, or not tappable). */
  attention: string | null;
}

export interface HfCacheListing {
  cache: string;
  models: HfCachedModel[];
  /** Cached repos (or snapshots) that are not runnable ONNX models. */
  skipped: number;
}

function files(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...files(dir, r));
    else out.push(r);
  }
  return out;
}

function size(file: string): number {
  try {
    return statSync(file).size; // follows the snapshot's symlink to its blob
  } catch {
    return 0;
  }
}

/** `cache`: the HF hub cache; `entropixCache`: where profiles and patched copies are looked up. */
export async function hfCachedModels(cache: string = hubCacheDir(), entropixCache?: string): Promise<HfCacheListing> {
  const listing: HfCacheListing = { cache, models: [], skipped: 0 };
  if (!existsSync(cache)) return listing;
  for (const folder of readdirSync(cache).sort()) {
    if (folder.startsWith(".")) continue;
    const id = repoFromFolder(folder);
    if (!id) {
      listing.skipped++; // datasets--…, spaces--…, stray files
      continue;
    }
    const root = path.join(cache, folder);
    const refs = new Map<string, string[]>();
    try {
      for (const r of files(path.join(root, "refs"))) {
        const commit = readFileSync(path.join(root, "refs", r), "utf8").trim();
        refs.set(commit, [...(refs.get(commit) ?? []), r]);
      }
    } catch {
      // no refs/ (pulled by commit hash)
    }
    let runnable = 0;
    let snapshots: string[] = [];
    try {
      snapshots = readdirSync(path.join(root, "snapshots")).sort();
    } catch {
      // no snapshots/: nothing to run
    }
    for (const commit of snapshots) {
      const dir = path.join(root, "snapshots", commit);
      let paths: string[];
      try {
        paths = files(dir).filter((p) => existsSync(path.join(dir, p)));
      } catch {
        continue;
      }
      const set = new Set(paths);
      const decoders = availableDtypes(paths);
      const others = paths.filter((p) => /(^|\/)(decoder_with_past_model|decoder_model_merged)\.onnx$/.test(p));
      if (REQUIRED_FILES.some((f) => !set.has(f)) || (decoders.size === 0 && others.length === 0)) continue;
      runnable++;
      const r = refs.get(commit) ?? [];
      const repo = `${id.owner}/${id.name}`;
      listing.models.push({
        name: r.includes("main") ? `hf:${repo}` : `hf:${repo}@${r[0] ?? commit}`,
        repo,
        commit,
        refs: r,
        dir,
        dtypes: decoders.size > 0 ? [...decoders.keys()] : others,
        bytes: paths.reduce((s, p) => s + size(path.join(dir, p)), 0),
        profile: existsSync(await cacheProfilePath(dir, entropixCache)),
        attention: await attentionOf(dir, entropixCache),
      });
    }
    if (runnable === 0) listing.skipped++;
  }
  return listing;
}

/** The attention source known for the decoder a plain run of `dir` picks. */
async function attentionOf(dir: string, entropixCache?: string): Promise<string | null> {
  try {
    return (await knownTapReport(readModelFolder(dir).onnxPath, entropixCache))?.source ?? null;
  } catch {
    return null;
  }
}
