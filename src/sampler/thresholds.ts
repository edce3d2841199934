// The reference constants of entropix-method.md §2 as named values, and the JSON profile format that
// overrides them (§3.3: thresholds are a named, overridable profile). Pure: parses text, reads no file.
import { UsageError } from "../errors.js";
import type { SamplerSettings, ThresholdProfile } from "../types.js";
import { parseBranchSetting, type BranchOptions } from "../branch/options.js";

/** §2 reference thresholds, in bits (tuned for Llama-3, vocabulary 128k). */
export const REFERENCE_PROFILE: Readonly<ThresholdProfile> = Object.freeze({
  lowEntropy: 0.1,
  lowVarentropy: 0.1,
  mediumEntropy: 3.0,
  highEntropy: 5.0,
  highVarentropy: 5.0,
});

/** §2 base sampling settings T0, K0, P0, M0. */
export const BASE_SETTINGS: Readonly<SamplerSettings> = Object.freeze({
  temperature: 0.666,
  topK: 27,
  topP: 0.9,
  minP: 0.03,
});

/** JSON key (the spec's snake_case name) → profile field. */
export const THRESHOLD_KEYS: Readonly<Record<string, keyof ThresholdProfile>> = Object.freeze({
  low_ent: "lowEntropy",
  low_vent: "lowVarentropy",
  med_ent: "mediumEntropy",
  high_ent: "highEntropy",
  high_vent: "highVarentropy",
});

/** JSON key → settings field. */
export const SETTING_KEYS: Readonly<Record<string, keyof SamplerSettings>> = Object.freeze({
  temperature: "temperature",
  top_k: "topK",
  top_p: "topP",
  min_p: "minP",
});

/** A parsed profile file: complete thresholds, and whichever base settings it overrides. */
export interface ProfileFile {
  thresholds: ThresholdProfile;
  settings: Partial<SamplerSettings>;
  /** Branching the profile turns on ("branch": {"k": …}), absent when it has none. */
  branch?: Partial<BranchOptions> & { k: number };
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Checks one threshold value (finite, ≥ 0). */
function checkThreshold(v: unknown, key: string, source: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new UsageError(`${source}: "${key}" must be a finite number ≥ 0 (bits), got ${show(v)}`);
  }
  return v;
}

/** Checks one sampling setting against its range; `key` is how the caller names it. */
export function checkSetting(field: keyof SamplerSettings, v: unknown, key: string, source: string): number {
  const bad = (range: string) => new UsageError(`${source}: "${key}" must be ${range}, got ${show(v)}`);
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad("a finite number");
  switch (field) {
    case "temperature":
      if (!(v > 0)) throw bad("a number > 0");
      return v;
    case "topK":
      if (!Number.isInteger(v) || v < 0) throw bad("an integer ≥ 0 (0 disables top-k)");
      return v;
    case "topP":
      if (!(v > 0 && v <= 1)) throw bad("a number in (0, 1] (1 disables top-p)");
      return v;
    case "minP":
      if (!(v >= 0 && v <= 1)) throw bad("a number in [0, 1] (0 disables min-p)");
      return v;
  }
}

/** Validates complete settings (e.g. the base settings after flags and files are merged). */
export function validateSettings(s: SamplerSettings, source: string): void {
  for (const [key, field] of Object.entries(SETTING_KEYS)) checkSetting(field, s[field], key, source);
}

/** Validates a complete threshold profile. */
export function validateProfile(p: ThresholdProfile, source: string): void {
  for (const [key, field] of Object.entries(THRESHOLD_KEYS)) checkThreshold(p[field], key, source);
}

/**
 * Parses a profile file: one JSON object whose keys override the reference constants. Accepted keys:
 * the thresholds `low_ent low_vent med_ent high_ent high_vent` and the base settings
 * `temperature top_k top_p min_p`, at the top level or grouped as `"thresholds": {…}` and
 * `"settings": {…}`; `"meta"` (anything, e.g. how a calibration was made) is ignored. Malformed JSON,
 * unknown keys, a key given twice, and out-of-range values are a one-line UsageError naming
 * `source` and the key.
 */
export function parseProfileFile(jsonText: string, source: string, defaults: ThresholdProfile = REFERENCE_PROFILE): ProfileFile {
  let root: unknown;
  try {
    root = JSON.parse(jsonText);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ");
    throw new UsageError(`${source}: not valid JSON (${why})`);
  }
  if (!isObject(root)) throw new UsageError(`${source}: expected a JSON object like {"high_ent": 4.0}, got ${show(root)}`);
  const thresholds: ThresholdProfile = { ...defaults };
  const settings: Partial<SamplerSettings> = {};
  const seen = new Set<string>();
  let branch: ProfileFile["branch"];
  const take = (obj: JsonObject, where: string, allowThresholds: boolean, allowSettings: boolean): void => {
    for (const [key, value] of Object.entries(obj)) {
      const name = where ? `${where}.${key}` : key;
      const tField = THRESHOLD_KEYS[key];
      const sField = SETTING_KEYS[key];
      if (Object.hasOwn(THRESHOLD_KEYS, key) && tField && allowThresholds) {
        if (seen.has(key)) throw new UsageError(`${source}: "${key}" is given twice`);
        seen.add(key);
        thresholds[tField] = checkThreshold(value, name, source);
      } else if (Object.hasOwn(SETTING_KEYS, key) && sField && allowSettings) {
        if (seen.has(key)) throw new UsageError(`${source}: "${key}" is given twice`);
        seen.add(key);
        settings[sField] = checkSetting(sField, value, name, source);
      } else if (where === "" && key === "thresholds") {
        if (!isObject(value)) throw new UsageError(`${source}: "thresholds" must be an object, got ${show(value)}`);
        take(value, "thresholds", true, false);
      } else if (where === "" && key === "settings") {
        if (!isObject(value)) throw new UsageError(`${source}: "settings" must be an object, got ${show(value)}`);
        take(value, "settings", false, true);
      } else if (where === "" && key === "branch") {
        branch = parseBranchSetting(value, source);
      } else if (where === "" && key === "meta") {
        // free-form provenance, ignored
      } else {
        const known = allowThresholds && allowSettings ? [...Object.keys(THRESHOLD_KEYS), ...Object.keys(SETTING_KEYS), "thresholds", "settings", "branch", "meta"] : Object.keys(allowThresholds ? THRESHOLD_KEYS : SETTING_KEYS);
        throw new UsageError(`${source}: unknown key "${name}" (expected one of ${known.join(", ")})`);
      }
    }
  };
  take(root, "", true, true);
  return { thresholds, settings, ...(branch ? { branch } : {}) };
}

/**
 * Parses a threshold profile file (see parseProfileFile) for callers that take thresholds only:
 * base-setting keys are rejected here rather than silently ignored.
 */
export function parseThresholdProfile(jsonText: string, source: string, defaults: ThresholdProfile = REFERENCE_PROFILE): ThresholdProfile {
  const parsed = parseProfileFile(jsonText, source, defaults);
  const given = Object.keys(parsed.settings);
  if (given.length > 0) {
    const key = Object.keys(SETTING_KEYS).find((k) => SETTING_KEYS[k] === given[0]) ?? given[0];
    throw new UsageError(`${source}: "${key}" is a sampling setting, not a threshold; set it with the sampler options`);
  }
  return parsed.thresholds;
}

/** The profile file text for a profile (e.g. one calibrated per model), with snake_case keys. */
export function formatThresholdProfile(profile: ThresholdProfile, settings: Partial<SamplerSettings> = {}, meta?: unknown): string {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(THRESHOLD_KEYS)) out[key] = profile[field];
  for (const [key, field] of Object.entries(SETTING_KEYS)) if (settings[field] !== undefined) out[key] = settings[field];
  if (meta !== undefined) out.meta = meta;
  return `${JSON.stringify(out, null, 2)}\n`;
}
