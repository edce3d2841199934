// The model's own tokenizer, loaded from the local folder only (never from a hub), plus a streaming
// decoder that turns ids into text deltas without splitting multi-byte characters.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { AutoTokenizer, PreTrainedTokenizer, env } from "@huggingface/transformers";
import { ModelError, UsageError } from "../errors.js";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export class Tokenizer {
  constructor(
    private readonly inner: PreTrainedTokenizer,
    /** Number of ids the tokenizer can produce (base vocabulary + added tokens). */
    readonly size: number,
    /** A template from chat_template.jinja, used when tokenizer_config.json has none. */
    private readonly templateFile: string | null = null,
  ) {}

  /** Ids for `text`; adds BOS/EOS the way the model's tokenizer_config says (unless told not to). */
  encode(text: string, addSpecialTokens = true): number[] {
    return this.inner.encode(text, { add_special_tokens: addSpecialTokens });
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    // transformers.js throws on an empty list; nothing decodes to nothing.
    if (ids.length === 0) return "";
    return this.inner.decode(ids as number[], { skip_special_tokens: skipSpecial });
  }

  get hasChatTemplate(): boolean {
    return this.templateFile !== null || (this.inner.chat_template !== null && this.inner.chat_template !== undefined);
  }

  /** Applies the tokenizer's chat template with a generation prompt; ids ready for prefill. */
  applyChatTemplate(messages: ChatMessage[]): number[] {
    if (!this.hasChatTemplate) {
      throw new UsageError(
        "this model's tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja); pass plain prompts",
        "--chat: this model's tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja); drop --chat",
      );
    }
    const text = this.inner.apply_chat_template(messages, {
      add_generation_prompt: true,
      tokenize: false,
      ...(this.inner.chat_template ? {} : { chat_template: this.templateFile! }),
    }) as unknown as string;
    // The template already writes BOS where the model wants it.
    return this.encode(text, false);
  }

  get bosId(): number | null {
    return (this.inner as unknown as { bos_token_id?: number | null }).bos_token_id ?? null;
  }

  get eosId(): number | null {
    return (this.inner as unknown as { eos_token_id?: number | null }).eos_token_id ?? null;
  }
}

export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  if (!existsSync(path.join(dir, "tokenizer.json"))) {
    throw new ModelError(`${path.join(dir, "tokenizer.json")}: tokenizer missing; the model folder needs tokenizer.json (and usually tokenizer_config.json)`);
  }
  let inner: PreTrainedTokenizer;
  try {
    // transformers.js only reads a folder that has tokenizer_config.json; a bare tokenizer.json (as
    // some exports ship it) is built directly, with the defaults an empty config gives.
    inner = existsSync(path.join(dir, "tokenizer_config.json"))
      ? await AutoTokenizer.from_pretrained(dir, { local_files_only: true })
      : new PreTrainedTokenizer(JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")), {});
  } catch (err) {
    throw new ModelError(`${dir}: tokenizer cannot be loaded (${firstLine(err)}); check tokenizer.json and tokenizer_config.json`);
  }
  const jinja = path.join(dir, "chat_template.jinja");
  return new Tokenizer(inner, tokenizerSize(inner), existsSync(jinja) ? readFileSync(jinja, "utf8") : null);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0];
}

/** Highest id the tokenizer can produce + 1 (its vocabulary includes the added tokens). */
function tokenizerSize(tok: PreTrainedTokenizer): number {
  let max = -1;
  for (const id of tok.get_vocab().values()) if (typeof id === "number" && id > max) max = id;
  for (const id of tok.all_special_ids ?? []) if (id > max) max = id;
  return max + 1;
}

/**
 * Turns a growing list of ids into text deltas. Decoding ids one at a time loses the leading space
 * of SentencePiece pieces and splits multi-byte characters, so it decodes a short window and emits
 * only what is new and complete (a trailing U+FFFD means "wait for the next byte").
 */
export class StreamingDecoder {
  private ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  /** `contextIds`: the last prompt ids, so the first generated piece decodes with its leading space. */
  constructor(
    private readonly tokenizer: Tokenizer,
    contextIds: readonly number[] = [],
  ) {
    this.ids = contextIds.slice(-6);
    this.readOffset = this.ids.length;
  }

  /** Adds one id; returns the text it completes (possibly ""). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (full.length > prefix.length && !full.endsWith("\uFFFD")) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return full.slice(prefix.length);
    }
    return "";
  }

  /** Whatever is still held back (e.g. an incomplete character at the end of the run). */
  flush(): string {
    const prefix = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return full.length > prefix.length ? full.slice(prefix.length) : "";
  }
}
