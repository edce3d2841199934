// The package version, read once from package.json (dist/src/calibrate → package root).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function readVersion(): string {
  try {
    const file = fileURLToPath(new URL("../../../package.json", import.meta.url));
    const v = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
    return typeof v === "string" ? v : "unknown";
  } catch {
    return "unknown";
  }
}

/** entropix's version (package.json), "unknown" when it cannot be read. */
export const ENTROPIX_VERSION: string = readVersion();
