// What the activation tests share: a queue that records what is sent, a recording fetch, events.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { DeliverDeps } from "../../../worker/activation/deliver";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall } from "../helpers";

export interface Sent {
  body: unknown;
  delaySeconds?: number;
}

/** A stand-in DELIVERIES queue: nothing runs, every message is kept for the test to look at. */
export function recordingQueue() {
  const sent: Sent[] = [];
  const queue = {
    sent,
    async send(body: unknown, options?: { delaySeconds?: number }) {
      sent.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: { body: unknown; delaySeconds?: number }[]) {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
    },
  };
  return queue as typeof queue & Queue;
}

export interface Captured {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that records each request and answers with `respond(request, n)`. */
export function recordingFetch(respond: (request: Captured, n: number) => Response | Promise<Response>) {
  const requests: Captured[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request: Captured = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: String(init?.body ?? ""),
    };
    requests.push(request);
    return respond(request, requests.length);
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

export const deps = (fetch: typeof globalThis.fetch, now: number): DeliverDeps => ({ fetch, now: () => now, random: () => 0.5 });

export const GRANTED = { purposes: { necessary: true, analytics: true, personalization: true, advertising: true }, sources: { analytics: "explicit", personalization: "explicit", advertising: "explicit" }, policyVersion: "1" };
export const ANALYTICS_ONLY = { ...GRANTED, purposes: { ...GRANTED.purposes, advertising: false } };
export const REFUSED = { ...GRANTED, purposes: { necessary: true, analytics: false, personalization: false, advertising: false } };

let seq = 0;
/** An archived event as the EVENTS consumer sees it, with the consent it was kept under. */
export function eventMessage(workspaceId: string, fields: Record<string, unknown>, consent: unknown = GRANTED, profileKey = `${workspaceId}:user:u1`): Extract<PipelineMessage, { kind: "event" }> {
  const now = new Date().toISOString();
  return {
    kind: "event",
    workspaceId,
    siteId: "site_test",
    profileKey,
    event: { type: "track", event: "Order Completed", userId: profileKey.split(":")[2], messageId: `m-${++seq}-${crypto.randomUUID()}`, timestamp: now, receivedAt: now, context: {}, ...fields, consent } as never,
  };
}

export async function createDestination(workspace: string, body: Record<string, unknown>): Promise<{ id: string; secret: string } & Record<string, unknown>> {
  const res = await adminCall("/admin/api/destinations", { method: "POST", workspace, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

export async function deliveriesOf(destinationId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM deliveries WHERE destination_id = ? ORDER BY created_at, id").bind(destinationId).all<Record<string, unknown>>();
  return results;
}

export const deliveryEnv = (queue: Queue) => ({ ...env, DELIVERIES: queue });

/** SHA-256 hex of a string, written here apart from the module under test. */
export async function sha(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
