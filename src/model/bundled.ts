// The models shipped inside the package (models/). Minimal version: the stories helper's branch
// adds bundledModels(); keep defaultModelPath() as is so the two merge trivially.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** dist/src/model → the package root. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Absolute path of the default model folder (the bundled tiny-stdlib-llama). */
export function defaultModelPath(): string {
  return path.join(PACKAGE_ROOT, "models", "tiny-stdlib-llama");
}
