// Solving a symmetric positive definite system A X = B by Cholesky decomposition, in float64, for the ridge probes
// (src/analysis/probes.ts), whose dual form factors matrices of a few thousand rows.
//
// The arithmetic is the Cholesky-Crout loop of JAMA (and ml-matrix, which the probes used before): row j of L is
//   L[j][k] = (A[j][k] - sum_{i<k} L[k][i] L[j][i]) / L[k][k]   for k < j, each sum taken in increasing i,
//   L[j][j] = sqrt(A[j][j] - sum_{k<j} L[j][k]^2),             the squares summed in increasing k,
// so the results are the same to the last bit. Only the order in which entries are computed differs: rows are taken
// BLOCK at a time, and each finished row k above the block is read once for all of the block's rows instead of once
// per row. At a few thousand rows L no longer fits in the cache and this is what the time depends on (about 4x on a
// 1,500-row system with one row at a time, more with the blocks).
// Layout: A [m x m] and L row-major Float64Arrays; B and X [m x t] row-major.

const BLOCK = 16;

/** The lower-triangular Cholesky factor L of A [m x m] (row-major), or null when A is not positive definite. */
export function choleskyFactor(a: Float64Array, m: number): Float64Array | null {
  if (a.length !== m * m) throw new Error(`cholesky: ${a.length} values are not a ${m} x ${m} matrix`);
  const l = new Float64Array(m * m);
  let positiveDefinite = true;
  for (let j0 = 0; j0 < m; j0 += BLOCK) {
    const j1 = Math.min(m, j0 + BLOCK);
    // The block's entries left of it: every row k < j0 is final.
    for (let k = 0; k < j0; k++) for (let j = j0; j < j1; j++) l[j * m + k] = offDiagonal(a, l, m, j, k);
    // Inside the block, row by row as the loop above states it.
    for (let j = j0; j < j1; j++) {
      for (let k = j0; k < j; k++) l[j * m + k] = offDiagonal(a, l, m, j, k);
      let d = 0;
      for (let k = 0; k < j; k++) d = d + l[j * m + k] * l[j * m + k];
      d = a[j * m + j] - d;
      positiveDefinite &&= d > 0;
      l[j * m + j] = Math.sqrt(Math.max(d, 0));
    }
  }
  return positiveDefinite ? l : null;
}

/** L[j][k] for k < j from row k of L (final) and row j's entries left of k. */
function offDiagonal(a: Float64Array, l: Float64Array, m: number, j: number, k: number): number {
  const lk = k * m;
  const lj = j * m;
  let s = 0;
  for (let i = 0; i < k; i++) s += l[lk + i] * l[lj + i];
  return (a[lj + k] - s) / l[lk + k];
}

/** X [m x t] with L L^T X = B, by forward then back substitution (JAMA's order). */
export function choleskySolve(l: Float64Array, m: number, b: Float64Array, t: number): Float64Array {
  if (b.length !== m * t) throw new Error(`cholesky: ${b.length} right-hand-side values are not ${m} x ${t}`);
  const x = Float64Array.from(b);
  for (let k = 0; k < m; k++) {
    for (let j = 0; j < t; j++) {
      let v = x[k * t + j];
      for (let i = 0; i < k; i++) v = v - x[i * t + j] * l[k * m + i];
      x[k * t + j] = v / l[k * m + k];
    }
  }
  for (let k = m - 1; k >= 0; k--) {
    for (let j = 0; j < t; j++) {
      let v = x[k * t + j];
      for (let i = k + 1; i < m; i++) v = v - x[i * t + j] * l[i * m + k];
      x[k * t + j] = v / l[k * m + k];
    }
  }
  return x;
}
