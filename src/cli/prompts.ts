// Where prompts come from: the argument, stdin (appended to the argument, see STDIN_RULES), --file
// (one per line, "-" = stdin) or --jsonl.
import { fstatSync, readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { unescapeC } from "./escapes.js";

/** The stdin rule, as --help states it. */
export const STDIN_RULES =
  "Stdin: with no prompt argument, the prompt is read from stdin (unless it is a terminal). With a prompt argument, piped stdin is appended to it; a regular file or /dev/null on stdin is not read (so `while read p; do entropix generate \"$p\"; done < list` works) unless you pass - as an argument. --no-stdin never reads stdin.";

/** What is on file descriptor 0. "device" is a character device that is not a terminal (/dev/null). */
export type StdinKind = "tty" | "pipe" | "file" | "device" | "closed";

export function stdinKind(): StdinKind {
  if (process.stdin.isTTY) return "tty";
  try {
    const st = fstatSync(0);
    if (st.isFIFO() || st.isSocket()) return "pipe";
    if (st.isFile()) return "file";
    return "device";
  } catch {
    return "closed";
  }
}

export interface PromptItem {
  prompt: string;
  id?: string | number;
  seed?: number;
  maxTokens?: number;
  system?: string;
  /** JSONL "stop": extra stop strings for this prompt (C escapes already applied). */
  stop?: string[];
}

export interface PromptSources {
  args: string[];
  file?: string;
  jsonl?: string;
  /** false: never read stdin (--no-stdin). */
  stdin?: boolean;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Decodes UTF-8 strictly so a bad byte is reported with its offset instead of silently replaced. */
export function decodeUtf8(bytes: Buffer, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${source}: invalid UTF-8 at byte ${firstInvalidUtf8(bytes)}; save the text as UTF-8`);
  }
}

/** Offset of the first byte of the first ill-formed UTF-8 sequence (Unicode Table 3-7), or the length. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n > b.length - 1) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    const c1 = b[i + 1];
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 >= 0xa0) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 >= 0x90)) return i;
    i += n + 1;
  }
  return b.length;
}

function readText(file: string, stdin: () => Promise<Buffer>): Promise<string> | string {
  if (file === "-") return stdin().then((b) => decodeUtf8(b, "stdin"));
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UsageError(`${file}: cannot read the prompt file (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return decodeUtf8(bytes, file);
}

function parseJsonl(text: string, source: string, onBadLine: (message: string) => void): PromptItem[] {
  const items: PromptItem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${source}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      onBadLine(`${where}: not valid JSON; skipped`);
      return;
    }
    const o = obj as Record<string, unknown>;
    if (!o || typeof o !== "object" || typeof o.prompt !== "string") {
      onBadLine(`${where}: needs an object with a "prompt" string; skipped`);
      return;
    }
    const item: PromptItem = { prompt: o.prompt };
    if (typeof o.id === "string" || typeof o.id === "number") item.id = o.id;
    if (o.seed !== undefined) {
      if (!Number.isInteger(o.seed) || (o.seed as number) < 0) return onBadLine(`${where}: "seed" must be a whole number ≥ 0; skipped`);
      item.seed = o.seed as number;
    }
    if (o.max_tokens !== undefined) {
      if (!Number.isInteger(o.max_tokens) || (o.max_tokens as number) < 1) return onBadLine(`${where}: "max_tokens" must be a whole number ≥ 1; skipped`);
      item.maxTokens = o.max_tokens as number;
    }
    if (typeof o.system === "string") item.system = o.system;
    if (o.stop !== undefined) {
      const stops = typeof o.stop === "string" ? [o.stop] : o.stop;
      if (!Array.isArray(stops) || !stops.every((x): x is string => typeof x === "string" && x !== "")) {
        return onBadLine(`${where}: "stop" must be a non-empty string or an array of them; skipped`);
      }
      try {
        item.stop = stops.map((x) => unescapeC(x, `${where}: "stop"`));
      } catch (err) {
        return onBadLine(`${(err as Error).message}; skipped`);
      }
    }
    items.push(item);
  });
  return items;
}

/**
 * Collects the prompts to run. `onBadLine` receives per-line JSONL problems (the caller decides
 * whether they are fatal, e.g. with --strict).
 */
export async function collectPrompts(src: PromptSources, onBadLine: (message: string) => void): Promise<PromptItem[]> {
  const allowStdin = src.stdin !== false;
  const stdin = () => {
    if (!allowStdin) throw new UsageError('"-" reads stdin, which --no-stdin turns off; drop one of them');
    return readStdin();
  };
  if (src.file && src.jsonl) throw new UsageError("--file and --jsonl cannot be combined; pick one prompt source");
  const dash = src.args.includes("-");
  const args = src.args.filter((a) => a !== "-");
  if ((src.file || src.jsonl) && src.args.length > 0) throw new UsageError("give prompts either as an argument or with --file/--jsonl, not both");
  if (src.jsonl) return parseJsonl(await readText(src.jsonl, stdin), src.jsonl === "-" ? "stdin" : src.jsonl, onBadLine);
  if (src.file) {
    const text = await readText(src.file, stdin);
    return text
      .split(/\r?\n/)
      .filter((l) => l.trim() !== "")
      .map((prompt) => ({ prompt }));
  }
  let prompt = args.join(" ");
  const kind = stdinKind();
  // See STDIN_RULES: a prompt argument reads stdin only from a pipe (or when "-" asks for it).
  const read = dash ? true : allowStdin && kind !== "tty" && kind !== "closed" && (args.length === 0 || kind === "pipe");
  if (read) {
    const piped = decodeUtf8(await stdin(), "stdin");
    if (piped.trim() !== "") prompt = prompt ? `${prompt}\n${piped.trimEnd()}` : piped.trimEnd();
  }
  if (prompt.trim() === "") {
    throw new UsageError(
      args.length > 0 || read ? "prompt is empty; give some text" : 'no prompt; give one as an argument (entropix generate "text"), with -p, --file, or on stdin',
    );
  }
  return [{ prompt }];
}
