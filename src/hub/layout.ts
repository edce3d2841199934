// The standard Hugging Face cache layout, shared with Python's huggingface_hub and transformers:
//
//   <hub cache>/models--OWNER--NAME/
//     blobs/<etag>                 file contents, named by the Hub's ETag (sha256 for LFS files,
//                                  the git blob sha1 otherwise)
//     snapshots/<commit>/<path>    relative symlinks into blobs/
//     refs/<revision>              the commit a branch or tag pointed to when last fetched
//
// <hub cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (the same order as huggingface_hub). Snapshot folders are shared with other
// tools: entropix never writes anything but downloaded files into them.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { HubRef } from "./ref.js";

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** Where Hugging Face tools keep their files (token, hub cache): $HF_HOME or its default. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return path.resolve(env.HF_HOME);
  const xdg = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), ".cache");
  return path.join(xdg, "huggingface");
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  return explicit ? path.resolve(explicit) : path.join(hfHome(env), "hub");
}

export interface RepoPaths {
  root: string;
  blobs: string;
  snapshots: string;
  refs: string;
  /** huggingface_hub keeps its lock files outside the repo folder, under .locks/. */
  locks: string;
}

export function repoPaths(cache: string, ref: HubRef): RepoPaths {
  const folder = `models--${ref.owner}--${ref.name}`;
  const root = path.join(cache, folder);
  return {
    root,
    blobs: path.join(root, "blobs"),
    snapshots: path.join(root, "snapshots"),
    refs: path.join(root, "refs"),
    locks: path.join(cache, ".locks", folder),
  };
}

/** The commit a revision points to in the cache (a commit hash is its own answer), or null. */
export function cachedCommit(paths: RepoPaths, revision: string): string | null {
  if (COMMIT_HASH.test(revision)) return revision;
  const file = path.join(paths.refs, revision);
  if (!existsSync(file)) return null;
  const commit = readFileSync(file, "utf8").trim();
  return COMMIT_HASH.test(commit) ? commit : null;
}

/**
 * Whether `dir` lies in a Hugging Face cache snapshot (`models--X--Y/snapshots/<rev>/…`). Such
 * folders are treated as read-only by entropix (the taps patch and profiles go to its own cache),
 * whatever their permissions say.
 */
export function isHubSnapshotPath(dir: string): boolean {
  const parts = path.resolve(dir).split(path.sep);
  for (let i = 0; i + 2 < parts.length; i++) {
    if (/^(models|datasets|spaces)--.+--.+$/.test(parts[i]) && parts[i + 1] === "snapshots" && parts[i + 2] !== "") return true;
  }
  return false;
}

/** "OWNER/NAME" from a cache folder name (`models--OWNER--NAME`), or null for other entries. */
export function repoFromFolder(folder: string): { owner: string; name: string } | null {
  const m = /^models--([^-].*?)--(.+)$/.exec(folder);
  return m ? { owner: m[1], name: m[2] } : null;
}
