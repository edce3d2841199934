// One conversation with a loaded model: the history, the KV cache kept between turns, the sampler,
// and the transcript. Yields generate()'s events for each reply; rendering is the caller's job.
import { ModelError } from "../errors.js";
import type { GenerationEvent, SummaryEvent } from "../events.js";
import { generate, type GenerateOptions, type PromptCache } from "../generate.js";
import type { Model } from "../model/model.js";
import type { SamplerName } from "../types.js";
import { ChatHistory, fitHistory } from "./history.js";

export interface ChatOptions {
  system?: string;
  sampler: SamplerName;
  maxTokens: number;
  seed: number;
  /** Passed to every generate() call (thresholds, scale, settings). */
  generate?: Omit<GenerateOptions, "sampler" | "maxTokens" | "seed" | "promptIds" | "cache" | "signal">;
}

export interface TranscriptTurn {
  role: "user" | "assistant";
  content: string;
  sampler?: SamplerName;
  seed?: number;
  generated_tokens?: number;
  prompt_tokens?: number;
  /** Prompt tokens whose KV cache was kept from the previous turn (not fed again). */
  reused_tokens?: number;
  quadrants?: SummaryEvent["quadrants"];
  stop_reason?: SummaryEvent["stop_reason"];
}

export class ChatSession {
  readonly history: ChatHistory;
  sampler: SamplerName;
  /** Every turn said, including those later dropped from the context (the transcript keeps them). */
  readonly transcript: TranscriptTurn[] = [];
  private cache: PromptCache;
  private turn = 0;

  constructor(
    readonly model: Model,
    readonly options: ChatOptions,
  ) {
    if (!model.tokenizer.hasChatTemplate) {
      throw new ModelError(
        `${model.facts.dir}: this model's tokenizer has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); chat needs an instruct model, or use entropix generate`,
      );
    }
    this.history = new ChatHistory(options.system);
    this.sampler = options.sampler;
    this.cache = { sequence: model.newSequence({ scoreLayers: options.generate?.attentionLayers ?? "last" }), ids: [], reused: 0 };
  }

  /** Forgets the conversation (the system message stays), transcript included. */
  reset(): void {
    this.history.reset();
    this.cache.ids = [];
    this.transcript.length = 0;
  }

  /**
   * Answers `text`. Yields notices (dropped turns) and generate()'s events; the reply joins the
   * history when it ends (also when interrupted, with what was said so far).
   */
  async *reply(text: string, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    this.history.turns.push({ role: "user", content: text });
    const ctx = this.model.facts.contextLength;
    const reserve = ctx === null ? 0 : Math.min(this.options.maxTokens, Math.floor(ctx / 2));
    const fitted = fitHistory(this.history, (m) => this.model.tokenizer.applyChatTemplate(m), ctx, reserve);
    if (fitted === null) {
      this.history.turns.pop();
      yield { type: "notice", message: `that message does not fit the model's context of ${ctx} tokens (with room for a reply); send a shorter one` };
      return;
    }
    if (fitted.dropped > 0) {
      yield { type: "notice", message: `context full: dropped the oldest ${fitted.dropped} message(s) after the system prompt` };
    }
    this.transcript.push({ role: "user", content: text });
    const seed = (this.options.seed + this.turn++) >>> 0;
    let summary: SummaryEvent | null = null;
    try {
      for await (const e of generate(this.model, "", {
        ...this.options.generate,
        sampler: this.sampler,
        maxTokens: this.options.maxTokens,
        seed,
        promptIds: fitted.ids,
        cache: this.cache,
        signal,
      })) {
        if (e.type === "summary") summary = e;
        yield e;
      }
    } catch (err) {
      // The turn did not happen: the next one starts from the history before it.
      this.history.turns.pop();
      this.transcript.pop();
      throw err;
    }
    const content = summary?.text ?? "";
    this.history.turns.push({ role: "assistant", content });
    this.transcript.push({
      role: "assistant",
      content,
      sampler: this.sampler,
      seed,
      generated_tokens: summary?.generated_tokens,
      prompt_tokens: summary?.prompt_tokens,
      reused_tokens: this.cache.reused,
      quadrants: summary?.quadrants,
      stop_reason: summary?.stop_reason,
    });
  }

  /** The transcript as /save writes it. */
  toJSON(): Record<string, unknown> {
    return {
      model: this.model.facts.dir,
      onnx_file: this.model.facts.onnxFile,
      system: this.options.system ?? null,
      max_tokens: this.options.maxTokens,
      turns: this.transcript,
    };
  }
}
