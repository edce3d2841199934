// Errors a user can cause. Library code throws them with a one-line message; only the CLI decides
// how to print them and which exit code to use (usage → 2, model/runtime → 1).

/** Bad flags, bad prompt input, bad option values: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A model folder or file that cannot be used as asked: exit code 1. */
export class ModelError extends Error {
  override name = "ModelError";
}

/** A failure during generation (e.g. non-finite logits): exit code 1. */
export class RuntimeFailure extends Error {
  override name = "RuntimeFailure";
}
