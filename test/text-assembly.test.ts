// Issue 17 item 7: how token text becomes the printed text. StopMatcher (several stop strings, a
// stop inside one token, a stop across tokens), StreamingDecoder (UTF-8 split across byte tokens),
// and on real runs of every stop reason: the summary's text is the concatenation of the token
// events' text, including the decoder's flushed tail when a run ends inside a character.
import { test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, runCli, STORIES, tempDir } from "./helpers.js";
import { StopMatcher } from "../src/stop-matcher.js";
import { StreamingDecoder } from "../src/model/tokenizer.js";
import { generate, loadModel, type GenerateOptions, type Model, type SummaryEvent, type TokenEvent } from "../src/index.js";

function tok(index: number, text: string): TokenEvent {
  return {
    type: "token", index, id: index, text, quadrant: "adaptive", entropy: 0, varentropy: 0, attn_entropy: null, attn_varentropy: null,
    agreement: null, interaction_strength: null, temperature: 1, top_k: 0, top_p: 1, min_p: 0, sampler: "entropix",
  };
}

/** Feeds `texts` one token each; returns the released text, whether it stopped, and at which token. */
function feed(stops: string[], texts: string[]): { out: string; stoppedAt: number | null; indexes: number[] } {
  const m = new StopMatcher(stops);
  const released: TokenEvent[] = [];
  for (let i = 0; i < texts.length; i++) {
    const { release, stopped } = m.push(tok(i, texts[i]));
    released.push(...release);
    if (stopped) return { out: released.map((e) => e.text).join(""), stoppedAt: i, indexes: released.map((e) => e.index) };
  }
  released.push(...m.flush());
  return { out: released.map((e) => e.text).join(""), stoppedAt: null, indexes: released.map((e) => e.index) };
}

// ---------------------------------------------------------------------------------------------
// StopMatcher

test("StopMatcher: no stop strings releases every token at once", () => {
  const m = new StopMatcher([]);
  assert.deepEqual(m.push(tok(0, "Hello")), { release: [tok(0, "Hello")], stopped: false });
});

test("StopMatcher: a stop inside one token cuts that token's text before it", () => {
  assert.deepEqual(feed(["STOP"], ["ab", "cdSTOPef", "gh"]), { out: "abcd", stoppedAt: 1, indexes: [0, 1] });
  assert.deepEqual(feed(["STOP"], ["STOP"]), { out: "", stoppedAt: 0, indexes: [] });
});

test("StopMatcher: a stop across tokens; text that might start a stop is held, then released when it cannot", () => {
  assert.deepEqual(feed(["STOP"], ["a", "xS", "TO", "Pz"]), { out: "ax", stoppedAt: 3, indexes: [0, 1] });
  const m = new StopMatcher(["STOP"]);
  assert.deepEqual(m.push(tok(0, "xS")).release, [], "held: 'S' may start STOP");
  assert.deepEqual(m.push(tok(1, "TA")).release.map((e) => e.text), ["xS", "TA"], "'STA' cannot, so both go out");
  assert.deepEqual(feed(["STOP"], ["ST", "O", "n", "e"]), { out: "STOne", stoppedAt: null, indexes: [0, 1, 2, 3] });
  // A run that ends on a possible prefix: flush gives it back.
  assert.deepEqual(feed(["STOP"], ["abc", "ST"]), { out: "abcST", stoppedAt: null, indexes: [0, 1] });
});

test("StopMatcher: several stop strings; whichever occurs first in the text wins", () => {
  assert.deepEqual(feed(["END", "\n\n"], ["a", "b\n", "\nc"]), { out: "ab", stoppedAt: 2, indexes: [0, 1] });
  assert.deepEqual(feed(["END", "\n\n"], ["a E", "N", "D\n\n"]), { out: "a ", stoppedAt: 2, indexes: [0] });
  // Both complete in the same token: the earlier position in the text, not the earlier in the list.
  assert.deepEqual(feed(["cd", "abcd"], ["x", "abcde"]), { out: "x", stoppedAt: 1, indexes: [0] });
  assert.deepEqual(feed(["yz", "b"], ["ab", "cyz"]), { out: "a", stoppedAt: 0, indexes: [0] });
});

// ---------------------------------------------------------------------------------------------
// StreamingDecoder and real runs

let model: Model;
test.before(async () => {
  model = await loadModel(STORIES, { taps: false });
});
test.after(() => model.close());

/** stories260k's byte-fallback tokens: <0xNN> is id 3 + NN. */
const byte = (b: number) => 3 + b;

test("StreamingDecoder: a character split across byte tokens comes out whole, on its last byte", () => {
  const d = new StreamingDecoder(model.tokenizer, model.tokenizer.encode("Tom"));
  const e = [0xc3, 0xa9].map(byte); // é
  const whale = [0xf0, 0x9f, 0x90, 0x8b].map(byte); // 🐋
  assert.deepEqual([...e, ...whale].map((id) => d.push(id)), ["", "é", "", "", "", "🐋"]);
  // The first piece after the prompt keeps its leading space (SentencePiece ▁).
  const space = new StreamingDecoder(model.tokenizer, model.tokenizer.encode("Tom"));
  const ids = model.tokenizer.encode("had a dog", false);
  assert.equal(ids.map((id) => space.push(id)).join(""), " had a dog");
  // An incomplete character at the end is flushed (as U+FFFD), once.
  d.push(byte(0xe6));
  assert.equal(d.push(byte(0x97)), "");
  assert.equal(d.flush(), "\uFFFD");
  assert.equal(d.flush(), "");
  // Without context ids (nothing decoded yet) it still works.
  const bare = new StreamingDecoder(model.tokenizer);
  assert.deepEqual(e.map((id) => bare.push(id)), ["", "é"]);
});

async function run(prompt: string, options: GenerateOptions, m: Model = model): Promise<{ tokens: TokenEvent[]; summary: SummaryEvent }> {
  const tokens: TokenEvent[] = [];
  let summary: SummaryEvent | null = null;
  for await (const e of generate(m, prompt, options)) {
    if (e.type === "token") tokens.push(e);
    else if (e.type === "summary") summary = e;
  }
  return { tokens, summary: summary! };
}

function assertAssembled(tokens: TokenEvent[], summary: SummaryEvent, label: string): void {
  assert.equal(summary.text, tokens.map((t) => t.text).join(""), `${label}: summary text vs token texts`);
  // Tokens that only spell the stop string are generated but never printed, so not emitted.
  if (summary.stop_reason === "stop_string") assert.ok(summary.generated_tokens >= tokens.length, label);
  else assert.equal(summary.generated_tokens, tokens.length, label);
  assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i), `${label}: indexes in order`);
}

/** A hot, unfiltered sampler: stories260k then picks byte tokens, often ending a run inside a character. */
const HOT: GenerateOptions = { sampler: "temperature", maxTokens: 10, ignoreEos: true, settings: { temperature: 4, topK: 0, topP: 1, minP: 0 } };

test("summary text = token texts when a run ends inside a character (max_tokens): the tail is on the last token", async () => {
  let endedInside = 0;
  for (const seed of [8, 32, 37, 1, 2]) {
    for (const stop of [undefined, ["never printed"]]) {
      const { tokens, summary } = await run("Tom", { ...HOT, seed, stop });
      assert.equal(summary.stop_reason, "max_tokens");
      assertAssembled(tokens, summary, `seed ${seed}${stop ? " with --stop" : ""}`);
      const last = tokens.at(-1)!;
      if (last.id >= byte(0x80) && last.id <= byte(0xff) && last.text.endsWith("\uFFFD")) endedInside++;
    }
  }
  assert.ok(endedInside >= 2, `runs ending inside a character: ${endedInside}`);
});

test("summary text = token texts for every other stop reason: stop string, eos, interrupted, context full", async () => {
  const stop = await run("Once upon a time", { sampler: "greedy", maxTokens: 60, stop: ["Lily", "park"] });
  assert.equal(stop.summary.stop_reason, "stop_string");
  assert.equal(stop.summary.text, ", there was a little girl named ");
  assertAssembled(stop.tokens, stop.summary, "stop_string");
  const hotStop = await run("Tom", { ...HOT, seed: 8, maxTokens: 40, stop: ["ck"] });
  assert.equal(hotStop.summary.stop_reason, "stop_string");
  assertAssembled(hotStop.tokens, hotStop.summary, "stop_string, hot");

  const dir = tempDir("entropix-eos-");
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "onnx"]) symlinkSync(path.join(STORIES, f), path.join(dir, f));
  writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 1] }));
  const eosModel = await loadModel(dir, { taps: false });
  try {
    const eos = await run("From that day on, Tim always listened to his mom.", { sampler: "temperature", seed: 2, maxTokens: 300 }, eosModel);
    assert.equal(eos.summary.stop_reason, "eos");
    assertAssembled(eos.tokens, eos.summary, "eos");
  } finally {
    await eosModel.close();
  }

  const abort = new AbortController();
  const tokens: TokenEvent[] = [];
  let summary: SummaryEvent | null = null;
  for await (const e of generate(model, "Tom", { ...HOT, seed: 8, maxTokens: 100, signal: abort.signal })) {
    if (e.type === "token") {
      tokens.push(e);
      if (tokens.length === 9) abort.abort();
    } else if (e.type === "summary") summary = e;
  }
  assert.equal(summary!.stop_reason, "interrupted");
  assertAssembled(tokens, summary!, "interrupted");

  const full = await run("Tom had a dog. ".repeat(70), { ...HOT, seed: 3, maxTokens: 100 });
  assert.equal(full.summary.stop_reason, "context_full");
  assertAssembled(full.tokens, full.summary, "context_full");
});

test("the CLI's --json token lines carry the flushed tail too", async () => {
  const r = await runCli(["generate", "-m", STORIES, "Tom", "--json", "--sampler", "temperature", "--seed", "8", "-n", "10", "--temperature", "4", "--top-k", "0", "--top-p", "1", "--min-p", "0"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const tokens = lines.filter((l) => l.type === "token");
  const summary = lines.at(-1)!;
  assert.equal(summary.text, tokens.map((t) => t.text).join(""));
  assert.ok((tokens.at(-1)!.text as string).endsWith("\uFFFD"), `last token: ${JSON.stringify(tokens.at(-1))}`);
});
