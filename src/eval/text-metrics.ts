// Per-generation text metrics of `entropix eval` (pure). Token-level metrics work on the generated
// token ids (inserted clarify tokens included: they are part of the output text).

/** Unique n-grams over all n-grams of the ids (1 when there are none: nothing repeated). */
export function distinctN(ids: readonly number[], n: number): number {
  const total = ids.length - n + 1;
  if (total <= 0) return 1;
  const seen = new Set<string>();
  for (let i = 0; i < total; i++) seen.add(ids.slice(i, i + n).join(","));
  return seen.size / total;
}

/** Share of 4-grams that already occurred earlier in the same generation. */
export function repetition4(ids: readonly number[]): number {
  const total = ids.length - 3;
  if (total <= 0) return 0;
  const seen = new Set<string>();
  let repeats = 0;
  for (let i = 0; i < total; i++) {
    const key = ids.slice(i, i + 4).join(",");
    if (seen.has(key)) repeats++;
    else seen.add(key);
  }
  return repeats / total;
}

/** Shortest span that counts as a loop, and how far back from the end loops are looked for. */
export const LOOP_MIN_SPAN = 8;
export const LOOP_WINDOW = 32;

/**
 * True when, within the last LOOP_WINDOW ids, some span of ≥ LOOP_MIN_SPAN ids is immediately
 * followed by an exact copy of itself (the generation is caught in a loop at its end).
 */
export function endsInLoop(ids: readonly number[]): boolean {
  const start = Math.max(0, ids.length - LOOP_WINDOW);
  for (let span = LOOP_MIN_SPAN; 2 * span <= ids.length - start; span++) {
    for (let i = start; i + 2 * span <= ids.length; i++) {
      let same = true;
      for (let k = 0; k < span; k++) {
        if (ids[i + k] !== ids[i + span + k]) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
  }
  return false;
}

const WORD = /[\p{L}]+(?:['’][\p{L}]+)*/gu;

/** Alphabetic words of a text, lower-cased (apostrophe forms like "don't" stay one word). */
export function wordsOf(text: string): string[] {
  return (text.match(WORD) ?? []).map((w) => w.toLowerCase().replace(/’/g, "'"));
}

/** Share of the text's words that are not in the lexicon (null when the text has no words). */
export function nonWordRate(text: string, lexicon: ReadonlySet<string>): number | null {
  const words = wordsOf(text);
  if (words.length === 0) return null;
  let unknown = 0;
  for (const w of words) if (!lexicon.has(w)) unknown++;
  return unknown / words.length;
}
