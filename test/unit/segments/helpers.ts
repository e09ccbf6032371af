// Turns the compact inputs of cases.json (relative times, omitted fields) into SegmentInputs.
import type { SegmentEvent, SegmentInput } from "../../../worker/segments/input";
import cases from "./cases.json";

export const NOW = Date.parse(cases.now);
const UNIT: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, "": 1 };

/** `"-7d+1"` → now − 7 days + 1 ms; a number is taken as is. */
export function at(time: string | number): number {
  if (typeof time === "number") return time;
  if (time === "now") return NOW;
  const parts = time.match(/[+-]\d+[mhd]?/g);
  if (!parts || parts.join("") !== time) throw new Error(`bad relative time ${time}`);
  return parts.reduce((sum, part) => {
    const unit = /[mhd]$/.test(part) ? part.slice(-1) : "";
    return sum + Number(unit ? part.slice(0, -1) : part) * UNIT[unit]!;
  }, NOW);
}

export interface CaseInput {
  traits?: Record<string, unknown>;
  events?: { name: string; type?: string; at: string | number; properties?: Record<string, unknown> }[];
  context?: SegmentInput["context"];
  firstSeen?: string | number;
  lastSeen?: string | number;
  consent?: SegmentInput["consent"];
  segments?: Record<string, boolean>;
  predictions?: Record<string, { score: number; percentile: number }>;
}

export function inputOf(input: CaseInput): SegmentInput {
  const events: SegmentEvent[] = (input.events ?? []).map((event) => ({
    name: event.name,
    type: event.type ?? "track",
    at: at(event.at),
    properties: event.properties ?? {},
  }));
  return {
    traits: input.traits ?? {},
    events,
    context: input.context ?? {},
    ...(input.firstSeen !== undefined ? { firstSeen: at(input.firstSeen) } : {}),
    ...(input.lastSeen !== undefined ? { lastSeen: at(input.lastSeen) } : {}),
    consent: input.consent ?? {},
    segments: input.segments ?? {},
    ...(input.predictions !== undefined ? { predictions: input.predictions } : {}),
  };
}
