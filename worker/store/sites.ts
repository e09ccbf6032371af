/**
 * Sites and their keys. A site has a public write key (browser, origin-checked), a secret key
 * (servers) of which only a SHA-256 hash is stored, and an identity secret (the key of browsers'
 * `userHash`) stored sealed (worker/store/seal.ts). Lookups on the collection path are cached per
 * isolate for a short time, so a request needs no D1 read; changes reach every isolate within
 * `SITE_CACHE_MS`.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { IdentityPolicy } from "../identity/verify";
import { sites, workspaces } from "./schema";
import { open, seal } from "./seal";
import { TtlCache } from "./cache";
import { randomHex } from "../ids";

export type Site = typeof sites.$inferSelect;
export const IDENTITY_VERIFICATION = ["required", "off"] as const;
export type IdentityVerification = (typeof IDENTITY_VERIFICATION)[number];
export const SITE_CACHE_MS = 30_000;
const MAX_CACHED = 10_000;

/** Lookups by key; unknown keys are cached too (a flood of bad keys reads D1 once each), within a bound. */
const cache = new TtlCache<string, Site | undefined>(SITE_CACHE_MS, MAX_CACHED);

export const isSecretKey = (key: string) => key.startsWith("sk_");


export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The site a key belongs to. A secret key is matched by its hash (the stored value is never the
 * key), a write key by equality; both are indexed lookups, not comparisons over all sites.
 */
export async function findSiteByKey(db: D1Database, key: string): Promise<Site | undefined> {
  return cache.getOrLoad(key, async () => {
    const condition = isSecretKey(key) ? eq(sites.secretKeyHash, await sha256Hex(key)) : eq(sites.writeKey, key);
    const [site] = await drizzle(db).select().from(sites).where(condition).limit(1);
    return site;
  });
}

/** Drops cached lookups of a site after it changed (this isolate; others expire on their own). */
export function forgetSite(site: Pick<Site, "id">): void {
  cache.deleteWhere((cached) => cached?.id === site.id);
  identitySecrets.delete(site.id);
  enabled = undefined;
}

/** Decrypted identity secrets, by site id, with the sealed value they came from. */
const identitySecrets = new Map<string, { sealed: string; secret: string }>();
/** What a sealed identity secret is bound to: its site (a sealed value copied to another row does not open). */
const sealContext = (siteId: string) => `site-identity-secret:${siteId}`;
const newIdentitySecret = () => `idsec_${randomHex(32)}`;

/**
 * A site's identity secret, decrypted (cached per isolate), or undefined when the site has none
 * yet (sites made before identity secrets: see `ensureIdentitySecret`).
 */
export async function identitySecretOf(env: Pick<Env, "DATA_SECRET">, site: Pick<Site, "id" | "identitySecretSealed">): Promise<string | undefined> {
  const sealed = site.identitySecretSealed;
  if (!sealed) return identitySecrets.get(site.id)?.secret;
  const hit = identitySecrets.get(site.id);
  if (hit?.sealed === sealed) return hit.secret;
  const secret = await open(env.DATA_SECRET, sealed, sealContext(site.id));
  if (identitySecrets.size >= MAX_CACHED) identitySecrets.clear();
  identitySecrets.set(site.id, { sealed, secret });
  return secret;
}

/**
 * A site's identity secret, made and stored first when the site has none (a site created before
 * identity secrets). Two requests racing here agree: only the first write lands, and the other
 * reads it back.
 */
/** How the collection path verifies this site's browser userIds (DESIGN.md "Verified identity"). */
export async function identityPolicy(env: Pick<Env, "DATA_SECRET">, site: Site): Promise<IdentityPolicy> {
  if (site.identityVerification === "off") return { required: false };
  return { required: true, secret: await identitySecretOf(env, site) };
}

export async function ensureIdentitySecret(env: Pick<Env, "DB" | "DATA_SECRET">, site: Pick<Site, "id" | "identitySecretSealed">): Promise<string> {
  const known = await identitySecretOf(env, site);
  if (known) return known;
  const secret = newIdentitySecret();
  const d = drizzle(env.DB);
  const [written] = await d
    .update(sites)
    .set({ identitySecretSealed: await seal(env.DATA_SECRET, secret, sealContext(site.id)) })
    .where(and(eq(sites.id, site.id), isNull(sites.identitySecretSealed)))
    .returning({ id: sites.id });
  forgetSite(site);
  if (written) return secret;
  const [row] = await d.select({ id: sites.id, identitySecretSealed: sites.identitySecretSealed }).from(sites).where(eq(sites.id, site.id)).limit(1);
  const stored = row && (await identitySecretOf(env, row));
  if (!stored) throw new Error(`site ${site.id} does not exist`);
  return stored;
}

/** Replaces a site's identity secret; the new one is returned (shown once), or undefined for no such site. */
export async function rotateIdentitySecret(env: Pick<Env, "DB" | "DATA_SECRET">, workspaceId: string, id: string): Promise<string | undefined> {
  const secret = newIdentitySecret();
  const [site] = await drizzle(env.DB)
    .update(sites)
    .set({ identitySecretSealed: await seal(env.DATA_SECRET, secret, sealContext(id)) })
    .where(and(eq(sites.id, id), eq(sites.workspaceId, workspaceId)))
    .returning({ id: sites.id });
  if (!site) return undefined;
  forgetSite(site);
  return secret;
}

/**
 * Whether an Origin header value is allowed by a site's patterns: exact origins
 * (`https://shop.example`), or a subdomain wildcard (`https://*.example.com`) that matches any
 * subdomain at any depth (`https://a.example.com`, `https://a.b.example.com`) with the same scheme
 * and no port, but not the bare domain (`https://example.com`).
 */
export function originAllowed(origin: string, patterns: string[]): boolean {
  for (const pattern of patterns) {
    if (pattern === origin) return true;
    const wildcard = /^(https?):\/\/\*\.(.+)$/.exec(pattern);
    if (wildcard) {
      const [, scheme, domain] = wildcard;
      if (origin.startsWith(`${scheme}://`) && origin.endsWith(`.${domain}`) && !origin.slice(scheme!.length + 3, -domain!.length - 1).includes("/")) {
        return true;
      }
    }
  }
  return false;
}

export interface NewSite {
  name: string;
  origins: string[];
  cookieDomain?: string | null;
  consentDefaults?: Site["consentDefaults"];
  purposes?: Site["purposes"];
  policyVersion?: string;
  retentionDays?: number;
  identityVerification?: IdentityVerification;
}

/** Creates a site (and its workspace on first use); the secret key and identity secret are returned only here. */
export async function createSite(
  env: Pick<Env, "DB" | "DATA_SECRET">,
  workspaceId: string,
  input: NewSite,
): Promise<{ site: Site; secretKey: string; identitySecret: string }> {
  const d = drizzle(env.DB);
  const secretKey = `sk_${randomHex(24)}`;
  const identitySecret = newIdentitySecret();
  const id = `site_${randomHex(8)}`;
  const values = {
    id,
    workspaceId,
    name: input.name,
    writeKey: `wk_${randomHex(12)}`,
    secretKeyHash: await sha256Hex(secretKey),
    identitySecretSealed: await seal(env.DATA_SECRET, identitySecret, sealContext(id)),
    origins: input.origins,
    cookieDomain: input.cookieDomain ?? null,
    consentDefaults: input.consentDefaults ?? null,
    ...(input.purposes ? { purposes: input.purposes } : {}),
    ...(input.policyVersion ? { policyVersion: input.policyVersion } : {}),
    ...(input.retentionDays ? { retentionDays: input.retentionDays } : {}),
    ...(input.identityVerification ? { identityVerification: input.identityVerification } : {}),
  };
  enabled = undefined;
  const [, [site]] = await d.batch([
    d.insert(workspaces).values({ id: workspaceId, name: workspaceId }).onConflictDoNothing(),
    d.insert(sites).values(values).returning(),
  ]);
  return { site: site!, secretKey, identitySecret };
}

export async function listSites(db: D1Database, workspaceId: string): Promise<Site[]> {
  return drizzle(db).select().from(sites).where(eq(sites.workspaceId, workspaceId)).orderBy(asc(sites.createdAt));
}

export async function updateSite(
  db: D1Database,
  workspaceId: string,
  id: string,
  changes: Partial<Pick<Site, "name" | "origins" | "cookieDomain" | "consentDefaults" | "purposes" | "policyVersion" | "retentionDays" | "identityVerification" | "enabled">>,
): Promise<Site | undefined> {
  const [site] = await drizzle(db)
    .update(sites)
    .set(changes)
    .where(and(eq(sites.id, id), eq(sites.workspaceId, workspaceId)))
    .returning();
  if (site) forgetSite(site);
  return site;
}

let enabled: { sites: Promise<Site[]>; expires: number } | undefined;

/**
 * The enabled sites, oldest first, read once per isolate for `SITE_CACHE_MS`: the demo page and
 * the edge route pick their site from this list, so a page view reads no D1.
 */
function enabledSites(db: D1Database): Promise<Site[]> {
  if (!enabled || enabled.expires <= Date.now()) {
    const list: Promise<Site[]> = Promise.resolve(drizzle(db).select().from(sites).where(eq(sites.enabled, true)).orderBy(asc(sites.createdAt)));
    enabled = { sites: list, expires: Date.now() + SITE_CACHE_MS };
    // A failed read is not cached: the next page view tries again.
    list.catch(() => {
      if (enabled?.sites === list) enabled = undefined;
    });
  }
  return enabled.sites;
}

/** The oldest enabled site whose allowed origins (wildcards included) match `origin`: the demo page's. */
export async function findSiteForOrigin(db: D1Database, origin: string): Promise<Site | undefined> {
  return (await enabledSites(db)).find((s) => originAllowed(origin, s.origins));
}

/** What the admin API shows of a site: everything but its secrets (hashed or sealed), as JSON. */
export function publicSite({ secretKeyHash: _hash, identitySecretSealed: _sealed, createdAt, ...site }: Site) {
  return { ...site, createdAt: createdAt.toISOString() };
}

/**
 * The site an edge route serves: `EDGE_SITE_ID` when set (required where several workspaces share
 * a deployment), else the oldest site that lists the request's origin exactly (no wildcard:
 * another workspace's broad pattern must not capture a customer's pages).
 */
export async function findEdgeSite(db: D1Database, siteId: string | undefined, origin: string): Promise<Site | undefined> {
  const all = await enabledSites(db);
  return siteId ? all.find((s) => s.id === siteId) : all.find((s) => s.origins.includes(origin));
}
