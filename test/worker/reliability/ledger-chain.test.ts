// Two consumer batches that chain consent entries after the same ledger tail at once: the second
// write meets the chain's unique index (site_id, prev_hash). The consumer re-reads the tail and
// chains again at once, so both batches are acked, every entry is written once and the chain verifies.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConsentState } from "../../../worker/consent/purposes";
import { consumeEvents } from "../../../worker/pipeline/consumer";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall, createSite, type TestSite } from "../helpers";

const WS = "ws_ledger_race";

function consentMessage(site: TestSite, id: string, at: number): PipelineMessage {
  const consent: ConsentState = {
    purposes: { necessary: true, analytics: true, personalization: true, advertising: false },
    sources: { analytics: "explicit", personalization: "explicit", advertising: "explicit" },
    at,
    policyVersion: "1",
  };
  return { kind: "consent", id, workspaceId: site.workspaceId, siteId: site.id, subject: `${WS}:anon:${id}`, at, signals: { explicit: consent.purposes }, consent };
}

/** D1 statements name their SQL in `statement` (workerd's D1 binding). */
const writesLedger = (statements: D1PreparedStatement[]) => statements.some((s) => /consent_ledger/.test((s as unknown as { statement?: string }).statement ?? ""));

/**
 * The real D1, except that the first two batches writing ledger rows wait for each other: both
 * consumers have read the same tail before either writes, as two concurrent batches do in
 * production. Records each ledger write that failed.
 */
function racingDb() {
  const failures: string[] = [];
  let waiting = 2;
  let release!: () => void;
  const bothArrived = new Promise<void>((resolve) => (release = resolve));
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const ledger = writesLedger(statements);
          if (ledger && waiting > 0) {
            waiting--;
            if (waiting === 0) release();
            await bothArrived;
          }
          try {
            return await target.batch(statements);
          } catch (error) {
            if (ledger) failures.push(String(error));
            throw error;
          }
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, failures };
}

async function consume(messages: PipelineMessage[], db: D1Database, prefix: string) {
  const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `${prefix}-${i}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await consumeEvents(batch, { ...env, DB: db });
  return getQueueResult(batch, ctx);
}

describe("the consent ledger under concurrent consumer batches", () => {
  it("chains both batches' entries once each, with a valid chain, and retries nothing", async () => {
    const site = await createSite({}, WS);
    const now = Date.now();
    const first = Array.from({ length: 5 }, (_, i) => consentMessage(site, `race-a-${i}`, now + i));
    const second = Array.from({ length: 5 }, (_, i) => consentMessage(site, `race-b-${i}`, now + i));
    const { db, failures } = racingDb();

    const results = await Promise.all([consume(first, db, "a"), consume(second, db, "b")]);

    // The race happened: one batch's ledger write met the other's entries.
    expect(failures.some((f) => f.includes("UNIQUE constraint failed: consent_ledger.site_id, consent_ledger.prev_hash"))).toBe(true);
    for (const result of results) {
      expect(result.retryMessages).toEqual([]);
      expect(result.ackAll || result.explicitAcks.length === 5).toBe(true);
    }
    const rows = await env.DB.prepare("SELECT id, COUNT(*) AS n FROM consent_ledger WHERE site_id = ? GROUP BY id ORDER BY id").bind(site.id).all<{ id: string; n: number }>();
    expect(rows.results).toEqual([...first, ...second].map((m) => ({ id: (m as { id: string }).id, n: 1 })).sort((x, y) => x.id.localeCompare(y.id)));
    const verify = await adminCall(`/admin/api/consent/ledger/verify?siteId=${site.id}`, { workspace: WS, role: "viewer" });
    expect(await verify.json()).toEqual({ valid: true, entries: 10 });
  });
});
