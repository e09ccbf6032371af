/** Shared helpers for the e2e tests: admin look-ups, polling, the proxy switch, the browser. */
import { createHmac } from "node:crypto";
import { inject } from "vitest";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import type { WireConsentResponse } from "../../worker/collect/wire";
import type { ProxyMode } from "./proxy";

export const e2e = () => inject("e2e");

/** The profile as the admin API shows it (the Worker's ProfileView). */
export interface Profile {
  key: string;
  identities: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  /** The visitor's resolved consent and where each purpose's answer came from. */
  consent?: WireConsentResponse["consent"];
  recentEvents: { messageId: string; type: string; event?: string; name?: string; timestamp: string; properties: Record<string, unknown> }[];
}

/** `GET /admin/api/profiles/lookup?…`; null while the profile does not exist (404). */
export async function lookup(query: { userId: string } | { anonymousId: string }): Promise<Profile | null> {
  const { url, adminToken } = e2e();
  const res = await fetch(`${url}/admin/api/profiles/lookup?${new URLSearchParams(query)}`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`profile lookup answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as Profile | { profile: Profile | null };
  return "profile" in body ? body.profile : body;
}

/** Polls `read` until `check` accepts its value; fails with the last value seen. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      error = undefined;
      if (check(last)) return last;
    } catch (e) {
      error = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}${error ? `; last error: ${error}` : ""}`);
}

/** The visitor id: the `cohort_id` cookie value up to its first '.', once the Worker has set it. */
export async function visitorId(context: BrowserContext): Promise<string> {
  const cookie = await eventually(
    async () => (await context.cookies(e2e().url)).find((c) => c.name === "cohort_id"),
    (c) => c !== undefined,
    "the cohort_id cookie",
  );
  return cookie!.value.split(".")[0]!;
}

export const trackNames = (profile: Profile | null) =>
  (profile?.recentEvents ?? []).filter((e) => e.type === "track").map((e) => e.event);

export const hasTrack = (name: string) => (profile: Profile | null) => trackNames(profile).includes(name);

export async function setProxy(mode: ProxyMode) {
  const res = await fetch(`${e2e().proxyUrl}/__proxy?mode=${mode}`, { method: "POST" });
  if (!res.ok) throw new Error(`proxy switch answered ${res.status}`);
}

export async function proxyStats(): Promise<{ mode: ProxyMode; failed: number; forwarded: number }> {
  return (await fetch(`${e2e().proxyUrl}/__proxy`)).json() as Promise<{ mode: ProxyMode; failed: number; forwarded: number }>;
}

/** A customer page URL (see customer-site.ts for the parameters). */
export function customerPage(options: { cohort?: string; auto?: boolean; pre?: unknown[]; key?: string; tcf?: string } = {}) {
  const url = new URL(e2e().customerUrl);
  if (options.key) url.searchParams.set("key", options.key);
  if (options.tcf) url.searchParams.set("tcf", options.tcf);
  if (options.cohort) url.searchParams.set("cohort", options.cohort);
  if (options.auto === false) url.searchParams.set("auto", "false");
  if (options.pre) url.searchParams.set("pre", JSON.stringify(options.pre));
  return url.toString();
}

/**
 * Headless Chromium says "HeadlessChrome" in its User-Agent, which Cohort (rightly) treats as a
 * bot and never profiles. Tests play a visitor, so the browser gets an ordinary Chrome UA. It is set
 * on the command line, not per context: a per-context override does not reach the `sendBeacon`
 * requests made while a page unloads.
 */
export const VISITOR_USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

export function newVisitorContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ locale: "en-GB", timezoneId: "Europe/Paris" });
}

/** `POST /admin/api/sites` in the e2e workspace, allowed on the customer's site; returns its keys. */
export async function createSite(site: { name: string; consentDefaults?: Record<string, boolean> }) {
  const { url, adminToken, customerUrl } = e2e();
  const res = await fetch(`${url}/admin/api/sites`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ ...site, origins: [customerUrl, url] }),
  });
  if (!res.ok) throw new Error(`POST /admin/api/sites answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; writeKey: string; secretKey: string };
}

/**
 * Debian's Chromium, headless, with everything that would reach the network turned off. With
 * `{visitor: false}` it keeps headless Chromium's own User-Agent, which Cohort takes for a bot.
 */
export function launchChromium({ visitor = true }: { visitor?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...(visitor ? [`--user-agent=${VISITOR_USER_AGENT}`] : []),
    ],
  });
}

/** The userHash the e2e site's server would render for `userId` (README "Verified identity"). */
export function userHashFor(userId: string): string {
  return createHmac("sha256", e2e().identitySecret).update(userId).digest("hex");
}
