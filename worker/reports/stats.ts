/**
 * The statistics of experiment results: the two-proportion normal interval of an uplift, the
 * chance that a variant beats the control under Beta(1 + converted, 1 + exposed − converted)
 * posteriors (by deterministic numeric integration, so the same counts always give the same
 * answer), and the sample-ratio-mismatch chi-square test. Checked against SciPy's values in
 * test/unit/reports/stats.fixture.json.
 */

/** The 97.5% quantile of the standard normal: a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** SRM is flagged below this p-value (GrowthBook, Statsig and Eppo use the same threshold). */
export const SRM_THRESHOLD = 0.001;

export interface Arm {
  exposed: number;
  converted: number;
}

export const rateOf = (arm: Arm) => (arm.exposed > 0 ? arm.converted / arm.exposed : 0);

/**
 * Relative uplift of `variant` over `control` ((p₁ − p₀) / p₀) and its 95% interval: the normal
 * interval of the difference p₁ − p₀, with unpooled standard error, divided by p₀. Null when the
 * control has no exposures or no conversions (no rate to be relative to).
 */
export function uplift(control: Arm, variant: Arm): { relative: number; ci95: [number, number] } | null {
  if (control.exposed === 0 || variant.exposed === 0 || control.converted === 0) return null;
  const p0 = rateOf(control);
  const p1 = rateOf(variant);
  const se = Math.sqrt((p0 * (1 - p0)) / control.exposed + (p1 * (1 - p1)) / variant.exposed);
  const diff = p1 - p0;
  return { relative: diff / p0, ci95: [(diff - Z95 * se) / p0, (diff + Z95 * se) / p0] };
}

const GRID = 4096;

/** Beta(a, b) log density up to a constant. */
const logKernel = (a: number, b: number, x: number) => (a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x);

/**
 * P(p_variant > p_control) with uniform priors: ∫ f_variant(x) · F_control(x) dx, both densities
 * evaluated on one grid over the range where either posterior has mass (mean ± 12 sd), normalised
 * numerically (Simpson's rule for the outer integral, trapezoids for the control's CDF).
 */
export function chanceToBeat(control: Arm, variant: Arm): number {
  const post = (arm: Arm) => {
    const a = 1 + arm.converted;
    const b = 1 + Math.max(0, arm.exposed - arm.converted);
    const mean = a / (a + b);
    const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
    return { a, b, lo: mean - 12 * sd, hi: mean + 12 * sd };
  };
  const c = post(control);
  const v = post(variant);
  const lo = Math.max(1e-12, Math.min(c.lo, v.lo));
  const hi = Math.min(1 - 1e-12, Math.max(c.hi, v.hi));
  const h = (hi - lo) / GRID;
  const xs = Array.from({ length: GRID + 1 }, (_, i) => lo + i * h);
  const density = (p: { a: number; b: number }) => {
    const logs = xs.map((x) => logKernel(p.a, p.b, x));
    const max = Math.max(...logs);
    return logs.map((l) => Math.exp(l - max));
  };
  const fc = density(c);
  const fv = density(v);
  const cdf = new Array<number>(GRID + 1).fill(0);
  for (let i = 1; i <= GRID; i++) cdf[i] = cdf[i - 1]! + ((fc[i - 1]! + fc[i]!) * h) / 2;
  const totalC = cdf[GRID]!;
  let num = 0;
  let den = 0;
  for (let i = 0; i <= GRID; i++) {
    const w = i === 0 || i === GRID ? 1 : i % 2 === 1 ? 4 : 2;
    num += w * fv[i]! * (cdf[i]! / totalC);
    den += w * fv[i]!;
  }
  return Math.min(1, Math.max(0, num / den));
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised upper incomplete gamma Q(s, x): a series below s + 1, a continued fraction above. */
export function upperGamma(s: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + s * Math.log(x) - logGamma(s));
  if (x < s + 1) {
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - front * sum);
  }
  // Lentz's method for the continued fraction of Γ(s, x).
  const tiny = 1e-300;
  let b = x + 1 - s;
  let cc = 1 / tiny;
  let d = 1 / b;
  let f = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    cc = b + an / cc;
    if (Math.abs(cc) < tiny) cc = tiny;
    d = 1 / d;
    const delta = d * cc;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, front * f);
}

/** P(χ²ₖ ≥ x). */
export const chiSquareSurvival = (x: number, df: number) => upperGamma(df / 2, x / 2);

/**
 * Sample-ratio mismatch: Pearson's chi-square of the observed exposures against the shares the
 * experience was configured with (`expectedShares`, any positive scale), with k − 1 degrees of freedom.
 */
export function srm(observed: readonly number[], expectedShares: readonly number[]): { chiSquare: number; pValue: number; flagged: boolean } {
  const total = observed.reduce((a, b) => a + b, 0);
  const shares = expectedShares.reduce((a, b) => a + b, 0);
  if (observed.length < 2 || total === 0 || shares <= 0) return { chiSquare: 0, pValue: 1, flagged: false };
  let chiSquare = 0;
  observed.forEach((o, i) => {
    const e = (total * expectedShares[i]!) / shares;
    if (e > 0) chiSquare += (o - e) ** 2 / e;
  });
  const pValue = chiSquareSurvival(chiSquare, observed.length - 1);
  return { chiSquare, pValue, flagged: pValue < SRM_THRESHOLD };
}
