/**
 * The Profile API (DESIGN.md §3 "Sources beyond the tag"): what a site's own server may read of one
 * visitor, for server-side personalisation, as Segment's Profile API offers it. Only through the
 * site's secret key (the caller proved it is the site's server), only within the site's workspace,
 * and never an erased profile (its Durable Object answers nothing).
 */
import { z } from "zod";
import { ApiError } from "../errors";
import { profileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import type { ProfileView } from "../profile/contract";

const id = z.string().trim().min(1, "must not be empty").max(255, "must be at most 255 characters");

/** `?userId=…` or `?anonymousId=…`, exactly one. */
export const profileQuery = z
  .object({ userId: id.optional(), anonymousId: id.optional() })
  .refine((q) => (q.userId === undefined) !== (q.anonymousId === undefined), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });
export type ProfileQuery = z.infer<typeof profileQuery>;

/** What a site's server reads of a profile: no event history, no identities, no ledger. */
export interface ServerProfile {
  /** The key the id leads to (after merges): `<workspace>:user:<userId>` or `…:anon:<anonymousId>`. */
  profileKey: string;
  traits: Record<string, unknown>;
  /** Ids of the segments the profile is in now. */
  segments: string[];
  /** Prediction scores by prediction id (`{score, percentile, scoredAt}`); `{}` until a prediction is ready. */
  predictions: ProfileView["predictions"];
  /** The resolved purposes and the signal each came from; null when no consent was resolved yet. */
  consent: { purposes: Record<string, boolean>; sources: Record<string, string>; policyVersion: string } | null;
}

/** The profile `query` names in `workspaceId`, shaped for a server; 404 when there is none. */
export async function serverProfile(namespace: Env["PROFILES"], workspaceId: string, query: ProfileQuery): Promise<ServerProfile> {
  const key = profileKey(workspaceId, query)!;
  const profile = await viewProfile(namespace, key);
  const named = query.userId !== undefined ? `userId ${query.userId}` : `anonymousId ${query.anonymousId}`;
  if (!profile) throw new ApiError(404, "profile_not_found", `No profile has ${named} on this site's workspace.`, { path: query.userId !== undefined ? "userId" : "anonymousId" });
  const consent = profile.consent ? { purposes: profile.consent.purposes, sources: profile.consent.sources, policyVersion: profile.consent.policyVersion } : null;
  return { profileKey: profile.key, traits: profile.traits, segments: profile.segments, predictions: profile.predictions, consent };
}
