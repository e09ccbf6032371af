// Segment export: members streamed as CSV or NDJSON, chosen fields and traits, hashed identifiers,
// filtered by consent; 100,000 members read page by page.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminCall, createSite, eventually, lookup, serverPost } from "../helpers";
import { sha } from "./helpers";

const WS = "ws_export";

beforeAll(async () => {
  const site = await createSite({}, WS);
  const people = [
    { userId: "ann", traits: { email: " Ann@Example.com ", phone: "+1 (415) 555-0101", plan: "pro" }, advertising: true },
    { userId: "ben", traits: { email: "ben@example.com", plan: "free, \"legacy\"" }, advertising: false },
  ];
  for (const p of people) {
    const res = await serverPost(site, "/v1/identify", { userId: p.userId, traits: p.traits, context: { consent: { categoryPreferences: { Analytics: true, Advertising: p.advertising } } } });
    expect(res.status).toBe(200);
  }
  await eventually(() => lookup("userId=ben", WS), (res) => res.status === 200);
  await env.DB.batch([
    env.DB.prepare("INSERT INTO segments (id, workspace_id, name, rule) VALUES ('seg_small', ?, 'Small', '{}'), ('seg_big', ?, 'Big', '{}')").bind(WS, WS),
    env.DB.prepare("INSERT INTO memberships (segment_id, profile_key, workspace_id, member, changed_at) VALUES ('seg_small', ?, ?, 1, 0), ('seg_small', ?, ?, 1, 0), ('seg_small', ?, ?, 0, 0)").bind(
      `${WS}:user:ann`, WS, `${WS}:user:ben`, WS, `${WS}:user:left`, WS,
    ),
  ]);
});

const exportOf = (query: string, role: "viewer" | "admin" = "viewer") => adminCall(`/admin/api/segments/seg_small/export?${query}`, { workspace: WS, role });

describe("GET /admin/api/segments/:id/export", () => {
  it("streams CSV with a header row, the chosen fields and traits, quoted where needed", async () => {
    const res = await exportOf("format=csv&fields=userId,email,traits.plan");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect(await res.text()).toBe('userId,email,traits.plan\r\nann, Ann@Example.com ,pro\r\nben,ben@example.com,"free, ""legacy"""\r\n');
  });

  it("hashes emails and phones with hash=sha256 and keeps only members whose consent grants the purpose", async () => {
    const res = await exportOf("format=ndjson&fields=userId,email,phone&hash=sha256&purpose=advertising");
    expect(res.headers.get("Content-Type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([{ userId: "ann", email: await sha("ann@example.com"), phone: await sha("+14155550101") }]);
  });

  it("refuses an unknown field or purpose, and a segment of another workspace", async () => {
    const bad = await exportOf("fields=userId,password");
    expect(bad.status).toBe(400);
    expect((await bad.json<any>()).error.path).toBe("fields.1");
    expect((await exportOf("purpose=marketing")).status).toBe(400);
    expect((await adminCall("/admin/api/segments/seg_small/export", { workspace: "ws_elsewhere" })).status).toBe(404);
  });

  it("streams 100,000 members page by page", async () => {
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
       INSERT INTO memberships (segment_id, profile_key, workspace_id, member, changed_at)
       SELECT 'seg_big', ?1 || ':user:u' || printf('%06d', i), ?1, 1, 0 FROM n`,
    )
      .bind(WS)
      .run();
    const res = await adminCall("/admin/api/segments/seg_big/export?format=csv&fields=userId", { workspace: WS });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let chunks = 0;
    let lines = 0;
    let first = "";
    let tail = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      if (!first) first = value.slice(0, 30);
      lines += value.split("\r\n").length - 1;
      tail = value.slice(-20);
    }
    expect(lines).toBe(100_001);
    expect(first.startsWith("userId\r\nu000001\r\nu000002")).toBe(true);
    expect(tail.endsWith("u100000\r\n")).toBe(true);
    // Written as it is read: many chunks, not one buffered body.
    expect(chunks).toBeGreaterThan(100);
  });
});
