/**
 * `google_ads`: a Customer Match user list, through the Google Ads API's `uploadUserData`
 * (`customers/{id}:uploadUserData`): `create` and `remove` operations of `userIdentifiers`
 * (`hashedEmail`, `hashedPhoneNumber`), and the list's consent (`adUserData`, `adPersonalization`)
 * in `customerMatchUserListMetadata`. Profiles whose Consent Mode says `ad_personalization: denied`
 * go in a request of their own that says so.
 */
import { z } from "zod";
import { hashIdentifiers } from "./hashing";
import { chunk, type AudienceOp, type DestinationKind, type PlannedRequest } from "./types";

export const GOOGLE_ADS_ENDPOINT = "https://googleads.googleapis.com/v17";
export const GOOGLE_MAX_OPERATIONS = 10_000;

export const googleAdsConfig = z
  .object({
    customerId: z.string().regex(/^\d{10}$/, "a Google Ads customer id: 10 digits, no dashes"),
    userListId: z.string().regex(/^\d{1,20}$/, "the numeric id of the Customer Match user list"),
    /** Where requests go; the Google Ads API unless set (tests and local development: a local server). */
    endpoint: z.string().min(1).max(2048).default(GOOGLE_ADS_ENDPOINT),
    developerToken: z.string().max(200).optional(),
    accessToken: z.string().max(4096).optional(),
    loginCustomerId: z.string().regex(/^\d{10}$/).optional(),
    /** Country assumed for phone numbers written without `+` (ISO 3166 alpha-2). */
    defaultCountry: z.string().length(2).optional(),
  })
  .strict();
type Config = z.infer<typeof googleAdsConfig>;

function identifiersOf(hashed: Record<string, string>) {
  const out: Record<string, string>[] = [];
  if (hashed.email) out.push({ hashedEmail: hashed.email });
  if (hashed.phone) out.push({ hashedPhoneNumber: hashed.phone });
  return out;
}

export const googleAds: DestinationKind<Config> = {
  type: "google_ads",
  defaultPurposes: ["advertising"],
  config: googleAdsConfig,
  secretFields: ["developerToken", "accessToken"],
  target: (config) => `${config.endpoint.replace(/\/$/, "")}/customers/${config.customerId}:uploadUserData`,
  headers: (config) => ({
    ...(config.accessToken ? { authorization: `Bearer ${config.accessToken}` } : {}),
    ...(config.developerToken ? { "developer-token": config.developerToken } : {}),
    ...(config.loginCustomerId ? { "login-customer-id": config.loginCustomerId } : {}),
  }),
  audiences: {
    platform: "google",
    maxPerRequest: GOOGLE_MAX_OPERATIONS,
    identifiers: (traits, config) => hashIdentifiers(traits, "google", config.defaultCountry) as Promise<Record<string, string>>,
    requests(config, ops) {
      const url = googleAds.target(config);
      const userList = `customers/${config.customerId}/userLists/${config.userListId}`;
      const groups = new Map<string, AudienceOp[]>();
      for (const op of ops) {
        const personalization = op.op === "add" && op.consentMode?.ad_personalization === "denied" ? "DENIED" : "GRANTED";
        groups.set(personalization, [...(groups.get(personalization) ?? []), op]);
      }
      const out: PlannedRequest[] = [];
      for (const [adPersonalization, group] of groups) {
        for (const part of chunk(group, GOOGLE_MAX_OPERATIONS)) {
          const body = {
            customerMatchUserListMetadata: { userList, consent: { adUserData: "GRANTED", adPersonalization } },
            operations: part.map((op) => ({ [op.op === "add" ? "create" : "remove"]: { userIdentifiers: identifiersOf(op.identifiers) } })),
          };
          out.push({ method: "POST", url, body: JSON.stringify(body) });
        }
      }
      return out;
    },
  },
};
