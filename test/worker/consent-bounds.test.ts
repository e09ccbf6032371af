// A consent string costs bounded work whatever it holds (issue 10, attack 5): a crafted TC string
// whose vendor section `TCString.decode` would walk for seconds is answered by its purpose bits,
// alone or ten to a batch, inside a GPP string too, while /healthz answers alongside.
import { HeaderV1 } from "@iabgpp/cmpapi";
import { describe, expect, it } from "vitest";
import { decodeGpp, MAX_CONSENT_STRING, purposesFromTcString } from "../../worker/consent/signals";
import { decodeSignals } from "../../worker/consent/resolve";
import { gppString, tcString } from "./consent-strings";
import { browserPost, call, createSite } from "./helpers";
import { explodingGppHeader, hostileTcString } from "./hostile-strings";

const HOSTILE = hostileTcString([1, 8]);
const ANALYTICS_ONLY = { analytics: true, personalization: false, advertising: false };

const gppWithSections = (ids: number[], sections: string[]) => {
  const header = new HeaderV1();
  header.setFieldValue("SectionIds", ids);
  return [header.encode(), ...sections].join("~");
};

describe("decoding consent strings", () => {
  it("reads the purposes of an 8,000-character TC string built to be walked range by range", () => {
    expect(HOSTILE.length).toBeGreaterThan(7900);
    expect(HOSTILE.length).toBeLessThanOrEqual(MAX_CONSENT_STRING);
    expect(purposesFromTcString(HOSTILE)).toEqual(ANALYTICS_ONLY);
  });

  it("reads the EU TCF section of a GPP string without re-encoding it", () => {
    expect(decodeGpp(gppWithSections([2], [HOSTILE]))).toEqual({ advertisingOptOut: false, tcf: ANALYTICS_ONLY });
    expect(decodeGpp(gppWithSections([2], [tcString([1, 3, 4])]))?.tcf).toEqual({ analytics: false, personalization: false, advertising: true });
  });

  it.each([
    ["longer than the bound", "C".repeat(MAX_CONSENT_STRING + 1)],
    ["a core segment cut before its purposes", tcString([1, 8]).slice(0, 20)],
    ["not base64url", "CQ!mbsAQumbsAAKABAENABFgAAAAAAAAAAAAAAAAAAAA"],
    ["an unknown version", `A${tcString([1, 8]).slice(1)}`],
    ["a publisher segment cut short", `${tcString([1, 8]).split(".")[0]}.c`],
  ])("ignores a TC string %s", (_, value) => {
    expect(purposesFromTcString(value)).toBeUndefined();
  });

  it("reads a GPP header's section ids with bounds: one crafted to expand into billions is refused", () => {
    expect(decodeGpp(`${explodingGppHeader()}~CAAA`)).toBeUndefined();
    expect(decodeGpp(gppString({ usnat: { SaleOptOut: 1 }, usca: { SharingOptOut: 2 } }))).toEqual({ advertisingOptOut: true, tcf: undefined });
  });

  it("ignores a GPP string whose header does not match its sections, or that is too long", () => {
    expect(decodeGpp(gppWithSections([2, 7], [HOSTILE]))).toBeUndefined();
    expect(decodeGpp(`DBABMA~${"C".repeat(MAX_CONSENT_STRING)}`)).toBeUndefined();
  });

  it("decodes once: the decoded signals carry the answer, not the strings", () => {
    const decoded = decodeSignals({ tcString: HOSTILE, gppString: gppString({ usnat: { SaleOptOut: 1 } }), country: "DE" });
    expect(decoded).toEqual({ tcf: ANALYTICS_ONLY, gppOptOut: true, country: "DE" });
    expect(decodeSignals(decoded)).toBe(decoded);
    // Plain data: what travels to each profile's Durable Object survives a JSON round trip.
    expect(JSON.parse(JSON.stringify(decoded))).toEqual(decoded);
  });
});

describe("hostile consent strings over HTTP", () => {
  it("answers /v1/consent with an 8,000-character TC string by its purposes, /healthz alongside", async () => {
    const site = await createSite();
    const [consent, health] = await Promise.all([browserPost(site, "/v1/consent", { tcString: HOSTILE }, {}, "IT"), call("/healthz")]);
    expect(health.status).toBe(200);
    expect(consent.status).toBe(200);
    const body = await consent.json<{ consent: { purposes: Record<string, boolean>; sources: Record<string, string> } }>();
    expect(body.consent.purposes).toEqual({ necessary: true, ...ANALYTICS_ONLY });
    expect(body.consent.sources).toEqual({ analytics: "tcf", personalization: "tcf", advertising: "tcf" });
  });

  it("accepts a batch of ten events that each carry one", async () => {
    const site = await createSite();
    const batch = Array.from({ length: 10 }, (_, i) => ({ type: "track", event: `E${i}`, messageId: crypto.randomUUID(), context: { consent: { tcString: HOSTILE } } }));
    const res = await browserPost(site, "/v1/batch", { batch }, {}, "IT");
    expect(res.status).toBe(200);
    expect((await call("/healthz")).status).toBe(200);
  });
});
