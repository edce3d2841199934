// Whether the model is about to copy its own earlier output: the most likely next token would
// complete a trigram that already occurred in this run (the last two tokens were followed by it
// before). Pure; O(1) per token. Loops in small models start this way, at confident steps.
export const REPEAT_N = 3;

export class RepeatTracker {
  private readonly tail: number[] = [];
  /** "a,b" → tokens that followed the bigram a b so far. */
  private readonly followers = new Map<string, Set<number>>();

  /** Records chosen tokens (an insert's ids too: they are part of the text). */
  push(ids: readonly number[]): void {
    for (const id of ids) {
      if (this.tail.length === REPEAT_N - 1) {
        const key = this.tail.join(",");
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
    return this.followers.get(this.tail.join(","))?.has(next) ?? false;
  }
}
