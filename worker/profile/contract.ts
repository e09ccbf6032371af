/**
 * The ProfileStore's RPC contract: what the Worker sends a profile and what it answers, and the
 * limits of what a profile keeps.
 */
import type { DeviceSummary } from "../collect/device";
import type { CollectedEvent } from "../collect/normalise";
import type { ConsentPolicy, ConsentState } from "../consent/purposes";
import type { ConsentSignals, ExplicitChoice } from "../consent/resolve";
import type { DecideResult } from "../decisions/choose";
import type { StoredExperience } from "../decisions/schema";
import type { ProfileKey } from "../identity/keys";
import type { SegmentContext } from "../segments";
import type { PredictionScore } from "../predictions/score";
import type { Definitions } from "../store/definitions";
import type { CampaignTouch, RecentEvent } from "./effects";
import type { MembershipChange } from "./rules";

/** How many recent events a profile keeps (segment windows will widen this, DESIGN.md §3). */
export const RECENT_EVENTS = 200;
/** How long a messageId is remembered for deduplication. */
export const DEDUPE_DAYS = 30;
export const DAY = 86_400_000;

export type { Definitions } from "../store/definitions";

/** The largest definitions bundle sent with every call rather than on request (a few small segments). */
export const INLINE_DEFINITIONS_BYTES = 2048;

export interface ApplyRequest {
  key: ProfileKey;
  events: CollectedEvent[];
  /** The consent signals of the request; the profile adds its remembered explicit choice. */
  signals: ConsentSignals;
  policy: ConsentPolicy;
  retentionDays: number;
  /**
   * The workspace's live definitions, re-evaluated after the events are applied: usually the
   * version only; the whole bundle when the profile answered `needsDefinitions`.
   */
  definitions?: Definitions | { version: string };
  /** The site the events came from (recorded on segment entry/exit events and ledger entries). */
  siteId?: string;
  /** The request is the visitor's own choice (`/v1/consent`): a ledger entry even if nothing moved. */
  recordChoice?: boolean;
  /** Identities to record besides the events' own (an anonymousId just bound to this profile). */
  identities?: { kind: "anonymousId"; value: string }[];
}

export interface ProfileDecideRequest {
  experiences: StoredExperience[];
  slots: string[];
  /** The request's context, in the rule language's shape. */
  context: SegmentContext;
  now: number;
  /** Bucketing key when the profile may not be used (a per-request random value). */
  requestKey: string;
  /** The site asking (exposure events are archived under it). */
  siteId: string;
  /**
   * Record assignments and first exposures now (default). The edge route passes false and calls
   * `recordExposures` only for content it actually served.
   */
  record?: boolean;
}

export type ProfileDecision = DecideResult & {
  /** This profile was merged: decide on the target instead. */
  forwardedTo?: ProfileKey;
};

/** What `recordExposures` needs of a decision that was served. */
export interface ExposureRecord {
  siteId: string;
  now: number;
  assignments: Record<string, string>;
  exposures: DecideResult["exposures"];
  /** Experience names by id (exposure events carry them). */
  names: Record<string, string>;
}

export type { MembershipChange } from "./rules";

export interface ApplyResult {
  applied: number;
  duplicates: number;
  /** The consent the events were applied under (attached to each of them). */
  consent: ConsentState;
  /** The purposes differ from what the profile had: a change for the ledger. */
  consentChanged: boolean;
  /** This profile was merged: nothing was applied, the events belong to the target. */
  forwardedTo?: ProfileKey;
  /** The profile holds other definitions than the request's version: nothing was applied, send the bundle. */
  needsDefinitions?: boolean;
  /** This profile was erased: nothing was applied, nothing may be kept. */
  erased?: boolean;
  /** Consent was withdrawn: the profile's data is gone; its archive and index rows must go too. */
  forgotten?: boolean;
  /** Segments entered and left because of these events. */
  membershipChanges: MembershipChange[];
  /** The segments the profile is in now. */
  segments: string[];
}

/** A profile as the admin API and the visitor's own `/v1/me` show it. */
export interface ProfileView {
  key: string;
  identities: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  /** ISO times; null when no event was applied yet (a profile that holds only a consent). */
  firstSeen: string | null;
  lastSeen: string | null;
  campaigns: { first?: CampaignTouch; last?: CampaignTouch; touches: CampaignTouch[] };
  segments: string[];
  /** The device of the newest event that said anything of one (collect/device.ts), else null. */
  device: DeviceSummary | null;
  consent: (ConsentState & { explicit?: ExplicitChoice }) | null;
  recentEvents: RecentEvent[];
  /** Scores of the live predictions, by id, with when they were computed (none without personalisation consent). */
  predictions: Record<string, PredictionScore & { scoredAt: string }>;
}

