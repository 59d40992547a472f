// Float64 reference for the Newton-Schulz polar factor and Low-Rank Decay (docs/science.md §4), written independently of the
// GPU op (src/model/ops/polar.ts, which takes the Gram matrix on the smaller side): the iteration exactly as the
// spec states it, X_0 = W / ||W||_F, X_{k+1} = 1.5 X_k - 0.5 X_k X_k^T X_k, on ml-matrix. The oracle for the polar
// op and for a Low-Rank Decay training step.
import { Matrix } from 'ml-matrix';

const toMatrix = (w: ArrayLike<number>, rows: number, cols: number) =>
  new Matrix(Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => w[i * cols + j])));

/** X_K of the Newton-Schulz iteration for the row-major rows x cols matrix w (the zero matrix gives 0). */
export function newtonSchulz64(w: ArrayLike<number>, rows: number, cols: number, iterations: number): Float64Array {
  let x = toMatrix(w, rows, cols);
  const norm = x.norm('frobenius');
  if (norm === 0) return new Float64Array(rows * cols);
  x = x.div(norm);
  for (let k = 0; k < iterations; k++) {
    const cubic = x.mmul(x.transpose()).mmul(x);
    x = x.mul(1.5).sub(cubic.mul(0.5)); // ml-matrix's mul and sub work in place: the cubic term comes first
  }
  return Float64Array.from(x.to1DArray());
}

/** W <- W - rate * X_K in place on the row-major rows x cols matrix w (K iterations, five unless given). */
export function lowRankDecay64(w: Float64Array, rows: number, cols: number, rate: number, iterations = 5): void {
  const polar = newtonSchulz64(w, rows, cols, iterations);
  for (let i = 0; i < w.length; i++) w[i] -= rate * polar[i];
}
