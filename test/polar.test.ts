// Newton-Schulz polar factor and Low-Rank Decay on the GPU (float32) against float64 oracles:
//   the same K Newton-Schulz iterations in float64: relative Frobenius error <= 1e-5, elementwise
//     |gpu - ref| <= 1e-5 + 1e-4 |ref|;
//   the exact polar factor U V^T (ml-matrix SVD): five iterations are only an approximation, so the GPU's distance to
//     U V^T must equal the float64 iteration's (to 1e-5); with 30 iterations on a well-conditioned matrix the GPU
//     result is U V^T to 1e-5 elementwise.
// Ragged shapes cover every matmul path (skinny and tiled, wide, square and tall), and the update is applied in place
// to W_K of a parameter table, whose other parameters must stay bit-identical.
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { at, type GpuRuntime } from '../src/gpu/runtime';
import { buildParamTable, initParams } from '../src/model/params';
import { lowRankDecay, newtonSchulzPolar } from '../src/model/ops/polar';
import { newtonSchulz64 } from '../src/reference/polar';
import { Rng } from '../src/util/random';
import { expectClose } from './helpers/close';
import { testRuntime } from './helpers/gpu';

const TOL = { atol: 1e-5, rtol: 1e-4 };

const toMatrix = (w: ArrayLike<number>, rows: number, cols: number) =>
  new Matrix(Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => w[i * cols + j])));

/** U V^T from the thin SVD, float64. */
function exactPolar(w: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const svd = new SingularValueDecomposition(toMatrix(w, rows, cols), { autoTranspose: true });
  const k = Math.min(rows, cols);
  const u = svd.leftSingularVectors.subMatrix(0, rows - 1, 0, k - 1);
  const v = svd.rightSingularVectors.subMatrix(0, cols - 1, 0, k - 1);
  return Float64Array.from(u.mmul(v.transpose()).to1DArray());
}

function relativeDistance(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    d += (x[i] - y[i]) ** 2;
    n += y[i] ** 2;
  }
  return Math.sqrt(d / n);
}

const randomMatrix = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal() * 0.1);

/** Runs newtonSchulzPolar on w placed at a ragged offset of a buffer and reads polar(W) back. */
async function gpuPolar(rt: GpuRuntime, w: Float32Array, rows: number, cols: number, iterations?: number): Promise<Float32Array> {
  const offset = 7;
  const data = new Float32Array(offset + w.length + 5);
  data.set(w, offset);
  const buffer = rt.storageFrom('polar.test.w', data);
  const op = await newtonSchulzPolar(rt, { w: at(buffer, offset), rows, cols, iterations });
  rt.run(op.dispatches);
  const out = await rt.readF32(op.polar.buffer, op.polar.offset, rows * cols);
  buffer.destroy();
  return out;
}

describe('Newton-Schulz polar factor on the GPU', () => {
  const shapes = [[37, 53], [64, 64], [128, 32], [12, 40], [45, 9]];

  it('matches five float64 Newton-Schulz iterations, and is as far from U V^T as they are', async () => {
    const rt = await testRuntime();
    const rng = new Rng(17);
    for (const [rows, cols] of shapes) {
      const w = randomMatrix(rng, rows * cols);
      const got = await gpuPolar(rt, w, rows, cols);
      const ref = newtonSchulz64(w, rows, cols, 5);
      const what = `${rows} x ${cols}`;
      expect(relativeDistance(got, ref), what).toBeLessThan(1e-5);
      expectClose(got, ref, TOL, what);
      const exact = exactPolar(w, rows, cols);
      expect(Math.abs(relativeDistance(got, exact) - relativeDistance(ref, exact)), what).toBeLessThan(1e-5);
    }
  });

  it('converges to U V^T on well-conditioned matrices with more iterations', async () => {
    const rt = await testRuntime();
    const rng = new Rng(3);
    for (const [rows, cols] of [[48, 48], [40, 24], [20, 33]]) {
      const k = Math.min(rows, cols);
      const orthonormal = (n: number) => new QrDecomposition(new Matrix(Array.from({ length: n }, () => Array.from({ length: k }, () => rng.normal())))).orthogonalMatrix;
      const s = Matrix.diag(Array.from({ length: k }, (_, i) => 0.5 + (0.5 * i) / k));
      const w = Float32Array.from(orthonormal(rows).mmul(s).mmul(orthonormal(cols).transpose()).to1DArray());
      const exact = exactPolar(w, rows, cols);
      expect(relativeDistance(await gpuPolar(rt, w, rows, cols), exact), 'five iterations are not there yet').toBeGreaterThan(1e-2);
      expectClose(await gpuPolar(rt, w, rows, cols, 30), exact, { atol: 1e-5, rtol: 0 }, `${rows} x ${cols}, 30 iterations`);
    }
  });

  it('gives polar(0) = 0, not NaN', async () => {
    const rt = await testRuntime();
    const got = await gpuPolar(rt, new Float32Array(20 * 30), 20, 30);
    expect(got.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad shapes, iteration counts and rates', async () => {
    const rt = await testRuntime();
    const w = at(rt.storage('polar.test.bad', 64));
    await expect(newtonSchulzPolar(rt, { w, rows: 0, cols: 4 })).rejects.toThrow(/rows must be a positive integer/);
    await expect(newtonSchulzPolar(rt, { w, rows: 4, cols: 4, iterations: 0 })).rejects.toThrow(/iterations/);
    await expect(lowRankDecay(rt, { w, rows: 4, cols: 4, rate: -1 })).rejects.toThrow(/rate must be finite and >= 0/);
    await expect(newtonSchulzPolar(rt, { w, rows: 5, cols: 4 })).rejects.toThrow(/needs elements/);
  });
});

describe('Low-Rank Decay', () => {
  it('updates W_K of a parameter table in place, W <- W - rate polar(W), and nothing else; setRate takes effect', async () => {
    const rt = await testRuntime();
    const table = buildParamTable({ nLayers: 2, dModel: 40, nHeads: 4, dFF: 37, vocabSize: 11, maxPositions: 4, nClasses: 7, causal: false, posInitStd: 0.3 });
    const slice = table.get('layers.1.attn.wk');
    const [rows, cols] = slice.shape;
    const initial = initParams(table, 9);
    const params = rt.storageFrom('polar.test.params', initial);
    const op = await lowRankDecay(rt, { w: at(params, slice.offset), rows, cols, rate: 0.01 });

    let expected = Float64Array.from(initial);
    for (const rate of [0.01, 0.05]) {
      if (rate !== 0.01) op.setRate(rate);
      const w = expected.subarray(slice.offset, slice.offset + slice.size);
      const polar = newtonSchulz64(w, rows, cols, 5);
      for (let i = 0; i < slice.size; i++) expected[slice.offset + i] -= rate * polar[i];
      rt.run(op.dispatches);
      const got = await rt.readF32(params, 0, table.total);
      const range = [slice.offset, slice.offset + slice.size] as const;
      expectClose(got.subarray(...range), expected.subarray(...range), { atol: 1e-6, rtol: 1e-5 }, `W_K after rate ${rate}`);
      expect(got.subarray(0, slice.offset)).toEqual(initial.subarray(0, slice.offset));
      expect(got.subarray(slice.offset + slice.size)).toEqual(initial.subarray(slice.offset + slice.size));
      expected = Float64Array.from(got); // continue from the GPU's W, so errors do not compound
    }
    expect(() => op.setRate(Number.NaN)).toThrow(/rate/);
  });
});
