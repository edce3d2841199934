// Writes a file so that readers see the old content or the new, never a torn one: temp file in the
// same folder, fsync, rename. Used for patched-model sidecars, threshold profiles and reports.
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  const fh = await open(tmp, "wx");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
