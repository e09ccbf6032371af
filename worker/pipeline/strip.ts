/**
 * Advertising consent withdrawn after the fact: ad click ids (the list consent enforcement uses)
 * leave every URL-like field of an archived event — page URL, search and referrer in `context.page`
 * and in a page call's `properties`, `context.referrer.url` — and the click-id keys leave
 * `context.campaign`. Pure and idempotent: stripping twice changes nothing more.
 */
import { CLICK_ID_PARAMS } from "../consent/enforce";

const BASE = "https://placeholder.invalid";
const mentions = (text: string) => CLICK_ID_PARAMS.some((p) => text.includes(`${p}=`));

/** The URL (absolute, relative or a bare `?query`) without click-id parameters, else unchanged. */
export function stripClickIds(value: unknown): unknown {
  if (typeof value !== "string" || !mentions(value)) return value;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return value;
  }
  for (const param of CLICK_ID_PARAMS) url.searchParams.delete(param);
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return url.href;
  if (value.startsWith("?")) return url.search;
  return `${url.pathname}${url.search}${url.hash}`;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function stripFields(object: unknown, fields: string[]): unknown {
  if (!isObject(object)) return object;
  const out = { ...object };
  for (const field of fields) if (field in out) out[field] = stripClickIds(out[field]);
  return out;
}

/** The event without ad click ids; the same object when it had none. */
export function stripAds<E extends Record<string, unknown>>(event: E): E {
  if (!mentions(JSON.stringify(event)) && !(isObject(event.context) && isObject(event.context.campaign) && CLICK_ID_PARAMS.some((p) => p in (event.context as { campaign: object }).campaign))) return event;
  const out: Record<string, unknown> = { ...event };
  if (isObject(event.context)) {
    const context: Record<string, unknown> = { ...event.context };
    context.page = stripFields(context.page, ["url", "search", "referrer"]);
    context.referrer = stripFields(context.referrer, ["url"]);
    if (isObject(context.campaign)) context.campaign = Object.fromEntries(Object.entries(context.campaign).filter(([k]) => !CLICK_ID_PARAMS.includes(k)));
    out.context = context;
  }
  if (event.type === "page" || event.type === "screen") out.properties = stripFields(event.properties, ["url", "search", "referrer"]);
  return out as E;
}
