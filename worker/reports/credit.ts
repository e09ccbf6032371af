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
  let total = 0;
  for (const w of weights) total += w;
  if (total <= 0 || amount === 0) return weights.map(() => 0);
  const shares = weights.map((w) => Math.floor((amount * w) / total));
  let left = amount;
  for (const share of shares) left -= share;
  if (left <= 0) return shares;
  // Equal weights have equal remainders: the distinct remainders are ranked, not every position
  // (a model's weights come in at most two values, so this is linear in the path).
  const restOf = new Map<number, number>();
  for (const w of weights) if (w > 0 && !restOf.has(w)) restOf.set(w, (amount * w) % total);
  const ranked = [...new Set(restOf.values())].sort((a, b) => b - a);
  for (const rest of ranked) {
    for (let i = 0; i < weights.length && left > 0; i++) {
      const w = weights[i]!;
      if (w > 0 && restOf.get(w) === rest) {
        shares[i]!++;
        left--;
      }
    }
    if (left <= 0) break;
  }
  return shares;
}

export interface Touch {
  at: number;
  /** Orders touches of the same instant (the touchpoint's id): every path breaks such ties alike. */
  id?: string;
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

/** Oldest first; touches of the same instant by id, so each way of crediting picks the same first and last touch. */
export const byTime = (a: { at: number; id?: string }, b: { at: number; id?: string }) => a.at - b.at || ((a.id ?? "") < (b.id ?? "") ? -1 : (a.id ?? "") > (b.id ?? "") ? 1 : 0);

const groupKey = (t: Pick<Touch, "source" | "medium" | "campaign">) => `${t.source}\u001f${t.medium}\u001f${t.campaign}`;

/**
 * The credit of one conversion at `at` worth `revenueCents`, among `touches` (any order) within
 * `lookbackMs` before it; with none, all of it to `(direct)`. Touches of the same source, medium and
 * campaign are summed into one row.
 */
export function creditConversion(model: Model, touches: readonly Touch[], at: number, revenueCents: number, lookbackMs: number): Credit[] {
  return creditPath(model, touches.filter((t) => t.at <= at && t.at >= at - lookbackMs).sort(byTime), revenueCents);
}

/**
 * All of a conversion to one row: what every model gives a path whose touches share one source,
 * medium and campaign (the shares of `largestRemainder` add up to the whole).
 */
export const wholeCredit = (touch: Pick<Touch, "source" | "medium" | "campaign">, revenueCents: number): Credit => ({
  source: touch.source,
  medium: touch.medium,
  campaign: touch.campaign,
  credit: CREDIT_UNIT,
  revenue: revenueCents,
});

/** A touch with its row's key computed once, for crediting many conversions over one list. */
export type KeyedTouch = Touch & { key?: string };

export const touchKey = groupKey;

/**
 * `creditConversion` over a path already chosen and ordered (oldest first): the same rows. First
 * and last touch cost one row; linear and position-based one pass over the path.
 */
export function creditPath(model: Model, path: readonly KeyedTouch[], revenueCents: number): Credit[] {
  if (path.length === 0) return [wholeCredit({ source: DIRECT, medium: NONE, campaign: NONE }, revenueCents)];
  if (model === "first" || model === "last" || path.length === 1) return [wholeCredit(model === "last" ? path[path.length - 1]! : path[0]!, revenueCents)];
  const weights = modelWeights(model, path.length);
  const credit = largestRemainder(CREDIT_UNIT, weights);
  const revenue = largestRemainder(revenueCents, weights);
  const rows = new Map<string, Credit>();
  for (let i = 0; i < path.length; i++) {
    if (weights[i] === 0) continue;
    const touch = path[i]!;
    const key = touch.key ?? groupKey(touch);
    const row = rows.get(key);
    if (row) {
      row.credit += credit[i]!;
      row.revenue += revenue[i]!;
    } else rows.set(key, { source: touch.source, medium: touch.medium, campaign: touch.campaign, credit: credit[i]!, revenue: revenue[i]! });
  }
  return [...rows.values()];
}
