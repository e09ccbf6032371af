// The consent ledger's subject is keyed (issue 10): an HMAC under a key derived from DATA_SECRET,
// so knowing a userId finds nothing without the secret. Entries written before keep their unkeyed
// subject (the hash chain covers it) and an export still finds them.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { legacyLedgerSubject, ledgerSubject } from "../../worker/consent/ledger";
import { adminCall, browserPost, createSite, eventually } from "./helpers";

const WORKSPACE = "ws_ledger_key";
const idOf = (res: Response) => /cohort_id=([\w-]+)\./.exec(res.headers.get("Set-Cookie") ?? "")?.[1];

describe("ledger pseudonyms", () => {
  it("are an HMAC keyed by DATA_SECRET: pinned, different per secret, not the unkeyed hash", async () => {
    const key = "ws_x:user:alice";
    // Pinned (and checked against Node: HKDF-SHA256, empty salt, then HMAC-SHA256): a silent
    // change would orphan every entry from its subject's export.
    expect(await ledgerSubject(key, "test-data-secret")).toBe("761aea1887d4d4ca13049d1493863d6c70b1d4e6f1659418b8fd1b8b6366978d");
    expect(await ledgerSubject(key, "another-data-secret")).not.toBe(await ledgerSubject(key, "test-data-secret"));
    expect(await ledgerSubject(key, "test-data-secret")).not.toBe(await legacyLedgerSubject(key));
    await expect(ledgerSubject(key, "")).rejects.toThrow(/DATA_SECRET/);
  });

  it("a consent change is written under the keyed pseudonym, and the export finds old and new entries", async () => {
    const site = await createSite({}, WORKSPACE);
    const res = await browserPost(site, "/v1/consent", { purposes: { analytics: true, personalization: true } }, {}, "DE");
    expect(res.status).toBe(200);
    const visitor = idOf(res)!;
    const key = `${site.workspaceId}:anon:${visitor}`;
    const rows = await eventually(
      () => env.DB.prepare("SELECT id, subject FROM consent_ledger WHERE site_id = ?").bind(site.id).all<{ id: string; subject: string }>().then((r) => r.results),
      (r) => r.length === 1,
    );
    expect(rows[0]!.subject).toBe(await ledgerSubject(key, env.DATA_SECRET));

    // An entry from before the pseudonym was keyed, on a chain of its own.
    await env.DB.prepare(
      "INSERT INTO consent_ledger (id, site_id, workspace_id, subject, at, signals, consent, policy_version, prev_hash, hash) VALUES (?, ?, ?, ?, ?, '{}', '{}', '1', 'genesis', 'h')",
    )
      .bind("legacy-entry", "site_legacy", site.workspaceId, await legacyLedgerSubject(key), Date.now())
      .run();
    const exported = await adminCall("/admin/api/privacy/export", { method: "POST", workspace: WORKSPACE, body: JSON.stringify({ anonymousId: visitor }) });
    expect(exported.status).toBe(200);
    const body = await exported.json<{ consentLedger: { id: string }[] }>();
    expect(body.consentLedger.map((e) => e.id).sort()).toEqual([rows[0]!.id, "legacy-entry"].sort());
  });
});
