/**
 * Consent resolution: from the signals of a request (and, for a known profile, its remembered
 * explicit choice) to one answer per purpose and the signal it came from. Pure: the same signals
 * and policy always give the same answer.
 *
 * Per purpose, the strongest signal that speaks to it wins:
 *  1. an explicit choice (the visitor's own, newest first);
 *  2. an IAB TCF v2.2 TC string (on its own, or inside a GPP string);
 *  3. a GPP string's US opt-outs (sale, sharing, targeted advertising): advertising off;
 *  4. Global Privacy Control (`Sec-GPC: 1`, `navigator.globalPrivacyControl`): advertising off;
 *  4b. Google Consent Mode (consent-mode.ts): analytics and advertising, as the page's CMP set them;
 *  5. the region: in the EEA, the UK and Switzerland, or where a browser's country is unknown,
 *     nothing is granted without a signal (opt-in);
 *  6. the site's default (granted unless the site says otherwise).
 * A purpose the site does not use is never granted (`site`).
 */
import { PURPOSES, type ConsentPolicy, type ConsentSource, type ConsentState, type Purpose } from "./purposes";
import { decodeGpp, purposesFromTcString } from "./signals";

/** What a TC string grants Cohort, per purpose (decoded by signals.ts). */
export type TcfGrants = Record<Purpose, boolean>;

/** EU member states, plus Iceland, Liechtenstein and Norway (EEA), the UK and Switzerland. */
export const OPT_IN_COUNTRIES = new Set(
  "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB CH".split(" "),
);

export type ExplicitChoice = { purposes: Partial<Record<Purpose, boolean>>; at: number };

export interface ConsentSignals {
  explicit?: ExplicitChoice;
  /**
   * The strings as a request sent them. `decodeSignals` turns them into `tcf` and `gppOptOut`
   * once per request, so what travels to each profile (and to the ledger) is the decoded answer.
   */
  tcString?: string;
  gppString?: string;
  /** What the request's TC string (its own, else the one inside its GPP string) grants. */
  tcf?: TcfGrants;
  /** The GPP string's US sections opt out of sale, sharing or targeted advertising. */
  gppOptOut?: boolean;
  gpc?: boolean;
  /** What the newest Google Consent Mode state says, per purpose (consent-mode.ts). */
  consentMode?: Partial<Record<Purpose, boolean>>;
  /** ISO 3166-1 alpha-2, from `request.cf.country` or the event's `context.location.country`. */
  country?: string;
  /**
   * The events come from a server (secret key). A browser of unknown country is treated as
   * opt-in; a server's own location says nothing of its users, so without a country the region
   * rule does not apply and the site's defaults do.
   */
  serverSource?: boolean;
}

/** Combines explicit choices in time order: a later choice overrides the purposes it names. */
export function combineExplicit(...choices: (ExplicitChoice | undefined)[]): ExplicitChoice | undefined {
  const present = choices.filter((c): c is ExplicitChoice => c !== undefined).sort((a, b) => a.at - b.at);
  if (present.length === 0) return undefined;
  return present.reduce((acc, next) => ({ purposes: { ...acc.purposes, ...next.purposes }, at: Math.max(acc.at, next.at) }));
}

/**
 * The signals with their TC and GPP strings decoded (and the strings dropped): plain data, cheap
 * to send to every profile of a request. Signals already decoded are returned as they are.
 * A string that does not decode says nothing, as if it had not been sent.
 */
export function decodeSignals(signals: ConsentSignals): ConsentSignals {
  if (signals.tcString === undefined && signals.gppString === undefined) return signals;
  const { tcString, gppString, ...rest } = signals;
  const gpp = gppString ? decodeGpp(gppString) : undefined;
  const tcf = rest.tcf ?? (tcString ? purposesFromTcString(tcString) : undefined) ?? gpp?.tcf;
  const decoded: ConsentSignals = { ...rest };
  if (tcf) decoded.tcf = tcf;
  if (rest.gppOptOut || gpp?.advertisingOptOut) decoded.gppOptOut = true;
  return decoded;
}

export function resolveConsent(policy: ConsentPolicy, raw: ConsentSignals, now: number): ConsentState {
  const signals = decodeSignals(raw);
  const tcf = signals.tcf;
  const optIn = signals.country ? OPT_IN_COUNTRIES.has(signals.country.toUpperCase()) : !signals.serverSource;

  const purposes = { necessary: true } as ConsentState["purposes"];
  const sources = {} as ConsentState["sources"];
  const decide = (purpose: Purpose): [boolean, ConsentSource] => {
    if (!policy.purposes.includes(purpose)) return [false, "site"];
    const explicit = signals.explicit?.purposes[purpose];
    if (explicit !== undefined) return [explicit, "explicit"];
    if (tcf) return [tcf[purpose], "tcf"];
    if (purpose === "advertising" && signals.gppOptOut) return [false, "gpp"];
    if (purpose === "advertising" && signals.gpc) return [false, "gpc"];
    const mode = signals.consentMode?.[purpose];
    if (mode !== undefined) return [mode, "consentMode"];
    if (optIn) return [false, "region"];
    return [policy.defaults[purpose] ?? true, "default"];
  };
  for (const purpose of PURPOSES) [purposes[purpose], sources[purpose]] = decide(purpose);
  const hasExplicit = PURPOSES.some((p) => sources[p] === "explicit");
  return { purposes, sources, at: hasExplicit ? signals.explicit!.at : now, policyVersion: policy.policyVersion };
}

/** Whether two states grant the same purposes (a change worth a ledger entry). */
export const samePurposes = (a: Pick<ConsentState, "purposes">, b: Pick<ConsentState, "purposes">) =>
  PURPOSES.every((p) => a.purposes[p] === b.purposes[p]);

/**
 * The `cohort_consent` cookie: the visitor's explicit choice, not an identifier, so it is kept
 * whatever the choice (strictly necessary storage). Value: `<unix seconds>.<a><p><d>`, each of
 * analytics, personalization, advertising as `1` granted, `0` refused or `-` not chosen.
 */
export const CONSENT_COOKIE = "cohort_consent";

export function encodeConsentCookie(choice: ExplicitChoice): string {
  const flag = (v: boolean | undefined) => (v === undefined ? "-" : v ? "1" : "0");
  return `${Math.floor(choice.at / 1000)}.${PURPOSES.map((p) => flag(choice.purposes[p])).join("")}`;
}

export function decodeConsentCookie(value: string | undefined): ExplicitChoice | undefined {
  const match = /^(\d{1,12})\.([01-]{3})$/.exec(value ?? "");
  if (!match) return undefined;
  const purposes: Partial<Record<Purpose, boolean>> = {};
  PURPOSES.forEach((purpose, i) => {
    const flag = match[2]![i];
    if (flag !== "-") purposes[purpose] = flag === "1";
  });
  return { purposes, at: Number(match[1]) * 1000 };
}
