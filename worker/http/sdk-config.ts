/**
 * `GET /sourceConfig` (and `/sourceConfig/`, as RudderStack's JS SDK v3 asks for it, with
 * `?p=…&v=…&writeKey=…` and the write key also in Basic auth): the SDK's source configuration, so
 * its `configUrl` can point at Cohort. CORS for any origin: the document is public.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { AppContext, AppEnv } from "../env";
import { rudderSourceConfig } from "../sources/sdk-settings";
import { basicAuthKey, sdkSite } from "./request";

export const sdkConfig = new Hono<AppEnv>();

const PATHS = ["/sourceConfig", "/sourceConfig/"];
const anyOrigin = cors({ origin: (origin) => origin || "*", credentials: true, allowMethods: ["GET", "OPTIONS"], maxAge: 86_400 });

async function sourceConfig(c: AppContext) {
  const writeKey = c.req.query("writeKey") || basicAuthKey(c);
  const site = await sdkSite(c, writeKey);
  c.header("Cache-Control", "public, max-age=300");
  return c.json(rudderSourceConfig(site, writeKey!));
}

for (const path of PATHS) {
  sdkConfig.use(path, anyOrigin);
  sdkConfig.get(path, sourceConfig);
}
