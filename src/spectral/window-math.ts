// The CPU half of the spectral edge (docs/science.md §2), in float64 on W x W matrices read back from the GPU: the
// spectrum of a window from its Gram matrix, the coefficients that turn the window into edge vectors, and every
// per-window scalar. Rows are in time order (row 0 the oldest delta of the window).
//
// Notation: X [W, P] the window of deltas, G = X X^T its Gram matrix, u_k the k-th eigenvector of G (eigenvalue
// sigma_k^2), v_k = X^T u_k / sigma_k the k-th edge direction. With centring, X is replaced by C X, C = I - 11^T/W,
// so G by C G C and v_k = X^T (C u_k) / sigma_k. A projection <y_i, v_k> of any other row set Y (the gradient or
// decay parts) is (Y X^T c_k)_i with c_k the edge coefficients, so only W x W cross-Gram matrices are needed.
//
// Sign convention (both solvers, src/spectral/monitor.ts): u_k = (C) X v_k / sigma_k, the window's (centred)
// projections on v_k in time order, has its largest-magnitude component positive (`signOfLargest`). The Gram path
// applies it to the eigenvectors u_k of G; the Lanczos path to the projections of each Ritz vector, so both give
// the same v_k up to rounding (and ties between equally large components, which rounding can break either way).
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export type Square = number[][];

/** C M: each column's mean over the rows subtracted (centring over time when rows are deltas). */
export function centreRows(m: Square): Square {
  const cols = m[0].length;
  const mean = Array.from({ length: cols }, (_, j) => m.reduce((s, row) => s + row[j], 0) / m.length);
  return m.map((row) => row.map((x, j) => x - mean[j]));
}

function transpose(m: Square): Square {
  return m[0].map((_, j) => m.map((row) => row[j]));
}

export function centreBoth(m: Square): Square {
  return transpose(centreRows(transpose(centreRows(m))));
}

export interface Spectrum {
  /** sigma_1 >= ... >= sigma_W >= 0. */
  sigma: number[];
  /** u[k]: the unit eigenvector of sigma_k^2, its largest-magnitude component positive (the sign convention). */
  u: number[][];
}

/** Singular values and left singular vectors of the window from its Gram matrix (already centred if wanted). */
export function windowSpectrum(gram: Square): Spectrum {
  const W = gram.length;
  const symmetric = gram.map((row, i) => row.map((x, j) => (x + gram[j][i]) / 2));
  const eig = new EigenvalueDecomposition(new Matrix(symmetric), { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const vectors = eig.eigenvectorMatrix;
  const order = Array.from({ length: W }, (_, i) => i).sort((a, b) => values[b] - values[a]);
  const sigma = order.map((i) => Math.sqrt(Math.max(0, values[i])));
  const u = order.map((i) => {
    const col = vectors.getColumn(i);
    const norm = Math.hypot(...col);
    const sign = signOfLargest(col);
    return col.map((x) => (sign * x) / norm);
  });
  return { sigma, u };
}

/** The sign convention: -1 when the largest-magnitude component (the first of equals) is negative, else 1. */
export function signOfLargest(u: ArrayLike<number>): 1 | -1 {
  let big = 0;
  for (let j = 1; j < u.length; j++) if (Math.abs(u[j]) > Math.abs(u[big])) big = j;
  return u[big] < 0 ? -1 : 1;
}

/** Directions whose singular value is this small relative to sigma_1 are numerically zero (e.g. after centring). */
const NEGLIGIBLE = 1e-9;

/** The rank the scalars use: singular values above NEGLIGIBLE * sigma_1. */
export function numericalRank(sigma: number[]): number {
  return sigma.filter((s) => s > NEGLIGIBLE * sigma[0]).length;
}

/**
 * Coefficients c_k (k < K, rows of a K x W matrix) with v_k = X^T c_k: u_k / sigma_k, centred when the window is;
 * zero for a numerically zero sigma_k (no direction).
 */
export function edgeCoefficients(spectrum: Spectrum, K: number, centred: boolean): number[][] {
  const rank = numericalRank(spectrum.sigma);
  return spectrum.u.slice(0, K).map((u, k) => {
    if (k >= rank) return u.map(() => 0);
    const mean = centred ? u.reduce((a, b) => a + b, 0) / u.length : 0;
    return u.map((x) => (x - mean) / spectrum.sigma[k]);
  });
}

/** p[i][k] = <y_i, v_k> from the cross-Gram Y X^T and the edge coefficients (centred over i when the window is). */
export function projections(cross: Square, coeffs: number[][], centred: boolean): Square {
  const rows = centred ? centreRows(cross) : cross;
  return rows.map((row) => coeffs.map((c) => row.reduce((s, x, l) => s + x * c[l], 0)));
}

/** g23 = sigma_2^2 - sigma_3^2 (null for windows of fewer than 3 deltas). */
export function g23(sigma: number[]): number | null {
  return sigma.length >= 3 ? sigma[1] ** 2 - sigma[2] ** 2 : null;
}

/**
 * k* = argmax_j (sigma_j / sum sigma) * (sigma_j / sigma_{j+1}) over j < rank (1-based), and the gap ratio
 * R = sigma_{k*} / sigma_{k*+1}. Null when the window has fewer than two nonzero singular values.
 */
export function edgeGap(sigma: number[]): { kStar: number; gapRatio: number } | null {
  const rank = numericalRank(sigma);
  const total = sigma.reduce((a, b) => a + b, 0);
  let best: { kStar: number; gapRatio: number; score: number } | null = null;
  for (let j = 0; j + 1 < rank; j++) {
    const ratio = sigma[j] / sigma[j + 1];
    const score = (sigma[j] / total) * ratio;
    if (!best || score > best.score) best = { kStar: j + 1, gapRatio: ratio, score };
  }
  return best && { kStar: best.kStar, gapRatio: best.gapRatio };
}

/**
 * For each direction k: gradient energy fraction mean_i g_ik^2 / (mean_i g_ik^2 + mean_i w_ik^2) and alignment
 * mean_i g_ik w_ik, from the projections g_ik = <g_i, v_k> and w_ik = <w_i, v_k> of the window's parts.
 */
export function energySplit(grad: Square, decay: Square): { fraction: number[]; alignment: number[] } {
  const K = grad[0]?.length ?? 0;
  const mean = (f: (i: number) => number) => grad.reduce((s, _, i) => s + f(i), 0) / grad.length;
  const fraction: number[] = [];
  const alignment: number[] = [];
  for (let k = 0; k < K; k++) {
    const g2 = mean((i) => grad[i][k] ** 2);
    const w2 = mean((i) => decay[i][k] ** 2);
    fraction.push(g2 + w2 > 0 ? g2 / (g2 + w2) : 0);
    alignment.push(mean((i) => grad[i][k] * decay[i][k]));
  }
  return { fraction, alignment };
}

export function frobenius(m: Square): number {
  return Math.sqrt(m.reduce((s, row) => s + row.reduce((t, x) => t + x * x, 0), 0));
}

/**
 * Davis-Kahan stability alpha_j = max(0, 1 - ||Delta G||_F^2 / gap_j^2), gap_j = sigma_j^2 - sigma_{j+1}^2 (the
 * eigenvalue gap of G) for j < W, given ||Delta G||_F between this window's Gram and the previous one's.
 */
export function davisKahan(sigma: number[], deltaGramNorm: number): number[] {
  return sigma.slice(0, -1).map((s, j) => {
    const gap = s ** 2 - sigma[j + 1] ** 2;
    return gap > 0 ? Math.max(0, 1 - deltaGramNorm ** 2 / gap ** 2) : 0;
  });
}

/**
 * The trapezoid decay estimate of the papers, projected on the edge: the decay part of delta i is taken as
 * -lr*wd*N*(theta_start + theta_end)/2, with theta_end(i) = theta_now - sum_{j > i} x_j and theta_start = theta_end - x_i.
 * Inputs: <x_j, v_k> (xProj, W x K) and <theta_now, v_k> (thetaProj, K). Returns the decay projections (W x K).
 */
export function trapezoidDecay(xProj: Square, thetaProj: number[], lrWdSteps: number): Square {
  const W = xProj.length;
  return xProj.map((row, i) =>
    row.map((x, k) => {
      let end = thetaProj[k];
      for (let j = i + 1; j < W; j++) end -= xProj[j][k];
      return (-lrWdSteps * (2 * end - x)) / 2;
    }),
  );
}
