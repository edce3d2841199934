// A cross-process lock on one blob, so two processes pulling the same model never write the same
// partial file. The lock is a file created with O_EXCL holding its owner's pid and host; the owner
// touches it every few seconds. A lock whose owner is gone (same host, pid not alive) or that has not
// been touched for STALE_MS (a crashed process on another host sharing the cache) is taken over.
import { hostname } from "node:os";
import { mkdir, open, readFile, stat, unlink, utimes } from "node:fs/promises";
import path from "node:path";

const HEARTBEAT_MS = 5_000;
const STALE_MS = 60_000;
const POLL_MS = 200;

interface Owner {
  pid: number;
  host: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The inode of a stale lock file (to remove exactly that one), or null while it is held. */
async function staleInode(file: string): Promise<number | null> {
  try {
    const st = await stat(file);
    if (Date.now() - st.mtimeMs > STALE_MS) return st.ino;
    const owner = JSON.parse(await readFile(file, "utf8")) as Owner;
    return owner.host === hostname() && owner.pid !== process.pid && !alive(owner.pid) ? st.ino : null;
  } catch {
    // Gone already, or half-written by its creator: held, until it turns stale by age.
    return null;
  }
}

export interface Lock {
  release(): Promise<void>;
}

/**
 * Waits for and takes the lock `file`. `onWait` is called once if another live process holds it.
 * The signal aborts the wait.
 */
export async function acquireLock(file: string, onWait?: () => void, signal?: AbortSignal): Promise<Lock> {
  await mkdir(path.dirname(file), { recursive: true });
  let waited = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname() } satisfies Owner));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const ino = await staleInode(file);
    if (ino !== null) {
      // Remove only the file judged stale, not a fresh lock another waiter made meanwhile (a small
      // window remains; the blob's checksum catches what it could let through).
      if ((await stat(file).catch(() => null))?.ino === ino) await unlink(file).catch(() => {});
      continue;
    }
    if (!waited) onWait?.();
    waited = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const beat = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  beat.unref();
  return {
    async release() {
      clearInterval(beat);
      await unlink(file).catch(() => {});
    },
  };
}
