/**
 * The daily retention job (scheduled handler): raw events and failed events older than their
 * site's retention are purged from D1 (events without a site after the longest retention of their
 * workspace), and cookieless dedupe ids older than two days are dropped.
 * Profiles expire on their own, by their Durable Object's alarm.
 */
import { and, eq, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { cookielessSeen, events, failedEvents, sites } from "../store/schema";

const DAY = 86_400_000;

export async function purgeExpired(env: Pick<Env, "DB">, now: number): Promise<{ events: number; failedEvents: number; cookielessSeen: number }> {
  const db = drizzle(env.DB);
  const all = await db.select({ id: sites.id, retentionDays: sites.retentionDays }).from(sites);
  let purgedEvents = 0;
  let purgedFailed = 0;
  for (const site of all) {
    const cutoff = new Date(now - site.retentionDays * DAY);
    const [e, f] = await db.batch([
      db.delete(events).where(and(eq(events.siteId, site.id), lt(events.receivedAt, cutoff))),
      db.delete(failedEvents).where(and(eq(failedEvents.siteId, site.id), lt(failedEvents.receivedAt, cutoff))),
    ]);
    purgedEvents += e.meta.changes;
    purgedFailed += f.meta.changes;
  }
  // Events archived without a site (segment events of backfills before they carried one) are
  // purged after the longest retention of their workspace's sites.
  const orphans = await env.DB.prepare(
    `DELETE FROM events WHERE site_id = '' AND received_at < ? - 86400000 * (SELECT COALESCE(MAX(retention_days), 395) FROM sites WHERE sites.workspace_id = events.workspace_id)`,
  )
    .bind(now)
    .run();
  purgedEvents += orphans.meta.changes;
  const seen = await db.delete(cookielessSeen).where(lt(cookielessSeen.day, new Date(now - 2 * DAY).toISOString().slice(0, 10)));
  return { events: purgedEvents, failedEvents: purgedFailed, cookielessSeen: seen.meta.changes };
}
