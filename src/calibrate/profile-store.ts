// Where a model's calibrated threshold profile lives, and how `generate` finds it.
//
// Preferred: beside the model, `<model dir>/entropix.thresholds.json`. When the folder is read-only
// (by its mode bits too — see folderWritable; we may run as root): the cache folder
// (`$ENTROPIX_CACHE_DIR`, `$XDG_CACHE_HOME/entropix` or `~/.cache/entropix`) under
// `thresholds/<sha256 of the model folder's real path>.json`. Lookup checks the same two places in
// the same order. A profile is used only while the model file it was calibrated on is unchanged
// (same size, and same mtime or same sha256); otherwise it is reported as stale and ignored.
// Files are written to a temp name and renamed, so a reader never sees half a profile.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.js";
import type { ModelFacts } from "../model/model.js";
import { defaultCacheDir, folderWritable, sha256File } from "../onnx/patch-cache.js";
import { parseProfileFile, REFERENCE_PROFILE, type ProfileFile } from "../sampler/thresholds.js";
import type { SamplerSettings, ThresholdProfile } from "../types.js";
import { scaleFromMeta, type MetricScale } from "../sampler/scale.js";
import { writeFileAtomic } from "../atomic-write.js";

export const PROFILE_FILE = "entropix.thresholds.json";
/** Model files up to this size are identified by sha256 as well as size + mtime. */
export const HASH_LIMIT_BYTES = 512 * 1024 * 1024;

/** What a calibrated profile records about the model it was made for (`meta.model`). */
export interface ModelIdentity {
  name: string;
  dir: string;
  onnx_file: string;
  onnx_size: number;
  onnx_mtime_ms: number;
  /** null when the file is larger than HASH_LIMIT_BYTES (size + mtime identify it then). */
  onnx_sha256: string | null;
  vocab_size: number;
  architecture: string;
  attention_source: string;
}

export async function modelIdentity(facts: ModelFacts): Promise<ModelIdentity> {
  const onnxPath = path.join(facts.dir, facts.onnxFile);
  const st = await stat(onnxPath);
  return {
    name: path.basename(facts.dir),
    dir: facts.dir,
    onnx_file: facts.onnxFile,
    onnx_size: st.size,
    onnx_mtime_ms: st.mtimeMs,
    onnx_sha256: st.size <= HASH_LIMIT_BYTES ? await sha256File(onnxPath) : null,
    vocab_size: facts.vocabSize,
    architecture: facts.architecture,
    attention_source: facts.attentionSource,
  };
}

async function realDir(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** The profile's path beside the model. */
export function besideProfilePath(modelDir: string): string {
  return path.join(path.resolve(modelDir), PROFILE_FILE);
}

/** The profile's path in the cache, keyed by the model folder's real path. */
export async function cacheProfilePath(modelDir: string, cacheDir: string = defaultCacheDir()): Promise<string> {
  const key = createHash("sha256").update(await realDir(modelDir)).digest("hex").slice(0, 32);
  return path.join(path.resolve(cacheDir), "thresholds", `${key}.json`);
}


function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "EACCES" || code === "EPERM" || code === "EROFS";
}

export interface SavedProfile {
  path: string;
  where: "model" | "cache" | "output";
}

/**
 * Writes a profile file for the model in `modelDir`: beside it when the folder is writable, else in
 * the cache. `output` (an explicit path) overrides both; `generate` then needs `--thresholds FILE`.
 */
export async function saveProfile(text: string, modelDir: string, opts: { output?: string; cacheDir?: string; cacheOnly?: boolean } = {}): Promise<SavedProfile> {
  if (opts.output !== undefined) {
    const file = path.resolve(opts.output);
    try {
      await writeFileAtomic(file, text);
    } catch (err) {
      throw new UsageError(`${opts.output}: cannot write the profile (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return { path: file, where: "output" };
  }
  if (!opts.cacheOnly && (await folderWritable(modelDir))) {
    const file = besideProfilePath(modelDir);
    try {
      await writeFileAtomic(file, text);
      return { path: file, where: "model" };
    } catch (err) {
      if (!isPermissionError(err)) throw err;
    }
  }
  const file = await cacheProfilePath(modelDir, opts.cacheDir);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, text);
  return { path: file, where: "cache" };
}

export interface FoundProfile {
  path: string;
  profile: ThresholdProfile;
  /** Base settings the profile sets (a calibrated heat: the default sampler's base temperature). */
  settings: Partial<SamplerSettings>;
  branch?: ProfileFile["branch"];
  meta: Record<string, unknown>;
}

export interface ProfileLookup {
  /** The current calibrated profile, if any. */
  found: FoundProfile | null;
  /** Profiles that exist but were made for another model file (or cannot be read), with why. */
  ignored: { path: string; reason: string }[];
}

async function readCandidate(file: string, facts: Pick<ModelFacts, "dir">): Promise<FoundProfile | { reason: string } | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  let profile: ThresholdProfile;
  let settings: Partial<SamplerSettings>;
  let branch: ProfileFile["branch"];
  let meta: Record<string, unknown> = {};
  try {
    ({ thresholds: profile, settings, branch } = parseProfileFile(text, file));
    const root = JSON.parse(text) as { meta?: unknown };
    if (typeof root.meta === "object" && root.meta !== null) meta = root.meta as Record<string, unknown>;
  } catch (err) {
    return { reason: `not a valid profile (${(err as Error).message})` };
  }
  const id = meta.model as Partial<ModelIdentity> | undefined;
  if (!id || typeof id.onnx_file !== "string" || typeof id.onnx_size !== "number") return { reason: "it does not say which model file it was calibrated on" };
  const onnxPath = path.join(facts.dir, id.onnx_file);
  let st;
  try {
    st = await stat(onnxPath);
  } catch {
    return { reason: `it was calibrated on ${id.onnx_file}, which is gone` };
  }
  const stale = { reason: `${id.onnx_file} changed since it was calibrated` };
  if (st.size !== id.onnx_size) return stale;
  if (st.mtimeMs !== id.onnx_mtime_ms) {
    if (typeof id.onnx_sha256 !== "string" || (await sha256File(onnxPath)) !== id.onnx_sha256) return stale;
  }
  return { path: file, profile, settings, ...(branch ? { branch } : {}), meta };
}

/**
 * Looks for a calibrated profile of the loaded model, beside it and in the cache. When both are
 * current the newer file wins: a profile calibrated into the cache (a read-only folder, or the
 * bundled model without --force) is the user's own, newer than the one shipped beside the model.
 */
export async function findCalibratedProfile(facts: Pick<ModelFacts, "dir">, cacheDir: string = defaultCacheDir()): Promise<ProfileLookup> {
  const ignored: ProfileLookup["ignored"] = [];
  let found: FoundProfile | null = null;
  let foundMtime = -Infinity;
  for (const file of [besideProfilePath(facts.dir), await cacheProfilePath(facts.dir, cacheDir)]) {
    const c = await readCandidate(file, facts);
    if (c === null) continue;
    if ("reason" in c) ignored.push({ path: file, reason: c.reason });
    else {
      const mtime = (await stat(file)).mtimeMs;
      if (mtime > foundMtime) [found, foundMtime] = [c, mtime];
    }
  }
  return { found, ignored };
}

/** The thresholds a run uses and how to name them (`summary.thresholds`). */
export interface ResolvedThresholds {
  profile: ThresholdProfile;
  /** "calibrated", "reference", or the file given with --thresholds. */
  label: string;
  /** The calibrated profile's file, when label is "calibrated". */
  path?: string;
  /** The calibration statistics the default sampler ranks metrics against (calibrated profiles only). */
  scale?: MetricScale | null;
  /** Base settings from the calibrated profile (its heat); they apply to the default sampler only. */
  settings?: Partial<SamplerSettings>;
  /** Branching the profile turns on (its "branch" object). */
  branch?: ProfileFile["branch"];
}

/** A found profile as the thresholds a run uses: with its calibration scale and heat. */
export function calibratedThresholds(found: FoundProfile): ResolvedThresholds {
  return { profile: found.profile, label: "calibrated", path: found.path, scale: scaleFromMeta(found.meta), settings: found.settings, ...(found.branch ? { branch: found.branch } : {}) };
}

/**
 * A `--thresholds FILE`: its thresholds, and — when it is a calibrated profile (`calibrate --output`)
 * — its calibration scale and heat, exactly as if it had been found beside the model.
 */
export function thresholdsFromFile(spec: string): ResolvedThresholds {
  let text: string;
  try {
    text = readFileSync(spec, "utf8");
  } catch (e) {
    throw new UsageError(`${spec}: cannot read the thresholds file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const { thresholds, settings, branch } = parseProfileFile(text, spec);
  const root = JSON.parse(text) as { meta?: unknown };
  const meta = typeof root.meta === "object" && root.meta !== null ? (root.meta as Record<string, unknown>) : null;
  return { profile: thresholds, label: spec, scale: meta ? scaleFromMeta(meta) : null, settings, ...(branch ? { branch } : {}) };
}

/**
 * `--thresholds` semantics: a file → that file; "reference" → the reference profile; absent → the
 * model's calibrated profile when one exists and is current, else the reference. `note` receives one
 * line per calibrated profile that was found but ignored.
 */
export async function resolveThresholds(spec: string | undefined, facts: ModelFacts, note: (message: string) => void = () => {}, cacheDir?: string): Promise<ResolvedThresholds> {
  if (spec === "reference") return { profile: REFERENCE_PROFILE, label: "reference" };
  if (spec !== undefined) return thresholdsFromFile(spec);
  const lookup = await findCalibratedProfile(facts, cacheDir);
  for (const i of lookup.ignored) note(`ignoring calibrated thresholds ${i.path}: ${i.reason}; run \`entropix calibrate\` again`);
  if (lookup.found) return calibratedThresholds(lookup.found);
  return { profile: REFERENCE_PROFILE, label: "reference" };
}
