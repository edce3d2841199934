// The chat's slash commands. Pure: parses a line into a command, or null for a message.
import { SAMPLER_NAMES, type SamplerName } from "../types.js";

export type ChatCommand =
  | { kind: "reset" }
  | { kind: "save"; file: string }
  | { kind: "sampler"; name: SamplerName }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "error"; message: string };

export const CHAT_HELP = "commands: /reset (forget the conversation), /save FILE (transcript as JSON), /sampler NAME (" + SAMPLER_NAMES.join(", ") + "), /quit; Ctrl-C stops a reply, Ctrl-D leaves";

export function parseCommand(line: string): ChatCommand | null {
  const text = line.trim();
  if (!text.startsWith("/")) return null;
  const [word, ...rest] = text.split(/\s+/);
  const arg = rest.join(" ");
  switch (word) {
    case "/reset":
      return { kind: "reset" };
    case "/quit":
    case "/exit":
      return { kind: "quit" };
    case "/help":
      return { kind: "help" };
    case "/save":
      return arg ? { kind: "save", file: arg } : { kind: "error", message: "/save needs a file name: /save FILE" };
    case "/sampler":
      if ((SAMPLER_NAMES as readonly string[]).includes(arg)) return { kind: "sampler", name: arg as SamplerName };
      return { kind: "error", message: `/sampler takes one of ${SAMPLER_NAMES.join(", ")}${arg ? ` (not "${arg}")` : ""}` };
    default:
      return { kind: "error", message: `unknown command ${word}; ${CHAT_HELP}` };
  }
}
