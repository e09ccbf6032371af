/**
 * `POST /v1/decide {slots, context?}`: what each slot shows for this visitor.
 */
import { getCookie } from "hono/cookie";
import { z } from "zod";
import { MAX_EVENT_BYTES } from "../collect/parse";
import { contextSchema } from "../collect/schema";
import { decideFor, parseSlots, requestContext } from "../flows/decide";
import type { AppContext } from "../env";
import { COOKIE_NAME, verifyVisitorCookie } from "../identity/cookie";
import { profileKey, type ProfileKey } from "../identity/keys";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { authenticate, basicAuthKey } from "./request";
import type { WireDecideResponse } from "../collect/wire";

export const decideSchema = z.object({
  writeKey: z.string().max(255).optional(),
  slots: z.array(z.string()).min(1, "name at least one slot").max(20),
  context: contextSchema.optional(),
  userId: z.string().min(1).max(255).optional(),
  anonymousId: z.string().min(1).max(255).optional(),
});

/**
 * `POST /v1/decide {slots, context?}`: what each slot shows for this visitor. A browser is its
 * cookie; a server names the visitor by `userId` or `anonymousId` with its secret key.
 */
export async function decideRoute(c: AppContext) {
  const body = await jsonBody(c.req.raw, decideSchema, MAX_EVENT_BYTES);
  const { site, source } = await authenticate(c, basicAuthKey(c) ?? body.writeKey);
  const slots = parseSlots(body.slots, "slots");
  const edge = { userAgent: source === "browser" ? c.req.header("User-Agent") : undefined, cf: source === "browser" ? (c.req.raw.cf as Record<string, unknown> | undefined) : undefined };
  let key: ProfileKey | undefined;
  if (source === "browser") {
    const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET, site.workspaceId);
    key = visitorId ? profileKey(site.workspaceId, { anonymousId: visitorId }) : undefined;
  } else {
    key = profileKey(site.workspaceId, { userId: body.userId, anonymousId: body.anonymousId });
    if (!key) throw new ApiError(400, "missing_identity", "A server names the visitor by userId or anonymousId.", { path: "userId" });
  }
  const decided = await decideFor(c.env, { site, slots, context: requestContext(body.context, edge), key });
  c.header("Cache-Control", "no-store");
  return c.json({ decisions: decided.decisions } satisfies WireDecideResponse);
}
