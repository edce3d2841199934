// A chat's messages and how they fit the model's context. Pure: rendering to ids is passed in.
import type { ChatMessage } from "../model/tokenizer.js";

export class ChatHistory {
  /** User and assistant messages, oldest first (the system message is kept apart: it never drops). */
  turns: ChatMessage[] = [];

  constructor(readonly system?: string) {}

  messages(): ChatMessage[] {
    return [...(this.system !== undefined ? [{ role: "system" as const, content: this.system }] : []), ...this.turns];
  }

  reset(): void {
    this.turns = [];
  }
}

export interface Fitted {
  ids: number[];
  /** Messages dropped from the front (after the system message) to make room. */
  dropped: number;
}

/**
 * Renders the history (ending with the new user message) and drops the oldest turns, a user message
 * with its reply at a time, until the prompt leaves `reserve` tokens of the `context` for the reply.
 * Returns null when even the newest user message alone (with the system message) does not fit.
 */
export function fitHistory(history: ChatHistory, render: (messages: ChatMessage[]) => number[], context: number | null, reserve: number): Fitted | null {
  let dropped = 0;
  for (;;) {
    const ids = render(history.messages());
    if (context === null || ids.length + reserve <= context) return { ids, dropped };
    if (history.turns.length <= 1) return null;
    // Drop a user message and the assistant reply after it (two messages), or one if unpaired.
    const n = history.turns.length >= 3 && history.turns[1].role === "assistant" ? 2 : 1;
    history.turns.splice(0, n);
    dropped += n;
  }
}
