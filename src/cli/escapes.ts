// --stop values (and JSONL "stop" fields) understand the C escapes people type in a shell, where
// "\n\n" arrives as backslash-n-backslash-n. --stop-raw keeps a value exactly as given.
import { UsageError } from "../errors.js";

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0" };

/** Replaces \n \t \r \\ \" \' \0 with the characters they name; any other backslash is an error. */
export function unescapeC(raw: string, where: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = raw[i + 1];
    const value = next === undefined ? undefined : ESCAPES[next];
    if (value === undefined) {
      const shown = next === undefined ? "a trailing \\" : `\\${next}`;
      throw new UsageError(`${where} "${raw}": unknown escape ${shown}; use \\n \\t \\r \\\\ \\" (or --stop-raw for literal text)`);
    }
    out += value;
    i++;
  }
  return out;
}
