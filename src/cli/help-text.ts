// Text --help shows after the flags: where the documentation is. The docs ship with the package
// (docs/ beside bin/), so the paths are given relative to the package, not as links that leave it.

export const DOCS_HELP = [
  "Documentation (in the entropix package):",
  "  docs/method.md       the sampler: metrics, decision table, constants, deviations from the reference",
  "  docs/json-schema.md  every --json event (token, insert, notice, summary, comparison) and field",
  "  docs/errors.md       every error message and exit code",
].join("\n");
