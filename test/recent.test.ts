// Local model folders used before (for `entropix list`): recorded in entropix's cache on each load.
import assert from "node:assert/strict";
import { cpSync, rmSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { runCli, STORIES, tempDir } from "./helpers.js";
import { recentModels } from "../src/model/recent.js";

test("generate records the folder it ran (once per folder, newest first), with dtype and attention source", async () => {
  const cache = tempDir("entropix-recent-");
  const copy = path.join(tempDir("entropix-recent-model-"), "stories");
  cpSync(STORIES, copy, { recursive: true });
  const env = { ENTROPIX_CACHE_DIR: cache };
  for (const dir of [STORIES, copy, STORIES]) {
    const r = await runCli(["generate", "-m", dir, "--sampler", "greedy", "-n", "2", "--json", "Once"], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  let rows = await recentModels(cache);
  assert.deepEqual(rows.map((r) => r.dir), [STORIES, copy]);
  assert.equal(rows[0].dtype, "fp32");
  assert.equal(rows[0].onnx_file, "onnx/model.onnx");
  assert.equal(rows[0].attention_source, "taps");
  assert.equal(rows[0].exists, true);
  assert.equal(typeof rows[0].profile, "boolean");
  // entropix list shows them by path (source "recent"), each once.
  const list = await runCli(["list", "--json"], { env });
  const recent = (JSON.parse(list.stdout) as { models: { name: string; source: string; dtype: string }[] }).models.filter((m) => m.source === "recent");
  assert.deepEqual(recent.map((m) => [m.name, m.dtype]), [[STORIES, "fp32"], [copy, "fp32"]]);
  rmSync(copy, { recursive: true, force: true });
  rows = await recentModels(cache);
  assert.equal(rows[1].exists, false, "a folder removed since is shown as gone");
  const after = await runCli(["list", "--json"], { env });
  assert.equal((JSON.parse(after.stdout) as { models: { name: string }[] }).models.some((m) => m.name === copy), false, "and left out of list");
});
