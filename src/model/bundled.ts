// The models shipped in the package's models/ folder, and how `--model NAME` finds them.
//
// A bundled model is any subfolder of models/ with a config.json; its name is the folder name. The
// list is read from disk rather than written down here so that adding (or renaming) a bundled model
// is a matter of committing its folder.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";

/** dist/src/model/bundled.js (or src/model/bundled.ts) → the package root. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const BUNDLED_MODELS_DIR = path.join(PACKAGE_ROOT, "models");
/** What `generate` runs without --model. */
export const DEFAULT_MODEL_NAME = "tiny-stdlib-llama";

export interface BundledModel {
  name: string;
  /** Absolute path of the model folder. */
  path: string;
}

/** The bundled models, the default first, then by name. */
export function bundledModels(dir: string = BUNDLED_MODELS_DIR): BundledModel[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => existsSync(path.join(dir, n, "config.json")))
    .sort((a, b) => Number(b === DEFAULT_MODEL_NAME) - Number(a === DEFAULT_MODEL_NAME) || a.localeCompare(b))
    .map((name) => ({ name, path: path.join(dir, name) }));
}

export function defaultModelPath(): string {
  return path.join(BUNDLED_MODELS_DIR, DEFAULT_MODEL_NAME);
}

/**
 * `--model X`: an existing path is used as given (a folder named like a bundled model in the current
 * directory wins over the bundled one, so paths always mean what they say); otherwise X must be a
 * bundled model's name. Anything else is a usage error that lists the names.
 */
export function resolveModelArg(arg: string, models: BundledModel[] = bundledModels()): string {
  if (existsSync(arg)) return arg;
  const hit = models.find((m) => m.name === arg);
  if (hit) return hit.path;
  const names = models.map((m) => m.name).join(", ") || "none found";
  // Something written as a path (a separator in it) is a missing folder rather than a wrong name.
  if (arg.includes("/") || arg.includes(path.sep)) {
    throw new UsageError(`${arg}: model folder not found; pass an existing folder with --model, or a bundled model name (bundled: ${names})`);
  }
  throw new UsageError(`--model ${arg}: no such model folder and not a bundled model name (bundled: ${names}); pass a model folder or one of those names`);
}
