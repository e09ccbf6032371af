// Environment for wrangler that keeps it off the network: no request.cf download (a local
// stand-in is used), no telemetry, no update check (it lives in the banner).
export const offlineEnv = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
};
