// entropix chat (issue 15): a stories260k copy with a ChatML chat template, driven through piped
// stdin (and through tmux for the terminal path when tmux is installed).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { CLI, runCli, STORIES, tempDir } from "./helpers.js";
import { loadModel, type Model } from "../src/model/model.js";
import { ChatSession } from "../src/chat/session.js";
import { fitHistory, ChatHistory } from "../src/chat/history.js";
import { parseCommand } from "../src/chat/commands.js";
import { generate } from "../src/generate.js";
import type { TokenEvent } from "../src/events.js";

const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A writable copy of stories260k whose tokenizer config has a ChatML template. */
function chatFixture(): string {
  const dir = path.join(tempDir("entropix-chat-"), "stories-chat");
  cpSync(STORIES, dir, { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, "onnx"), 0o755);
  const cfgFile = path.join(dir, "tokenizer_config.json");
  chmodSync(cfgFile, 0o644);
  const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
  writeFileSync(cfgFile, JSON.stringify({ ...cfg, chat_template: CHATML }));
  return dir;
}

let FIXTURE: string;
before(() => {
  FIXTURE = chatFixture();
});

interface Transcript {
  system: string | null;
  turns: { role: string; content: string; reused_tokens?: number; prompt_tokens?: number; sampler?: string; generated_tokens?: number }[];
}

describe("chat logic", () => {
  test("slash commands parse; anything else is a message", () => {
    assert.deepEqual(parseCommand("/save out.json"), { kind: "save", file: "out.json" });
    assert.deepEqual(parseCommand(" /sampler greedy "), { kind: "sampler", name: "greedy" });
    assert.equal(parseCommand("/sampler nope")?.kind, "error");
    assert.equal(parseCommand("/save")?.kind, "error");
    assert.equal(parseCommand("/frobnicate")?.kind, "error");
    assert.equal(parseCommand("hello /reset"), null);
  });

  test("a full context drops the oldest turns after the system message, whole pairs first", () => {
    const h = new ChatHistory("sys");
    h.turns.push({ role: "user", content: "aaaa" }, { role: "assistant", content: "bbbb" }, { role: "user", content: "cccc" }, { role: "assistant", content: "dddd" }, { role: "user", content: "eeee" });
    const render = (m: { content: string }[]) => Array.from(m.map((x) => x.content).join(""), () => 0);
    const fitted = fitHistory(h, render, 14, 2); // 3 + 4 per message; 12 tokens must remain
    assert.ok(fitted);
    assert.equal(fitted.dropped, 4);
    assert.deepEqual(h.messages().map((m) => m.content), ["sys", "eeee"]);
    assert.equal(fitHistory(h, render, 8, 2), null, "the newest message alone does not fit");
  });
});

describe("chat on a real model", () => {
  let model: Model;
  before(async () => {
    model = await loadModel(FIXTURE);
  });

  test("the second turn feeds only the new tokens, and answers exactly as a full prefill would", async () => {
    const session = new ChatSession(model, { system: "You tell stories.", sampler: "greedy", maxTokens: 16, seed: 1 });
    const ids = async (text: string) => {
      const out: number[] = [];
      for await (const e of session.reply(text)) if (e.type === "token") out.push(e.id);
      return out;
    };
    await ids("Once upon a time");
    const second = await ids("There was a dog.");
    const t = session.transcript;
    assert.equal(t.length, 4);
    assert.equal(t[1].reused_tokens, 0);
    // Everything the first turn left in the cache is reused: its prompt plus the tokens fed back.
    assert.ok(t[3].reused_tokens! >= t[1].prompt_tokens! + t[1].generated_tokens! - 1, JSON.stringify(t[3]));
    assert.ok(t[3].reused_tokens! < t[3].prompt_tokens!);
    // Reference: the whole history prefilled from scratch.
    const prompt = model.tokenizer.applyChatTemplate(session.history.messages().slice(0, -1));
    const fresh: number[] = [];
    for await (const e of generate(model, "", { sampler: "greedy", maxTokens: 16, promptIds: prompt })) if (e.type === "token") fresh.push((e as TokenEvent).id);
    assert.deepEqual(second, fresh);
  });

  test("a model without a chat template is refused in one line", async () => {
    const plain = await loadModel(STORIES);
    try {
      assert.throws(() => new ChatSession(plain, { sampler: "greedy", maxTokens: 4, seed: 1 }), /has no chat template .*use entropix generate/);
    } finally {
      await plain.close();
    }
  });
});

describe("entropix chat, piped stdin", () => {
  test("each line is a turn, replies go to stdout, /sampler and /save work", async () => {
    const dir = tempDir("entropix-chat-out-");
    const file = path.join(dir, "t.json");
    const input = ["Once upon a time", "/sampler temperature", "", "There was a dog.", `/save ${file}`, "/quit", "never read"].join("\n") + "\n";
    const r = await runCli(["chat", "-m", FIXTURE, "--sampler", "greedy", "-n", "12", "--seed", "7", "--system", "You tell stories."], { input });
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(readFileSync(file, "utf8")) as Transcript;
    assert.equal(t.system, "You tell stories.");
    assert.deepEqual(t.turns.map((x) => x.role), ["user", "assistant", "user", "assistant"]);
    assert.deepEqual(t.turns.map((x) => x.sampler).filter(Boolean), ["greedy", "temperature"]);
    assert.ok(t.turns[3].reused_tokens! > 0, "the KV cache was kept");
    // stdout holds exactly the two replies, one per block.
    assert.equal(r.stdout, `${t.turns[1].content}\n${t.turns[3].content}\n`);
    assert.match(r.stderr, /sampler is now temperature/);
    assert.doesNotMatch(r.stdout + r.stderr, /never read/);
  });

  test("a full context drops the oldest turns with a notice and goes on", async () => {
    const long = "Once upon a time there was a little girl named Lily who loved to play in the park with her big red ball every day.";
    const input = `${long} ${long}\n${long} ${long}\n${long} ${long}\n${long} ${long}\n`;
    const r = await runCli(["chat", "-m", FIXTURE, "--sampler", "greedy", "-n", "120"], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /context full: dropped the oldest \d+ message\(s\) after the system prompt/);
    assert.equal(r.stdout.split("\n").length >= 4, true);
  });

  test("a model without a chat template: one line, exit 1", async () => {
    const r = await runCli(["chat", "-m", STORIES], { input: "hello\n" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^entropix: .*has no chat template.*\n$/);
  });
});

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

describe("entropix chat on a terminal (tmux)", { skip: hasTmux ? false : "tmux is not installed" }, () => {
  test("Ctrl-C at the prompt keeps the session, a turn streams, Ctrl-D leaves", async () => {
    const name = `entropix-chat-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
    // The whole scrollback, wrapped lines joined: a long reply must not push earlier lines out of view.
    const pane = () => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", name);
    const until = async (what: RegExp, ms = 30_000) => {
      for (let t = 0; t < ms; t += 100) {
        if (what.test(pane())) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`timed out waiting for ${what}; pane:\n${pane()}`);
    };
    const env = `ENTROPIX_CACHE_DIR=${process.env.ENTROPIX_CACHE_DIR} NO_COLOR=1`;
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "50", `${env} ${process.execPath} ${CLI} chat -m ${FIXTURE} --sampler temperature --seed 3 -n 400 -v; echo "exited $?"; sleep 30`);
    try {
      await until(/^>\s*$/m);
      tmux("send-keys", "-t", name, "C-c");
      await until(/Ctrl-D or \/quit to leave/);
      // Ctrl-C as soon as the reply streams: it stops the reply (unless all 400 tokens came first).
      tmux("send-keys", "-t", name, "Once upon a time", "Enter");
      await until(/^> Once upon a time\n\S/m);
      tmux("send-keys", "-t", name, "C-c");
      await until(/stop: (interrupted|max_tokens|eos|context_full)\]/);
      if (/stop: interrupted/.test(pane())) await until(/note: reply stopped\n>\s*$/m);
      // The session goes on: another turn, then Ctrl-D leaves cleanly.
      tmux("send-keys", "-t", name, "/sampler greedy", "Enter");
      await until(/sampler is now greedy/);
      tmux("send-keys", "-t", name, "There was a dog.", "Enter");
      await until(/^> There was a dog\.\n[\s\S]*sampler greedy[\s\S]*\n>\s*$/m);
      tmux("send-keys", "-t", name, "C-d");
      await until(/exited 0/);
    } finally {
      spawnSync("tmux", ["kill-session", "-t", name]);
    }
  });
});
