// How loadModel reads its folder argument: relative to the current folder, as any path; a relative
// path that is not there but names a model shipped in the package's models/ folder ("NAME" or
// "models/NAME") means the package's copy, so library code works from any working folder.
import { existsSync } from "node:fs";
import path from "node:path";
import { defaultModelPath } from "./bundled.js";

export function resolveModelDir(dir: string): string {
  if (path.isAbsolute(dir) || existsSync(dir)) return dir;
  const modelsDir = path.dirname(defaultModelPath());
  const name = path.normalize(dir).replace(/^models[\\/]/, "");
  if (name === "" || name.includes(path.sep) || name.startsWith(".")) return dir;
  const bundled = path.join(modelsDir, name);
  return existsSync(bundled) ? bundled : dir;
}
