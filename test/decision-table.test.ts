// Issue 17 item 3: on a real `--json` run, every token's quadrant and settings follow the decision
// table of entropix-method.md §2, recomputed here from the token's own logged metrics with the
// spec's formulas written out in this file (not imported from src/sampler).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { jsonLines, runCli, STORIES, tempDir } from "./helpers.js";

/** The sampler that implements §2 exactly (the one name to change if it is renamed). */
const SAMPLER = "entropix-reference";

/** Thresholds (bits) under which stories260k visits all five rows within 200 tokens. */
const PROFILE = { low_ent: 0.3, low_vent: 2.5, med_ent: 1.5, high_ent: 2.0, high_vent: 3.0 };
/** Base settings T0, K0, P0, M0, deliberately not the defaults, given as flags. */
const BASE = { temperature: 0.8, top_k: 20, top_p: 0.95, min_p: 0.05 };

interface Tok {
  quadrant: string;
  entropy: number;
  varentropy: number;
  attn_entropy: number;
  attn_varentropy: number;
  agreement: number;
  interaction_strength: number;
  temperature: number;
  top_k: number;
  top_p: number;
  min_p: number;
  inserted?: boolean;
}

const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** §2, rows checked in order, first match wins. */
function quadrant(h: number, v: number): string {
  const t = PROFILE;
  if (h < t.low_ent && v < t.low_vent) return "confident";
  if (h > t.high_ent && v < t.low_vent) return "clarify";
  if (h < t.high_ent && v > t.high_vent) return "explore";
  if (h > t.med_ent && v > t.high_vent) return "resample";
  return "adaptive";
}

type Settings = [temperature: number, topK: number, topP: number, minP: number];

/** §2 settings for a sampled step of row `q` (rows 2–5; branches keep the base value of what they do not set). */
function settings(q: string, m: Tok): Settings {
  const { temperature: T0, top_k: K0, top_p: P0, min_p: M0 } = BASE;
  switch (q) {
    case "clarify":
      return [Math.min(1.5, T0 * (1.3 + 0.2 * m.attn_entropy)), K0, P0, M0];
    case "explore":
      return [Math.min(1.5, T0 * (1.2 + 0.3 * m.interaction_strength)), Math.max(5, Math.floor(K0 * (1 + 0.5 * (1 - m.agreement)))), P0, M0];
    case "resample":
      return [Math.max(2.0, T0 * (2.0 + 0.5 * m.attn_varentropy)), K0, Math.max(0.5, P0 - 0.2 * m.attn_entropy), M0];
    default: {
      const ul = m.entropy + m.varentropy;
      const ua = m.attn_entropy + m.attn_varentropy;
      return [
        T0 * (1 + 0.3 * ul + 0.2 * ua - 0.2 * m.agreement),
        clip(Math.round(K0 * (1 + 0.3 * m.interaction_strength - 0.2 * m.agreement)), 1, 100),
        clip(P0 * (1 + 0.1 * m.attn_varentropy), 0.1, 1),
        clip(M0 * (1 - 0.5 * ul), 0.01, 0.5),
      ];
    }
  }
}

const GREEDY: Settings = [0, 1, 1, 0];
const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

test(`--sampler ${SAMPLER}: each token's quadrant and settings are §2's, recomputed from its logged metrics`, async () => {
  const file = path.join(tempDir(), "profile.json");
  writeFileSync(file, JSON.stringify(PROFILE));
  const r = await runCli([
    "generate", "-m", STORIES, "Once upon a time", "--json", "--sampler", SAMPLER, "--seed", "3", "-n", "200", "--ignore-eos",
    "--thresholds", file, "--clarify-every", "1000",
    "--temperature", String(BASE.temperature), "--top-k", String(BASE.top_k), "--top-p", String(BASE.top_p), "--min-p", String(BASE.min_p),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const tokens = jsonLines(r.stdout).filter((l) => l.type === "token") as unknown as Tok[];
  assert.ok(tokens.length >= 200);
  const seen: Record<string, number> = {};
  let inserts = 0;
  tokens.forEach((t, i) => {
    const where = `token ${i} (${t.quadrant}, H ${t.entropy}, V ${t.varentropy})`;
    for (const k of ["attn_entropy", "attn_varentropy", "agreement", "interaction_strength"] as const) assert.equal(typeof t[k], "number", `${where}: ${k}`);
    const q = quadrant(t.entropy, t.varentropy);
    assert.equal(t.quadrant, q, where);
    const got: Settings = [t.temperature, t.top_k, t.top_p, t.min_p];
    if (q === "confident") {
      assert.deepEqual(got, GREEDY, `${where}: argmax`);
    } else if (q === "clarify" && (t.inserted === true || got.every((x, j) => x === GREEDY[j]))) {
      // Row 2's insert (the clarifying text), allowed once per 1000 steps: only the first clarify step.
      assert.deepEqual(got, GREEDY, `${where}: an insert is deterministic`);
      assert.equal(seen.clarify ?? 0, inserts, `${where}: an insert after a clarify step that sampled`);
      inserts++;
    } else {
      const want = settings(q, t);
      assert.ok(got.every((x, j) => near(x, want[j])), `${where}: settings ${JSON.stringify(got)}, §2 gives ${JSON.stringify(want)}`);
    }
    seen[q] = (seen[q] ?? 0) + 1;
  });
  // Every row was exercised, including both halves of row 2.
  assert.deepEqual(Object.keys(seen).sort(), ["adaptive", "clarify", "confident", "explore", "resample"], JSON.stringify(seen));
  assert.ok(inserts >= 1, "the first clarify step inserts");
  assert.ok(seen.clarify > inserts, `a rate-limited clarify step samples (clarify ${seen.clarify}, inserts ${inserts})`);
});
