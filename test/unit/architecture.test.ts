// The Worker's layers (STYLE.md "Layers"): imports point down. Domain modules never import the
// HTTP layer, and no module imports itself back through others (no cycle).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../worker");
/** The HTTP layer and what only it may use (routes, auth middleware, the app). */
const HTTP = ["http/", "admin/"];
/** Orchestration: one request's flow across domains (collection, deciding), called by routes. */
const FLOWS = ["flows/"];
const DOMAIN = ["collect/", "consent/", "identity/", "profile/", "segments/", "decisions/", "pipeline/", "activation/", "sources/", "reports/", "predictions/", "privacy/", "store/"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Each module's local imports (type-only ones included: a cycle of types is still a tangle). */
function graph(): Map<string, string[]> {
  const modules = new Map<string, string[]>();
  for (const file of files(ROOT)) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const local = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) => {
        const base = resolve(dirname(file), name).replace(/\.js$/, "");
        const candidates = [`${base}.ts`, join(base, "index.ts")];
        return candidates.find((c) => {
          try {
            return statSync(c).isFile();
          } catch {
            return false;
          }
        });
      })
      .filter((f): f is string => f !== undefined);
    modules.set(relative(ROOT, file), local.map((f) => relative(ROOT, f)));
  }
  return modules;
}

/** Strongly connected components with more than one module (Tarjan). */
function cycles(modules: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of modules.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (modules.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of modules.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe("the Worker's import graph", () => {
  const modules = graph();

  it("reads the whole Worker", () => {
    expect(modules.size).toBeGreaterThan(50);
    expect(modules.get("index.ts")).toContain("http/app.ts");
  });

  it("has no domain module importing the HTTP layer or an orchestration flow", () => {
    const upward = [...modules].flatMap(([from, to]) =>
      DOMAIN.some((d) => from.startsWith(d)) ? to.filter((t) => [...HTTP, ...FLOWS].some((h) => t.startsWith(h))).map((t) => `${from} → ${t}`) : [],
    );
    expect(upward).toEqual([]);
  });

  it("has flows importing no HTTP module", () => {
    const upward = [...modules].flatMap(([from, to]) => (FLOWS.some((f) => from.startsWith(f)) ? to.filter((t) => HTTP.some((h) => t.startsWith(h))).map((t) => `${from} → ${t}`) : []));
    expect(upward).toEqual([]);
  });

  it("has store/ (the bottom) calling no queue, profile, flow or route", () => {
    const above = ["pipeline/", "profile/", ...FLOWS, ...HTTP];
    const upward = [...modules].flatMap(([from, to]) => (from.startsWith("store/") ? to.filter((t) => above.some((a) => t.startsWith(a))).map((t) => `${from} → ${t}`) : []));
    expect(upward).toEqual([]);
  });

  it("has the rule language (segments/) standing on its own", () => {
    const outside = [...modules].flatMap(([from, to]) => (from.startsWith("segments/") ? to.filter((t) => !t.startsWith("segments/")).map((t) => `${from} → ${t}`) : []));
    expect(outside).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cycles(modules)).toEqual([]);
  });
});
