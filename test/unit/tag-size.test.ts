// The tag's size budget (DESIGN.md §5): public/t.js is at most 3,000 bytes gzipped (gzip -9).
// Builds the tag first, so the test measures exactly what `npm run build:tag` ships.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";

const BUDGET = 3000;
const root = new URL("../../", import.meta.url);
let code: Buffer;

beforeAll(() => {
  execFileSync(process.execPath, ["tag/build.mjs"], { cwd: root, stdio: "pipe" });
  code = readFileSync(new URL("public/t.js", root));
});

describe("the tag build", () => {
  it(`fits in ${BUDGET} bytes gzipped`, () => {
    const gzipped = gzipSync(code, { level: 9 }).length;
    expect(gzipped).toBeGreaterThan(0);
    expect(gzipped).toBeLessThanOrEqual(BUDGET);
  });

  it("writes a content-versioned copy named by the sha256 of its bytes", () => {
    const hash = createHash("sha256").update(code).digest("hex").slice(0, 8);
    const copies = readdirSync(new URL("public/", root)).filter((name) => /^t\.[0-9a-f]{8}\.js$/.test(name));
    expect(copies).toEqual([`t.${hash}.js`]);
    expect(readFileSync(new URL(`public/t.${hash}.js`, root)).equals(code)).toBe(true);
  });

  it("is a self-contained script: no imports, no cookies, no anonymousId", () => {
    const text = code.toString("utf8");
    expect(text).not.toMatch(/\bimport\b|\brequire\(/);
    expect(text).not.toContain("document.cookie");
    expect(text).not.toContain("anonymousId");
  });
});
