// Models from the Hugging Face Hub (issue 15), against a loopback stand-in for the Hub: pull, the
// standard cache layout, reuse with no requests, offline mode, resume after a kill, and the errors.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, jsonLines, runCli, STORIES, tempDir } from "./helpers.js";
import { etagOf, FakeHub, repoFromFolder, type FakeRepo } from "./hub-server.js";
import { parseHubRef } from "../src/hub/ref.js";
import { chooseFiles } from "../src/hub/files.js";
import { isHubSnapshotPath } from "../src/hub/layout.js";
import { hfCachedModels } from "../src/hub/list.js";

const REPO = "test-org/stories260k";
let hub: FakeHub;
let stories: FakeRepo;

/** Environment for one isolated run: its own HF_HOME and entropix cache, the fake Hub, no token. */
function hubEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    HF_HOME: home,
    HF_HUB_CACHE: undefined,
    HUGGINGFACE_HUB_CACHE: undefined,
    HF_ENDPOINT: hub.url,
    HF_TOKEN: undefined,
    HUGGING_FACE_HUB_TOKEN: undefined,
    HF_HUB_OFFLINE: undefined,
    ENTROPIX_CACHE_DIR: path.join(home, "entropix-cache"),
    ENTROPIX_HUB_TIMEOUT_MS: "20000",
    ...extra,
  };
}

function repoDir(home: string, repo = REPO): string {
  const [o, n] = repo.split("/");
  return path.join(home, "hub", `models--${o}--${n}`);
}

/** Every path under `dir` (files, links, folders), relative. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (lstatSync(path.join(d, name)).isDirectory()) walk(path.join(d, name), r);
    }
  };
  if (existsSync(dir)) walk(dir, "");
  return out;
}

async function pull(home: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  return runCli(["pull", REPO, "--json", ...args], { env: hubEnv(home, env), timeoutMs: 60_000 });
}

before(async () => {
  hub = await new FakeHub().start();
  stories = repoFromFolder(STORIES, {}, (p) => p === "LICENSE");
  hub.repos.set(REPO, stories);
  hub.repos.set("test-org/gated", { ...repoFromFolder(STORIES, {}, (p) => p === "LICENSE"), token: "hf_letmein" });
  hub.repos.set("test-org/safetensors-only", repoFromFolder(STORIES, { "model.safetensors": "not really" }, (p) => p.startsWith("onnx/")));
  hub.repos.set("test-org/other", repoFromFolder(STORIES, { "README.md": "other" }, (p) => p === "LICENSE"));
  hub.repos.set("test-org/evil", repoFromFolder(STORIES, { "onnx/model.onnx_data/../../../../escaped": "x" }, (p) => p === "LICENSE"));
});

after(async () => {
  await hub.close();
});

describe("model references and file choice (pure)", () => {
  test("parses OWNER/NAME[@REVISION] with or without hf:, rejects malformed ones", () => {
    assert.deepEqual(parseHubRef("hf:onnx-community/SmolLM2-135M-Instruct"), { owner: "onnx-community", name: "SmolLM2-135M-Instruct", repo: "onnx-community/SmolLM2-135M-Instruct" });
    assert.equal(parseHubRef("a/b@v1.0").revision, "v1.0");
    for (const bad of ["hf:nope", "hf:a/b/c", "hf:/b", "hf:a/b@", "hf:a/b@x y", "hf:-a/b", "hf:a/b..c@x..y"]) {
      assert.throws(() => parseHubRef(bad), /not a Hugging Face model reference/, bad);
    }
  });

  test("fetches only the decoder for the dtype, its external data and the side files", () => {
    const files = ["config.json", "tokenizer.json", "tokenizer_config.json", "README.md", "onnx/model.onnx", "onnx/model_q4.onnx", "onnx/model_q4.onnx_data", "onnx/model_q4.onnx_data_1", "onnx/model_fp16.onnx"];
    const q4 = chooseFiles("o/n", files, "q4");
    assert.equal(q4.onnx, "onnx/model_q4.onnx");
    assert.deepEqual(q4.files, ["onnx/model_q4.onnx_data", "onnx/model_q4.onnx_data_1", "config.json", "tokenizer.json", "tokenizer_config.json"]);
    assert.equal(chooseFiles("o/n", files).onnx, "onnx/model.onnx");
    assert.throws(() => chooseFiles("o/n", files, "q8"), /has no q8 decoder.*--dtype fp32, fp16, q4/);
    assert.throws(() => chooseFiles("o/n", ["config.json", "tokenizer.json", "model.safetensors"]), /no ONNX decoder/);
  });

  test("HF snapshot folders are recognised (and so never written into)", () => {
    assert.equal(isHubSnapshotPath("/x/hub/models--a--b/snapshots/0123/onnx"), true);
    assert.equal(isHubSnapshotPath("/x/hub/models--a--b/blobs"), false);
    assert.equal(isHubSnapshotPath("/x/models/tiny"), false);
  });
});

describe("entropix pull and --model hf: (loopback Hub)", () => {
  const home = tempDir("entropix-hf-");

  test("pull writes the standard cache layout, verified, with refs/main", async () => {
    const r = await pull(home);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; commit: string; onnx: string; files_downloaded: number; bytes_downloaded: number };
    assert.equal(out.commit, stories.commit);
    assert.equal(out.onnx, "onnx/model.onnx");
    const root = repoDir(home);
    assert.equal(out.dir, path.join(root, "snapshots", stories.commit));
    assert.equal(readFileSync(path.join(root, "refs", "main"), "utf8"), stories.commit);
    // Only what a run needs: no LICENSE (not a needed file).
    const snap = tree(out.dir).filter((p) => !lstatSync(path.join(out.dir, p)).isDirectory());
    assert.deepEqual(snap, ["config.json", "generation_config.json", "onnx/model.onnx", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
    for (const f of snap) {
      const link = path.join(out.dir, f);
      assert.ok(lstatSync(link).isSymbolicLink(), `${f} is a symlink into blobs/`);
      const etag = etagOf(f, stories.files.get(f)!);
      assert.equal(path.resolve(path.dirname(link), readlinkSync(link)), path.join(root, "blobs", etag));
      assert.deepEqual(readFileSync(link), stories.files.get(f));
    }
    assert.equal(out.bytes_downloaded, [...snap].reduce((s, f) => s + stories.files.get(f)!.length, 0));
    assert.deepEqual(tree(path.join(root, "blobs")).filter((p) => p.endsWith(".incomplete")), []);
  });

  test("hfCachedModels lists runnable snapshots and counts the other cached repos", async () => {
    mkdirSync(path.join(home, "hub", "models--someone--gguf-only", "snapshots", "0".repeat(40)), { recursive: true });
    writeFileSync(path.join(home, "hub", "models--someone--gguf-only", "snapshots", "0".repeat(40), "model.gguf"), "x");
    mkdirSync(path.join(home, "hub", "datasets--someone--data"), { recursive: true });
    const listing = await hfCachedModels(path.join(home, "hub"));
    assert.equal(listing.skipped, 2);
    assert.equal(listing.models.length, 1);
    const m = listing.models[0];
    assert.equal(m.name, `hf:${REPO}`);
    assert.equal(m.commit, stories.commit);
    assert.deepEqual(m.refs, ["main"]);
    assert.deepEqual(m.dtypes, ["fp32"]);
    assert.ok(m.bytes > stories.files.get("onnx/model.onnx")!.length);
    assert.equal(m.profile, false);
    assert.equal(m.attention, null, "never run yet");
  });

  test("generate -m hf: runs the cached model with no request at all, and writes nothing into the snapshot", async () => {
    const before = tree(repoDir(home));
    const seen = hub.seen.length;
    const r = await runCli(["generate", "-m", `hf:${REPO}`, "--sampler", "greedy", "-n", "12", "--json", "Once upon a time"], { env: hubEnv(home) });
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.filter((l) => l.type === "token").length, 12);
    assert.equal(hub.seen.length, seen, "no request to the Hub");
    assert.deepEqual(tree(repoDir(home)), before, "the HF cache is unchanged (taps patch went to entropix's cache)");
    assert.ok(tree(path.join(home, "entropix-cache")).some((p) => p.endsWith(".taps.onnx")), "patched copy in entropix's own cache");
    const listed = (await hfCachedModels(path.join(home, "hub"), path.join(home, "entropix-cache"))).models[0];
    assert.equal(listed.attention, "taps", "the listing knows the attention source once a run patched it");
    assert.equal(existsSync(path.join(home, "entropix-cache", "models-used.json")), false, "HF snapshots are not recorded as local folders");
    // And the taps were applied: attention metrics present.
    const summary = lines.find((l) => l.type === "summary") as Record<string, unknown> | undefined;
    assert.ok(summary);
  });

  test("entropix list shows the HF-cached model (size, dtype, attention) and counts the skipped repos", async () => {
    const r = await runCli(["list", "--json"], { env: hubEnv(home) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { models: Record<string, unknown>[]; notes: string[] };
    const row = out.models.find((m) => m.name === `hf:${REPO}`);
    assert.ok(row, r.stdout);
    assert.equal(row.source, "hf-cache");
    assert.equal(row.dtype, "fp32");
    assert.equal(row.attention_source, "taps");
    assert.equal(row.context_length, 512);
    assert.ok((row.size_bytes as number) > 1e6, "blob sizes, not symlink sizes");
    assert.match(out.notes.join("\n"), /^2 other repo\(s\) in the Hugging Face cache .* are not ONNX models entropix can run \(skipped\)$/m);
    const table = await runCli(["list"], { env: hubEnv(home) });
    assert.match(table.stdout, /^hf:test-org\/stories260k\s+hf-cache\s+1\.3 MB\s+fp32\s+/m);
  });

  test("calibrate on an hf: model stores the profile in entropix's cache, never in the snapshot", async () => {
    const before = tree(repoDir(home));
    const r = await runCli(["calibrate", "-m", `hf:${REPO}`, "--tokens", "64"], { env: hubEnv(home), timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tree(repoDir(home)), before);
    assert.ok(tree(path.join(home, "entropix-cache", "thresholds")).some((p) => p.endsWith(".json")), "profile in entropix's cache");
    const listed = JSON.parse((await runCli(["list", "--json"], { env: hubEnv(home) })).stdout) as { models: Record<string, unknown>[] };
    assert.equal(listed.models.find((m) => m.name === `hf:${REPO}`)?.calibrated, true);
    const listing = await hfCachedModels(path.join(home, "hub"), path.join(home, "entropix-cache"));
    assert.equal(listing.models[0].profile, true);
  });

  test("a second pull asks for the commit but downloads no file", async () => {
    const seen = hub.seen.length;
    const r = await pull(home);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { bytes_downloaded: number }).bytes_downloaded, 0);
    const now = hub.seen.slice(seen);
    assert.ok(now.some((s) => s.url.startsWith("/api/models/")), "asked which commit main is");
    assert.deepEqual(now.filter((s) => s.url.includes("/resolve/")), [], "no file fetched");
  });

  test("HF_HUB_OFFLINE=1: the cached model runs; an uncached one fails in one line", async () => {
    const seen = hub.seen.length;
    const ok = await runCli(["generate", "-m", `hf:${REPO}`, "--sampler", "greedy", "-n", "4", "--json", "Once"], { env: hubEnv(home, { HF_HUB_OFFLINE: "1" }) });
    assert.equal(ok.code, 0, ok.stderr);
    const fresh = tempDir("entropix-hf-");
    const bad = await runCli(["generate", "-m", `hf:${REPO}`, "-n", "4", "Once"], { env: hubEnv(fresh, { HF_HUB_OFFLINE: "1" }) });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^entropix: HF_HUB_OFFLINE=1 and test-org\/stories260k is not in the Hugging Face cache .*unset HF_HUB_OFFLINE/);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.equal(hub.seen.length, seen, "offline means no request");
  });

  test("a snapshot written by another tool (Python's layout) is used as is", async () => {
    // Lay out the cache by hand the way huggingface_hub does: blobs named by ETag, relative links, refs/main.
    const py = tempDir("entropix-hf-py-");
    const root = path.join(py, "hub", "models--test-org--other");
    const repo = hub.repos.get("test-org/other")!;
    mkdirSync(path.join(root, "refs"), { recursive: true });
    writeFileSync(path.join(root, "refs", "main"), repo.commit);
    for (const [f, content] of repo.files) {
      if (f === "README.md") continue;
      const blob = path.join(root, "blobs", etagOf(f, content));
      mkdirSync(path.dirname(blob), { recursive: true });
      writeFileSync(blob, content);
      const link = path.join(root, "snapshots", repo.commit, f);
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(path.relative(path.dirname(link), blob), link);
    }
    const seen = hub.seen.length;
    const r = await runCli(["generate", "-m", "hf:test-org/other", "--sampler", "greedy", "-n", "4", "--json", "Once"], { env: hubEnv(py) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hub.seen.length, seen);
  });
});

describe("interrupted, concurrent and failing downloads", () => {
  test("a pull killed halfway resumes from its partial file with a range request", async () => {
    const home = tempDir("entropix-hf-");
    const HALF = 400_000;
    hub.stall = { path: "onnx/model.onnx", after: HALF };
    const child = spawn(process.execPath, [CLI, "pull", REPO], { env: { ...process.env, ...hubEnv(home) } as NodeJS.ProcessEnv, stdio: "ignore" });
    const blobs = path.join(repoDir(home), "blobs");
    const partialSize = () => {
      if (!existsSync(blobs)) return 0;
      const p = readdirSync(blobs).find((f) => f.endsWith(".incomplete"));
      return p ? statSync(path.join(blobs, p)).size : 0;
    };
    // Bounded wait: 30 s for the first half to land.
    for (let i = 0; i < 300 && partialSize() < HALF; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(partialSize(), HALF, "the stalled download left its first half");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    hub.stall = null;
    const seen = hub.seen.length;
    const r = await pull(home);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string };
    const onnx = stories.files.get("onnx/model.onnx")!;
    assert.deepEqual(readFileSync(path.join(out.dir, "onnx", "model.onnx")), onnx);
    const ranged = hub.seen.slice(seen).filter((s) => s.url.endsWith("/onnx/model.onnx") && s.range !== "bytes=0-0");
    assert.deepEqual(ranged.map((s) => s.range), [`bytes=${HALF}-${onnx.length - 1}`], "resumed, not restarted");
    assert.equal(partialSize(), 0, "no partial file left");
    assert.deepEqual(tree(path.join(path.dirname(repoDir(home)), ".locks")).filter((p) => p.endsWith(".lock")), [], "the dead process's lock was taken over and released");
  });

  test("two processes pulling the same model at once both end with the verified files", async () => {
    const home = tempDir("entropix-hf-");
    hub.slowMs = 15;
    try {
      const [a, b] = await Promise.all([pull(home), pull(home)]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const dir = (JSON.parse(a.stdout) as { dir: string }).dir;
      assert.deepEqual(readFileSync(path.join(dir, "onnx", "model.onnx")), stories.files.get("onnx/model.onnx"));
    } finally {
      hub.slowMs = 0;
    }
  });

  test("a checksum mismatch discards the download", async () => {
    const home = tempDir("entropix-hf-");
    hub.corrupt = "onnx/model.onnx";
    try {
      const r = await pull(home);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^entropix: onnx\/model\.onnx from test-org\/stories260k failed verification \(sha256 .*the download was discarded/);
      assert.deepEqual(tree(path.join(repoDir(home), "blobs")).filter((p) => p.startsWith(etagOf("onnx/model.onnx", stories.files.get("onnx/model.onnx")!))), []);
    } finally {
      hub.corrupt = null;
    }
  });

  test("disk full during a download: one line, the partial file removed", async () => {
    if (!existsSync("/dev/full")) return;
    const home = tempDir("entropix-hf-");
    // Writes to /dev/full fail with ENOSPC, exactly as on a full disk.
    const blobs = path.join(repoDir(home), "blobs");
    mkdirSync(blobs, { recursive: true });
    const partial = path.join(blobs, `${etagOf("onnx/model.onnx", stories.files.get("onnx/model.onnx")!)}.incomplete`);
    symlinkSync("/dev/full", partial);
    const r = await pull(home);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^entropix: no space left on the disk of .* while downloading onnx\/model\.onnx .*the partial file was removed\)\n$/);
    assert.equal(existsSync(partial) || (() => { try { lstatSync(partial); return true; } catch { return false; } })(), false);
  });

  test("bad input and Hub refusals each give one line and a non-zero exit", async () => {
    const home = tempDir("entropix-hf-");
    // A port nothing listens on (just closed): the "no network" case.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const cases: [string[], Record<string, string | undefined>, number, RegExp][] = [
      [["pull", "not-a-ref"], {}, 2, /not a Hugging Face model reference \(no OWNER\/ part\); write hf:OWNER\/NAME/],
      [["generate", "-m", "hf:a/b/c", "x"], {}, 2, /not a Hugging Face model reference/],
      [["pull", "test-org/missing"], {}, 1, /test-org\/missing: no such model on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)/],
      [["pull", "test-org/safetensors-only"], {}, 1, /has no ONNX decoder/],
      [["pull", REPO, "--dtype", "q4"], {}, 2, /has no q4 decoder \(model_q4\.onnx\); it has --dtype fp32/],
      [["pull", "test-org/evil"], {}, 1, /the Hub listed an unsafe file name "onnx\/model\.onnx_data\/\.\.\/.*not downloading it/],
      [["pull", "test-org/gated"], {}, 1, /refused access \(HTTP 401\); the repo is gated or private.*set HF_TOKEN/],
      [["pull", "test-org/gated"], { HF_TOKEN: "hf_wrong" }, 1, /refused access \(HTTP 401\) with the token in HF_TOKEN/],
      [["pull", REPO], { HF_ENDPOINT: `http://127.0.0.1:${deadPort}` }, 1, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*HF_HUB_OFFLINE=1/],
    ];
    for (const [args, env, code, re] of cases) {
      const r = await runCli(args, { env: hubEnv(home, env) });
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    }
    const ok = await runCli(["pull", "test-org/gated", "--json"], { env: hubEnv(home, { HF_TOKEN: "hf_letmein" }) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(hub.seen.some((s) => s.auth === "Bearer hf_letmein" && s.url.includes("/resolve/")), "the token was sent with downloads");
  });

  test("a read-only HF cache: cached models run, pulling into it fails in one line", async () => {
    const home = tempDir("entropix-hf-");
    assert.equal((await pull(home)).code, 0);
    const hubDir = path.join(home, "hub");
    const before = tree(hubDir);
    const chmodAll = (mode: (isDir: boolean) => number) => {
      for (const p of [".", ...tree(hubDir)]) {
        const full = path.join(hubDir, p);
        const st = lstatSync(full);
        if (!st.isSymbolicLink()) chmodSync(full, mode(st.isDirectory()));
      }
    };
    chmodAll((d) => (d ? 0o555 : 0o444));
    try {
      const r = await runCli(["generate", "-m", `hf:${REPO}`, "--sampler", "greedy", "-n", "4", "--json", "Once"], { env: hubEnv(home) });
      assert.equal(r.code, 0, r.stderr);
      const again = await pull(home);
      assert.equal(again.code, 0, `pulling a model already there needs no write: ${again.stderr}`);
      assert.equal((JSON.parse(again.stdout) as { bytes_downloaded: number }).bytes_downloaded, 0);
      const other = await runCli(["pull", "test-org/other"], { env: hubEnv(home) });
      assert.equal(other.code, 1);
      assert.match(other.stderr, /^entropix: the Hugging Face cache .* is not writable; set HF_HUB_CACHE \(or HF_HOME\) to a writable folder/);
      assert.deepEqual(tree(hubDir), before);
    } finally {
      chmodAll((d) => (d ? 0o755 : 0o644));
    }
  });
});
