// Lanczos top-k on the GPU against dense float64 eigendecompositions (ml-matrix):
// - X^T X of random low-rank-plus-noise windows of ragged sizes (W 5..40, P a few thousand), against the
//   eigendecomposition of the float64 Gram matrix X X^T of the same (float32-rounded) window;
// - near-degenerate spectra (10, 10 (1 + 1e-6), 9, 8, ...) as a window and as an explicit dense matrix with
//   negative eigenvalues too: both copies of 10 are found, and the Ritz vectors span the right eigenspace;
// - an operator that submits its own work (the asynchronous path) gives the same result as the recorded one.
// Tolerances: eigenvalues |theta - lambda| <= 1e-4 lambda_1; Ritz vectors |cos| > 0.999 where the gap to the
// neighbouring eigenvalues is at least 1% of lambda_1, otherwise the projection onto the eigenspace of the
// near-degenerate cluster has norm > 0.999; measured residuals ||A y - theta y|| <= 1e-4 lambda_1 (float32
// operators: about 1e-6 is typical).
import { describe, expect, it } from 'vitest';
import { EigenvalueDecomposition, Matrix, QrDecomposition } from 'ml-matrix';
import { testRuntime } from './helpers/gpu';
import { Rng } from '../src/util/random';
import { at, type GpuRuntime } from '../src/gpu/runtime';
import { LanczosSolver, type GpuOperator, type LanczosResult } from '../src/spectral/lanczos';
import { denseOperator, windowGramOperator } from '../src/spectral/operators';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** `count` orthonormal float64 vectors of length n (Gram-Schmidt, twice, on normal draws). */
function orthonormalVectors(rng: Rng, count: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let j = 0; j < count; j++) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const u of out) {
        const c = dot(u, v);
        for (let i = 0; i < n; i++) v[i] -= c * u[i];
      }
    }
    const norm = Math.sqrt(dot(v, v));
    out.push(v.map((x) => x / norm));
  }
  return out;
}

interface Reference {
  /** Descending. */
  values: number[];
  /** Unit eigenvectors, same order. */
  vectors: Float64Array[];
}

/** Eigenpairs of X^T X from the float64 Gram X X^T: lambda = sigma^2, v = X^T u / sigma (rows of length P). */
function windowReference(X: Float32Array, W: number, P: number): Reference {
  const row = (w: number) => X.subarray(w * P, (w + 1) * P);
  const gram = Array.from({ length: W }, (_, i) => Array.from({ length: W }, (_, j) => dot(row(i), row(j))));
  const eig = new EigenvalueDecomposition(new Matrix(gram), { assumeSymmetric: true });
  const order = eig.realEigenvalues.map((_, i) => i).sort((a, b) => eig.realEigenvalues[b] - eig.realEigenvalues[a]);
  const values = order.map((i) => eig.realEigenvalues[i]);
  const vectors = order.map((i, r) => {
    const u = eig.eigenvectorMatrix.getColumn(i);
    const v = new Float64Array(P);
    for (let w = 0; w < W; w++) for (let p = 0; p < P; p++) v[p] += u[w] * X[w * P + p];
    const sigma = Math.sqrt(Math.max(values[r], 0));
    return v.map((x) => x / sigma);
  });
  return { values, vectors };
}

/** Checks the Lanczos result against the reference; returns the measured errors for the log. */
async function expectMatches(rt: GpuRuntime, result: LanczosResult, ref: Reference, P: number, what: string) {
  const k = result.pairs.length;
  const lambda1 = Math.abs(ref.values[0]);
  const y = await rt.readF32(result.vectors, 0, k * P);
  const ritz = (i: number) => y.subarray(i * P, (i + 1) * P);
  let worstValue = 0;
  let worstCos = 1;
  let worstResidual = 0;
  for (let i = 0; i < k; i++) {
    const p = result.pairs[i];
    const valueError = Math.abs(p.value - ref.values[i]) / lambda1;
    worstValue = Math.max(worstValue, valueError);
    expect(valueError, `${what}: eigenvalue ${i + 1} = ${p.value}, reference ${ref.values[i]}`).toBeLessThanOrEqual(1e-4);
    expect(p.converged, `${what}: pair ${i + 1} converged`).toBe(true);
    expect(p.residual!, `${what}: measured residual of pair ${i + 1}`).toBeLessThanOrEqual(1e-4 * lambda1);
    worstResidual = Math.max(worstResidual, p.residual!);
    expect(Math.abs(dot(ritz(i), ritz(i)) - 1), `${what}: |y_${i + 1}| = 1`).toBeLessThan(1e-4);
    // The cluster of reference eigenvalues within 1% of lambda_1 of this one: one vector, or a near-degenerate space.
    const cluster = ref.values.flatMap((v, j) => (Math.abs(v - ref.values[i]) < 1e-2 * lambda1 ? [j] : []));
    const inSpace = Math.sqrt(cluster.reduce((s, j) => s + dot(ritz(i), ref.vectors[j]) ** 2, 0));
    worstCos = Math.min(worstCos, inSpace);
    expect(inSpace, `${what}: Ritz vector ${i + 1} in the eigenspace of reference ${cluster.map((j) => j + 1)}`).toBeGreaterThan(0.999);
  }
  return { worstValue, worstCos, worstResidual, iterations: result.iterations, perPair: result.pairs.map((p) => p.iterations) };
}

describe('Lanczos on X^T X of random low-rank-plus-noise windows', () => {
  it.each([
    { W: 5, P: 1999 },
    { W: 17, P: 3001 },
    { W: 40, P: 2503 },
  ])('top 4 of a $W x $P window match the float64 Gram eigendecomposition', async ({ W, P }) => {
    const rt = await testRuntime();
    const rng = new Rng(W * 1000 + P);
    const strengths = [4, 2.5, 1.6, 1, 0.6, 0.3].slice(0, W);
    const basis = strengths.map(() => Float64Array.from({ length: P }, () => rng.normal() / Math.sqrt(P)));
    const X = new Float32Array(W * P);
    for (let w = 0; w < W; w++) {
      const coeffs = strengths.map((s) => s * rng.normal());
      for (let p = 0; p < P; p++) X[w * P + p] = 0.02 * rng.normal() / Math.sqrt(P) + coeffs.reduce((s, c, r) => s + c * basis[r][p], 0);
    }
    const solver = await LanczosSolver.create(rt, P, { k: 4 });
    const result = await solver.solve(await windowGramOperator(rt, at(rt.storageFrom('X', X)), W, P), { seed: 3 });
    const ref = windowReference(X, W, P);
    const errors = await expectMatches(rt, result, ref, P, `${W}x${P}`);
    console.log(`X^T X ${W}x${P}:`, JSON.stringify(errors), 'bounds', result.pairs.map((p) => p.residualBound.toExponential(1)).join(' '));
    solver.destroy();
  });
});

describe('Lanczos on near-degenerate spectra', () => {
  const spectrum = [10, 10 * (1 + 1e-6), 9, 8, 7, 6.5, 6, 5, 4, 3, 2, 1];

  it.each([
    { what: 'a pair, default block size', values: spectrum, blockSize: undefined },
    { what: 'a triple, block size 3', values: [10, 10 * (1 + 1e-6), 10 * (1 - 1e-6), ...spectrum.slice(2)], blockSize: 3 },
  ])('finds every copy of 10 as X^T X of a window with singular values sqrt(spectrum): $what', async ({ values, blockSize }) => {
    const rt = await testRuntime();
    const W = values.length;
    const P = 2001;
    const rng = new Rng(17);
    const u = orthonormalVectors(rng, W, W);
    const v = orthonormalVectors(rng, W, P);
    const X = new Float32Array(W * P);
    for (let w = 0; w < W; w++) for (let p = 0; p < P; p++) X[w * P + p] = values.reduce((s, l, r) => s + u[r][w] * Math.sqrt(l) * v[r][p], 0);
    const solver = await LanczosSolver.create(rt, P, { k: 4, blockSize });
    const result = await solver.solve(await windowGramOperator(rt, at(rt.storageFrom('X', X)), W, P), { seed: 5 });
    const errors = await expectMatches(rt, result, windowReference(X, W, P), P, 'near-degenerate window');
    console.log(`near-degenerate window (${W} values, block ${blockSize ?? 'default'}):`, JSON.stringify(errors), 'residuals', result.pairs.map((p) => p.residual!.toExponential(1)).join(' '));
    solver.destroy();
  });

  it('finds them in a dense 600 x 600 matrix with negative eigenvalues, with the operator recorded or submitting its own work', async () => {
    const rt = await testRuntime();
    const n = 600;
    const rng = new Rng(23);
    const values = [...spectrum.slice(0, 4), ...Array.from({ length: n - 4 }, () => -6 + 12.5 * rng.uniform())].sort((a, b) => b - a);
    const Q = new QrDecomposition(new Matrix(Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal())))).orthogonalMatrix;
    const A = Q.clone().mulRowVector(values).mmul(Q.transpose());
    const matrix = rt.storageFrom('A', Float32Array.from(A.to1DArray()));
    const ref: Reference = { values: values.slice(0, 8), vectors: values.slice(0, 8).map((_, i) => Float64Array.from(Q.getColumn(i))) };

    const recorded = await denseOperator(rt, at(matrix), n);
    const solver = await LanczosSolver.create(rt, n, { k: 4 });
    const result = await solver.solve(recorded, { seed: 8 });
    const errors = await expectMatches(rt, result, ref, n, 'dense near-degenerate');
    console.log('dense near-degenerate:', JSON.stringify(errors), 'residuals', result.pairs.map((p) => p.residual!.toExponential(1)).join(' '));
    const vectors = await rt.readF32(result.vectors, 0, 4 * n);

    // The same operator behind an apply that submits and waits for the GPU, then hands back a fresh encoder.
    const submitting: GpuOperator = {
      size: n,
      async apply(encoder, x, y) {
        rt.device.queue.submit([recorded.apply(encoder, x, y) as GPUCommandEncoder].map((e) => e.finish()));
        await rt.finish();
        return rt.device.createCommandEncoder();
      },
    };
    const again = await solver.solve(submitting, { seed: 8 });
    expect(again.pairs).toEqual(result.pairs);
    expect(await rt.readF32(again.vectors, 0, 4 * n)).toEqual(vectors);
    solver.destroy();
  });
});

describe('Lanczos reporting and input checks', () => {
  it('reports unconverged pairs honestly when the iteration budget is too small', async () => {
    const rt = await testRuntime();
    const n = 300;
    const diagonal = new Float32Array(n * n);
    for (let i = 0; i < n; i++) diagonal[i * n + i] = 1 + i / n; // eigenvalues 1 .. 2, densely packed at the top
    const solver = await LanczosSolver.create(rt, n, { k: 2, maxIterations: 6, blockSize: 1 });
    const result = await solver.solve(await denseOperator(rt, at(rt.storageFrom('D', diagonal)), n), { tolerance: 1e-8 });
    expect(result.iterations).toBe(6);
    expect(result.pairs.map((p) => p.converged)).toEqual([false, false]);
    expect(result.pairs.map((p) => p.iterations)).toEqual([6, 6]);
    for (const p of result.pairs) {
      expect(p.value).toBeLessThan(2);
      // The bound is exact arithmetic's residual, which the measured one matches to float32 accuracy.
      expect(Math.abs(p.residual! - p.residualBound)).toBeLessThan(1e-3 * p.residualBound + 1e-5);
      expect(p.residualBound).toBeGreaterThan(1e-8 * 2);
    }
    solver.destroy();
  });

  it('rejects bad sizes and mismatched operators with clear errors', async () => {
    const rt = await testRuntime();
    await expect(LanczosSolver.create(rt, 100, { k: 0 })).rejects.toThrow(/k must be a positive integer/);
    await expect(LanczosSolver.create(rt, 10, { k: 2, maxIterations: 9 })).rejects.toThrow(/maxIterations must be an integer in \[k, size - blockSize\]/);
    const solver = await LanczosSolver.create(rt, 50, { k: 2 });
    const other = await denseOperator(rt, at(rt.storage('M', 60 * 60 * 4)), 60);
    await expect(solver.solve(other)).rejects.toThrow(/acts on 60 floats, the solver on 50/);
    solver.destroy();
  });
});
