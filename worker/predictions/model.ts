/**
 * The model of a prediction: L2-regularised logistic regression on standardised features, fitted
 * by Newton's method (IRLS), and the metrics it is judged by on the held-out set (AUC, log loss,
 * lift by decile, calibration). Pure functions over typed arrays: the trainer feeds them the
 * dataset, the ProfileStore applies `scoreVector` with the stored weights.
 */

export interface Dataset {
  /** Row-major features, `rows × width`. */
  x: Float32Array;
  /** 1 for a visitor who did the goal in the window, else 0. */
  y: Uint8Array;
  rows: number;
  width: number;
}

/** What scoring needs: standardisation, weights (on standardised features) and the intercept. */
export interface LinearModel {
  mean: number[];
  scale: number[];
  weights: number[];
  intercept: number;
}

export interface FitOptions {
  /** L2 penalty on the standardised weights (not on the intercept), per training row. */
  l2?: number;
  iterations?: number;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** The score of one feature vector: a probability in (0, 1). */
export function scoreVector(model: LinearModel, x: ArrayLike<number>): number {
  let z = model.intercept;
  for (let j = 0; j < model.weights.length; j++) z += (model.weights[j]! * (x[j]! - model.mean[j]!)) / model.scale[j]!;
  return sigmoid(z);
}

/** Means and standard deviations of the rows in `index` (a constant feature gets scale 1). */
function standardisation(data: Dataset, index: Uint32Array): { mean: number[]; scale: number[] } {
  const { x, width } = data;
  const mean = new Array<number>(width).fill(0);
  const sq = new Array<number>(width).fill(0);
  for (const r of index) for (let j = 0; j < width; j++) mean[j]! += x[r * width + j]!;
  for (let j = 0; j < width; j++) mean[j]! /= Math.max(1, index.length);
  for (const r of index) for (let j = 0; j < width; j++) sq[j]! += (x[r * width + j]! - mean[j]!) ** 2;
  const scale = sq.map((s) => {
    const sd = Math.sqrt(s / Math.max(1, index.length));
    return sd > 1e-9 ? sd : 1;
  });
  return { mean, scale };
}

/** Solves `a · x = b` for a symmetric positive-definite `a` (n × n, row-major) by Cholesky. */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const out = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * out[k]!;
    out[i] = sum / l[i * n + i]!;
  }
  return out;
}

/**
 * Fits the model on the rows in `index` by Newton's method on the penalised log-likelihood
 * (the intercept unpenalised, so the mean score equals the base rate: calibrated in the large).
 * Converges in a handful of iterations; each costs rows × width² operations.
 */
export function fitLogistic(data: Dataset, index: Uint32Array, options: FitOptions = {}): LinearModel {
  const { x, y, width } = data;
  const { mean, scale } = standardisation(data, index);
  const n = width + 1; // the intercept is the last parameter
  const lambda = (options.l2 ?? 1e-3) * index.length;
  const beta = new Float64Array(n);
  const z = new Float64Array(width);
  for (let iteration = 0; iteration < (options.iterations ?? 25); iteration++) {
    const hessian = new Float64Array(n * n);
    const gradient = new Float64Array(n);
    for (const r of index) {
      let eta = beta[width]!;
      for (let j = 0; j < width; j++) {
        z[j] = (x[r * width + j]! - mean[j]!) / scale[j]!;
        eta += beta[j]! * z[j]!;
      }
      const p = sigmoid(eta);
      const residual = y[r]! - p;
      const w = Math.max(p * (1 - p), 1e-10);
      for (let i = 0; i < width; i++) {
        const zi = z[i]!;
        if (zi === 0) continue;
        gradient[i]! += residual * zi;
        const wz = w * zi;
        const row = i * n;
        for (let j = 0; j <= i; j++) hessian[row + j]! += wz * z[j]!;
        hessian[width * n + i]! += wz;
      }
      gradient[width]! += residual;
      hessian[width * n + width]! += w;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) hessian[j * n + i] = hessian[i * n + j]!;
    for (let i = 0; i < width; i++) {
      gradient[i]! -= lambda * beta[i]!;
      hessian[i * n + i]! += lambda;
    }
    const step = solveSpd(hessian, gradient, n);
    let largest = 0;
    for (let i = 0; i < n; i++) {
      beta[i]! += step[i]!;
      largest = Math.max(largest, Math.abs(step[i]!));
    }
    if (largest < 1e-6) break;
  }
  return { mean, scale, weights: Array.from(beta.subarray(0, width)), intercept: beta[width]! };
}

/** AUC: the probability that a random positive scores above a random negative (ties count half). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) j++;
    const rank = (i + j + 1) / 2; // mean of ranks i+1 … j
    for (let k = i; k < j; k++) if (labels[order[k]!] === 1) {
      rankSum += rank;
      positives++;
    }
    i = j;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean log loss (natural log), with scores clipped away from 0 and 1. */
export function logLoss(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(1 - 1e-12, Math.max(1e-12, scores[i]!));
    total -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return scores.length === 0 ? NaN : total / scores.length;
}

/**
 * Lift by decile: visitors sorted by score, highest first, cut into ten groups; each group's goal
 * rate divided by the overall rate (1 = no better than chance). The first decile is the top 10 %.
 */
export function liftByDecile(scores: ArrayLike<number>, labels: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  const base = positives / Math.max(1, labels.length);
  return Array.from({ length: 10 }, (_, d) => {
    const from = Math.floor((d * order.length) / 10);
    const to = Math.floor(((d + 1) * order.length) / 10);
    let hits = 0;
    for (let k = from; k < to; k++) hits += labels[order[k]!]!;
    return to > from && base > 0 ? round(hits / (to - from) / base, 3) : 0;
  });
}

/** Mean score and observed rate on a set: a calibrated model has them close. */
export function calibration(scores: ArrayLike<number>, labels: ArrayLike<number>): { predicted: number; observed: number } {
  let predicted = 0;
  let observed = 0;
  for (let i = 0; i < scores.length; i++) {
    predicted += scores[i]!;
    observed += labels[i]!;
  }
  const n = Math.max(1, scores.length);
  return { predicted: round(predicted / n, 4), observed: round(observed / n, 4) };
}

/** `points` evenly spaced quantiles of the scores (ascending): the percentile table of a model. */
export function quantiles(scores: ArrayLike<number>, points = 100): number[] {
  const sorted = Float64Array.from(scores).sort();
  if (sorted.length === 0) return [];
  return Array.from({ length: points }, (_, i) => sorted[Math.min(sorted.length - 1, Math.floor(((i + 0.5) * sorted.length) / points))]!);
}

/** The percentile (0–100) of a score among the training scores, from their quantiles. */
export function percentileOf(table: readonly number[], score: number): number {
  if (table.length === 0) return 0;
  let low = 0;
  let high = table.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (table[mid]! <= score) low = mid + 1;
    else high = mid;
  }
  return Math.round((100 * low) / table.length);
}

export const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** FNV-1a of a string: the deterministic held-out split (a key is in the test set for good). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** A fifth of the profiles, by the hash of their key, is held out for the metrics. */
export const isHeldOut = (profileKey: string) => fnv1a(profileKey) % 5 === 0;
