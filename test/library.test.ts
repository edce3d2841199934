// Issue 17 item 8: the library's generate() as an async iterator: its event order, and stopping it
// with an AbortSignal (before the first token, or after some tokens) on the real stories260k model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STORIES, STORIES_GREEDY } from "./helpers.js";
import { generate, loadModel, type GenerationEvent, type Model } from "../src/index.js";

let tapped: Model;
let untapped: Model;
test.before(async () => {
  tapped = await loadModel(STORIES);
  untapped = await loadModel(STORIES, { taps: false });
});
test.after(async () => {
  await tapped.close();
  await untapped.close();
});

async function collect(it: AsyncGenerator<GenerationEvent>, onToken?: (n: number) => void): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  for await (const e of it) {
    events.push(e);
    if (e.type === "token") onToken?.(events.filter((x) => x.type === "token").length);
  }
  return events;
}

/** Notices, then tokens with indexes 0, 1, 2…, then exactly one summary, last. */
function assertOrder(events: GenerationEvent[]): void {
  const kinds = events.map((e) => e.type).join(",");
  assert.match(kinds, /^(notice,)*(token,)*summary$/, kinds);
  const tokens = events.filter((e) => e.type === "token");
  assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i));
}

test("event order: notices first, then tokens in index order, then one summary; the iterator then ends", async () => {
  const it = generate(untapped, "Once upon a time", { sampler: "greedy", maxTokens: 12 });
  const events = await collect(it);
  assertOrder(events);
  assert.equal(events[0].type, "notice", "no taps: the notice comes before any token");
  assert.match((events[0] as { message: string }).message, /attention metrics unavailable/);
  const summary = events.at(-1)!;
  assert.ok(summary.type === "summary");
  assert.equal(summary.generated_tokens, 12);
  assert.equal(summary.stop_reason, "max_tokens");
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${summary.text}`), summary.text);
  assert.deepEqual(await it.next(), { done: true, value: undefined });

  const withTaps = await collect(generate(tapped, "Once upon a time", { sampler: "greedy", maxTokens: 12 }));
  assertOrder(withTaps);
  assert.equal(withTaps[0].type, "token", "taps: no notice");
});

test("an AbortSignal fired after some tokens ends the run after the current token, with the summary", async () => {
  const abort = new AbortController();
  const events = await collect(generate(tapped, "Once upon a time", { sampler: "greedy", maxTokens: 100, signal: abort.signal }), (n) => {
    if (n === 5) abort.abort();
  });
  assertOrder(events);
  const tokens = events.filter((e) => e.type === "token");
  assert.equal(tokens.length, 5);
  const summary = events.at(-1)!;
  assert.ok(summary.type === "summary");
  assert.equal(summary.stop_reason, "interrupted");
  assert.equal(summary.generated_tokens, 5);
  assert.equal(summary.text, tokens.map((t) => t.text).join(""));
  assert.ok(STORIES_GREEDY.startsWith(`Once upon a time${summary.text}`));
});

test("an AbortSignal already fired: no tokens, a summary saying interrupted", async () => {
  const events = await collect(generate(tapped, "Once upon a time", { sampler: "entropix", seed: 1, maxTokens: 100, signal: AbortSignal.abort() }));
  assertOrder(events);
  assert.equal(events.length, 1);
  const summary = events[0];
  assert.ok(summary.type === "summary");
  assert.equal(summary.stop_reason, "interrupted");
  assert.equal(summary.generated_tokens, 0);
  assert.equal(summary.text, "");
  assert.equal(summary.mean_entropy, null);
  assert.equal(summary.seed, 1);
});

test("two runs on one model interleave without sharing state (same seed, same tokens)", async () => {
  const a = generate(tapped, "Tom had a", { sampler: "temperature", seed: 9, maxTokens: 20, ignoreEos: true });
  const b = generate(tapped, "Tom had a", { sampler: "temperature", seed: 9, maxTokens: 20, ignoreEos: true });
  const ids: number[][] = [[], []];
  for (;;) {
    const [x, y] = [await a.next(), await b.next()];
    if (!x.done && x.value.type === "token") ids[0].push(x.value.id);
    if (!y.done && y.value.type === "token") ids[1].push(y.value.id);
    if (x.done && y.done) break;
  }
  assert.equal(ids[0].length, 20);
  assert.deepEqual(ids[1], ids[0]);
});
