// What the report tests share: building queue messages as the request path does, and delivering them.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../../worker/index";
import type { CollectedEvent } from "../../../worker/collect/normalise";
import { exposureEvent } from "../../../worker/decisions/exposure";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall } from "../helpers";

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 10, 10, 12);
export const iso = (at: number) => new Date(at).toISOString();
export const dayOf = (at: number) => iso(at).slice(0, 10);

let seq = 0;
export function event(ws: string, siteId: string, userId: string, at: number, fields: Partial<CollectedEvent> & { type: CollectedEvent["type"] }): PipelineMessage {
  const e = { messageId: `m-${userId}-${++seq}`, userId, timestamp: iso(at), receivedAt: iso(at), context: {}, ...fields } as CollectedEvent;
  return { kind: "event", workspaceId: ws, siteId, profileKey: `${ws}:user:${userId}`, event: e };
}

export const campaignPage = (ws: string, siteId: string, userId: string, at: number, campaign: Record<string, string>) =>
  event(ws, siteId, userId, at, { type: "page", name: "Landing", context: { campaign, page: { path: "/landing", url: "https://shop.example/landing" } } as CollectedEvent["context"] });

export const referredPage = (ws: string, siteId: string, userId: string, at: number, host: string, type: string) =>
  event(ws, siteId, userId, at, { type: "page", name: "Home", context: { referrer: { host, type, url: `https://${host}/` }, page: { path: "/" } } as CollectedEvent["context"] });

export const track = (ws: string, siteId: string, userId: string, at: number, name: string, properties: Record<string, unknown> = {}) =>
  event(ws, siteId, userId, at, { type: "track", event: name, properties } as Partial<CollectedEvent> & { type: "track" });

/** The exposure event the profile records (worker/decisions/exposure.ts). */
export const exposure = (ws: string, siteId: string, userId: string, at: number, experienceId: string, variant: string): PipelineMessage => {
  const profileKey = `${ws}:user:${userId}`;
  return { kind: "event", workspaceId: ws, siteId, profileKey, event: exposureEvent(profileKey, { experienceId, variantId: variant, first: true, anonymous: false }, "Test", at) };
};

/** Delivers messages as one queue batch; returns what the consumer acked or retried. */
export async function deliver(messages: PipelineMessage[], db: D1Database = env.DB) {
  const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `msg-${++seq}-${i}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, DB: db });
  const result = await getQueueResult(batch, ctx);
  expect(result.retryMessages).toEqual([]);
  return result;
}

export async function getJson(path: string, init: Parameters<typeof adminCall>[1] = {}) {
  const res = await adminCall(path, { role: "viewer", ...init });
  return { status: res.status, body: (await res.json()) as any };
}
