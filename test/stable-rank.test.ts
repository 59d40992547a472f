// Stable rank against a dense float64 SVD (ml-matrix): spectral norms agree to 1e-12 relative, on random, ragged,
// low-rank, near-degenerate and equal-singular-value matrices.
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { spectralNorm, stableRank, stableRankOrNaN } from '../src/spectral/stable-rank';
import { Rng } from '../src/util/random';

const random = (rng: Rng, rows: number, cols: number) => Float64Array.from({ length: rows * cols }, () => rng.normal());

function svdValues(w: Float64Array, rows: number, cols: number): number[] {
  const m = new Matrix(Array.from({ length: rows }, (_, i) => Array.from(w.subarray(i * cols, (i + 1) * cols))));
  return new SingularValueDecomposition(m, { autoTranspose: true }).diagonal;
}

/** U diag(s) V^T with random orthonormal U [rows x k], V [cols x k], k = s.length. */
function withSingularValues(rng: Rng, rows: number, cols: number, s: number[]): Float64Array {
  const orthonormal = (n: number) => new QrDecomposition(new Matrix(Array.from({ length: n }, () => Array.from(random(rng, 1, s.length))))).orthogonalMatrix;
  const u = orthonormal(rows);
  const v = orthonormal(cols);
  const w = u.mmul(Matrix.diag(s)).mmul(v.transpose());
  return Float64Array.from(w.to1DArray());
}

describe('stable rank', () => {
  it('matches the SVD on random matrices of ragged shapes', () => {
    const rng = new Rng(21);
    for (const [rows, cols] of [[37, 53], [64, 64], [128, 32], [1, 5], [5, 1], [256, 256]]) {
      const w = random(rng, rows, cols);
      const s = svdValues(w, rows, cols);
      const sigma = spectralNorm(w, rows, cols);
      expect(Math.abs(sigma - s[0]) / s[0], `${rows} x ${cols}`).toBeLessThan(1e-12);
      const expected = s.reduce((acc, x) => acc + x * x, 0) / (s[0] * s[0]);
      expect(Math.abs(stableRank(w, rows, cols) - expected) / expected).toBeLessThan(1e-12);
    }
  });

  it('is 1 for rank one, k for k equal singular values, and finds a top value with a near twin', () => {
    const rng = new Rng(4);
    expect(stableRank(withSingularValues(rng, 40, 30, [3]), 40, 30)).toBeCloseTo(1, 12);
    expect(stableRank(withSingularValues(rng, 40, 30, new Array(30).fill(0.7)), 40, 30)).toBeCloseTo(30, 10);
    expect(stableRank(withSingularValues(rng, 20, 50, new Array(7).fill(2)), 20, 50)).toBeCloseTo(7, 10);
    const twins = [1, 1 - 1e-9, ...Array.from({ length: 30 }, (_, i) => 0.9 - 0.02 * i)];
    expect(spectralNorm(withSingularValues(rng, 64, 48, twins), 64, 48)).toBeCloseTo(1, 12);
  });

  it('rejects the zero matrix, non-finite entries and wrong shapes', () => {
    expect(spectralNorm(new Float64Array(12), 3, 4)).toBe(0);
    expect(() => stableRank(new Float64Array(12), 3, 4)).toThrow(/zero matrix/);
    expect(() => stableRank([1, NaN, 0, 1], 2, 2)).toThrow(/entry 1 is NaN/);
    expect(() => stableRank([1, 2, 3], 2, 2)).toThrow(/has 4 entries/);
  });

  it("gives a run's zero or diverged matrix NaN, and any other its stable rank", () => {
    expect(stableRankOrNaN(new Float32Array(12), 3, 4)).toBeNaN();
    expect(stableRankOrNaN([1, Infinity, 0, 1], 2, 2)).toBeNaN();
    expect(stableRankOrNaN([3, 0, 0, 1], 2, 2)).toBeCloseTo(10 / 9, 12);
  });
});
