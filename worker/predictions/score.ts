/**
 * Scoring inside the ProfileStore (DESIGN.md §3 "Predictions"): on every event, each live model
 * turns the profile into its feature vector (features.ts, the trainer's own function) and a score
 * with its percentile among the training scores. Models arrive with the request, like segment
 * definitions; each is prepared once per isolate and version.
 */
import type { SegmentEvent } from "../segments/input";
import { featureNames, featureVector, revenueOf, type FeatureEvent, type FeatureInput, type FeatureSpec } from "./features";
import { percentileOf, round, scoreVector, type LinearModel } from "./model";

/** A trained model as the profile receives it. */
export interface ModelDef extends LinearModel {
  /** The prediction's id. */
  id: string;
  /** Bumped by every training that produced a model. */
  version: number;
  spec: FeatureSpec;
  /** Ascending quantiles of the training scores (the percentile table). */
  quantiles: number[];
}

/** A profile's score for one prediction. */
export interface PredictionScore {
  /** Probability (0–1) that the visitor does the goal within the window. */
  score: number;
  /** Where the score ranks among the training population (0–100). */
  percentile: number;
}

interface Prepared {
  version: number;
  model: ModelDef;
  buffer: Float64Array;
}

const prepared = new Map<string, Prepared>();

function prepare(model: ModelDef): Prepared {
  const cached = prepared.get(model.id);
  if (cached && cached.version === model.version) return cached;
  const entry = { version: model.version, model, buffer: new Float64Array(featureNames(model.spec).length) };
  prepared.set(model.id, entry);
  return entry;
}

/** The events of a profile as features read them (from the events rules see). */
export function featureEventsOf(events: readonly SegmentEvent[]): FeatureEvent[] {
  return events.map((event) => ({ name: event.name, at: event.at, revenue: revenueOf(event.properties) }));
}

/** One model's score for a feature input at `now`. */
export function scoreWith(model: ModelDef, input: FeatureInput, now: number): PredictionScore {
  const { buffer } = prepare(model);
  const score = scoreVector(model, featureVector(model.spec, input, now, buffer));
  return { score: round(score, 6), percentile: percentileOf(model.quantiles, score) };
}

/**
 * Every model's score for a profile at `now`, by prediction id.
 * @example
 * scoreProfile(models, { events: featureEventsOf(segmentEvents), lastSeen, firstSeen, device: "mobile" }, Date.now())
 * // → { pred_abc: { score: 0.82, percentile: 97 } }
 */
export function scoreProfile(models: readonly ModelDef[], input: FeatureInput, now: number): Record<string, PredictionScore> {
  const scores: Record<string, PredictionScore> = {};
  for (const model of models) scores[model.id] = scoreWith(model, input, now);
  return scores;
}
