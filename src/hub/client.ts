// How entropix talks to the Hub: the endpoint, token and offline switch from the environment (the
// variables huggingface_hub reads), a fetch with a time limit for the response headers, and Hub
// failures turned into one-line errors that say what to do.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { HubApiError } from "@huggingface/hub";
import { ModelError, UsageError } from "../errors.js";
import { hfHome, hubCacheDir } from "./layout.js";
import { formatRef, type HubRef } from "./ref.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

export interface HubEnv {
  endpoint: string;
  token?: string;
  offline: boolean;
  cache: string;
  /** Milliseconds without a response or a body byte before a request counts as failed. */
  timeoutMs: number;
}

const TRUE = new Set(["1", "on", "yes", "true"]);

/** Reads HF_ENDPOINT, HF_TOKEN (else the token file `huggingface-cli login` writes), HF_HUB_OFFLINE, the cache dir. */
export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  let token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;
  if (token === undefined) {
    const file = env.HF_TOKEN_PATH ? path.resolve(env.HF_TOKEN_PATH) : path.join(hfHome(env), "token");
    try {
      if (existsSync(file)) token = readFileSync(file, "utf8").trim() || undefined;
    } catch {
      // an unreadable token file is the same as none
    }
  }
  const timeout = Number(env.ENTROPIX_HUB_TIMEOUT_MS);
  return {
    endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token,
    offline: TRUE.has(String(env.HF_HUB_OFFLINE ?? "").toLowerCase()),
    cache: hubCacheDir(env),
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 30_000,
  };
}

/** fetch, failing when the response headers take longer than `ms` (body stalls are timed by the reader). */
export function timedFetch(ms: number, signal?: AbortSignal): typeof fetch {
  return async (input, init) => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no response within ${ms / 1000} s`)), ms);
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await fetch(input, { ...init, signal: ctl.signal });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  };
}

/** Whether an error means the Hub could not be reached at all (as opposed to an HTTP answer). */
export function networkCode(err: unknown): string | null {
  if (err instanceof HubApiError) return null;
  const e = err as { cause?: { code?: string; message?: string }; code?: string; name?: string; message?: string };
  if (e?.cause?.code) return e.cause.code;
  if (e?.code && /^E[A-Z]+$/.test(e.code)) return e.code;
  if (e?.name === "AbortError" || e?.name === "TimeoutError" || /no response within|fetch failed|terminated|other side closed/i.test(String(e?.message ?? e))) {
    return String(e?.cause?.message ?? e?.message ?? "timeout").split("\n")[0];
  }
  return null;
}

/** A one-line ModelError/UsageError for a failed Hub request about `ref`; other errors pass through. */
export function hubFailure(err: unknown, ref: HubRef, env: HubEnv, what = "the model"): Error {
  if (err instanceof ModelError || err instanceof UsageError) return err;
  const name = formatRef(ref);
  if (err instanceof TypeError && /access token must start with/.test(err.message)) {
    return new UsageError("HF_TOKEN is not a Hugging Face token (those start with hf_); fix or unset it");
  }
  if (err instanceof HubApiError) {
    const code = err.statusCode;
    if (code === 401 || code === 403) {
      return new ModelError(
        env.token
          ? `${name}: ${env.endpoint} refused access (HTTP ${code}) with the token in HF_TOKEN; accept the model's terms on its Hub page with that account, or use a token that has access`
          : `${name}: ${env.endpoint} refused access (HTTP ${code}); the repo is gated or private: accept its terms on the Hub, then set HF_TOKEN to an access token`,
      );
    }
    if (code === 404) {
      return new ModelError(
        `${name}: no such model${ref.revision !== undefined ? " or revision" : ""} on ${env.endpoint} (HTTP 404); check the OWNER/NAME${ref.revision !== undefined ? "@REVISION" : ""} spelling`,
      );
    }
    return new ModelError(`${name}: ${env.endpoint} answered HTTP ${code} while fetching ${what}; try again later`);
  }
  const net = networkCode(err);
  if (net !== null) {
    return new ModelError(
      `cannot reach ${env.endpoint} (${net}) to fetch ${name}; check the network (or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to run a model already in the cache`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
