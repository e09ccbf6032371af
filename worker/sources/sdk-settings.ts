/**
 * The configuration documents that browser SDKs fetch before they send anything (DESIGN.md §3
 * "Sources beyond the tag"), served by Cohort so an SDK can take its settings from Cohort instead
 * of its vendor's CDN: analytics.js's settings (`/v1/projects/:writeKey/settings`) and RudderStack
 * JS SDK v3's `sourceConfig`. Both name Cohort as the only destination (the SDK's own), with
 * nothing to load from elsewhere: no device-mode destinations, no remote plugins, no metrics.
 */
import type { Site } from "../store/sites";

/** analytics.js's settings: its `Segment.io` integration sends to `<host>/v1` of this Cohort. */
export function segmentSettings(writeKey: string, base: URL) {
  return {
    integrations: {
      "Segment.io": { apiKey: writeKey, apiHost: `${base.host}/v1`, protocol: base.protocol.replace(":", ""), unbundledIntegrations: [], addBundledMetadata: false },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}

/**
 * RudderStack's `sourceConfig`: the source (the site), enabled, with no device-mode destinations
 * (events go to the data plane, Cohort) and the SDK's own error and metrics reporting off.
 */
export function rudderSourceConfig(site: Pick<Site, "id" | "name" | "workspaceId" | "createdAt">, writeKey: string) {
  return {
    isHosted: true,
    source: {
      id: site.id,
      name: site.name,
      writeKey,
      workspaceId: site.workspaceId,
      enabled: true,
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
    updatedAt: new Date(site.createdAt).toISOString(),
  };
}
