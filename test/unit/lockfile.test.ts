// The lock file is complete, so `npm ci` (what CI runs) installs from it on any platform: every
// dependency of every locked package, optional and platform-only ones included, has its own entry.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

interface Locked {
  version?: string;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as { lockfileVersion: number; packages: Record<string, Locked> };
const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as Record<string, Record<string, string> | undefined>;

/** Where Node would find `name` from the package at `path`: its own node_modules, then each parent's. */
function resolve(path: string, name: string): string | undefined {
  let base = path;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const at = base.lastIndexOf("/node_modules/");
    base = at === -1 ? "" : base.slice(0, at);
  }
}

describe("package-lock.json", () => {
  it("is a v3 lock whose root matches package.json", () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[""] as Locked & { devDependencies?: Record<string, string> };
    expect(root.dependencies).toEqual(manifest.dependencies);
    expect(root.devDependencies).toEqual(manifest.devDependencies);
  });

  it("has an entry for every dependency of every locked package, optional ones included", () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
      for (const name of Object.keys(wanted)) if (!resolve(path, name)) missing.push(`${path || "(root)"} → ${name}`);
      // A required peer must be there too; optional peers may be absent.
      for (const name of Object.keys(entry.peerDependencies ?? {})) {
        if (!entry.peerDependenciesMeta?.[name]?.optional && !resolve(path, name)) missing.push(`${path} → peer ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
