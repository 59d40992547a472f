// Probes (docs/science.md §3.6): how much of a quantity (Dyck depth, a SCAN token) a representation (the residual stream)
// holds, as the R^2 of a regression from features to targets on held-out rows. The protocol, in float64:
//
//   split      the n rows are shuffled with Rng.derive(seed, 'probe.split'); the first n - round(0.3 n) are the
//              training part, the rest the test part. The split depends only on n and the seed, so every probe
//              kind sees the same parts.
//   inputs     every feature column is standardised with the training part's mean and standard deviation
//              (population; a constant column is only centred).
//   linear     ridge regression with alpha 1 on the standardised features.
//   quadratic  ridge regression with alpha 10 on the degree-2 interaction-only features of the standardised
//              inputs: the d inputs x_i and the d(d-1)/2 products x_i x_j (i < j), no squares x_i^2 and no
//              constant (scikit-learn's PolynomialFeatures(2, interaction_only=True, include_bias=False)).
//   mlp        one hidden layer of 64 ReLU units (src/analysis/mlp-probe.ts).
//   R^2        on the test part: 1 - SS_res / SS_tot per target column, SS_res = sum (y - prediction)^2 and
//              SS_tot = sum (y - mean of the test part's y)^2; averaged over columns when there are several
//              (scikit-learn's r2_score). It is below 0 when the probe predicts worse than the test mean.
//
// Ridge: the intercept is not penalised; instead the features and targets are centred with the training
// part's means (the intercept is then the target mean). The weights solve (X^T X + alpha I) w = X^T y (primal,
// with the features written out) or, equivalently, predictions come from c = (K + alpha I)^{-1} y with the
// centred kernel matrix K = X X^T (dual). The form with fewer floating-point operations is used: for the
// quadratic probe on d = 128 features (8,256 expanded) and a few thousand rows that is the dual, and its kernel
// needs no expansion: with s = <x, z>, the expanded features' inner product is s + (s^2 - sum_i x_i^2 z_i^2) / 2.
// Both solve by Cholesky decomposition (src/analysis/cholesky.ts).
import { choleskyFactor, choleskySolve } from './cholesky';
import { Rng } from '../util/random';
import { fitMlpProbe, type Rows } from './mlp-probe';
import { ProbeKind } from '../formats/experiments';

export const PROBE_PROTOCOL = {
  testFraction: 0.3,
  /** Ridge penalties of the linear and quadratic probes. */
  alpha: { linear: 1, quadratic: 10 },
  /** Fewer rows leave the test part (and the MLP's validation part) too small for R^2 to mean anything. */
  minRows: 20,
} as const;

export interface ProbeOptions {
  kind: ProbeKind;
  seed: number;
  /** Target values per row (targets is [n x targetDim] row-major); default 1. */
  targetDim?: number;
  /** Ridge penalty of the linear or quadratic probe; default PROBE_PROTOCOL.alpha[kind]. */
  alpha?: number;
}

export class ProbeInputError extends Error {
  override name = 'ProbeInputError';
}

type Values = Float64Array | Float32Array | Int32Array | readonly number[];

/**
 * R^2 on the test part of a probe of `kind` from features [n x d] to targets [n x targetDim], both row-major,
 * with the protocol above. Deterministic given the seed. Throws a ProbeInputError for sizes that do not match,
 * fewer than PROBE_PROTOCOL.minRows rows, a non-finite value, or test targets with no variance.
 */
export function probeR2(features: Float32Array | Float64Array, targets: Values, options: ProbeOptions): number {
  const { kind, seed } = options;
  if (!Object.hasOwn(FIT, kind)) throw new ProbeInputError(`unknown probe kind "${kind}"; choose linear, quadratic or mlp`);
  if (!Number.isInteger(seed)) throw new ProbeInputError(`seed must be an integer, got ${seed}`);
  const alpha = kind === 'mlp' ? 0 : (options.alpha ?? PROBE_PROTOCOL.alpha[kind]);
  if (kind !== 'mlp' && !(Number.isFinite(alpha) && alpha > 0)) throw new ProbeInputError(`alpha must be a positive number, got ${alpha}`);
  const t = options.targetDim ?? 1;
  if (!(Number.isInteger(t) && t >= 1)) throw new ProbeInputError(`targetDim must be a positive integer, got ${t}`);
  const n = targets.length / t;
  if (!Number.isInteger(n)) throw new ProbeInputError(`${targets.length} target values are not whole rows of ${t}`);
  if (n < PROBE_PROTOCOL.minRows) throw new ProbeInputError(`a probe needs at least ${PROBE_PROTOCOL.minRows} rows, got ${n}`);
  const d = features.length / n;
  if (!(Number.isInteger(d) && d >= 1)) throw new ProbeInputError(`${features.length} feature values do not make ${n} rows (one per target row)`);
  checkFinite(features, d, 'features');
  checkFinite(targets, t, 'targets');

  const { train, test } = probeSplit(n, seed);
  const x = { values: Float64Array.from(features), rows: n, cols: d };
  const xTrain = gatherRows(x, train);
  const xTest = gatherRows(x, test);
  standardise(xTrain, xTest);
  const y = { values: Float64Array.from(targets), rows: n, cols: t };
  const predictions = FIT[kind](xTrain, gatherRows(y, train).values, xTest, { seed, alpha });
  return r2Score(gatherRows(y, test).values, predictions, t);
}

/** The seeded 70/30 split of n rows: row indices of the training and test parts. */
export function probeSplit(n: number, seed: number): { train: number[]; test: number[] } {
  const order = Rng.derive(seed, 'probe.split').shuffle(Array.from({ length: n }, (_, i) => i));
  const nTrain = n - Math.round(PROBE_PROTOCOL.testFraction * n);
  return { train: order.slice(0, nTrain), test: order.slice(nTrain) };
}

/** 1 - SS_res / SS_tot per column of y [rows x t] (SS_tot about the column's mean), averaged over the columns. */
export function r2Score(y: Float64Array, predictions: Float64Array, t: number): number {
  const rows = y.length / t;
  let sum = 0;
  for (let c = 0; c < t; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += y[r * t + c] / rows;
    let ssRes = 0;
    let ssTot = 0;
    for (let r = 0; r < rows; r++) {
      ssRes += (y[r * t + c] - predictions[r * t + c]) ** 2;
      ssTot += (y[r * t + c] - mean) ** 2;
    }
    if (!(ssTot > 0)) throw new ProbeInputError(`target column ${c} is constant on the test part (${rows} rows), so R^2 is undefined`);
    sum += 1 - ssRes / ssTot;
  }
  return sum / t;
}

function checkFinite(values: Values, cols: number, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new ProbeInputError(`${what}[row ${Math.floor(i / cols)}, column ${i % cols}] is ${values[i]}`);
  }
}

function gatherRows(x: Rows, rows: readonly number[]): Rows {
  const out = new Float64Array(rows.length * x.cols);
  rows.forEach((r, i) => out.set(x.values.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols));
  return { values: out, rows: rows.length, cols: x.cols };
}

/** Per-column mean over the rows of x. */
function columnMeans(x: Rows): Float64Array {
  const mean = new Float64Array(x.cols);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.cols; c++) mean[c] += x.values[r * x.cols + c];
  return mean.map((s) => s / x.rows);
}

/** Standardises both parts in place with the training part's column means and (population) standard deviations. */
function standardise(train: Rows, test: Rows): void {
  const mean = columnMeans(train);
  const std = new Float64Array(train.cols);
  for (let r = 0; r < train.rows; r++) for (let c = 0; c < train.cols; c++) std[c] += (train.values[r * train.cols + c] - mean[c]) ** 2;
  const scale = std.map((s) => (s > 0 ? Math.sqrt(s / train.rows) : 1));
  for (const x of [train, test]) x.values.forEach((v, i) => (x.values[i] = (v - mean[i % x.cols]) / scale[i % x.cols]));
}

/** A ridge feature map: its size, its explicit features, and its kernel (the expanded features' inner products). */
interface FeatureMap {
  count(d: number): number;
  expand(x: Rows): Rows;
  /** [a.rows x b.rows]; `symmetric` when a is b (fills the upper triangle and mirrors it, so it is exactly symmetric). */
  kernel(a: Rows, b: Rows, symmetric: boolean): Float64Array;
  /** Floating-point operations per kernel entry (inputs of size d), for choosing the primal or dual form. */
  kernelCost(d: number): number;
}

/** a b^T over the rows of a and b: [a.rows x b.rows]. */
function innerProducts(a: Rows, b: Rows, symmetric: boolean): Float64Array {
  const d = a.cols;
  const out = new Float64Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++) {
    const ao = i * d;
    for (let j = symmetric ? i : 0; j < b.rows; j++) {
      const bo = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += a.values[ao + k] * b.values[bo + k];
      out[i * b.rows + j] = s;
      if (symmetric) out[j * b.rows + i] = s;
    }
  }
  return out;
}

const FEATURE_MAPS: Record<'linear' | 'quadratic', FeatureMap> = {
  linear: {
    count: (d) => d,
    expand: (x) => x,
    kernel: (a, b, symmetric) => innerProducts(a, b, symmetric),
    kernelCost: (d) => 2 * d,
  },
  quadratic: {
    count: (d) => d + (d * (d - 1)) / 2,
    expand(x) {
      const d = x.cols;
      const cols = this.count(d);
      const out = new Float64Array(x.rows * cols);
      for (let r = 0; r < x.rows; r++) {
        const row = x.values.subarray(r * d, (r + 1) * d);
        let o = r * cols;
        for (let i = 0; i < d; i++) out[o++] = row[i];
        for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) out[o++] = row[i] * row[j];
      }
      return { values: out, rows: x.rows, cols };
    },
    kernel(a, b, symmetric) {
      const s = innerProducts(a, b, symmetric);
      const squared = (x: Rows): Rows => ({ ...x, values: x.values.map((v) => v * v) });
      const squares = innerProducts(squared(a), squared(b), symmetric);
      return s.map((v, i) => v + (v * v - squares[i]) / 2);
    },
    kernelCost: (d) => 4 * d,
  },
};

/** Solves (A + alpha I) W = B for symmetric positive semi-definite A [m x m] and B [m x t] (both flat). */
function ridgeSolve(a: Float64Array, m: number, b: Float64Array, t: number, alpha: number): Float64Array {
  const lhs = Float64Array.from(a);
  for (let i = 0; i < m; i++) lhs[i * m + i] += alpha;
  const l = choleskyFactor(lhs, m);
  if (!l) throw new Error(`ridge: the regularised ${m} x ${m} system is not positive definite`);
  return choleskySolve(l, m, b, t);
}

/**
 * Ridge predictions for xTest from (xTrain, yTrain) in the feature space of `map`, with an unpenalised intercept
 * (everything centred with the training means), by the primal or dual form, whichever costs fewer operations.
 */
function ridgePredict(map: FeatureMap, xTrain: Rows, yTrain: Float64Array, xTest: Rows, alpha: number): Float64Array {
  const n = xTrain.rows;
  const t = yTrain.length / n;
  const d = xTrain.cols;
  const f = map.count(d);
  const yMean = columnMeans({ values: yTrain, rows: n, cols: t });
  const yc = yTrain.map((v, i) => v - yMean[i % t]);
  const primalCost = n * f * f + (f * f * f) / 3;
  const dualCost = (n * n * map.kernelCost(d)) / 2 + (n * n * n) / 3;
  const centred = primalCost <= dualCost ? primalCentredPredictions(map, xTrain, yc, xTest, alpha) : dualCentredPredictions(map, xTrain, yc, xTest, alpha);
  return centred.map((v, i) => v + yMean[i % t]);
}

/** Primal: w = (Phi^T Phi + alpha I)^{-1} Phi^T y with Phi the centred features; predictions (phi(x) - mean) w. */
function primalCentredPredictions(map: FeatureMap, xTrain: Rows, yc: Float64Array, xTest: Rows, alpha: number): Float64Array {
  const phi = map.expand(xTrain);
  const phiTest = map.expand(xTest);
  const n = phi.rows;
  const f = phi.cols;
  const t = yc.length / n;
  const mean = columnMeans(phi);
  // Columns of the centred Phi as rows, so Phi^T Phi is their inner products.
  const columns = new Float64Array(f * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < f; c++) columns[c * n + r] = phi.values[r * f + c] - mean[c];
  const cols = { values: columns, rows: f, cols: n };
  const rhs = new Float64Array(f * t);
  for (let c = 0; c < f; c++) for (let r = 0; r < n; r++) for (let k = 0; k < t; k++) rhs[c * t + k] += columns[c * n + r] * yc[r * t + k];
  const w = ridgeSolve(innerProducts(cols, cols, true), f, rhs, t, alpha);
  const out = new Float64Array(phiTest.rows * t);
  for (let r = 0; r < phiTest.rows; r++) {
    for (let c = 0; c < f; c++) {
      const v = phiTest.values[r * f + c] - mean[c];
      for (let k = 0; k < t; k++) out[r * t + k] += v * w[c * t + k];
    }
  }
  return out;
}

/**
 * Dual: c = (Kc + alpha I)^{-1} y with Kc the kernel matrix of the centred features,
 * Kc_ij = K_ij - mean_k K_ik - mean_k K_kj + mean K; predictions Kc(x, x_j) c, centred the same way.
 */
function dualCentredPredictions(map: FeatureMap, xTrain: Rows, yc: Float64Array, xTest: Rows, alpha: number): Float64Array {
  const n = xTrain.rows;
  const t = yc.length / n;
  const k = map.kernel(xTrain, xTrain, true);
  const rowMean = columnMeans({ values: k, rows: n, cols: n }); // K is symmetric: column means are row means
  const total = rowMean.reduce((a, b) => a + b, 0) / n;
  const kc = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = k[i * n + j] - rowMean[i] - rowMean[j] + total;
      kc[i * n + j] = v;
      kc[j * n + i] = v;
    }
  }
  const c = ridgeSolve(kc, n, yc, t, alpha);
  const m = xTest.rows;
  const kt = map.kernel(xTest, xTrain, false);
  const out = new Float64Array(m * t);
  for (let i = 0; i < m; i++) {
    let testMean = 0;
    for (let j = 0; j < n; j++) testMean += kt[i * n + j] / n;
    for (let j = 0; j < n; j++) {
      const v = kt[i * n + j] - testMean - rowMean[j] + total;
      for (let q = 0; q < t; q++) out[i * t + q] += v * c[j * t + q];
    }
  }
  return out;
}

/** Each probe kind: fit on the (standardised) training part, predict the test part. */
const FIT: Record<ProbeKind, (xTrain: Rows, yTrain: Float64Array, xTest: Rows, o: { seed: number; alpha: number }) => Float64Array> = {
  linear: (xTrain, yTrain, xTest, { alpha }) => ridgePredict(FEATURE_MAPS.linear, xTrain, yTrain, xTest, alpha),
  quadratic: (xTrain, yTrain, xTest, { alpha }) => ridgePredict(FEATURE_MAPS.quadratic, xTrain, yTrain, xTest, alpha),
  mlp: (xTrain, yTrain, xTest, { seed }) => fitMlpProbe(xTrain, yTrain, seed).predict(xTest),
};
