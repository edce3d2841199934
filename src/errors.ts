// Errors a user can cause. Library code throws them with a one-line message; only the CLI decides
// how to print them and which exit code to use (usage → 2, model/runtime → 1).

/** Bad flags, bad prompt input, bad option values: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** `cliMessage`, when set: the same message in a command line's terms (naming its flag). */
  constructor(
    message: string,
    readonly cliMessage?: string,
  ) {
    super(message);
  }
}

/** Which load option an error is about, so a front end can name its own flag for it. */
export type LoadOptionName = "dir" | "dtype" | "onnxFile";

/**
 * A model folder or file that cannot be used as asked: exit code 1. The message is worded for
 * library callers; `cliMessage`, when set, is the same in a command line's terms (naming its flag).
 */
export class ModelError extends Error {
  override name = "ModelError";
  constructor(
    message: string,
    readonly option?: LoadOptionName,
    readonly cliMessage?: string,
  ) {
    super(message);
  }
}

/** A failure during generation (e.g. non-finite logits): exit code 1. */
export class RuntimeFailure extends Error {
  override name = "RuntimeFailure";
}
