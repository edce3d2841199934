// Writing a report file: checks before the run (so a bad path fails fast), atomic write after it.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../atomic-write.js";
import { REPORT_GENERATOR } from "./render.js";

/** Whether `file` starts like a report this tool wrote (its generator meta tag). */
function isPreviousReport(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(file, "r");
    const buf = Buffer.alloc(2048);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("utf8").includes(`<meta name="generator" content="${REPORT_GENERATOR}`);
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Checks that a report can be written to `file`: its folder exists, and `file` is not a folder nor
 * an existing file other than an earlier report (which is replaced). One-line UsageError otherwise.
 */
export function checkReportPath(file: string): void {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  let dirOk = false;
  try {
    dirOk = statSync(dir).isDirectory();
  } catch {
    dirOk = false;
  }
  if (!dirOk) throw new UsageError(`--report ${file}: folder ${dir} does not exist`);
  let st;
  try {
    st = statSync(abs);
  } catch {
    return; // a new file
  }
  if (st.isDirectory()) throw new UsageError(`--report ${file}: is a folder; give a file name such as run.html`);
  if (!st.isFile() || !isPreviousReport(abs)) {
    throw new UsageError(`--report ${file}: exists and is not an entropix report; remove it or choose another name`);
  }
}

/** Writes the page atomically (temp file + rename). */
export async function writeReport(file: string, html: string): Promise<string> {
  const abs = path.resolve(file);
  await writeFileAtomic(abs, html);
  return abs;
}
