// Model references for the Hugging Face Hub: `hf:OWNER/NAME[@REVISION]` on --model, and
// `OWNER/NAME[@REVISION]` (the `hf:` optional) for `entropix pull`. Pure: no I/O.
import { UsageError } from "../errors.js";

export interface HubRef {
  owner: string;
  name: string;
  /** "OWNER/NAME", as the Hub API spells it. */
  repo: string;
  /** A branch, tag or commit hash; undefined means the default branch ("main"). */
  revision?: string;
}

export const HF_PREFIX = "hf:";

/** The Hub's own rule for owner and repo names: letters, digits, `-`, `_`, `.`, at most 96 chars. */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
/** Git ref names: no spaces, control characters, `..`, `~^:?*[\\`. */
const REVISION = /^(?!.*\.\.)[^\s~^:?*[\\\x00-\x1f\x7f]+$/;

export function isHubRef(model: string): boolean {
  return model.startsWith(HF_PREFIX);
}

/** The revision as used for the refs/ file and the Hub's URLs. */
export function revisionOf(ref: HubRef): string {
  return ref.revision ?? "main";
}

export function formatRef(ref: HubRef): string {
  return `${ref.repo}${ref.revision !== undefined ? `@${ref.revision}` : ""}`;
}

/** Parses a reference; throws UsageError (one line, with the expected shape) when malformed. */
export function parseHubRef(text: string): HubRef {
  const body = text.startsWith(HF_PREFIX) ? text.slice(HF_PREFIX.length) : text;
  const bad = (why: string): never => {
    throw new UsageError(`${JSON.stringify(text)}: not a Hugging Face model reference (${why}); write hf:OWNER/NAME or hf:OWNER/NAME@REVISION, e.g. hf:onnx-community/SmolLM2-135M-Instruct`);
  };
  const at = body.indexOf("@");
  const repo = at === -1 ? body : body.slice(0, at);
  const revision = at === -1 ? undefined : body.slice(at + 1);
  const parts = repo.split("/");
  if (parts.length !== 2) bad(parts.length < 2 ? "no OWNER/ part" : "more than one /");
  const [owner, name] = parts;
  if (!NAME.test(owner)) bad(`bad owner ${JSON.stringify(owner)}`);
  if (!NAME.test(name)) bad(`bad repo name ${JSON.stringify(name)}`);
  if (revision !== undefined && (revision === "" || !REVISION.test(revision) || revision.endsWith("/") || revision.startsWith("/"))) {
    bad(`bad revision ${JSON.stringify(revision)}`);
  }
  return { owner, name, repo: `${owner}/${name}`, ...(revision !== undefined ? { revision } : {}) };
}
