// The probes (src/analysis/probes.ts, mlp-probe.ts) on synthetic data:
// - linear and quadratic ridge R^2 against a closed form written out here (standardise on the training part,
//   expand, centre, normal equations (Phi^T Phi + alpha I) w = Phi^T y solved by Gaussian elimination, R^2 on the
//   test part), in both regimes the probe picks between (primal: fewer features than training rows; dual:
//   more), with one and two target columns: |difference| <= 1e-8;
// - y = x1 * x2: the linear probe finds nothing (R^2 < 0.05), the quadratic one nearly everything (> 0.99);
// - a nonlinear target: the MLP probe beats the linear one;
// - the same seed gives bit-identical results, another seed another split;
// - bad input is rejected with a message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { probeR2, probeSplit, r2Score, ProbeInputError, PROBE_PROTOCOL } from '../src/analysis/probes';
import type { ProbeKind } from '../src/formats/experiments';
import { Rng } from '../src/util/random';

/** n rows of d standard normal features (row-major), each column scaled and shifted differently. */
function gaussianRows(n: number, d: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const x = new Float64Array(n * d);
  for (let i = 0; i < n * d; i++) x[i] = (1 + (i % d)) * rng.normal() + 0.5 * (i % d);
  return x;
}

/** Solves A w = B (A [m x m], B [m x t]) by Gaussian elimination with partial pivoting. */
function gaussSolve(a: number[][], b: number[][]): number[][] {
  const m = a.length;
  const A = a.map((row, i) => [...row, ...b[i]]);
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(A[r][col]) > Math.abs(A[pivot][col])) pivot = r;
    [A[col], A[pivot]] = [A[pivot], A[col]];
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const f = A[r][col] / A[col][col];
      for (let c = col; c < A[r].length; c++) A[r][c] -= f * A[col][c];
    }
  }
  return A.map((row, i) => row.slice(m).map((v) => v / A[i][i]));
}

/** The probe's R^2, computed independently in float64 with explicit features and the normal equations. */
function closedFormRidgeR2(x: Float64Array, y: Float64Array, d: number, t: number, alpha: number, quadratic: boolean, seed: number): number {
  const n = y.length / t;
  const { train, test } = probeSplit(n, seed);
  const row = (i: number) => Array.from(x.subarray(i * d, (i + 1) * d));
  const mean = Array.from({ length: d }, (_, c) => train.reduce((s, i) => s + x[i * d + c], 0) / train.length);
  const std = mean.map((m, c) => Math.sqrt(train.reduce((s, i) => s + (x[i * d + c] - m) ** 2, 0) / train.length));
  const features = (i: number) => {
    const z = row(i).map((v, c) => (v - mean[c]) / std[c]);
    const out = [...z];
    if (quadratic) for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) out.push(z[a] * z[b]);
    return out;
  };
  const phiTrain = train.map(features);
  const f = phiTrain[0].length;
  const phiMean = Array.from({ length: f }, (_, c) => phiTrain.reduce((s, p) => s + p[c], 0) / train.length);
  const yMean = Array.from({ length: t }, (_, k) => train.reduce((s, i) => s + y[i * t + k], 0) / train.length);
  const centred = phiTrain.map((p) => p.map((v, c) => v - phiMean[c]));
  const lhs = Array.from({ length: f }, (_, a) => Array.from({ length: f }, (_, b) => centred.reduce((s, p) => s + p[a] * p[b], 0) + (a === b ? alpha : 0)));
  const rhs = Array.from({ length: f }, (_, a) => Array.from({ length: t }, (_, k) => centred.reduce((s, p, r) => s + p[a] * (y[train[r] * t + k] - yMean[k]), 0)));
  const w = gaussSolve(lhs, rhs);
  let r2 = 0;
  for (let k = 0; k < t; k++) {
    const truth = test.map((i) => y[i * t + k]);
    const pred = test.map((i) => features(i).reduce((s, v, c) => s + (v - phiMean[c]) * w[c][k], yMean[k]));
    const testMean = truth.reduce((s, v) => s + v, 0) / truth.length;
    const ssRes = truth.reduce((s, v, r) => s + (v - pred[r]) ** 2, 0);
    const ssTot = truth.reduce((s, v) => s + (v - testMean) ** 2, 0);
    r2 += 1 - ssRes / ssTot;
  }
  return r2 / t;
}

/** Targets: a fixed random linear map of the features plus a nonlinearity and noise, [n x t]. */
function noisyTargets(x: Float64Array, d: number, t: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const n = x.length / d;
  const w = Array.from({ length: d * t }, () => rng.normal());
  const y = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < t; k++) {
      let s = Math.tanh(x[i * d]) * 2 + 0.5 * rng.normal();
      for (let c = 0; c < d; c++) s += 0.3 * w[c * t + k] * x[i * d + c];
      y[i * t + k] = s;
    }
  }
  return y;
}

describe('ridge probes against the closed form', () => {
  const cases = [
    { name: 'linear, primal (d 5 < 140 training rows)', kind: 'linear', n: 200, d: 5, t: 1 },
    { name: 'linear, dual (d 60 > 35 training rows)', kind: 'linear', n: 50, d: 60, t: 1 },
    { name: 'quadratic, primal (15 features < 140 training rows)', kind: 'quadratic', n: 200, d: 5, t: 1 },
    { name: 'quadratic, dual (78 features > 42 training rows)', kind: 'quadratic', n: 60, d: 12, t: 1 },
    { name: 'linear, two target columns', kind: 'linear', n: 120, d: 7, t: 2 },
    { name: 'quadratic, dual, two target columns', kind: 'quadratic', n: 40, d: 9, t: 2 },
  ] as const;
  it.each(cases)('$name', ({ kind, n, d, t }) => {
    const x = gaussianRows(n, d, 11);
    const y = noisyTargets(x, d, t, 12);
    const alpha = PROBE_PROTOCOL.alpha[kind];
    const expected = closedFormRidgeR2(x, y, d, t, alpha, kind === 'quadratic', 5);
    const actual = probeR2(x, y, { kind, seed: 5, targetDim: t });
    expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-8);
    // The data has structure for the probe to find, so this is not a comparison of two near-zero numbers.
    expect(expected).toBeGreaterThan(0.2);
  });

  it('takes the penalty from the options and float32 features', () => {
    const x = gaussianRows(100, 4, 3);
    const y = noisyTargets(x, 4, 1, 4);
    const x32 = Float32Array.from(x);
    const expected = closedFormRidgeR2(Float64Array.from(x32), y, 4, 1, 250, false, 8);
    expect(Math.abs(probeR2(x32, y, { kind: 'linear', seed: 8, alpha: 250 }) - expected)).toBeLessThanOrEqual(1e-8);
    expect(Math.abs(expected - closedFormRidgeR2(x, y, 4, 1, 1, false, 8))).toBeGreaterThan(1e-3);
  });
});

describe('probe kinds on synthetic targets', () => {
  it('y = x1 * x2: linear R^2 ~ 0, quadratic R^2 ~ 1', () => {
    const d = 4;
    const rng = new Rng(21);
    // Zero-mean independent features (scaled differently), so that x1 * x2 has no linear part.
    const x = Float64Array.from({ length: 400 * d }, (_, i) => (1 + (i % d)) * rng.normal());
    const y = Float64Array.from({ length: 400 }, (_, i) => x[i * d] * x[i * d + 1]);
    const linear = probeR2(x, y, { kind: 'linear', seed: 1 });
    const quadratic = probeR2(x, y, { kind: 'quadratic', seed: 1 });
    expect(Math.abs(linear)).toBeLessThan(0.05);
    expect(quadratic).toBeGreaterThan(0.99);
  });

  it('a nonlinear target: the MLP beats the linear probe', () => {
    const d = 3;
    const rng = new Rng(31);
    const x = Float64Array.from({ length: 600 * d }, () => rng.normal());
    const y = Float64Array.from({ length: 600 }, (_, i) => Math.sin(2 * x[i * d]) + Math.abs(x[i * d + 1]) + 0.05 * rng.normal());
    const linear = probeR2(x, y, { kind: 'linear', seed: 2 });
    const mlp = probeR2(x, y, { kind: 'mlp', seed: 2 });
    expect(linear).toBeLessThan(0.4);
    expect(mlp).toBeGreaterThan(0.8);
    expect(mlp - linear).toBeGreaterThan(0.4);
  });

  it('is deterministic given the seed; another seed gives another split', () => {
    const x = gaussianRows(150, 6, 41);
    const y = noisyTargets(x, 6, 1, 42);
    for (const kind of ['linear', 'quadratic', 'mlp'] as ProbeKind[]) {
      expect(probeR2(x, y, { kind, seed: 3 })).toBe(probeR2(x, y, { kind, seed: 3 }));
      expect(probeR2(x, y, { kind, seed: 3 })).not.toBe(probeR2(x, y, { kind, seed: 4 }));
    }
    const a = probeSplit(150, 3);
    expect(a.test).toHaveLength(45);
    expect([...a.train, ...a.test].sort((p, q) => p - q)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(probeSplit(150, 4).test).not.toEqual(a.test);
  });

  it('R^2 is 1 for exact predictions and 0 for the test mean, averaged over target columns', () => {
    const y = Float64Array.from([1, 10, 2, 20, 3, 30, 6, 60]);
    expect(r2Score(y, y, 2)).toBe(1);
    expect(r2Score(y, Float64Array.from([3, 30, 3, 30, 3, 30, 3, 30]), 2)).toBe(0);
    expect(r2Score(y, Float64Array.from([1, 30, 2, 30, 3, 30, 6, 30]), 2)).toBe(0.5);
  });
});

describe('bad input', () => {
  const x = gaussianRows(40, 3, 51);
  const y = noisyTargets(x, 3, 1, 52);

  it('names what is wrong', () => {
    const probe = (f: Float64Array, t: ArrayLike<number> & Float64Array, extra = {}) => () => probeR2(f, t, { kind: 'linear', seed: 1, ...extra });
    expect(probe(x.subarray(0, 30), y.subarray(0, 10))).toThrow(/at least 20 rows, got 10/);
    expect(probe(x.subarray(1), y)).toThrow(/119 feature values do not make 40 rows/);
    expect(probe(x, y, { targetDim: 3 })).toThrow(/40 target values are not whole rows of 3/);
    expect(probe(x, y, { targetDim: 0 })).toThrow(/targetDim must be a positive integer/);
    expect(probe(x, y, { alpha: 0 })).toThrow(/alpha must be a positive number, got 0/);
    expect(probe(x, y, { kind: 'cubic' })).toThrow(/unknown probe kind "cubic"/);
    expect(probe(x, y, { seed: 1.5 })).toThrow(/seed must be an integer, got 1.5/);
    const nan = x.slice();
    nan[3 * 7 + 2] = NaN;
    expect(probe(nan, y)).toThrow(/features\[row 7, column 2\] is NaN/);
    const inf = y.slice();
    inf[5] = Infinity;
    expect(probe(x, inf)).toThrow(/targets\[row 5, column 0\] is Infinity/);
    expect(probe(x, new Float64Array(40).fill(2))).toThrow(/constant on the test part/);
    expect(probe(x, y, { alpha: 0 })).toThrow(ProbeInputError);
  });
});
