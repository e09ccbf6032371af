/**
 * `meta`: a Custom Audience, through the Marketing API's `/{audience_id}/users` edge: POST adds and
 * DELETE removes `{payload: {schema: ["EMAIL", "PHONE"], data: [[hash, hash], …]}}`, one row per
 * profile ("" for an identifier it lacks), at most 10,000 rows a request.
 */
import { z } from "zod";
import { hashIdentifiers } from "./hashing";
import { chunk, type DestinationKind, type PlannedRequest } from "./types";

export const META_ENDPOINT = "https://graph.facebook.com/v21.0";
export const META_MAX_ROWS = 10_000;
export const META_SCHEMA = ["EMAIL", "PHONE"] as const;

export const metaConfig = z
  .object({
    audienceId: z.string().regex(/^\d{1,30}$/, "the numeric id of the Custom Audience"),
    endpoint: z.string().min(1).max(2048).default(META_ENDPOINT),
    accessToken: z.string().max(4096).optional(),
    defaultCountry: z.string().length(2).optional(),
  })
  .strict();
type Config = z.infer<typeof metaConfig>;

export const meta: DestinationKind<Config> = {
  type: "meta",
  defaultPurposes: ["advertising"],
  config: metaConfig,
  secretFields: ["accessToken"],
  target: (config) => `${config.endpoint.replace(/\/$/, "")}/${config.audienceId}/users`,
  headers: (config): Record<string, string> => (config.accessToken ? { authorization: `Bearer ${config.accessToken}` } : {}),
  audiences: {
    platform: "meta",
    maxPerRequest: META_MAX_ROWS,
    identifiers: (traits, config) => hashIdentifiers(traits, "meta", config.defaultCountry) as Promise<Record<string, string>>,
    requests(config, ops) {
      const url = meta.target(config);
      const out: PlannedRequest[] = [];
      for (const op of ["add", "remove"] as const) {
        const rows = ops.filter((o) => o.op === op).map((o) => [o.identifiers.email ?? "", o.identifiers.phone ?? ""]);
        for (const part of chunk(rows, META_MAX_ROWS)) {
          out.push({ method: op === "add" ? "POST" : "DELETE", url, body: JSON.stringify({ payload: { schema: META_SCHEMA, data: part } }) });
        }
      }
      return out;
    },
  },
};
