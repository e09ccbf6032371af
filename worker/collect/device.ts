/**
 * The device an event came from, as the profile shows it: from Segment's `context.device`,
 * `context.os` and `context.app` (what the mobile SDKs, analytics-swift and analytics-kotlin, send)
 * or from what enrichment read in a browser's user agent. Identifiers (`device.id`,
 * `advertisingId`, push tokens) are not part of it: they stay in the stored event only.
 */

export interface DeviceSummary {
  /** Segment's `context.device.type`: `ios`, `android` from the mobile SDKs; `desktop`, `mobile`, `tablet`, … from a user agent. */
  type?: string;
  manufacturer?: string;
  model?: string;
  os?: { name?: string; version?: string };
  app?: { name?: string; version?: string; build?: string; namespace?: string };
  browser?: { name?: string; version?: string };
}

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
/** A short text value (numbers, as some SDKs send builds, become text). */
const text = (value: unknown) => (typeof value === "string" && value !== "" ? value.slice(0, 128) : typeof value === "number" && Number.isFinite(value) ? String(value) : undefined);

function clean<T extends Record<string, unknown>>(value: T): T | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length > 0 ? (Object.fromEntries(entries) as T) : undefined;
}

/** The device of an (enriched) event's context; undefined when it says nothing of one. */
export function deviceOf(context: Record<string, unknown>): DeviceSummary | undefined {
  const device = record(context.device);
  const os = record(context.os);
  const app = record(context.app);
  const browser = record(context.browser);
  return clean({
    type: text(device.type),
    manufacturer: text(device.manufacturer),
    model: text(device.model),
    os: clean({ name: text(os.name), version: text(os.version) }),
    app: clean({ name: text(app.name), version: text(app.version), build: text(app.build), namespace: text(app.namespace) }),
    browser: clean({ name: text(browser.name), version: text(browser.version) }),
  });
}
