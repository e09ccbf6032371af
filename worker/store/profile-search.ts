/**
 * Finding profiles by an email trait (the dashboard's profile search). Profiles live in their own
 * Durable Objects, so the email is looked up where it was said: the archived `identify` calls whose
 * traits carry it (case-insensitively, trimmed). Bounded by the workspace's archive: a candidate
 * for an index table of identifying traits once workspaces hold millions of events.
 */
export async function profileKeysByEmail(db: D1Database, workspaceId: string, email: string, limit = 20): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT profile_key, max(received_at) AS last FROM events WHERE workspace_id = ? AND type = 'identify' AND profile_key IS NOT NULL AND lower(trim(json_extract(payload, '$.traits.email'))) = ? GROUP BY profile_key ORDER BY last DESC LIMIT ?",
    )
    .bind(workspaceId, email.trim().toLowerCase(), limit)
    .all<{ profile_key: string }>();
  return results.map((r) => r.profile_key);
}
