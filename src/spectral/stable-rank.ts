// Stable rank ||W||_F^2 / ||W||_2^2 of a weight matrix (docs/science.md §4: tracked for W_Q and W_K under Low-Rank Decay):
// between 1 (rank one) and rank(W) (all singular values equal), a smooth stand-in for the rank.
//
// In float64 on the CPU, from a matrix read back from the GPU (at most a few hundred on a side). The spectral norm
// ||W||_2^2 is the largest eigenvalue of the Gram matrix G of the smaller side (W W^T or W^T W, n x n, applied as
// two matrix-vector products), found by Lanczos with full reorthogonalisation (twice, classical Gram-Schmidt) from
// a seeded random start: it stops when the top Ritz pair's residual bound beta_m |s_m| falls below
// 1e-14 trace(G) = 1e-14 ||W||_F^2 (>= 1e-14 ||G||_2), or after n steps, when the Krylov space
// is the whole space and the Ritz values are the eigenvalues. A breakdown (beta ~ 0: an invariant subspace) also
// makes the Ritz values exact eigenvalues; a start vector orthogonal to the top eigenvector is the one way to miss
// it, which a random start avoids with probability 1.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Rng } from '../util/random';

const RESIDUAL_TOLERANCE = 1e-14;
/** Ritz values are checked for convergence every this many Lanczos steps (each check is an m x m eigensolve). */
const CHECK_EVERY = 4;

function checkMatrix(w: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`stable rank: the shape must be positive integers, got ${rows} x ${cols}`);
  }
  if (w.length !== rows * cols) throw new RangeError(`stable rank: a ${rows} x ${cols} matrix has ${rows * cols} entries, got ${w.length}`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) throw new Error(`stable rank: entry ${i} is ${w[i]}`);
}

/**
 * x -> G x for the Gram matrix of the smaller side of the row-major rows x cols matrix w, applied as two products
 * (W (W^T x) when rows <= cols, else W^T (W x)), never formed: n = min(rows, cols).
 */
function smallGramOperator(w: Float64Array, rows: number, cols: number): { n: number; apply: (x: Float64Array) => Float64Array } {
  const times = (x: Float64Array) => {
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += w[i * cols + j] * x[j];
      y[i] = s;
    }
    return y;
  };
  const transposeTimes = (x: Float64Array) => {
    const y = new Float64Array(cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[j] += w[i * cols + j] * x[i];
    return y;
  };
  return rows <= cols
    ? { n: rows, apply: (x) => times(transposeTimes(x)) }
    : { n: cols, apply: (x) => transposeTimes(times(x)) };
}

/** The top eigenvalue of the tridiagonal T (alpha on the diagonal, beta off it), and its eigenvector's last entry. */
function topRitz(alpha: number[], beta: number[]): { theta: number; last: number } {
  const m = alpha.length;
  const t = Matrix.zeros(m, m);
  for (let i = 0; i < m; i++) {
    t.set(i, i, alpha[i]);
    if (i + 1 < m) {
      t.set(i, i + 1, beta[i]);
      t.set(i + 1, i, beta[i]);
    }
  }
  const eig = new EigenvalueDecomposition(t, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  let top = 0;
  for (let i = 1; i < m; i++) if (values[i] > values[top]) top = i;
  return { theta: values[top], last: eig.eigenvectorMatrix.get(m - 1, top) };
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

const norm = (v: Float64Array) => Math.sqrt(dot(v, v));

/** The largest eigenvalue of the positive semi-definite G (trace `trace`) given as x -> G x, by Lanczos (see the header). */
function largestEigenvalue(gram: { n: number; apply: (x: Float64Array) => Float64Array }, trace: number): number {
  const { n, apply } = gram;
  if (trace === 0) return 0;
  const rng = new Rng(0x5eed);
  let q = Float64Array.from({ length: n }, () => rng.normal());
  q = q.map((x) => x / norm(q));
  const basis: Float64Array[] = [q];
  const alpha: number[] = [];
  const beta: number[] = [];
  for (let step = 0; ; step++) {
    const w = apply(q);
    alpha.push(dot(w, q));
    for (let pass = 0; pass < 2; pass++) {
      for (const v of basis) {
        const c = dot(w, v);
        for (let i = 0; i < n; i++) w[i] -= c * v[i];
      }
    }
    const b = norm(w);
    const done = step + 1 === n || b <= RESIDUAL_TOLERANCE * trace;
    if (done || (step + 1) % CHECK_EVERY === 0) {
      const { theta, last } = topRitz(alpha, beta);
      if (done || b * Math.abs(last) <= RESIDUAL_TOLERANCE * trace) return theta;
    }
    beta.push(b);
    q = w.map((x) => x / b);
    basis.push(q);
  }
}

/** ||W||_2 of the row-major rows x cols matrix w. */
export function spectralNorm(w: ArrayLike<number>, rows: number, cols: number): number {
  checkMatrix(w, rows, cols);
  const w64 = Float64Array.from(w);
  const trace = dot(w64, w64);
  return Math.sqrt(Math.max(0, largestEigenvalue(smallGramOperator(w64, rows, cols), trace)));
}

/** ||W||_F^2 / ||W||_2^2 of the row-major rows x cols matrix w; throws for the zero matrix, which has none. */
export function stableRank(w: ArrayLike<number>, rows: number, cols: number): number {
  const sigma = spectralNorm(w, rows, cols);
  if (sigma === 0) throw new Error('stable rank: the zero matrix has no stable rank');
  let frob2 = 0;
  for (let i = 0; i < w.length; i++) frob2 += w[i] * w[i];
  return frob2 / (sigma * sigma);
}

/** The stable rank of a weight matrix of a run, or NaN where it has none worth a number: all zeros, or diverged. */
export function stableRankOrNaN(w: ArrayLike<number>, rows: number, cols: number): number {
  let finite = true;
  let nonzero = false;
  for (let i = 0; i < w.length; i++) {
    finite &&= Number.isFinite(w[i]);
    nonzero ||= w[i] !== 0;
  }
  return finite && nonzero ? stableRank(w, rows, cols) : Number.NaN;
}
