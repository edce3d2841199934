// Download progress on stderr: one cli-progress bar per file with bytes, rate and ETA. Only on a
// terminal; elsewhere (pipes, --json, tests) downloads are silent.
import cliProgress from "cli-progress";

export interface DownloadProgress {
  /** A file starts; `done` bytes are already there (a resumed download). */
  start(file: string, total: number, done: number): void;
  advance(bytes: number): void;
  /** The file ended (finished or failed). */
  stop(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A bar on `stream` when it is a terminal, else null (no output at all). */
export function terminalProgress(stream: NodeJS.WriteStream): DownloadProgress | null {
  if (!stream.isTTY) return null;
  let bar: cliProgress.SingleBar | null = null;
  let value = 0;
  let total = 0;
  let since = 0;
  let base = 0;
  const payload = () => {
    const secs = (Date.now() - since) / 1000;
    const rate = secs > 0 ? (value - base) / secs : 0;
    return { bytes: `${formatBytes(value)}/${formatBytes(total)}`, rate: `${formatBytes(Math.round(rate))}/s` };
  };
  return {
    start(file, t, done) {
      total = t;
      value = base = done;
      since = Date.now();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${file} [{bar}] {percentage}% | {bytes} | {rate} | ETA {eta_formatted}`,
          hideCursor: false,
          clearOnComplete: false,
          barsize: 24,
          fps: 8,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(total, 1), value, payload());
    },
    advance(n) {
      value += n;
      bar?.update(value, payload());
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
