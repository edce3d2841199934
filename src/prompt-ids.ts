// Prompt text → ids that fit the model's context. A prompt longer than the context is an error
// (truncate "none", the default) or keeps its end (truncate "left", with a notice). Huge prompts
// (megabytes on stdin) are never tokenized whole: only a window of text near the end that matters.
import type { Tokenizer } from "./model/tokenizer.js";
import { UsageError } from "./errors.js";

export type Truncate = "left" | "none";
export const TRUNCATE_MODES = ["none", "left"] as const;

/** Text longer than this many characters per context token is tokenized in windows, not whole. */
const CHARS_PER_TOKEN = 16;

export interface FittedPrompt {
  ids: number[];
  /** Set when the prompt was cut (truncate "left"). */
  notice: string | null;
}

function tooLong(what: string, ctx: number): UsageError {
  return new UsageError(
    `prompt is ${what} but the model's context is ${ctx}; shorten it, or set truncate: "left" to keep its end`,
    `prompt is ${what} but the model's context is ${ctx}; shorten it, or pass --truncate left to keep its end`,
  );
}

/**
 * Tokenizes `prompt` (or takes `given` ids as they are) so that it leaves room in a context of `ctx`
 * tokens. With truncate "left" the kept tail leaves room for `maxTokens` new tokens, but never less
 * than half the context for the prompt; the tokenizer's leading special ids (BOS) are kept.
 */
export function fitPrompt(tokenizer: Tokenizer, prompt: string, given: number[] | undefined, ctx: number | null, maxTokens: number, truncate: Truncate): FittedPrompt {
  const long = given === undefined && ctx !== null && prompt.length > ctx * CHARS_PER_TOKEN;
  let ids = given ?? (long ? null : tokenizer.encode(prompt));
  if (ids && (ctx === null || ids.length < ctx)) return { ids, notice: null };
  const c = ctx!;
  if (truncate === "none") {
    if (ids) throw tooLong(`${ids.length} tokens`, c);
    // Huge text: its beginning alone usually proves it too long, without tokenizing megabytes.
    const head = tokenizer.encode(prompt.slice(0, c * CHARS_PER_TOKEN), false).length;
    if (head >= c) throw tooLong(`at least ${head} tokens (${prompt.length} characters)`, c);
    ids = tokenizer.encode(prompt);
    if (ids.length < c) return { ids, notice: null };
    throw tooLong(`${ids.length} tokens`, c);
  }
  const keep = c - Math.min(maxTokens, Math.floor(c / 2));
  if (given !== undefined) {
    return { ids: given.slice(-keep), notice: `prompt is ${given.length} tokens, longer than the model's context of ${c} tokens; kept its last ${keep} tokens (--truncate left)` };
  }
  const prefix = tokenizer.encode("");
  const bodyKeep = Math.max(1, keep - prefix.length);
  let body: number[];
  let total: string;
  if (ids) {
    body = ids.slice(prefix.length);
    total = `${ids.length} tokens`;
  } else {
    // Grow a window of text from the end until it holds enough tokens (the first may be cut mid-word).
    let width = keep * CHARS_PER_TOKEN;
    for (;;) {
      const start = Math.max(0, prompt.length - width);
      body = tokenizer.encode(prompt.slice(start), false);
      if (start === 0 || body.length > bodyKeep) break;
      width *= 2;
    }
    if (prefix.length + body.length < c && body.length <= bodyKeep) return { ids: [...prefix, ...body], notice: null };
    total = `${prompt.length} characters`;
  }
  const kept = [...prefix, ...body.slice(-bodyKeep)];
  return { ids: kept, notice: `prompt is ${total}, longer than the model's context of ${c} tokens; kept its last ${kept.length} tokens (--truncate left)` };
}
