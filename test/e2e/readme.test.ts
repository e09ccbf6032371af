// The README as a newcomer uses it: the shell blocks marked `<!-- readme-test -->` run as pasted
// (with bash, in a folder holding the `.cohort/demo.env` that npm start's own code wrote) against
// Cohort seeded as `npm start` seeds it, and print what their `# →` lines say; and the commands it
// names (`npm run token`, `npm start` on a busy port) answer a mistake with a message, not a trace.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2e } from "./helpers";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const MARK = "<!-- readme-test -->";

interface Block {
  /** The line of the README where the fence opens (1-based), to name the block. */
  line: number;
  code: string;
  /** What the block says it prints: each `# → …` line and the `#   …` lines that continue it. */
  expected: string[];
}

/** The fenced `sh` blocks of the README, each with whether the marker precedes it. */
function shellBlocks(text: string): (Block & { marked: boolean })[] {
  const lines = text.split("\n");
  const blocks: (Block & { marked: boolean })[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const end = lines.indexOf("```", i + 1);
    const body = lines.slice(i + 1, end);
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === "") prev--;
    const expected: string[] = [];
    for (let j = 0; j < body.length; j++) {
      const start = /^# → (.*)$/.exec(body[j]!);
      if (!start) continue;
      let text = start[1]!;
      while (j + 1 < body.length && /^#\s{2,}\S/.test(body[j + 1]!)) text += body[++j]!.replace(/^#\s+/, "");
      expected.push(text);
    }
    blocks.push({ line: i + 1, code: body.join("\n"), expected, marked: lines[prev] === MARK });
    i = end;
  }
  return blocks;
}

/**
 * An expected line as a pattern: `…` stands for anything within one answer (it does not run on
 * past a `}{`, where one curl's JSON ends and the next one's begins), `<name>` for one token (no
 * space, dot or `;`).
 */
function pattern(expected: string): RegExp {
  const source = expected
    .split(/(…|<[A-Za-z]+>)/)
    .map((part) => (part === "…" ? "(?:(?!\\}\\{)[\\s\\S])*?" : /^<[A-Za-z]+>$/.test(part) ? "[^\\s.;]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(source);
}

function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { ...options, timeout: 50_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// Node on PATH for the blocks that pipe into `node -e` (the project's Node 22, as npm scripts get it).
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

const all = shellBlocks(readme);
const marked = all.filter((b) => b.marked);

describe("the README's shell examples", () => {
  it("are marked for this test wherever they call curl, and address Cohort as $COHORT", () => {
    const curls = all.filter((b) => /\bcurl\b/.test(b.code));
    expect(curls.length).toBeGreaterThanOrEqual(5);
    for (const block of curls) {
      expect({ line: block.line, marked: block.marked }).toEqual({ line: block.line, marked: true });
      expect(block.code, `README line ${block.line}`).not.toMatch(/localhost:\d+/);
      expect(block.code, `README line ${block.line}`).toMatch(/\$COHORT/);
    }
    // An id that does not exist makes an example that is refused or silently does nothing: the
    // segment ids the README names are the one npm start seeds (others are taken from answers).
    expect(new Set(readme.match(/\bseg_\w+/g))).toEqual(new Set(["seg_demo_shoes"]));
  });

  // In README order: later blocks may read what earlier ones wrote (Ada's profile).
  it.each(marked.map((b) => [b.line, b] as const))("the block at README line %i runs as pasted and prints what it says", async (_line, block) => {
    expect(block.expected.length).toBeGreaterThan(0);
    const cwd = dirname(dirname(e2e().demo.envFile));
    const script = `set -e -o pipefail\nsource .cohort/demo.env\n${block.code}\n`;
    const { code, stdout, stderr } = await run("bash", ["-c", script], { cwd, env });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    let from = 0;
    for (const expected of block.expected) {
      const match = pattern(expected).exec(stdout.slice(from));
      expect(match, `"${expected}" after offset ${from} of:\n${stdout}`).not.toBeNull();
      from += match!.index + match![0].length;
    }
  });

  it("loads the keys npm start wrote: COHORT, WRITE_KEY, SECRET_KEY and TOKEN", async () => {
    const { demo } = e2e();
    const { stdout } = await run("bash", ["-c", 'source .cohort/demo.env; printf "%s\\n" "$COHORT" "$WRITE_KEY" "$SECRET_KEY" "$TOKEN"'], {
      cwd: dirname(dirname(demo.envFile)),
      env,
    });
    expect(stdout.split("\n").slice(0, 4)).toEqual([demo.url, demo.writeKey, demo.secretKey, demo.adminToken]);
  });
});

describe("npm run token", () => {
  it("prints its usage for --help and exits 0", async () => {
    const { code, stdout, stderr } = await run("npm", ["run", "-s", "token", "--", "--help"], { cwd: root, env });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run token -- \[--role admin\|editor\|viewer\]/);
    expect(stdout).toContain("--workspace");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [["--bogus"], "Unknown option '--bogus'"],
    [["--role"], "argument missing"],
    [["--role", "boss"], 'role must be one of admin, editor, viewer, not "boss"'],
    [["--expires", "soon"], "--expires soon is not a duration"],
  ])("answers %j with a clear message and exit 1", async (args, message) => {
    const { code, stdout, stderr } = await run("npm", ["run", "-s", "token", "--", ...args], {
      cwd: root,
      env: { ...env, ADMIN_JWT_SECRET: "a-secret-for-this-test" },
    });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(message);
    expect(stderr).toContain("npm run token -- --help");
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("npm start on a port that is taken", () => {
  let holder: Server;
  let port: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    port = (holder.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it("fails before the banner, naming the port and PORT=", async () => {
    const { code, stdout, stderr } = await run(process.execPath, ["scripts/start.mjs"], { cwd: root, env: { ...env, PORT: String(port) } });
    expect(code).toBe(1);
    expect(stdout).not.toContain("Cohort is starting");
    expect(stderr).toContain(`port ${port} is already in use`);
    expect(stderr).toMatch(/PORT=\d+ npm start/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses a PORT that is not a port number the same way", async () => {
    const { code, stdout, stderr } = await run(process.execPath, ["scripts/start.mjs"], { cwd: root, env: { ...env, PORT: "80a" } });
    expect(code).toBe(1);
    expect(stdout).not.toContain("Cohort is starting");
    expect(stderr).toContain("PORT=80a is not a port number");
  });
});
