// Synthetic archives whose answer is known: profiles written straight into D1's `events` table
// (the archive the trainer reads), with features before the cut-off and the goal after it.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { adminCall, eventually } from "../helpers";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A small seeded generator (mulberry32): the same archive on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ArchivedEvent {
  type: "track" | "page";
  event?: string;
  /** ms since the epoch. */
  at: number;
  properties?: Record<string, unknown>;
  device?: string;
  /** A page's path (`context.page.path`). */
  page?: string;
}

/** Writes one profile's events into the archive, as the queue consumer would have. */
function rowsOf(workspaceId: string, userId: string, events: ArchivedEvent[]) {
  return events.map((e, i) => {
    const messageId = `${userId}-${i}`;
    const payload = {
      type: e.type,
      ...(e.type === "track" ? { event: e.event } : {}),
      messageId,
      userId,
      timestamp: new Date(e.at).toISOString(),
      receivedAt: new Date(e.at).toISOString(),
      properties: e.properties ?? {},
      context: { ...(e.device ? { device: { type: e.device } } : {}), ...(e.page ? { page: { path: e.page, url: `https://shop.example${e.page}` } } : {}) },
    };
    return env.DB.prepare(
      "INSERT INTO events (workspace_id, message_id, site_id, type, name, profile_key, user_id, anonymous_id, bot, timestamp, received_at, payload) VALUES (?, ?, 'site_synthetic', ?, ?, ?, ?, NULL, 0, ?, ?, ?)",
    ).bind(workspaceId, messageId, e.type, e.type === "track" ? e.event! : null, `${workspaceId}:user:${userId}`, userId, e.at, e.at, JSON.stringify(payload));
  });
}

export async function writeArchive(workspaceId: string, profiles: { userId: string; events: ArchivedEvent[] }[]): Promise<void> {
  const statements = profiles.flatMap((p) => rowsOf(workspaceId, p.userId, p.events));
  for (let i = 0; i < statements.length; i += 500) await env.DB.batch(statements.slice(i, i + 500));
}

export interface Visitor {
  views: number;
  pages: number;
  unsubscribed: boolean;
  device: string;
}

/**
 * `n` profiles seen in the 30 days before the cut-off (`now − 30d`): 0–5 `Product Viewed`, 1–4
 * pages, some `Unsubscribed`; whether each does `Order Completed` in the 30 days after is
 * `converts(visitor, rand)`.
 */
export function synthetic(n: number, seed: number, now: number, converts: (v: Visitor, rand: () => number) => boolean) {
  const rand = random(seed);
  const cutoff = now - 30 * DAY;
  const before = () => cutoff - HOUR - Math.floor(rand() * 28 * DAY);
  const after = () => cutoff + HOUR + Math.floor(rand() * 28 * DAY);
  let positives = 0;
  const profiles = Array.from({ length: n }, (_, i) => {
    const visitor: Visitor = { views: Math.floor(rand() * 6), pages: 1 + Math.floor(rand() * 4), unsubscribed: rand() < 0.15, device: i % 3 === 0 ? "mobile" : "desktop" };
    const events: ArchivedEvent[] = [];
    for (let k = 0; k < visitor.pages; k++) events.push({ type: "page", at: before(), device: visitor.device });
    for (let k = 0; k < visitor.views; k++) events.push({ type: "track", event: "Product Viewed", at: before(), device: visitor.device, properties: { category: "shoes" } });
    if (visitor.unsubscribed) events.push({ type: "track", event: "Unsubscribed", at: before(), device: visitor.device });
    if (converts(visitor, rand)) {
      positives++;
      events.push({ type: "track", event: "Order Completed", at: after(), device: visitor.device, properties: { revenue: 40 } });
    }
    return { userId: `p${String(i).padStart(5, "0")}`, events };
  });
  return { profiles, positives };
}

export interface PredictionBody {
  id: string;
  status: string;
  reason: string | null;
  version: number;
  trainedAt: string | null;
  metrics: { auc: number | null; logLoss: number | null; positives: number; negatives: number; liftByDecile: number[]; calibration?: { predicted: number; observed: number }; heldOut?: number } | null;
  features: { name: string; weight: number }[];
}

/** Creates a prediction through the admin API and waits for its training job to finish. */
export async function trainThroughApi(workspace: string, body: Record<string, unknown>): Promise<PredictionBody> {
  const res = await adminCall("/admin/api/predictions", { method: "POST", workspace, role: "editor", body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  const created = await res.json<PredictionBody>();
  expect(created.status).toBe("training");
  return eventually(
    () => adminCall(`/admin/api/predictions/${created.id}`, { workspace, role: "viewer" }).then((r) => r.json<PredictionBody>()),
    (p) => p.status !== "training",
    60_000,
  );
}
