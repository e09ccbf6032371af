/**
 * What every event says about where it happened: Segment's `context` (page, consent signals,
 * library, locale, screen, timezone), read fresh for each event so single-page apps report the
 * current URL and every event carries the consent signals known when it happened.
 */
import type { WireContext } from "../../worker/collect/wire";
import { signals } from "./consent";

/** @example context() // → {page:{url, path, title, referrer, search}, library:{name:"cohort-tag", …}, …} */
export function context(): WireContext {
  const l = location;
  let timezone: string | undefined;
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    // Very old engines without Intl: leave it out, the Worker falls back to geo.
  }
  return {
    page: { url: l.href, path: l.pathname, title: document.title, referrer: document.referrer, search: l.search },
    consent: signals(),
    library: { name: "cohort-tag", version: __VERSION__ },
    locale: navigator.language,
    screen: { width: screen.width, height: screen.height },
    timezone,
  } satisfies WireContext;
}
