// A young-generation collection every 100 ms while the CLI runs.
//
// Every token, onnxruntime-node copies the logits and the attention row into new JavaScript buffers.
// V8 frees such buffers only when a collection runs, and with little else allocated on its heap it
// waits until tens of MB of them have piled up: over a 4,000-token run on the bundled model that was
// about 20 MB of the process's peak (README "Long runs": ×1.43 → ×1.29–1.30 with this, at the same speed).
// The collections are cheap: the long runs decoded at the same speed with them. The CLI owns its process, so it may
// ask V8 for the `gc` function; the library leaves the heap to its caller.
import v8 from "node:v8";
import vm from "node:vm";

const INTERVAL_MS = 100;

type GcFunction = (options?: { type: "minor" | "major" }) => void;

/** Starts the timer (unref'd: it never keeps the process alive). Does nothing where V8 refuses. */
export function startYoungGc(): void {
  let gc: GcFunction | undefined;
  try {
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as GcFunction;
  } catch {
    return;
  }
  if (typeof gc !== "function") return;
  const collect = gc;
  setInterval(() => collect({ type: "minor" }), INTERVAL_MS).unref();
}
