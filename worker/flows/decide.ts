/**
 * Deciding for a request (the decide API, `?decide=` on collection, the edge route): the
 * workspace's live experiences for the requested slots, decided by the visitor's profile (sticky
 * assignments, first exposures recorded) or, without a usable profile, by context alone.
 */
import { enrich } from "../collect/enrich";
import { normalise } from "../collect/normalise";
import type { WireDecisions } from "../collect/wire";
import { profileStub, type ProfileKey } from "../identity/keys";
import { followMerges } from "../profile/profiles";
import type { ProfileDecision } from "../profile/store";
import { segmentContextOf, type SegmentContext } from "../segments";
import { liveExperiences } from "../store/experiences";
import type { Site } from "../store/sites";
import { decideWithoutProfile } from "../decisions/choose";
import { ApiError } from "../errors";

export const MAX_SLOTS = 20;
const SLOT = /^[A-Za-z0-9_.:/-]{1,100}$/;

/** `?decide=hero,banner` → slot names (400 on a malformed list). */
export function parseSlots(value: string | string[] | undefined, path: string): string[] {
  const list = (Array.isArray(value) ? value : value === undefined ? [] : value.split(",")).map((s) => s.trim()).filter(Boolean);
  if (list.length > MAX_SLOTS) throw new ApiError(400, "invalid_slots", `At most ${MAX_SLOTS} slots per request.`, { path });
  const bad = list.findIndex((s) => !SLOT.test(s));
  if (bad >= 0) throw new ApiError(400, "invalid_slots", `Slot names are 1-100 letters, digits or - _ . : /`, { path: Array.isArray(value) ? `${path}.${bad}` : path });
  return [...new Set(list)];
}

/** The rule-language context of a request: its page, campaign, referrer, geo and device. */
export function requestContext(context: Record<string, unknown> | undefined, edge: { userAgent?: string; cf?: Record<string, unknown> }): SegmentContext {
  const event = enrich(normalise({ type: "page", anonymousId: "-", context: context ?? {} }, new Date()), edge);
  return segmentContextOf(event.context);
}

export interface DecideFor {
  site: Site;
  slots: string[];
  context: SegmentContext;
  /** The visitor's profile, when there is one. */
  key?: ProfileKey;
  /**
   * Record assignments and first exposures now (default). With false (the edge route, which may
   * still serve the page unpersonalised), the answer's `record` records them once the content
   * was served.
   */
  record?: boolean;
}

export interface Decided {
  decisions: WireDecisions;
  /** With `record: false`: records this decision's assignments and first exposures. */
  record?: () => Promise<void>;
}

export async function decideFor(env: Pick<Env, "DB" | "PROFILES">, request: DecideFor): Promise<Decided> {
  if (request.slots.length === 0) return { decisions: {} };
  const experiences = (await liveExperiences(env.DB, request.site.workspaceId)).filter((e) => request.slots.includes(e.slot));
  if (experiences.length === 0) return { decisions: {} };
  const base = { experiences, slots: request.slots, context: request.context, now: Date.now(), requestKey: crypto.randomUUID(), siteId: request.site.id, record: request.record };
  if (!request.key) return { decisions: decideWithoutProfile(base).decisions };
  // One call to the profile; a merged one names its target (followed a few hops at most).
  // Decisions carry JSON content (unknown), which RPC typing cannot name: the shape is ProfileDecision.
  const { result, key } = await followMerges(env.PROFILES, request.key, async (stub) => (await stub.decide(base)) as unknown as ProfileDecision);
  if (result.forwardedTo) return { decisions: {} };
  // Recorded first exposures are in the profile's outbox, on their way to the archive.
  if (request.record !== false || result.exposures.length === 0) return { decisions: result.decisions };
  const served = { siteId: request.site.id, now: base.now, assignments: result.assignments, exposures: result.exposures, names: Object.fromEntries(experiences.map((e) => [e.id, e.name ?? ""])) };
  const stub = profileStub(env.PROFILES, key);
  return { decisions: result.decisions, record: () => stub.recordExposures(served) };
}
