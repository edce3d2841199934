// Fetches one file of a Hub repo into the cache layout: blobs/<etag>, then the snapshot's symlink.
//
// The bytes come from @huggingface/hub (fileDownloadInfo for size and ETag, downloadFile for the
// body; a byte range when resuming). Around it, what the library's own downloadFileToCacheDir lacks:
// - a lock per blob, so two processes never write the same partial file;
// - the partial file `blobs/<etag>.incomplete` (huggingface_hub's name) kept after an interruption,
//   and resumed with a range request next time;
// - the content checked against the ETag (sha256 for LFS files, git's blob sha1 for others) before
//   the atomic rename makes it visible: a half-written or corrupt file is never used;
// - disk full → the partial file removed, and a one-line error.
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, mkdir, open, rename, stat, statfs, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { downloadFile, fileDownloadInfo, type FileDownloadInfoOutput } from "@huggingface/hub";
import { ModelError } from "../errors.js";
import { acquireLock } from "./lock.js";
import { formatBytes, type DownloadProgress } from "./progress.js";
import type { RepoPaths } from "./layout.js";
import type { HubEnv } from "./client.js";
import type { HubRef } from "./ref.js";

export interface FetchContext {
  ref: HubRef;
  commit: string;
  env: HubEnv;
  paths: RepoPaths;
  fetch: typeof fetch;
  progress: DownloadProgress | null;
  note: (message: string) => void;
  signal?: AbortSignal;
}

export interface FetchResult {
  /** Bytes transferred for this file (0 when it was already cached). */
  bytes: number;
}

/** huggingface_hub's normalisation: drop a weak-validator prefix and the quotes. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** The hash the ETag names, fed with the file's bytes: sha256 (LFS) or git's blob sha1; null if neither. */
function etagHasher(etag: string, size: number): { hash: Hash; kind: string } | null {
  if (/^[0-9a-f]{64}$/.test(etag)) return { hash: createHash("sha256"), kind: "sha256" };
  if (/^[0-9a-f]{40}$/.test(etag)) {
    const hash = createHash("sha1");
    hash.update(`blob ${size}\0`);
    return { hash, kind: "git sha1" };
  }
  return null;
}

class DiskFull extends Error {}

function isDiskFull(err: unknown): boolean {
  return err instanceof DiskFull || (err as NodeJS.ErrnoException)?.code === "ENOSPC" || (err as NodeJS.ErrnoException)?.code === "EDQUOT";
}

/** Points `pointer` at `blob` with a relative symlink (a copy where symlinks are not allowed). */
async function linkSnapshot(blob: string, pointer: string): Promise<void> {
  await mkdir(path.dirname(pointer), { recursive: true });
  const tmp = `${pointer}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await symlink(path.relative(path.dirname(pointer), blob), tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
    await copyFile(blob, tmp);
  }
  try {
    await rename(tmp, pointer);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Reads the next chunk, failing when none arrives within `ms` (a stalled connection). */
async function readWithin<R>(reader: { read(): Promise<R> }, ms: number): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no data for ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([reader.read(), stall]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes `snapshots/<commit>/<file>` exist. Already there (any tool put it there): nothing is
 * fetched. Otherwise downloads the blob (unless another revision already has it) and links it.
 */
export async function fetchFile(ctx: FetchContext, file: string): Promise<FetchResult> {
  // Repo paths come from the Hub's listing: never let one leave the snapshot folder.
  if (file.startsWith("/") || file.includes("\\") || file.split("/").some((p) => p === ".." || p === "." || p === "")) {
    throw new ModelError(`${ctx.ref.repo}: the Hub listed an unsafe file name ${JSON.stringify(file)}; not downloading it`);
  }
  const pointer = path.join(ctx.paths.snapshots, ctx.commit, ...file.split("/"));
  if (existsSync(pointer)) return { bytes: 0 };
  const common = { repo: { type: "model" as const, name: ctx.ref.repo }, path: file, revision: ctx.commit, hubUrl: ctx.env.endpoint, accessToken: ctx.env.token, fetch: ctx.fetch };
  const info = await fileDownloadInfo(common);
  if (info === null) throw new ModelError(`${ctx.ref.repo}: ${file} is listed in the repo but ${ctx.env.endpoint} has no such file (HTTP 404); try again later`);
  const etag = normalizeEtag(info.etag);
  if (!/^[A-Za-z0-9._-]{8,128}$/.test(etag)) throw new ModelError(`${ctx.ref.repo}: ${ctx.env.endpoint} gave ${file} an unusable ETag ${JSON.stringify(info.etag)}; is HF_ENDPOINT a Hugging Face Hub?`);
  const blob = path.join(ctx.paths.blobs, etag);
  const have = async () => (await stat(blob).catch(() => null))?.size === info.size;
  if (!(await have())) {
    await mkdir(ctx.paths.blobs, { recursive: true });
    const lock = await acquireLock(path.join(ctx.paths.locks, `${etag}.entropix.lock`), () => ctx.note(`waiting for another process downloading ${file}…`), ctx.signal);
    try {
      // The other process may have finished it while we waited.
      if (!(await have())) {
        const bytes = await downloadBlob(ctx, common, file, info, etag, blob);
        await linkSnapshot(blob, pointer);
        return { bytes };
      }
    } finally {
      await lock.release();
    }
  }
  await linkSnapshot(blob, pointer);
  return { bytes: 0 };
}

type Common = Parameters<typeof downloadFile>[0];

async function downloadBlob(ctx: FetchContext, common: Common, file: string, info: FileDownloadInfoOutput, etag: string, blob: string): Promise<number> {
  const partial = `${blob}.incomplete`;
  try {
    let start = (await stat(partial).catch(() => null))?.size ?? 0;
    if (start > info.size) start = 0;
    try {
      return await attempt(ctx, common, file, info, etag, partial, blob, start);
    } catch (err) {
      // A resumed download that fails its checksum may have been built on a bad partial file (or a
      // server that ignored the range): start over once from byte 0.
      if (!(err instanceof ChecksumMismatch) || start === 0) throw err;
      ctx.note(`${file}: the resumed download did not verify; downloading it again from the start`);
      return await attempt(ctx, common, file, info, etag, partial, blob, 0);
    }
  } catch (err) {
    if (isDiskFull(err)) {
      await unlink(partial).catch(() => {});
      throw new ModelError(
        `no space left on the disk of ${ctx.env.cache} while downloading ${file} (${formatBytes(info.size)}); free some space or set HF_HUB_CACHE to a bigger disk, then run again (the partial file was removed)`,
      );
    }
    if (err instanceof ChecksumMismatch) {
      await unlink(partial).catch(() => {});
      throw new ModelError(err.message);
    }
    throw err;
  }
}

class ChecksumMismatch extends Error {}

async function attempt(ctx: FetchContext, common: Common, file: string, info: FileDownloadInfoOutput, etag: string, partial: string, blob: string, start: number): Promise<number> {
  const fs = await statfs(path.dirname(partial)).catch(() => null);
  if (fs && fs.bavail * fs.bsize < info.size - start) throw new DiskFull();
  const check = etagHasher(etag, info.size);
  if (check && start > 0) {
    for await (const chunk of createReadStream(partial, { start: 0, end: start - 1 })) check.hash.update(chunk as Buffer);
  }
  const fh = await open(partial, start > 0 ? "r+" : "w");
  let pos = start;
  ctx.progress?.start(file, info.size, start);
  try {
    if (pos < info.size) {
      const body = await downloadFile({ ...common, downloadInfo: info, xet: false });
      if (body === null) throw new ModelError(`${ctx.ref.repo}: ${file} vanished from ${ctx.env.endpoint} during the download; try again`);
      const reader = (start > 0 ? body.slice(start) : body).stream().getReader();
      const onAbort = () => void reader.cancel().catch(() => {});
      ctx.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          const { done, value } = await readWithin(reader, ctx.env.timeoutMs);
          if (done) break;
          if (pos + value.byteLength > info.size) {
            // More bytes than the file has: the server sent the whole file for a range request.
            throw new ChecksumMismatch(`${file}: the server sent more bytes than the file's ${info.size}`);
          }
          await fh.write(value, 0, value.byteLength, pos);
          pos += value.byteLength;
          check?.hash.update(value);
          ctx.progress?.advance(value.byteLength);
        }
      } catch (err) {
        await reader.cancel().catch(() => {});
        if (ctx.signal?.aborted) throw new ModelError(`download of ${file} interrupted at ${formatBytes(pos)} of ${formatBytes(info.size)}; run the same command again to resume`);
        if (err instanceof ChecksumMismatch || err instanceof ModelError || isDiskFull(err)) throw err;
        const why = String((err as Error)?.message ?? err).split("\n")[0];
        throw new ModelError(`download of ${file} from ${ctx.env.endpoint} failed at ${formatBytes(pos)} of ${formatBytes(info.size)} (${why}); run the same command again to resume`);
      } finally {
        ctx.signal?.removeEventListener("abort", onAbort);
        try {
          reader.releaseLock();
        } catch {
          // a read still pending after cancel: nothing to release
        }
      }
    }
    await fh.sync();
  } finally {
    ctx.progress?.stop();
    await fh.close();
  }
  if (pos < info.size) {
    throw new ModelError(`download of ${file} from ${ctx.env.endpoint} ended early at ${formatBytes(pos)} of ${formatBytes(info.size)}; run the same command again to resume`);
  }
  if (check) {
    const got = check.hash.digest("hex");
    if (got !== etag) {
      throw new ChecksumMismatch(
        `${file} from ${ctx.ref.repo} failed verification (${check.kind} ${got.slice(0, 12)}…, the Hub says ${etag.slice(0, 12)}…); the download was discarded — run again, and if it repeats, a proxy or the Hub copy is at fault`,
      );
    }
  }
  await rename(partial, blob);
  return pos - start;
}
