// The probes' Cholesky solve (src/analysis/cholesky.ts) against ml-matrix's (JAMA's loop, which the probes used before):
// the same numbers to the last bit on sizes across the row blocks, and A X = B to rounding; a matrix that is not
// positive definite is refused.
import { describe, expect, it } from 'vitest';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { choleskyFactor, choleskySolve } from '../src/analysis/cholesky';
import { Rng } from '../src/util/random';

/** A random symmetric positive definite m x m matrix of rank-`rank` Gram plus `ridge` I, row-major. */
function spd(m: number, rank: number, ridge: number, rng: Rng): Float64Array {
  const x = Float64Array.from({ length: m * rank }, () => rng.uniform() - 0.5);
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += x[i * rank + k] * x[j * rank + k];
      a[i * m + j] = s + (i === j ? ridge : 0);
    }
  }
  return a;
}

describe('Cholesky solve', () => {
  it.each([1, 2, 15, 16, 17, 33, 70])('m = %i: bit-identical to ml-matrix, and A X = B to rounding', (m) => {
    const rng = new Rng(m);
    const t = 3;
    const a = spd(m, Math.max(1, Math.floor(m / 2)), 0.5, rng);
    const b = Float64Array.from({ length: m * t }, () => rng.uniform() - 0.5);

    const l = choleskyFactor(a, m)!;
    expect(l).not.toBeNull();
    const x = choleskySolve(l, m, b, t);

    const reference = new CholeskyDecomposition(new Matrix(Array.from({ length: m }, (_, i) => Array.from(a.subarray(i * m, (i + 1) * m)))));
    expect(Array.from(l)).toEqual(reference.lowerTriangularMatrix.to1DArray());
    expect(Array.from(x)).toEqual(reference.solve(Matrix.from1DArray(m, t, b)).to1DArray());

    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let c = 0; c < t; c++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += a[i * m + k] * x[k * t + c];
        worst = Math.max(worst, Math.abs(s - b[i * t + c]));
      }
    }
    expect(worst).toBeLessThan(1e-10);
  });

  it('returns null for a matrix that is not positive definite, and refuses sizes that do not match', () => {
    expect(choleskyFactor(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
    expect(choleskyFactor(Float64Array.from([0]), 1)).toBeNull();
    expect(() => choleskyFactor(new Float64Array(5), 2)).toThrow('cholesky: 5 values are not a 2 x 2 matrix');
    expect(() => choleskySolve(Float64Array.from([1]), 1, new Float64Array(2), 1)).toThrow('cholesky: 2 right-hand-side values are not 1 x 1');
  });
});
