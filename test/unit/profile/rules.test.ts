// The ProfileStore's pure decisions, table-driven: consent transitions, membership diffs, alarm times.
import { describe, expect, it } from "vitest";
import type { ConsentSource, ConsentState } from "../../../worker/consent/purposes";
import { ALARM_SLACK, alarmTime, consentTransition, diffMemberships, outboxRetryDelay } from "../../../worker/profile/rules";

const state = (granted: { analytics?: boolean; personalization?: boolean; advertising?: boolean }, source: ConsentSource = "explicit"): ConsentState => ({
  purposes: { necessary: true, analytics: false, personalization: false, advertising: false, ...granted },
  sources: { necessary: "default", analytics: source, personalization: source, advertising: source } as ConsentState["sources"],
  at: 0,
  policyVersion: "1",
});
const all = { analytics: true, personalization: true, advertising: true };
const none = {};

describe("consentTransition", () => {
  it.each([
    ["a first explicit grant is a ledger entry", undefined, state(all), { ignore: false, ledger: true, forget: false, stripAds: false, dropPersonalisation: false }],
    ["a first grant from the site's defaults is not", undefined, state(all, "default"), { ignore: false, ledger: false, forget: false, stripAds: false, dropPersonalisation: false }],
    ["an explicit refusal of everything forgets", state(all), state(none), { ignore: false, ledger: true, forget: true, stripAds: true, dropPersonalisation: true }],
    ["a region-only refusal of a consented profile is ignored", state(all), state(none, "region"), { ignore: true, ledger: false, forget: false, stripAds: false, dropPersonalisation: false }],
    ["withdrawing advertising strips click ids", state(all), state({ analytics: true, personalization: true }), { ignore: false, ledger: true, forget: false, stripAds: true, dropPersonalisation: false }],
    ["withdrawing personalisation drops assignments", state(all), state({ analytics: true, advertising: true }), { ignore: false, ledger: true, forget: false, stripAds: false, dropPersonalisation: true }],
    ["the same purposes again change nothing", state(all), state(all), { ignore: false, ledger: false, forget: false, stripAds: false, dropPersonalisation: false }],
  ])("%s", (_name, previous, next, expected) => {
    expect(consentTransition(previous, next)).toEqual(expected);
  });
});

describe("diffMemberships", () => {
  it.each([
    ["enters a new match", ["a"], { a: true, b: true }, false, { enter: ["b"], leave: [], changes: [{ segmentId: "b", member: true, at: 5 }] }],
    ["leaves a segment that no longer matches", ["a"], { a: false }, false, { enter: [], leave: ["a"], changes: [{ segmentId: "a", member: false, at: 5 }] }],
    ["drops a deleted segment quietly", ["gone"], {}, false, { enter: [], leave: ["gone"], changes: [] }],
    ["tells every exit on a withdrawal", ["a", "gone"], {}, true, { enter: [], leave: ["a", "gone"], changes: [{ segmentId: "a", member: false, at: 5 }, { segmentId: "gone", member: false, at: 5 }] }],
    ["changes nothing when nothing moved", ["a"], { a: true, b: false }, false, { enter: [], leave: [], changes: [] }],
  ])("%s", (_name, held, result, withdrawn, expected) => {
    expect(diffMemberships(held, result, 5, withdrawn)).toEqual(expected);
  });
});

describe("alarmTime", () => {
  const expires = 10 * ALARM_SLACK;
  it.each([
    ["nothing to wait for", undefined, undefined, undefined, undefined],
    ["expiry alone", expires, undefined, undefined, expires],
    ["an edge before expiry wins", expires, 1000, undefined, 1000],
    ["expiry before an edge wins", 1000, expires, undefined, 1000],
    ["an expiry alarm within the slack is left alone", expires, undefined, expires - ALARM_SLACK / 2, undefined],
    ["an expiry alarm past the slack moves", expires, undefined, expires - 2 * ALARM_SLACK, expires],
    ["an edge is exact: a near alarm moves", expires, 1000, 1001, 1000],
    ["an edge already set is left alone", expires, 1000, 1000, undefined],
  ])("%s", (_name, exp, edge, current, expected) => {
    expect(alarmTime(exp, edge, current)).toBe(expected);
  });
});

it("retries a refused outbox send after 5 s, doubling up to an hour", () => {
  expect([0, 1, 2, 3, 10, 20].map(outboxRetryDelay)).toEqual([5_000, 10_000, 20_000, 40_000, 3_600_000, 3_600_000]);
});
