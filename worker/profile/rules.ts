/**
 * The ProfileStore's decisions as pure functions over plain data: what a consent change does to a
 * profile, which memberships a fresh evaluation enters and leaves, when the alarm should ring,
 * and what the bounds drop. The Durable Object holds state and applies what these return.
 */
import { mayProfile, PURPOSES, type ConsentState, type Purpose } from "../consent/purposes";
import { samePurposes } from "../consent/resolve";

/** A segment entered or left, at the exact time it happened. */
export interface MembershipChange {
  segmentId: string;
  member: boolean;
  at: number;
}

/** Signals of the visitor's own: they can take back a consent the profile holds. */
const STRONG_SOURCES = new Set(["explicit", "tcf", "gpp", "gpc", "consentMode"]);
/** Sources that are not the visitor's: a first consent from them alone is not a ledger entry. */
const WEAK_SOURCES = new Set(["default", "site", "region"]);

export interface ConsentTransition {
  /**
   * The request carries no signal of the visitor's and would refuse only by region or site
   * defaults (a server event, a new browser): the profile and its consent stay, the request's
   * events are not kept.
   */
  ignore: boolean;
  /** A change worth a ledger entry. */
  ledger: boolean;
  /** Neither analytics nor personalisation: the profile's data goes. */
  forget: boolean;
  /** Advertising withdrawn: click ids leave what the profile and the archive keep. */
  stripAds: boolean;
  /** Personalisation withdrawn: memberships and experiment assignments go. */
  dropPersonalisation: boolean;
}

export function consentTransition(previous: ConsentState | undefined, next: ConsentState): ConsentTransition {
  const strong = (p: Purpose) => STRONG_SOURCES.has(next.sources[p]);
  const ignore = !mayProfile(next) && previous !== undefined && mayProfile(previous) && !strong("analytics") && !strong("personalization");
  if (ignore) return { ignore, ledger: false, forget: false, stripAds: false, dropPersonalisation: false };
  return {
    ignore,
    ledger: previous ? !samePurposes(previous, next) : PURPOSES.some((p) => !WEAK_SOURCES.has(next.sources[p])),
    forget: !mayProfile(next),
    stripAds: Boolean(previous?.purposes.advertising && !next.purposes.advertising),
    dropPersonalisation: Boolean(previous?.purposes.personalization && !next.purposes.personalization),
  };
}

export interface MembershipDiff {
  enter: string[];
  leave: string[];
  /** What the pipeline is told: entries, and exits of segments that still exist (or all, on a withdrawal). */
  changes: MembershipChange[];
}

/**
 * From the memberships held and a fresh evaluation (`result`: every live segment's answer) to
 * what changes at `now`. A held segment missing from `result` was deleted: it is dropped quietly,
 * unless personalisation was withdrawn, when every exit is told.
 */
export function diffMemberships(held: readonly string[], result: Record<string, boolean>, now: number, withdrawn: boolean): MembershipDiff {
  const current = new Set(held);
  const enter = Object.entries(result)
    .filter(([id, member]) => member && !current.has(id))
    .map(([id]) => id);
  const leave = held.filter((id) => !result[id]);
  const changes: MembershipChange[] = [
    ...enter.map((segmentId) => ({ segmentId, member: true, at: now })),
    ...leave.filter((id) => id in result || withdrawn).map((segmentId) => ({ segmentId, member: false, at: now })),
  ];
  return { enter, leave, changes };
}

/** Expiry may drift by this much (it saves an alarm write per event); a window edge is exact. */
export const ALARM_SLACK = 86_400_000;

/**
 * When the one alarm should ring (the earlier of expiry and the next window edge), or undefined
 * when the alarm already set (`current`) is good enough or there is nothing to wait for.
 */
export function alarmTime(expires: number | undefined, edge: number | undefined, current: number | undefined): number | undefined {
  const due = edge !== undefined && (expires === undefined || edge < expires) ? edge : expires;
  if (due === undefined) return undefined;
  if (current !== undefined && (due === edge ? current === due : Math.abs(due - current) < ALARM_SLACK)) return undefined;
  return due;
}

/** The wait before the outbox is sent again after `failures` earlier refusals: 5 s, doubling, at most an hour. */
export const outboxRetryDelay = (attempt: number) => Math.min(3_600_000, 5_000 * 2 ** Math.min(attempt, 10));

/**
 * A bounded name set (traits, counters): whether a new name may be added when `size` names are
 * held. Names already held are always updated.
 */
export const mayAddName = (held: boolean, size: number, limit: number) => held || size < limit;
