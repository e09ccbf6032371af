// Builders for decision tests: a valid experience with overrides, and a decide() input.
import { decide, type DecideInput } from "../../../worker/decisions/choose";
import { parseExperience, type ExperienceInput, type StoredExperience } from "../../../worker/decisions/schema";

export const NOW = Date.parse("2026-06-01T12:00:00Z");

/** A live, validated experience for slot "hero" with two 50/50 text variants. */
export function experience(id: string, overrides: Partial<ExperienceInput> = {}): StoredExperience {
  const parsed = parseExperience({
    name: id,
    slot: "hero",
    status: "live",
    variants: [
      { id: "a", weight: 50, content: { text: `${id}/a` } },
      { id: "b", weight: 50, content: { text: `${id}/b` } },
    ],
    ...overrides,
  });
  if (!parsed.ok) throw new Error(`${parsed.error.path}: ${parsed.error.message}`);
  return { ...parsed.experience, id };
}

/** decide() for a profile with personalisation consent; audiences match when `matching` says so. */
export function decideFor(experiences: StoredExperience[], over: Partial<DecideInput> & { matching?: (id: string) => boolean } = {}) {
  const { matching = () => true, ...rest } = over;
  return decide({
    experiences,
    slots: ["hero"],
    profile: { key: "demo:anon:v1", assignments: {}, matches: (audience) => ("segment" in audience ? matching(audience.segment) : true) },
    contextMatches: () => true,
    personalization: true,
    now: NOW,
    requestKey: "request-1",
    ...rest,
  });
}
