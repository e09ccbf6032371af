// Imports (README "Imports"): a file uploaded to R2, applied by the IMPORT_CHUNKS queue as identify
// calls on real profiles (Durable Objects), its progress and the email index in D1.
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { runImportChunk, type ImportChunkMessage, type ImportView } from "../../worker/sources/imports";
import { imports } from "../../worker/store/schema";
import { adminCall, createSite, drainQueue, eventually, lookup, serverPost } from "./helpers";

type Profile = { key: string; traits: Record<string, unknown>; segments: string[]; consent: { purposes: Record<string, boolean>; sources: Record<string, string> } | null; recentEvents: { type: string }[] };

function upload(workspace: string, siteId: string, body: string, type = "text/csv", options: { role?: "admin" | "editor" | "viewer"; purposes?: string } = {}) {
  return adminCall(`/admin/api/imports?siteId=${siteId}&purposes=${options.purposes ?? "analytics,personalization"}`, {
    method: "POST",
    workspace,
    role: options.role ?? "editor",
    headers: { "Content-Type": type },
    body,
  });
}

async function uploaded(workspace: string, siteId: string, body: string, type = "text/csv"): Promise<ImportView> {
  const res = await upload(workspace, siteId, body, type);
  expect(res.status, await res.clone().text()).toBe(202);
  return res.json();
}

const progress = (workspace: string, id: string) => adminCall(`/admin/api/imports/${id}`, { workspace, role: "viewer" }).then((r) => r.json<ImportView>());
const finished = (workspace: string, id: string) => eventually(() => progress(workspace, id), (v) => v.status === "done" || v.status === "failed", 20_000);
const profile = (workspace: string, userId: string) => lookup(`userId=${encodeURIComponent(userId)}`, workspace).then((r) => r.json<Profile>());

describe("a CSV import", () => {
  it("applies the good rows as typed traits, rejects the bad ones with their row and reason, and reaches done with the counts", async () => {
    const ws = "ws_imp_csv";
    const site = await createSite({}, ws);
    const csv = [
      "userId,email,traits.plan,score,vip,zip,since,note",
      'u-1,Ada@Example.COM ,gold,42,true,007,2024-05-01,"line one\nline two, with comma"',
      ",,silver,1,false,,,", // no id
      "u-3,not-an-email,gold,1,true,,,", // malformed email
      "u-4,,bronze,-1.5,FALSE,,,", // good
      "u-5,,x,1", // too few fields
      `u-6,,${"y".repeat(9000)},1,true,,,`, // trait value over the limit
    ].join("\r\n");
    const started = await uploaded(ws, site.id, csv);
    expect(started.status).toBe("queued");
    const done = await finished(ws, started.id);
    expect(done).toMatchObject({ status: "done", rows: 6, applied: 2, rejected: 4, duplicates: 0, failure: null });
    expect(done.errors).toEqual([
      { row: 2, message: "row 2 names no profile: it needs a userId or an email" },
      { row: 3, message: "row 3 email: is not an email address" },
      { row: 5, message: "row 5 has 4 fields; the header has 8" },
      { row: 6, message: "row 6 trait plan: its value is over 8192 characters" },
    ]);

    const ada = await profile(ws, "u-1");
    expect(ada.traits).toMatchObject({ email: "ada@example.com", plan: "gold", score: 42, vip: true, zip: "007", since: "2024-05-01", note: "line one\nline two, with comma" });
    // The import is the consent source, with the purposes it was given.
    expect(ada.consent?.purposes).toMatchObject({ analytics: true, personalization: true });
    expect(ada.consent?.sources).toMatchObject({ analytics: "explicit", personalization: "explicit" });
    const four = await profile(ws, "u-4");
    expect(four.traits).toMatchObject({ plan: "bronze", score: -1.5, vip: false });
    expect(four.traits).not.toHaveProperty("zip");
    expect((await lookup("userId=u-3", ws)).status).toBe(404);
  });

  it("applies nothing twice when the same file is uploaded again", async () => {
    const ws = "ws_imp_rerun";
    const site = await createSite({}, ws);
    const csv = "userId,plan\nr-1,gold\nr-2,silver\n";
    const first = await finished(ws, (await uploaded(ws, site.id, csv)).id);
    expect(first).toMatchObject({ status: "done", rows: 2, applied: 2, duplicates: 0 });
    const again = await finished(ws, (await uploaded(ws, site.id, csv)).id);
    expect(again).toMatchObject({ status: "done", rows: 2, applied: 2, duplicates: 2, rejected: 0 });
    const r1 = await profile(ws, "r-1");
    expect(r1.recentEvents.filter((e) => e.type === "identify")).toHaveLength(1);
    await drainQueue();
    const archived = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE workspace_id = ? AND type = 'identify'").bind(ws).first<{ n: number }>();
    expect(archived?.n).toBe(2);
    // The imports list shows both, newest first.
    const list = await adminCall("/admin/api/imports", { workspace: ws, role: "viewer" }).then((r) => r.json<{ imports: ImportView[] }>());
    expect(list.imports.map((i) => i.id)).toEqual([again.id, first.id]);
  });

  it("joins an email-only row to the profile that has that email, else keys a profile by the email", async () => {
    const ws = "ws_imp_email";
    const site = await createSite({}, ws);
    expect((await serverPost(site, "/v1/identify", { userId: "u-mail", traits: { email: " Grace@Example.com" } })).status).toBe(200);
    await drainQueue();
    const csv = "email,tier\nGRACE@example.com,gold\nnew@example.com,silver\n";
    const done = await finished(ws, (await uploaded(ws, site.id, csv)).id);
    expect(done).toMatchObject({ status: "done", applied: 2, rejected: 0 });
    expect((await profile(ws, "u-mail")).traits).toMatchObject({ email: "grace@example.com", tier: "gold" });
    expect((await profile(ws, "new@example.com")).traits).toMatchObject({ email: "new@example.com", tier: "silver" });
  });

  it("puts profiles in a segment on a trait the import set (a CRM flag becomes an audience)", async () => {
    const ws = "ws_imp_segment";
    const site = await createSite({}, ws);
    const res = await adminCall("/admin/api/segments", { method: "POST", workspace: ws, body: JSON.stringify({ name: "CRM VIPs", rule: { trait: "crm_vip", op: "eq", value: true } }) });
    expect(res.status).toBe(201);
    const segment = await res.json<{ id: string }>();
    const done = await finished(ws, (await uploaded(ws, site.id, "userId,crm_vip\nv-1,true\nv-2,false\n")).id);
    expect(done.status).toBe("done");
    expect((await profile(ws, "v-1")).segments).toEqual([segment.id]);
    expect((await profile(ws, "v-2")).segments).toEqual([]);
    const sized = await eventually(
      () => adminCall(`/admin/api/segments/${segment.id}`, { workspace: ws, role: "viewer" }).then((r) => r.json<{ size: number }>()),
      (s) => s.size === 1,
    );
    expect(sized.size).toBe(1);
  });

  it("fails an import whose header names no profile column, keeping nothing", async () => {
    const ws = "ws_imp_header";
    const site = await createSite({}, ws);
    const done = await finished(ws, (await uploaded(ws, site.id, "name,plan\nada,gold\n")).id);
    expect(done).toMatchObject({ status: "failed", failure: "The CSV header needs a userId or an email column.", applied: 0 });
    expect((await env.IMPORTS.list({ prefix: `${ws}/` })).objects).toHaveLength(0);
  });
});

describe("an NDJSON import", () => {
  it("keeps JSON types, takes traits from `traits` and top-level fields, and rejects wrong types", async () => {
    const ws = "ws_imp_ndjson";
    const site = await createSite({}, ws);
    const lines = [
      JSON.stringify({ userId: "n-1", traits: { plan: "pro", seats: 3, zip: "007" }, churned: false }),
      JSON.stringify({ userId: 42, email: "n2@example.com" }),
      JSON.stringify({ userId: { id: 1 } }),
      JSON.stringify({ userId: "n-4", traits: "gold" }),
      "{not json",
      "",
      JSON.stringify({ plan: "free" }),
    ].join("\n");
    const done = await finished(ws, (await uploaded(ws, site.id, lines, "application/x-ndjson")).id);
    expect(done).toMatchObject({ status: "done", rows: 6, applied: 2, rejected: 4 });
    expect(done.errors.map((e) => e.row)).toEqual([3, 4, 5, 6]);
    expect(done.errors[0]!.message).toBe("row 3 userId: must be a string or a number");
    expect(done.errors[1]!.message).toBe("row 4 traits: must be an object");
    expect((await profile(ws, "n-1")).traits).toMatchObject({ plan: "pro", seats: 3, zip: "007", churned: false });
    expect((await profile(ws, "42")).traits).toMatchObject({ email: "n2@example.com" });
  });
});

describe("the upload", () => {
  it("refuses a file over 100 MB with 413 and keeps nothing", async () => {
    const ws = "ws_imp_big";
    const site = await createSite({}, ws);
    const size = 100 * 1024 * 1024 + 1;
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += part.length;
        controller.enqueue(part);
      },
    });
    const res = await adminCall(`/admin/api/imports?siteId=${site.id}&purposes=analytics`, {
      method: "POST",
      workspace: ws,
      headers: { "Content-Type": "text/csv", "Content-Length": String(size) },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("payload_too_large");
    expect((await env.IMPORTS.list({ prefix: `${ws}/` })).objects).toHaveLength(0);
    expect((await adminCall("/admin/api/imports", { workspace: ws }).then((r) => r.json<{ imports: unknown[] }>())).imports).toEqual([]);
  });

  it("refuses other content types, unknown purposes, and a site of another workspace", async () => {
    const ws = "ws_imp_checks";
    const site = await createSite({}, ws);
    expect((await upload(ws, site.id, "{}", "application/json")).status).toBe(415);
    const bad = await upload(ws, site.id, "userId\na\n", "text/csv", { purposes: "analytics,telepathy" });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { path: string } }>()).error.path).toBe("purposes");
    expect((await upload(ws, site.id, "userId\na\n", "text/csv", { purposes: "advertising" })).status).toBe(400);
    expect((await upload("ws_imp_other", site.id, "userId\na\n")).status).toBe(404);
  });

  it("needs the editor role to upload; another workspace sees neither the import nor its progress", async () => {
    const ws = "ws_imp_roles";
    const site = await createSite({}, ws);
    const viewer = await upload(ws, site.id, "userId\na\n", "text/csv", { role: "viewer" });
    expect(viewer.status).toBe(403);
    const started = await uploaded(ws, site.id, "userId\na\n");
    expect((await adminCall(`/admin/api/imports/${started.id}`, { workspace: "ws_imp_other", role: "admin" })).status).toBe(404);
    expect((await adminCall("/admin/api/imports", { workspace: "ws_imp_other" }).then((r) => r.json<{ imports: unknown[] }>())).imports).toEqual([]);
    expect((await adminCall(`/admin/api/imports/${started.id}`, { workspace: ws })).status).toBe(200);
  });
});

describe("chunks", () => {
  /**
   * The chunks of an import driven one at a time with tiny limits (a few rows, a few dozen bytes),
   * so a range boundary falls inside rows and inside a quoted field with a newline. The queue's
   * sends are kept here instead of delivered, so the test decides when each chunk runs.
   */
  async function stagedImport(ws: string, siteId: string, csv: string) {
    const id = `imp_test_${crypto.randomUUID().slice(0, 8)}`;
    const bytes = new TextEncoder().encode(csv);
    await env.IMPORTS.put(`${ws}/${id}`, bytes);
    await drizzle(env.DB).insert(imports).values({ id, workspaceId: ws, siteId, format: "csv", purposes: ["analytics", "personalization"], objectKey: `${ws}/${id}`, bytes: bytes.length, status: "queued", updatedAt: new Date() });
    const sent: ImportChunkMessage[] = [];
    const chunkEnv = { ...env, IMPORT_CHUNKS: { send: async (m: ImportChunkMessage) => void sent.push(m) } as unknown as Env["IMPORT_CHUNKS"] };
    return { id, sent, chunkEnv, first: { kind: "import", workspaceId: ws, id, offset: 0 } as ImportChunkMessage };
  }

  it("reads a row cut by a range boundary whole from the next chunk, and a retried chunk counts nothing twice", async () => {
    const ws = "ws_imp_chunks";
    const site = await createSite({}, ws);
    const csv = 'userId,bio\nc-1,"first\nsecond, third"\nc-2,short\nc-3,"ü multi-byte, split ✓"\nc-4,last';
    const staged = await stagedImport(ws, site.id, csv);
    const limits = { rows: 2, bytes: 40 };
    let message: ImportChunkMessage | undefined = staged.first;
    let chunks = 0;
    while (message) {
      await runImportChunk(staged.chunkEnv, message, limits);
      chunks++;
      const next = staged.sent.shift();
      if (next && chunks === 2) {
        // The same chunk delivered again: it records nothing and sends its successor once more.
        await runImportChunk(staged.chunkEnv, message, limits);
        expect(staged.sent.shift()).toEqual(next);
      }
      message = next;
      expect(chunks).toBeLessThan(50);
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    const done = await progress(ws, staged.id);
    expect(done).toMatchObject({ status: "done", rows: 4, applied: 4, rejected: 0, duplicates: 0 });
    expect((await profile(ws, "c-1")).traits).toMatchObject({ bio: "first\nsecond, third" });
    expect((await profile(ws, "c-3")).traits).toMatchObject({ bio: "ü multi-byte, split ✓" });
    expect((await profile(ws, "c-4")).traits).toMatchObject({ bio: "last" });
    expect((await env.IMPORTS.list({ prefix: `${ws}/` })).objects).toHaveLength(0);
  });

  it("fails an import with a row longer than a chunk's bytes, saying which row", async () => {
    const ws = "ws_imp_longrow";
    const site = await createSite({}, ws);
    const staged = await stagedImport(ws, site.id, `userId,bio\nl-1,${"x".repeat(100)}\nl-2,ok\n`);
    await runImportChunk(staged.chunkEnv, staged.first, { rows: 10, bytes: 64 });
    const next = staged.sent.shift()!;
    await runImportChunk(staged.chunkEnv, next, { rows: 10, bytes: 64 });
    expect(await progress(ws, staged.id)).toMatchObject({ status: "failed", failure: "Row 1 is longer than 64 bytes." });
  });
});
