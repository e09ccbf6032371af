// Environment for wrangler that keeps it off the network: no request.cf download (a local
// stand-in is used), no telemetry, no update check (it lives in the banner).
export const offlineEnv = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/**
 * `wrangler dev` arguments for a throwaway local Cohort: its own state folder, fresh secrets, and
 * extra variables (`{DEMO: "true", EDGE_ORIGIN: "http://…"}`). Used by the e2e suite and the bench.
 */
export function devArgs({ port, inspectorPort, persistTo, cookieSecret, adminSecret, dataSecret = "local-data-secret-for-throwaway-runs", vars = {} }) {
  return [
    "dev",
    "--port", String(port),
    "--ip", "127.0.0.1",
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--var", `COOKIE_SECRET:${cookieSecret}`,
    "--var", `ADMIN_JWT_SECRET:${adminSecret}`,
    "--var", `DATA_SECRET:${dataSecret}`,
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    "--show-interactive-dev-session=false",
    "--log-level", "warn",
  ];
}
