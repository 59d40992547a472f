// Symmetric operators for the Lanczos solver (src/spectral/lanczos.ts), each applied entirely on the GPU and
// recorded into the caller's command encoder:
//   windowGramOperator: x -> X^T (X x) for a W x P row-major window X (docs/science.md §2: the spectrum of the update window
//                       by Lanczos, for windows too large for the W x W Gram route); eigenvalues sigma_k^2,
//                       eigenvectors the right singular vectors v_k.
//   denseOperator:      x -> A x for an explicit symmetric n x n matrix (tests, small problems).
// Each operator owns its input and output vectors: `apply` copies x in and the result out around prebuilt
// dispatches, so any x and y (at any offsets) work and one command buffer may hold several applications.
import { at, type Dispatch, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import type { GpuOperator } from './lanczos';
import { combineCall, dotsCall, partsFor, sumPartsCall, VectorOp } from './vector-ops';

/** An operator made of fixed dispatches from its own `input` to its own `output` vector. */
function bufferedOperator(rt: GpuRuntime, size: number, input: GPUBuffer, output: GPUBuffer, dispatches: Dispatch[]): GpuOperator {
  return {
    size,
    apply(encoder, x, y) {
      encoder.copyBufferToBuffer(x.buffer, x.offset * 4, input, 0, size * 4);
      rt.encode(encoder, dispatches);
      encoder.copyBufferToBuffer(output, 0, y.buffer, y.offset * 4, size * 4);
      return encoder;
    },
  };
}

/** X^T X for the window X: `rows` x `cols` row-major at `window` (float32 throughout, dot products summed by part). */
export async function windowGramOperator(rt: GpuRuntime, window: TensorRef, rows: number, cols: number): Promise<GpuOperator> {
  const floats = (label: string, n: number) => rt.storage(`gramOperator.${label}`, n * 4);
  const input = floats('input', cols);
  const output = floats('output', cols);
  const partials = floats('partials', rows * partsFor(cols));
  const projections = floats('projections', rows);
  const ops = [
    // t = X x, then y = X^T t = sum_w t_w X[w, :].
    await VectorOp.create(rt, dotsCall({ a: window, b: at(input), partials: at(partials), n: cols, rows })),
    await VectorOp.create(rt, sumPartsCall({ partials: at(partials), out: at(projections), rows, parts: partsFor(cols) })),
    await VectorOp.create(rt, combineCall({ src: window, coeff: at(projections), out: at(output), n: cols, rows, outRows: 1, keep: false })),
  ];
  return bufferedOperator(rt, cols, input, output, ops.map((o) => o.dispatch));
}

/** A x for a symmetric n x n matrix at `matrix` (computed as A^T x: row r of A scaled by x_r, summed). */
export async function denseOperator(rt: GpuRuntime, matrix: TensorRef, n: number): Promise<GpuOperator> {
  const input = rt.storage('denseOperator.input', n * 4);
  const output = rt.storage('denseOperator.output', n * 4);
  const op = await VectorOp.create(rt, combineCall({ src: matrix, coeff: at(input), out: at(output), n, rows: n, outRows: 1, keep: false }));
  return bufferedOperator(rt, n, input, output, [op.dispatch]);
}
