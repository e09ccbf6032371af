/**
 * `GET /v1/profile?userId=…|anonymousId=…` with the site's secret key as Basic auth: the visitor's
 * traits, segments, predictions and consent, for the site's own server (worker/sources/profile-api.ts).
 */
import type { AppContext } from "../env";
import { profileQuery, serverProfile } from "../sources/profile-api";
import { isSecretKey } from "../store/sites";
import { queryOf } from "./body";
import { ApiError } from "./errors";
import { authenticate, basicAuthKey } from "./request";

export async function profileRoute(c: AppContext) {
  const key = basicAuthKey(c);
  if (!key) throw new ApiError(401, "missing_secret_key", "Send the site's secret key as Basic auth (`sk_…:`).");
  // The write key is public: whoever has it may not read anyone's profile.
  if (!isSecretKey(key)) throw new ApiError(403, "secret_key_required", "The Profile API answers a site's server, with its secret key; a write key is public and reads no profile.");
  const { site } = await authenticate(c, key);
  const query = queryOf(c.req.query(), profileQuery);
  c.header("Cache-Control", "no-store");
  return c.json(await serverProfile(c.env.PROFILES, site.workspaceId, query));
}
