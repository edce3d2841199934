// Flag value parsers for commander: each rejects bad values with a one-line UsageError.
import { UsageError } from "../errors.js";

function parseNumber(flag: string, raw: string): number {
  const text = raw.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new UsageError(`${flag} needs a finite number, got "${raw}"`);
  return value;
}

export const nonNegative = (flag: string) => (raw: string): number => {
  const v = parseNumber(flag, raw);
  if (v < 0) throw new UsageError(`${flag} must be 0 or more, got ${raw}`);
  return v;
};

export const positive = (flag: string) => (raw: string): number => {
  const v = parseNumber(flag, raw);
  if (!(v > 0)) throw new UsageError(`${flag} must be more than 0, got ${raw}`);
  return v;
};

export const integer = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER) => (raw: string): number => {
  const v = parseNumber(flag, raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`${flag} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` of at least ${min}`}, got ${raw}`);
  }
  return v;
};

export const unitInterval = (flag: string, { openLow }: { openLow: boolean }) => (raw: string): number => {
  const v = parseNumber(flag, raw);
  if (v > 1 || v < 0 || (openLow && v === 0)) throw new UsageError(`${flag} must be in ${openLow ? "(0, 1]" : "[0, 1]"}, got ${raw}`);
  return v;
};

export const oneOf = <T extends string>(flag: string, values: readonly T[]) => (raw: string): T => {
  if (!(values as readonly string[]).includes(raw)) throw new UsageError(`${flag} must be one of ${values.join(", ")}, got "${raw}"`);
  return raw as T;
};

/** For repeatable flags such as --stop. */
export const collect = (raw: string, previous: string[] = []): string[] => [...previous, raw];
