/**
 * The operators and property paths, compiled once into small closures shared by the compiler and
 * `explain`, so both agree by construction. Semantics (README.md "Operators"):
 * - a missing value (undefined or null) or a value of another type never matches: `eq`, `in`,
 *   `contains`, `startsWith`, `gt…lte` are false; nothing is coerced ("42" is not 42);
 * - `neq` is exactly `not eq` and `nin` exactly `not in`, so they match a missing value;
 * - `exists` (value true, the default) matches anything but undefined and null; `exists: false` the reverse;
 * - `in` and `contains` look into a list: `in` matches a list sharing an element with the values,
 *   `contains` a list having the value as an element (and a string having it as a substring);
 * - `gt…lte` compare two numbers, or two strings lexicographically (so ISO-8601 dates compare).
 */
import type { Operator, Scalar } from "./schema";

export type Test = (actual: unknown) => boolean;
export type Getter = (source: Record<string, unknown>) => unknown;

function inList(values: readonly Scalar[]): Test {
  if (values.length === 0) return () => false;
  if (values.length <= 8) {
    const isMember = (value: unknown) => {
      for (let i = 0; i < values.length; i++) if (values[i] === value) return true;
      return false;
    };
    return (actual) => {
      if (!Array.isArray(actual)) return isMember(actual);
      for (let i = 0; i < actual.length; i++) if (isMember(actual[i])) return true;
      return false;
    };
  }
  const set = new Set<unknown>(values);
  return (actual) => {
    if (!Array.isArray(actual)) return set.has(actual);
    for (let i = 0; i < actual.length; i++) if (set.has(actual[i])) return true;
    return false;
  };
}

/** The test an operator and its value make of a value. */
export function compileTest(op: Operator, value: unknown): Test {
  switch (op) {
    case "eq":
      return (actual) => actual === value;
    case "neq":
      return (actual) => actual !== value;
    case "in":
      return inList(value as Scalar[]);
    case "nin": {
      const test = inList(value as Scalar[]);
      return (actual) => !test(actual);
    }
    case "contains":
      if (typeof value === "string") {
        return (actual) => (typeof actual === "string" ? actual.includes(value) : Array.isArray(actual) && actual.includes(value));
      }
      return (actual) => Array.isArray(actual) && actual.includes(value);
    case "startsWith":
      return (actual) => typeof actual === "string" && actual.startsWith(value as string);
    case "exists":
      return value === false ? (actual) => actual === undefined || actual === null : (actual) => actual !== undefined && actual !== null;
  }
  // gt, gte, lt, lte: both numbers or both strings.
  const type = typeof value;
  const ordered = value as number;
  switch (op) {
    case "gt":
      return (actual) => typeof actual === type && (actual as number) > ordered;
    case "gte":
      return (actual) => typeof actual === type && (actual as number) >= ordered;
    case "lt":
      return (actual) => typeof actual === type && (actual as number) < ordered;
    case "lte":
      return (actual) => typeof actual === type && (actual as number) <= ordered;
  }
}

/** A count or metric comparison: the same semantics, over a number (or undefined: no value). */
export function compileNumericTest(op: "eq" | "neq" | "gt" | "gte" | "lt" | "lte", value: number): (actual: number | undefined) => boolean {
  return compileTest(op, value) as (actual: number | undefined) => boolean;
}

/** Names that plain objects inherit: read them only as own properties. */
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

function key(name: string): Getter {
  // `?.`: a malformed input (no properties object) reads as missing rather than throwing.
  if (INHERITED.has(name)) return (source) => (source != null && Object.hasOwn(source, name) ? source[name] : undefined);
  return (source) => source?.[name];
}

/**
 * Reads a property by name; a dotted name walks into nested objects (`address.city`) when the
 * source has no property of that exact name.
 */
export function compileGetter(path: string): Getter {
  const whole = key(path);
  if (!path.includes(".")) return whole;
  const parts = path.split(".").map(key);
  return (source) => {
    const direct = whole(source);
    if (direct !== undefined) return direct;
    let value: unknown = source;
    for (let i = 0; i < parts.length; i++) {
      if (typeof value !== "object" || value === null) return undefined;
      value = parts[i]!(value as Record<string, unknown>);
    }
    return value;
  };
}
