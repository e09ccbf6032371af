/**
 * Attribution credit: how one conversion is shared among the campaign touches before it. All
 * amounts are integers (millionths of a conversion, cents of revenue) split by the largest-remainder
 * method, so the shares of a conversion add up to it exactly — to the cent — whatever the model.
 */

export const MODELS = ["first", "last", "linear", "position"] as const;
export type Model = (typeof MODELS)[number];

/** Lookbacks the rollups keep, in days (a report asks for one of them). */
export const LOOKBACK_DAYS = [1, 7, 30, 90] as const;

/** One conversion in millionths, so linear thirds add back up to exactly one. */
export const CREDIT_UNIT = 1_000_000;

export const DIRECT = "(direct)";
export const NONE = "(none)";

/**
 * Integer weights of each touch under a model, oldest touch first. Position-based is 40/20/40:
 * with n ≥ 3 touches the first and last get 2(n−2) parts each and every middle touch 1 part, of
 * 5(n−2) — exactly 40%, 40% and 20% shared; two touches 50/50; one touch all.
 */
export function modelWeights(model: Model, touches: number): number[] {
  if (touches <= 0) return [];
  if (touches === 1) return [1];
  const weights = new Array<number>(touches).fill(0);
  switch (model) {
    case "first":
      weights[0] = 1;
      return weights;
    case "last":
      weights[touches - 1] = 1;
      return weights;
    case "linear":
      return weights.fill(1);
    case "position":
      if (touches === 2) return [1, 1];
      weights.fill(1);
      weights[0] = weights[touches - 1] = 2 * (touches - 2);
      return weights;
  }
}

/**
 * Splits a non-negative integer `amount` in proportion to `weights`: each share is the floor of its
 * exact part, and what is left goes one unit at a time to the largest remainders (ties: the earlier).
 * @example largestRemainder(100, [1, 1, 1]) // → [34, 33, 33]
 */
export function largestRemainder(amount: number, weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0 || amount === 0) return weights.map(() => 0);
  const shares = weights.map((w) => Math.floor((amount * w) / total));
  let left = amount - shares.reduce((a, b) => a + b, 0);
  const order = weights.map((w, i) => ({ i, rest: (amount * w) % total })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    if (weights[i]! > 0) {
      shares[i]!++;
      left--;
    }
  }
  return shares;
}

export interface Touch {
  at: number;
  source: string;
  medium: string;
  campaign: string;
}

export interface Credit {
  source: string;
  medium: string;
  campaign: string;
  /** Millionths of a conversion. */
  credit: number;
  /** Cents. */
  revenue: number;
}

const groupKey = (t: Pick<Touch, "source" | "medium" | "campaign">) => `${t.source}\u001f${t.medium}\u001f${t.campaign}`;

/**
 * The credit of one conversion at `at` worth `revenueCents`, among `touches` (any order) within
 * `lookbackMs` before it; with none, all of it to `(direct)`. Touches of the same source, medium and
 * campaign are summed into one row.
 */
export function creditConversion(model: Model, touches: readonly Touch[], at: number, revenueCents: number, lookbackMs: number): Credit[] {
  const path = touches.filter((t) => t.at <= at && t.at >= at - lookbackMs).sort((a, b) => a.at - b.at);
  if (path.length === 0) return [{ source: DIRECT, medium: NONE, campaign: NONE, credit: CREDIT_UNIT, revenue: revenueCents }];
  const weights = modelWeights(model, path.length);
  const credit = largestRemainder(CREDIT_UNIT, weights);
  const revenue = largestRemainder(revenueCents, weights);
  const rows = new Map<string, Credit>();
  path.forEach((touch, i) => {
    if (weights[i] === 0) return;
    const key = groupKey(touch);
    const row = rows.get(key) ?? { source: touch.source, medium: touch.medium, campaign: touch.campaign, credit: 0, revenue: 0 };
    row.credit += credit[i]!;
    row.revenue += revenue[i]!;
    rows.set(key, row);
  });
  return [...rows.values()];
}
