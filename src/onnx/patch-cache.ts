// Where attention-tapped copies of a model live, and when an existing copy can be reused.
//
// Preferred: beside the original, `<stem>.taps.onnx` + sidecar `<stem>.taps.json`, so external data
// files (referenced by relative `location`) still resolve. When the folder is not writable (by its
// mode bits too, so root does not write into a read-only folder): a cache folder (`$ENTROPIX_CACHE_DIR`,
// else `$XDG_CACHE_HOME/entropix`, else `~/.cache/entropix`) under `taps/<source sha256>/`, with the
// external data files the model references hard-linked (or, across filesystems, copied) next to the
// patched copy: onnxruntime rejects external data reached through a symlink that leaves the model's
// folder. A model with external data gets `-<folder hash>` added to its entry name: its .onnx bytes
// say where the weights are, not what they are, so two folders may share the .onnx, not the weights.
//
// A copy is reused when the sidecar's source identity (size + mtime; for cache entries also the
// external files' size + mtime + inode) matches and the patched file's sha256 matches the sidecar;
// otherwise (stale, corrupt, missing) it is rebuilt. Every file is written to a temp name, fsynced
// and renamed, so concurrent processes are safe.
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, copyFile, link, mkdir, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ModelError } from "../errors.js";
import { scanModel } from "./scan.js";
import { planTaps, sha256File, writePlan, type TapReport, type WriteResult } from "./taps.js";
import { writeFileAtomic } from "../atomic-write.js";
import { isHubSnapshotPath } from "../hub/layout.js";

export interface TappedModel {
  /** The file to run: the patched copy, or the original when nothing was tapped. */
  path: string;
  report: TapReport;
  /** True when an existing patched copy was used as is. */
  reused: boolean;
}

export interface EnsureOptions {
  /** Cache root used when the model's folder is not writable (default: see `defaultCacheDir`). */
  cacheDir?: string;
  /** Called once with a short message when a patch has to be built. */
  onProgress?: (message: string) => void;
}

// 2: copies also carry new_kv.* outputs (the cache layout of src/model/kv-store.ts); version-1
// copies are rebuilt.
const SIDECAR_VERSION = 2;

interface Sidecar {
  version: number;
  tool: string;
  source: { path: string; size: number; mtimeMs: number; sha256: string };
  patched: { file: string; size: number; sha256: string };
  report: TapReport;
  /** Cache entries only: the source's external data files the entry links or copies. */
  external?: ExternalFile[];
}

/** `$ENTROPIX_CACHE_DIR`, else `$XDG_CACHE_HOME/entropix`, else `~/.cache/entropix`. */
export function defaultCacheDir(): string {
  if (process.env.ENTROPIX_CACHE_DIR) return path.resolve(process.env.ENTROPIX_CACHE_DIR);
  if (process.env.XDG_CACHE_HOME) return path.join(path.resolve(process.env.XDG_CACHE_HOME), "entropix");
  return path.join(os.homedir(), ".cache", "entropix");
}

/** Paths of the patched copy and its sidecar beside `onnxPath`. */
export function besidePaths(onnxPath: string): { patched: string; sidecar: string } {
  const dir = path.dirname(onnxPath);
  const stem = path.basename(onnxPath).replace(/\.onnx$/i, "");
  return { patched: path.join(dir, `${stem}.taps.onnx`), sidecar: path.join(dir, `${stem}.taps.json`) };
}

export { sha256File };


async function readSidecar(file: string): Promise<Sidecar | null> {
  try {
    const s = JSON.parse(await readFile(file, "utf8")) as Sidecar;
    if (s?.version !== SIDECAR_VERSION || !s.source || !s.patched || !s.report) return null;
    return s;
  } catch {
    return null;
  }
}

/** The sidecar's patched copy, if the source is unchanged and the copy is intact. */
async function reusable(sidecarPath: string, patchedPath: string, src: { size: number; mtimeMs: number }): Promise<Sidecar | null> {
  const s = await readSidecar(sidecarPath);
  if (!s || s.source.size !== src.size || s.source.mtimeMs !== src.mtimeMs) return null;
  if (s.report.source !== "taps") return null;
  try {
    const st = await stat(patchedPath);
    if (st.size !== s.patched.size) return null;
  } catch {
    return null;
  }
  if ((await sha256File(patchedPath)) !== s.patched.sha256) return null;
  return s;
}

/**
 * Whether we may write into `dir`. Besides access(2), the folder's mode bits must grant write to us:
 * root passes access(2) everywhere, but a folder marked read-only (e.g. shared fixtures, r-x) is
 * treated as read-only for root too. A Hugging Face cache snapshot always counts as read-only.
 */
export async function folderWritable(dir: string): Promise<boolean> {
  // Hugging Face cache snapshots are shared with other tools: never write into them (issue 15).
  if (isHubSnapshotPath(dir)) return false;
  try {
    await access(dir, constants.W_OK);
    const st = await stat(dir);
    const uid = process.getuid?.() ?? -1;
    const gids = new Set([process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])]);
    if (uid === -1) return true; // Windows: access(2) is all we have
    if (st.uid === uid) return (st.mode & 0o200) !== 0;
    if (uid === 0) return (st.mode & 0o222) !== 0;
    if (gids.has(st.gid)) return (st.mode & 0o020) !== 0;
    return (st.mode & 0o002) !== 0;
  } catch {
    return false;
  }
}

function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "EACCES" || code === "EPERM" || code === "EROFS";
}

/** Cache entry folder for a source, plus the pointer file that remembers its sha256 by path. */
function cacheLayout(root: string, absPath: string) {
  const pathKey = createHash("sha256").update(absPath).digest("hex").slice(0, 32);
  return {
    pointer: path.join(root, "taps", "by-path", `${pathKey}.json`),
    entry: (sha: string, external: boolean) =>
      path.join(root, "taps", external ? `${sha}-${createHash("sha256").update(path.dirname(absPath)).digest("hex").slice(0, 16)}` : sha),
  };
}

interface Pointer {
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  external: boolean;
}

async function readPointer(file: string): Promise<Pointer | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Pointer;
  } catch {
    return null;
  }
}

interface ExternalFile {
  location: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

function safeLocation(loc: string): boolean {
  return !path.isAbsolute(loc) && !loc.split(/[\\/]/).includes("..") && loc.length > 0;
}

/** Identity (size, mtime, inode) of the source's external data files. Missing files are skipped. */
async function externalIdentity(srcDir: string, locations: string[]): Promise<ExternalFile[]> {
  const out: ExternalFile[] = [];
  for (const location of locations) {
    if (!safeLocation(location)) continue;
    try {
      const st = await stat(path.join(srcDir, location));
      out.push({ location, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    } catch {
      // onnxruntime will report the missing file when it loads the model
    }
  }
  return out;
}

/**
 * Makes each external data file available as `entryDir/<location>`. onnxruntime refuses external data
 * that resolves outside the model's folder, so symlinks do not work: a hard link is used (no copy,
 * same inode), else (another filesystem, or not permitted) a copy — a reflink where the filesystem can.
 */
async function linkExternalData(srcDir: string, entryDir: string, files: ExternalFile[], onProgress?: (m: string) => void): Promise<void> {
  for (const f of files) {
    // link(2) does not follow symlinks: link the file itself (e.g. a Hugging Face cache blob).
    const target = await realpath(path.join(srcDir, f.location));
    const dest = path.join(entryDir, f.location);
    try {
      const st = await stat(dest);
      if (st.ino === f.ino && st.size === f.size) continue; // already the same file
    } catch {
      // absent: create it
    }
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
    try {
      await link(target, tmp);
    } catch {
      onProgress?.(`copying external data ${f.location} (${(f.size / 1e6).toFixed(0)} MB) into the cache…`);
      await copyFile(target, tmp, constants.COPYFILE_FICLONE);
    }
    try {
      await rename(tmp, dest);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }
}

/**
 * Whether every external data file, resolved from `dir` the way onnxruntime does (relative to the
 * folder of the path it is given, then canonicalised), stays inside `dir`'s canonical folder. Only
 * then can a patched copy written into `dir` load: onnxruntime refuses data that leaves the folder of
 * the (canonical) model file — e.g. a Hugging Face snapshot whose files are symlinks into blobs/.
 */
async function externalStaysInside(dir: string, locations: string[]): Promise<boolean> {
  if (locations.length === 0) return true;
  let realDir: string;
  try {
    realDir = await realpath(dir);
  } catch {
    return false;
  }
  for (const loc of locations) {
    if (!safeLocation(loc)) continue;
    try {
      const real = await realpath(path.join(dir, loc));
      if (!real.startsWith(realDir + path.sep)) return false;
    } catch {
      // missing: onnxruntime reports it when loading either file
    }
  }
  return true;
}

/** Whether the cache entry's external data files still are the source's current ones. */
async function externalCurrent(srcDir: string, entryDir: string, recorded: ExternalFile[] | undefined): Promise<boolean> {
  for (const f of recorded ?? []) {
    try {
      const now = await stat(path.join(srcDir, f.location));
      if (now.size !== f.size || now.mtimeMs !== f.mtimeMs || now.ino !== f.ino) return false;
      if ((await stat(path.join(entryDir, f.location))).size !== f.size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The tap report an earlier run recorded for `onnxPath` (its patched copy beside it or in the cache),
 * without verifying the copy; null when it was never patched. For listings (`entropix list`).
 */
export async function knownTapReport(onnxPath: string, cacheDir?: string): Promise<TapReport | null> {
  const absPath = path.resolve(onnxPath);
  const beside = await readSidecar(besidePaths(absPath).sidecar);
  if (beside) return beside.report;
  const layout = cacheLayout(path.resolve(cacheDir ?? defaultCacheDir()), absPath);
  const ptr = await readPointer(layout.pointer);
  if (!ptr || ptr.path !== absPath) return null;
  const stem = path.basename(absPath).replace(/\.onnx$/i, "");
  return (await readSidecar(path.join(layout.entry(ptr.sha256, ptr.external), `${stem}.taps.json`)))?.report ?? null;
}

/**
 * Returns a model file that exposes attention scores (`attn_scores.{layer}`), building and caching a
 * patched copy when needed. When the model cannot be tapped (fused attention, …) returns the
 * original path with a report saying why; nothing is written then.
 * Throws ModelError for a missing, truncated or non-ONNX file.
 */
export async function ensureTappedModel(onnxPath: string, opts: EnsureOptions = {}): Promise<TappedModel> {
  // The path as given (made absolute) is what external data resolves against, as in onnxruntime;
  // it may be a symlink (Hugging Face snapshots), so it is not canonicalised.
  const absPath = path.resolve(onnxPath);
  const dataDir = path.dirname(absPath);
  let st;
  try {
    st = await stat(absPath);
  } catch (err) {
    throw new ModelError(`${onnxPath}: cannot read ONNX file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const src = { size: st.size, mtimeMs: st.mtimeMs };
  const beside = besidePaths(absPath);

  // 1. A valid copy beside the original.
  const b = await reusable(beside.sidecar, beside.patched, src);
  if (b) return { path: beside.patched, report: b.report, reused: true };

  // 2. A valid copy in the cache.
  const root = path.resolve(opts.cacheDir ?? defaultCacheDir());
  const layout = cacheLayout(root, absPath);
  const stem = path.basename(absPath).replace(/\.onnx$/i, "");
  const ptr = await readPointer(layout.pointer);
  if (ptr && ptr.path === absPath && ptr.size === src.size && ptr.mtimeMs === src.mtimeMs) {
    const dir = layout.entry(ptr.sha256, ptr.external);
    const c = await reusable(path.join(dir, `${stem}.taps.json`), path.join(dir, `${stem}.taps.onnx`), src);
    if (c && (await externalCurrent(dataDir, dir, c.external))) {
      return { path: path.join(dir, `${stem}.taps.onnx`), report: c.report, reused: true };
    }
  }

  // 3. Build.
  const scan = await scanModel(absPath);
  const plan = await planTaps(scan, { cache: true });
  if (plan.report.source === "none" || plan.alreadyTapped) return { path: onnxPath, report: plan.report, reused: false };
  opts.onProgress?.(`adding attention taps to ${path.basename(absPath)} (${plan.report.layers} layers)…`);

  const sidecarFor = (patchedPath: string, w: WriteResult, external?: ExternalFile[]): Sidecar => ({
    version: SIDECAR_VERSION,
    tool: "entropix attention taps",
    source: { path: absPath, size: src.size, mtimeMs: src.mtimeMs, sha256: w.sourceSha256 ?? "" },
    patched: { file: path.basename(patchedPath), size: w.size, sha256: w.sha256 ?? "" },
    report: plan.report,
    ...(external ? { external } : {}),
  });
  const checkUnchanged = async (): Promise<void> => {
    const now = await stat(absPath);
    if (now.size !== src.size || now.mtimeMs !== src.mtimeMs) {
      throw new ModelError(`${onnxPath}: file changed while it was being patched; try again`);
    }
  };

  if ((await folderWritable(dataDir)) && (await externalStaysInside(dataDir, scan.externalData))) {
    try {
      const w = await writePlan(scan, plan, beside.patched, { hash: true });
      await checkUnchanged();
      await writeFileAtomic(beside.sidecar, JSON.stringify(sidecarFor(beside.patched, w), null, 2) + "\n");
      return { path: beside.patched, report: plan.report, reused: false };
    } catch (err) {
      if (!isPermissionError(err)) throw err;
    }
  }

  // The model's folder is read-only (or its external data lives elsewhere): write into the cache,
  // keyed by the source's content.
  const srcSha = await sha256File(absPath);
  const external = scan.externalData.length > 0;
  const dir = layout.entry(srcSha, external);
  const patched = path.join(dir, `${stem}.taps.onnx`);
  try {
    await mkdir(dir, { recursive: true });
    const files = await externalIdentity(dataDir, scan.externalData);
    await linkExternalData(dataDir, dir, files, opts.onProgress);
    const w = await writePlan(scan, plan, patched, { hash: true });
    await checkUnchanged();
    await writeFileAtomic(path.join(dir, `${stem}.taps.json`), JSON.stringify(sidecarFor(patched, w, files), null, 2) + "\n");
    await mkdir(path.dirname(layout.pointer), { recursive: true });
    const pointer: Pointer = { path: absPath, size: src.size, mtimeMs: src.mtimeMs, sha256: w.sourceSha256 ?? srcSha, external };
    await writeFileAtomic(layout.pointer, JSON.stringify(pointer) + "\n");
  } catch (err) {
    if (err instanceof ModelError) throw err;
    const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
    throw new ModelError(`${onnxPath}: cannot write the attention-tapped copy beside the model or in ${root} (${code})`);
  }
  return { path: patched, report: plan.report, reused: false };
}
