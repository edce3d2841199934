// Whether the model is about to copy its own earlier output: the most likely next token would
// complete a trigram that already occurred in this run (the last two tokens were followed by it
// before). Pure; O(1) per token. Loops in small models start this way, at confident steps.
export const REPEAT_N = 3;

/** A number key instead of a joined string: no string is built per token in the decode loop. */
const bigramKey = (a: number, b: number): number => a * 2 ** 21 + b;

export class RepeatTracker {
  private readonly tail: number[] = [];
  /** Bigram a b (as the number a·2^21 + b: ids stay below 2^21, keys stay exact) → tokens that followed it. */
  private readonly followers = new Map<number, Set<number>>();

  /** Records chosen tokens (an insert's ids too: they are part of the text). */
  push(ids: readonly number[]): void {
    for (const id of ids) {
      if (this.tail.length === REPEAT_N - 1) {
        const key = bigramKey(this.tail[0], this.tail[1]);
        let set = this.followers.get(key);
        if (!set) this.followers.set(key, (set = new Set()));
        set.add(id);
      }
      this.tail.push(id);
      if (this.tail.length > REPEAT_N - 1) this.tail.shift();
    }
  }

  /** True when `next` would complete a trigram already produced in this run. */
  wouldRepeat(next: number): boolean {
    if (this.tail.length < REPEAT_N - 1) return false;
    return this.followers.get(bigramKey(this.tail[0], this.tail[1]))?.has(next) ?? false;
  }
}
