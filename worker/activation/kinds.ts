/** The destination types, by name: adding one is a module here. */
import { googleAds } from "./google-ads";
import { meta } from "./meta";
import type { DestinationKind } from "./types";
import { webhook } from "./webhook";

export const DESTINATION_TYPES = ["webhook", "google_ads", "meta"] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

export const kinds: Record<DestinationType, DestinationKind<any>> = { webhook, google_ads: googleAds, meta };

export const kindOf = (type: string): DestinationKind<any> | undefined => kinds[type as DestinationType];
