// `entropix chat [-m MODEL] [--system TEXT]`: a multi-turn chat. On a terminal: a prompt, replies
// streamed in quadrant colours, Ctrl-C stops the reply (not the session), Ctrl-D leaves. Otherwise
// (piped stdin) each line is a user turn and each reply one block on stdout: scriptable.
// The conversation itself (history, kept KV cache, context fitting) is in src/chat/.
import path from "node:path";
import readline from "node:readline";
import { Option, type Command } from "commander";
import { writeFileAtomic } from "../atomic-write.js";
import { CHAT_HELP, parseCommand } from "../chat/commands.js";
import { ChatSession } from "../chat/session.js";
import type { Model } from "../model/model.js";
import { randomSeed } from "../sampler/rng.js";
import { SAMPLER_NAMES, type SamplerName } from "../types.js";
import { integer, oneOf } from "./numbers.js";
import { colorEnabled, formatSummary, TerminalRenderer, type Streams } from "./render.js";

interface ChatFlags {
  model: string;
  onnxFile?: string;
  dtype?: string;
  threads?: number;
  taps: boolean;
  system?: string;
  sampler: SamplerName;
  maxTokens: number;
  seed?: number;
  color: boolean;
  verbose?: boolean;
}

export interface ChatDeps {
  streams: Streams;
  signal: AbortSignal;
  addModelOptions: (cmd: Command) => Command;
  openModel: (flags: ChatFlags, err: NodeJS.WriteStream, opts?: { calibrated?: boolean }) => Promise<Model>;
}

export function registerChatCommand(program: Command, deps: ChatDeps): Command {
  return deps
    .addModelOptions(program.command("chat").description("chat with an instruct model using its chat template (piped stdin: one user turn per line)"))
    .option("--system <text>", "system message at the start of the conversation")
    .addOption(new Option("--sampler <name>", SAMPLER_NAMES.join(" | ")).argParser(oneOf("--sampler", SAMPLER_NAMES)).default("entropix"))
    .option("-n, --max-tokens <n>", "tokens per reply at most", integer("--max-tokens", 1), 256)
    .option("--seed <n>", "random seed of the first reply (each later reply adds 1)", integer("--seed", 0, 2 ** 32 - 1))
    .option("--no-color", "never colour the replies")
    .option("-v, --verbose", "print a timings line after each reply")
    .action((flags: ChatFlags) => runChat(flags, deps));
}

async function runChat(flags: ChatFlags, deps: ChatDeps): Promise<void> {
  const { streams, signal } = deps;
  // The model's calibrated profile when it has a current one, as generate uses by default.
  const model = await deps.openModel(flags, process.stderr, { calibrated: true });
  try {
    for (const n of model.notes) streams.err.write(`note: ${n}\n`);
    const t = model.thresholds;
    const session = new ChatSession(model, {
      system: flags.system,
      sampler: flags.sampler,
      maxTokens: flags.maxTokens,
      seed: flags.seed ?? randomSeed(),
      generate: { thresholds: t.profile, thresholdsName: t.label, scale: t.scale ?? null, ...(t.settings?.temperature !== undefined ? { heat: t.settings.temperature } : {}) },
    });
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const term = new TerminalRenderer(streams, colorEnabled(flags.color, process.stdout));
    if (tty) {
      streams.err.write(`chatting with ${model.facts.dir} (/help for commands; Ctrl-C stops a reply, Ctrl-D leaves)\n`);
      term.legend();
    }
    await loop(session, flags, streams, term, tty, signal);
  } finally {
    await model.close();
  }
}

async function loop(session: ChatSession, flags: ChatFlags, streams: Streams, term: TerminalRenderer, tty: boolean, signal: AbortSignal): Promise<void> {
  const rl = readline.createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  let reply: AbortController | null = null;
  // On a terminal readline gets Ctrl-C as a key: it stops the reply in progress, or reminds how to leave.
  rl.on("SIGINT", () => {
    if (reply) reply.abort();
    else {
      streams.err.write("\n(Ctrl-D or /quit to leave)\n");
      rl.prompt();
    }
  });
  const onAbort = () => rl.close();
  signal.addEventListener("abort", onAbort, { once: true });
  rl.setPrompt("> ");
  try {
    if (tty) rl.prompt();
    for await (const line of rl) {
      if (signal.aborted) break;
      const text = line.trim();
      const cmd = parseCommand(text);
      if (cmd?.kind === "quit") break;
      if (cmd) {
        switch (cmd.kind) {
          case "reset":
            session.reset();
            streams.err.write("note: conversation reset\n");
            break;
          case "sampler":
            session.sampler = cmd.name;
            streams.err.write(`note: sampler is now ${cmd.name}\n`);
            break;
          case "save":
            try {
              await writeFileAtomic(path.resolve(cmd.file), `${JSON.stringify(session.toJSON(), null, 2)}\n`);
              streams.err.write(`note: transcript saved to ${cmd.file}\n`);
            } catch (err) {
              streams.err.write(`note: cannot write ${cmd.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
            }
            break;
          case "help":
            streams.err.write(`${CHAT_HELP}\n`);
            break;
          case "error":
            streams.err.write(`note: ${cmd.message}\n`);
            break;
        }
      } else if (text !== "") {
        reply = new AbortController();
        const stop = reply;
        const both = AbortSignal.any([stop.signal, signal]);
        for await (const e of session.reply(text, both)) {
          if (e.type === "token") term.token(e);
          else if (e.type === "notice") term.notice(e.message);
          else {
            streams.out.write("\n");
            if (flags.verbose) streams.err.write(`${formatSummary(e, null)}\n`);
            if (e.stop_reason === "interrupted" && stop.signal.aborted) streams.err.write("note: reply stopped\n");
          }
        }
        reply = null;
      }
      if (signal.aborted) break;
      if (tty) rl.prompt();
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    rl.close();
    if (tty) streams.err.write("\n");
  }
}
