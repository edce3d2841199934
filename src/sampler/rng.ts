// Seeded pseudo-random numbers for sampling (entropix-method.md §3.2: a seeded generator that
// advances on every draw; the same seed gives the same text). xoshiro128** (Blackman & Vigna),
// its 128-bit state filled from the 32-bit seed by splitmix32. Pure integer arithmetic, so the
// sequence is identical across processes, platforms and Node versions.
import { randomInt } from "node:crypto";
import { UsageError } from "../errors.js";

export const MAX_SEED = 0xffffffff;

export interface Rng {
  /** The seed this generator started from. */
  readonly seed: number;
  /** Next 32-bit unsigned integer; advances the state. */
  nextUint32(): number;
  /** Uniform double in [0, 1) with 53 random bits (two 32-bit draws); advances the state. */
  uniform(): number;
}

export function isValidSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED;
}

/** A fresh random seed in 0..2^32−1, for runs without --seed (print it so the run can be repeated). */
export function randomSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}

/** splitmix32 step: returns [next state, output]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let t = next ^ (next >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return [next, t >>> 0];
}

/** xoshiro128** over an explicit 128-bit state (not all zero). */
export class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(
    readonly seed: number,
    state: readonly [number, number, number, number],
  ) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((x) => x >>> 0) as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new RangeError("xoshiro128** state must not be all zero");
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992; // (hi·2^26 + lo) / 2^53
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator for a seed in 0..2^32−1 (UsageError otherwise). */
export function createRng(seed: number): Rng {
  if (!isValidSeed(seed)) throw new UsageError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
  let sm = seed | 0;
  const state: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const [next, out] = splitmix32(sm);
    sm = next;
    state[i] = out;
  }
  // splitmix32 outputs four zeros for no seed in practice; guard anyway.
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  return new Xoshiro128(seed, state);
}
