// Withdrawal on the D1 side: `forget` deletes the archived events of the profile and of every key
// merged into it; `strip_ads` removes ad click ids from archived URLs, referrers and campaigns.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../worker/index";
import { forgetMessage, stripAdsMessage, type PipelineMessage } from "../../../worker/pipeline/messages";

async function deliver(messages: PipelineMessage[]) {
  const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `w-${i}-${Math.random()}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

async function archive(ws: string, key: string, messageId: string, event: Record<string, unknown>) {
  await env.DB.prepare("INSERT INTO events (workspace_id, message_id, site_id, type, name, profile_key, timestamp, received_at, payload) VALUES (?, ?, 'site-w', ?, ?, ?, ?, ?, ?)")
    .bind(ws, messageId, event.type, (event.event ?? event.name ?? null) as string | null, key, Date.now(), Date.now(), JSON.stringify({ messageId, ...event }))
    .run();
}

const keysLeft = async (ws: string) =>
  (await env.DB.prepare("SELECT DISTINCT profile_key AS k FROM events WHERE workspace_id = ? ORDER BY k").bind(ws).all<{ k: string }>()).results.map((r) => r.k);

describe("forget with merged keys", () => {
  it("deletes the archived events of the user and of every merged pre-login profile, and nobody else's", async () => {
    const ws = "ws_forget_merged";
    const user = `${ws}:user:u1`;
    // 150 merged keys: more than one statement's 100 bound parameters.
    const merged = Array.from({ length: 150 }, (_, i) => `${ws}:anon:pre-${i}`);
    for (const key of [user, ...merged.slice(0, 3), merged.at(-1)!, `${ws}:anon:someone-else`]) await archive(ws, key, `e-${key}`, { type: "page", name: "Home" });
    await env.DB.prepare("INSERT INTO memberships (segment_id, profile_key, workspace_id, member, changed_at) VALUES ('s', ?, ?, 1, 1), ('s', ?, ?, 1, 1)").bind(user, ws, merged[140], ws).run();

    const message = forgetMessage(user, true, merged);
    expect(message).toEqual({ kind: "forget", workspaceId: ws, profileKey: user, mergedKeys: merged, archive: true });
    expect((await deliver([message])).ackAll).toBe(true);
    expect(await keysLeft(ws)).toEqual([`${ws}:anon:someone-else`]);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = ?").bind(ws).first<{ n: number }>())!.n).toBe(0);
  });

  it("without mergedKeys (the message the lead's code sends today) still forgets the profile", async () => {
    const ws = "ws_forget_plain";
    await archive(ws, `${ws}:user:u1`, "p-1", { type: "track", event: "X" });
    await archive(ws, `${ws}:user:u2`, "p-2", { type: "track", event: "X" });
    expect((await deliver([{ kind: "forget", workspaceId: ws, profileKey: `${ws}:user:u1`, archive: true }])).ackAll).toBe(true);
    expect(await keysLeft(ws)).toEqual([`${ws}:user:u2`]);
  });
});

describe("strip_ads", () => {
  it("also strips the events that travel in the same queue batch", async () => {
    const ws = "ws_strip_batch";
    const key = `${ws}:user:u1`;
    const event = {
      type: "page" as const,
      messageId: "sb-1",
      userId: "u1",
      timestamp: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      context: { page: { url: "https://shop.example/?gclid=G9&a=1" }, campaign: { gclid: "G9" } },
    };
    const result = await deliver([
      { kind: "event", workspaceId: ws, siteId: "site-sb", profileKey: key, event },
      stripAdsMessage(key),
    ]);
    expect(result.explicitAcks).toHaveLength(2);
    const row = await env.DB.prepare("SELECT payload FROM events WHERE workspace_id = ? AND message_id = 'sb-1'").bind(ws).first<{ payload: string }>();
    expect(JSON.parse(row!.payload).context).toEqual({ page: { url: "https://shop.example/?a=1" }, campaign: {} });
  });

  it("removes click ids from page URLs, referrers and campaign context of the keys' archived events only", async () => {
    const ws = "ws_strip";
    const user = `${ws}:user:u1`;
    const pre = `${ws}:anon:a1`;
    const other = `${ws}:anon:other`;
    const page = (url: string) => ({
      type: "page",
      name: "Landing",
      properties: { url, search: "?utm_source=g&gclid=G1", referrer: "https://ref.example/?fbclid=F1&x=1" },
      context: {
        page: { url, search: "?utm_source=g&gclid=G1", referrer: "https://ref.example/?fbclid=F1&x=1", path: "/shoes" },
        referrer: { url: "https://ref.example/?fbclid=F1&x=1", host: "ref.example", type: "paid" },
        campaign: { source: "g", gclid: "G1", msclkid: "M1" },
      },
    });
    await archive(ws, user, "s-1", page("https://shop.example/shoes?utm_source=g&gclid=G1#top"));
    await archive(ws, pre, "s-2", { ...page("/shoes?msclkid=M1&size=42"), type: "page" });
    await archive(ws, other, "s-3", page("https://shop.example/shoes?gclid=KEEP"));
    await archive(ws, user, "s-4", { type: "track", event: "Plain", properties: { n: 1 } });

    const message = stripAdsMessage(user, [pre]);
    expect(message).toEqual({ kind: "strip_ads", workspaceId: ws, profileKey: user, keys: [user, pre] });
    for (let i = 0; i < 2; i++) expect((await deliver([message])).explicitAcks).toHaveLength(1);

    const payload = async (id: string) => JSON.parse((await env.DB.prepare("SELECT payload FROM events WHERE workspace_id = ? AND message_id = ?").bind(ws, id).first<{ payload: string }>())!.payload);
    const first = await payload("s-1");
    expect(first.context.page).toEqual({ url: "https://shop.example/shoes?utm_source=g#top", search: "?utm_source=g", referrer: "https://ref.example/?x=1", path: "/shoes" });
    expect(first.context.referrer).toEqual({ url: "https://ref.example/?x=1", host: "ref.example", type: "paid" });
    expect(first.context.campaign).toEqual({ source: "g" });
    expect(first.properties).toEqual({ url: "https://shop.example/shoes?utm_source=g#top", search: "?utm_source=g", referrer: "https://ref.example/?x=1" });
    const second = await payload("s-2");
    expect(second.context.page.url).toBe("/shoes?size=42");
    expect(JSON.stringify(second)).not.toMatch(/gclid|fbclid|msclkid/);
    // Another visitor's events keep theirs; an event with no click id is untouched.
    expect((await payload("s-3")).context.page.url).toBe("https://shop.example/shoes?gclid=KEEP");
    expect(await payload("s-4")).toEqual({ messageId: "s-4", type: "track", event: "Plain", properties: { n: 1 } });
  });
});
