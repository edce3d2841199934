// From a model reference to a local folder: the snapshot in the Hugging Face cache.
//
// `resolveHubModel` (used by --model hf:…) looks in the cache first and contacts the Hub only when the
// snapshot lacks a file the run needs, so a second run, or a model fetched earlier by Python's
// huggingface_hub, starts with no network at all. `pullHubModel` (entropix pull) always asks the Hub
// which commit the revision points to now, then fetches what that snapshot lacks.
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { modelInfo } from "@huggingface/hub";
import { ModelError } from "../errors.js";
import { readModelFolder } from "../model/folder.js";
import { scanModel } from "../onnx/scan.js";
import { folderWritable } from "../onnx/patch-cache.js";
import { writeFileAtomic } from "../atomic-write.js";
import { hubEnv, hubFailure, timedFetch, type HubEnv } from "./client.js";
import { fetchFile } from "./download.js";
import { chooseFiles, REQUIRED_FILES } from "./files.js";
import { cachedCommit, COMMIT_HASH, repoPaths, type RepoPaths } from "./layout.js";
import type { DownloadProgress } from "./progress.js";
import { formatRef, revisionOf, type HubRef } from "./ref.js";

export interface HubOptions {
  /** Which decoder variant (transformers.js dtype names); default fp32 `model.onnx`. */
  dtype?: string;
  progress?: DownloadProgress | null;
  /** Short notices (waiting for a lock, restarting a download). */
  note?: (message: string) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface HubModel {
  /** The snapshot folder: a model folder in the Hugging Face ONNX layout. */
  dir: string;
  ref: HubRef;
  commit: string;
  /** The decoder's path in the snapshot. */
  onnx: string;
  /** Files and bytes transferred by this call (0 when everything was cached). */
  files: number;
  bytes: number;
}

/**
 * The cached snapshot's decoder when the snapshot has everything a run needs (config, tokenizer,
 * the decoder for `dtype` and its external data), else null.
 */
export async function completeSnapshot(dir: string, dtype?: string): Promise<string | null> {
  if (!existsSync(dir)) return null;
  if (REQUIRED_FILES.some((f) => !existsSync(path.join(dir, f)))) return null;
  let onnxPath: string;
  try {
    onnxPath = readModelFolder(dir, { dtype }).onnxPath;
  } catch {
    return null;
  }
  try {
    const scan = await scanModel(onnxPath);
    const base = path.dirname(onnxPath);
    if (scan.externalData.some((loc) => !existsSync(path.join(base, loc)))) return null;
  } catch {
    return null; // truncated or not ONNX: fetch it again
  }
  return path.relative(dir, onnxPath).split(path.sep).join("/");
}

function offlineError(ref: HubRef, paths: RepoPaths, dtype: string | undefined, commit: string | null): ModelError {
  const what = `${formatRef(ref)}${dtype ? ` (--dtype ${dtype})` : ""}`;
  return new ModelError(
    commit === null
      ? `HF_HUB_OFFLINE=1 and ${what} is not in the Hugging Face cache (${paths.root}); unset HF_HUB_OFFLINE, or run entropix pull ${formatRef(ref)} where there is network`
      : `HF_HUB_OFFLINE=1 and the cached snapshot of ${what} lacks files a run needs (config.json, tokenizer.json or the decoder); unset HF_HUB_OFFLINE to fetch them`,
  );
}

/** The cached snapshot when complete; otherwise (not offline) fetches what is missing. */
export async function resolveHubModel(ref: HubRef, opts: HubOptions = {}): Promise<HubModel> {
  const env = hubEnv(opts.env);
  const paths = repoPaths(env.cache, ref);
  const commit = cachedCommit(paths, revisionOf(ref));
  if (commit !== null) {
    const dir = path.join(paths.snapshots, commit);
    const onnx = await completeSnapshot(dir, opts.dtype);
    if (onnx !== null) return { dir, ref, commit, onnx, files: 0, bytes: 0 };
  }
  if (env.offline) throw offlineError(ref, paths, opts.dtype, commit);
  return download(ref, env, paths, opts);
}

/** Asks the Hub for the revision's current commit and fetches what its snapshot lacks. */
export async function pullHubModel(ref: HubRef, opts: HubOptions = {}): Promise<HubModel> {
  const env = hubEnv(opts.env);
  const paths = repoPaths(env.cache, ref);
  if (env.offline) {
    const commit = cachedCommit(paths, revisionOf(ref));
    const dir = commit !== null ? path.join(paths.snapshots, commit) : "";
    const onnx = commit !== null ? await completeSnapshot(dir, opts.dtype) : null;
    if (commit === null || onnx === null) throw offlineError(ref, paths, opts.dtype, commit);
    return { dir, ref, commit, onnx, files: 0, bytes: 0 };
  }
  return download(ref, env, paths, opts);
}

/** Thrown when Ctrl-C stops a download; the partial file stays for the next run to resume. */
export class DownloadInterrupted extends ModelError {
  constructor(ref: HubRef) {
    super(`download of ${formatRef(ref)} interrupted; run the same command again to resume it`);
  }
}

async function download(ref: HubRef, env: HubEnv, paths: RepoPaths, opts: HubOptions): Promise<HubModel> {
  try {
    return await downloadFiles(ref, env, paths, opts);
  } catch (err) {
    if (opts.signal?.aborted) throw new DownloadInterrupted(ref);
    throw err;
  }
}

async function downloadFiles(ref: HubRef, env: HubEnv, paths: RepoPaths, opts: HubOptions): Promise<HubModel> {
  const fetch = timedFetch(env.timeoutMs, opts.signal);
  const revision = revisionOf(ref);
  let commit: string;
  let choice;
  try {
    const info = await modelInfo({ name: ref.repo, revision, hubUrl: env.endpoint, accessToken: env.token, additionalFields: ["sha", "filePaths"], fetch });
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== "string" || !COMMIT_HASH.test(sha)) throw new ModelError(`${formatRef(ref)}: ${env.endpoint} did not say which commit the revision is; is HF_ENDPOINT a Hugging Face Hub?`);
    commit = sha;
    choice = chooseFiles(ref.repo, info.filePaths ?? [], opts.dtype);
  } catch (err) {
    throw hubFailure(err, ref, env);
  }
  const wanted = [choice.onnx, ...choice.files];
  const refFile = COMMIT_HASH.test(revision) ? null : path.join(paths.refs, ...revision.split("/"));
  const refCurrent = refFile === null || (existsSync(refFile) && readFileSync(refFile, "utf8").trim() === commit);
  const missing = wanted.filter((f) => !existsSync(path.join(paths.snapshots, commit, ...f.split("/"))));
  // Nothing to write (all there, ref current): a read-only cache is fine.
  if (missing.length > 0 || !refCurrent) await ensureWritable(paths);
  const ctx = { ref, commit, env, paths, fetch, progress: opts.progress ?? null, note: opts.note ?? (() => {}), signal: opts.signal };
  let files = 0;
  let bytes = 0;
  // The decoder first: it is the big one, and a dtype mistake shows before the small files.
  for (const file of missing) {
    try {
      const r = await fetchFile(ctx, file);
      if (r.bytes > 0) files++;
      bytes += r.bytes;
    } catch (err) {
      throw hubFailure(err, ref, env, file);
    }
  }
  // Record where the revision points (huggingface_hub does the same; a commit needs no ref).
  if (refFile !== null && !refCurrent) {
    await mkdir(path.dirname(refFile), { recursive: true });
    await writeFileAtomic(refFile, commit);
  }
  const dir = path.join(paths.snapshots, commit);
  const onnx = await completeSnapshot(dir, opts.dtype);
  if (onnx === null) {
    throw new ModelError(`${formatRef(ref)}: the downloaded snapshot ${dir} is still incomplete (its decoder references external data the repo does not list); use another --dtype or repo`);
  }
  return { dir, ref, commit, onnx, files, bytes };
}

/** A clear error before any download when the cache cannot be written (by mode bits too: we may be root). */
async function ensureWritable(paths: RepoPaths): Promise<void> {
  let dir = paths.root;
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const targets = dir === paths.root ? [paths.root, ...[paths.blobs, paths.snapshots].filter((d) => existsSync(d))] : [dir];
  for (const d of targets) {
    if (!(await folderWritable(d))) {
      throw new ModelError(`the Hugging Face cache ${d} is not writable; set HF_HUB_CACHE (or HF_HOME) to a writable folder, or fix its permissions`);
    }
  }
}
