// The prompts file of `entropix eval`: one prompt per line, or JSON Lines with a "prompt" field
// (an "id" is kept). Blank lines and lines starting with # are skipped in the plain format.
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

export interface EvalPrompt {
  id: string;
  text: string;
}

export function parsePrompts(text: string, source: string): EvalPrompt[] {
  const lines = text.split(/\r?\n/);
  const nonBlank = lines.map((l, i) => ({ l, n: i + 1 })).filter(({ l }) => l.trim() !== "" && !l.startsWith("#"));
  const jsonl = nonBlank.length > 0 && nonBlank.every(({ l }) => l.trimStart().startsWith("{"));
  const prompts: EvalPrompt[] = [];
  for (const { l, n } of nonBlank) {
    if (!jsonl) {
      prompts.push({ id: String(prompts.length), text: l });
      continue;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(l);
    } catch {
      throw new UsageError(`${source}:${n}: not valid JSON; write one JSON object per line, or plain prompts one per line`);
    }
    const o = obj as { prompt?: unknown; id?: unknown };
    if (typeof o.prompt !== "string" || o.prompt === "") throw new UsageError(`${source}:${n}: needs a non-empty "prompt" string`);
    prompts.push({ id: o.id !== undefined ? String(o.id) : String(prompts.length), text: o.prompt });
  }
  if (prompts.length === 0) throw new UsageError(`${source}: has no prompts; write one prompt per line`);
  return prompts;
}

export function readPromptsFile(file: string): EvalPrompt[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${file}: cannot read the prompts file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parsePrompts(text, file);
}

/** A word list: one word per line (or whitespace-separated), lower-cased. Rejects binary files. */
export function readLexicon(file: string): Set<string> {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new UsageError(`${file}: cannot read the lexicon (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const text = buf.toString("utf8");
  if (buf.includes(0) || text.includes("\uFFFD")) throw new UsageError(`${file}: the lexicon is not UTF-8 text; give a word list, one word per line`);
  const words = new Set(text.split(/\s+/).filter((w) => w !== "").map((w) => w.toLowerCase()));
  if (words.size === 0) throw new UsageError(`${file}: the lexicon has no words; give a word list, one word per line`);
  return words;
}
