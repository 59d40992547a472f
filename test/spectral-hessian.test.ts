// Loss, gradient, Hessian-vector products and curvature at perturbed parameters on the GPU, against the float64
// reference model (src/reference), on tiny models after some training:
// - probing (HVP Lanczos, probeModes, a perturbed loss and gradient) between training steps changes nothing:
//   train, probe, train gives bit-identical parameters, Adam moments, gradients and split accumulator to train, train;
// - Hessian-vector products (central differences of float32 GPU gradients, e = 1e-3 ||theta_attn||) against the dense
//   float64 Hessian (central differences of float64 reference gradients, h = 1e-5): one product within 1% of
//   ||Hv||, and the top 3 eigenvalues from Lanczos on the GPU products within 1% of |lambda_1| of the dense ones;
// - probeModes on a graph of another batch shape: curvature against the same finite difference in float64 (atol
//   8 * 2^-24 * L / e^2 + 1% relative: the float32 losses carry rounding noise of a few 1e-8 L, which the second
//   difference divides by e^2 ~ 2e-5, about 0.016 here) and of that finite difference against the dense v^T H v (5%:
//   its own truncation), gradient projections within 1e-3 ||grad|| of the float64 ones;
// - the perturbed loss and gradient against the reference at theta + eps d (the whole-model tolerances).
import { describe, expect, it } from 'vitest';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { TINY_CASES, type TinyCase } from './helpers/tiny-models';
import { Rng } from '../src/util/random';
import { at } from '../src/gpu/runtime';
import type { Batch } from '../src/model/batch';
import type { BatchShape } from '../src/formats/model-config';
import type { ParamTable } from '../src/model/params';
import { buildTransformerGraph } from '../src/model/transformer';
import { referenceLossAndGrad } from '../src/reference/model';
import { syntheticBatch } from '../src/tasks/synthetic';
import { TrainingEngine } from '../src/model/engine';
import type { OptimConfig } from '../src/formats/optim';
import { LanczosSolver } from '../src/spectral/lanczos';
import { hessianOperator, probeModes } from '../src/spectral/hessian';
import { ParamProbe, type ParamSlice } from '../src/spectral/param-probe';

const optim: OptimConfig = { lr: 1e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

async function trainedEngine(c: TinyCase, steps: number): Promise<TrainingEngine> {
  const engine = await TrainingEngine.create(await testRuntime(), { config: c.config, shape: c.shape, optim, seed: 9 });
  for (let s = 0; s < steps; s++) engine.step(syntheticBatch(c.config, c.shape, 100 + s));
  return engine;
}

/** Reference loss and gradient slice at `params` with `delta` added to the slice (all float64). */
function referenceAt(c: TinyCase, shape: BatchShape, table: ParamTable, params: Float64Array, slice: ParamSlice, batch: Batch, delta?: ArrayLike<number>) {
  const p = Float64Array.from(params);
  if (delta) for (let i = 0; i < slice.size; i++) p[slice.offset + i] += delta[i];
  const r = referenceLossAndGrad(c.config, table, p, shape, batch);
  return { loss: r.loss, grad: r.grad.subarray(slice.offset, slice.offset + slice.size) };
}

/** The dense Hessian of the loss with respect to the slice: central differences of float64 reference gradients. */
function denseHessian(c: TinyCase, table: ParamTable, params: Float64Array, slice: ParamSlice, batch: Batch, h = 1e-5): Float64Array[] {
  const n = slice.size;
  const columns = Array.from({ length: n }, (_, i) => {
    const e = new Float64Array(n);
    e[i] = h;
    const plus = referenceAt(c, c.shape, table, params, slice, batch, e).grad;
    e[i] = -h;
    const minus = referenceAt(c, c.shape, table, params, slice, batch, e).grad;
    return plus.map((x, r) => (x - minus[r]) / (2 * h));
  });
  return Array.from({ length: n }, (_, r) => Float64Array.from({ length: n }, (_, j) => (columns[j][r] + columns[r][j]) / 2));
}

function unitVector(rng: Rng, n: number): Float32Array {
  const v = Float64Array.from({ length: n }, () => rng.normal());
  const norm = Math.sqrt(dot(v, v));
  return Float32Array.from(v, (x) => x / norm);
}

describe('probing between training steps', () => {
  it('leaves training bit-identical: train, probe, train == train, train', async () => {
    const rt = await testRuntime();
    const c = TINY_CASES[1];
    const create = () => TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 4, splitSlice: { offset: 0, size: 300 } });
    const [probed, plain] = [await create(), await create()];
    const batchAt = (s: number) => syntheticBatch(c.config, c.shape, 50 + s);
    for (let s = 0; s < 3; s++) for (const e of [probed, plain]) e.step(batchAt(s));

    const probeBatch = syntheticBatch(c.config, c.shape, 999);
    const P = probed.table.attn.size;
    const hvp = await hessianOperator(probed, probeBatch);
    const solver = await LanczosSolver.create(rt, P, { k: 2, maxIterations: 6 });
    await solver.solve(hvp, { seed: 2 });
    const directions = rt.storageFrom('directions', Float32Array.from({ length: 2 * P }, (_, i) => Math.sin(i) / Math.sqrt(P / 2)));
    await probeModes(probed, probeBatch, { buffer: directions, P, vectorOffset: (j) => j * P }, 2);
    const probe = await ParamProbe.create(probed);
    await probe.lossAndGradient(probeBatch, { direction: at(directions), eps: 0.3, gradient: at(rt.storage('g', P * 4)) });

    expect(probed.stepCount).toBe(3);
    expect(await probed.readGrads()).toEqual(await plain.readGrads());
    for (let s = 3; s < 6; s++) {
      const [a, b] = await Promise.all([probed, plain].map((e) => e.step(batchAt(s), { readback: true })));
      expect(a).toEqual(b);
    }
    const [a, b] = await Promise.all([probed, plain].map((e) => e.exportState()));
    expect(a.params).toEqual(b.params);
    expect(a.m).toEqual(b.m);
    expect(a.v).toEqual(b.v);
    expect(a.step).toBe(b.step);
    const split = (e: TrainingEngine) => rt.readF32(e.splitAccumulator!.buffer, 0, 600);
    expect(await split(probed)).toEqual(await split(plain));
    solver.destroy();
    hvp.destroy();
    probe.destroy();
  });
});

describe('Hessian of the loss over theta_attn on a tiny multitask model vs float64', () => {
  const c = TINY_CASES[3];
  const batch = syntheticBatch(c.config, c.shape, 77);

  it('Hessian-vector products and Lanczos top-3 eigenvalues match the dense float64 Hessian', async () => {
    const rt = await testRuntime();
    const engine = await trainedEngine(c, 20);
    const slice = engine.table.attn;
    const params = Float64Array.from(await engine.readParams());
    const H = denseHessian(c, engine.table, params, slice, batch);
    const eig = new EigenvalueDecomposition(new Matrix(H.map((r) => Array.from(r))), { assumeSymmetric: true });
    const reference = [...eig.realEigenvalues].sort((x, y) => y - x);
    const lambda1 = Math.abs(reference[0]);

    const hvp = await hessianOperator(engine, batch);
    const v = unitVector(new Rng(3), slice.size);
    const x = rt.storageFrom('x', v);
    const y = rt.storage('y', slice.size * 4);
    rt.device.queue.submit([hvp.apply(rt.device.createCommandEncoder(), at(x), at(y)) as GPUCommandEncoder].map((e) => e.finish()));
    const gpuHv = await rt.readF32(y);
    const refHv = H.map((row) => dot(row, v));
    const productError = Math.sqrt(dot(gpuHv.map((g, i) => g - refHv[i]), gpuHv.map((g, i) => g - refHv[i]))) / Math.sqrt(dot(refHv, refHv));
    expect(productError).toBeLessThan(1e-2);

    const solver = await LanczosSolver.create(rt, slice.size, { k: 3 });
    const result = await solver.solve(hvp, { seed: 4 });
    const errors = result.pairs.map((p, i) => Math.abs(p.value - reference[i]) / lambda1);
    console.log(
      `HVP: step ${hvp.step.toExponential(2)}, ||Hv - Hv_ref|| / ||Hv_ref|| = ${productError.toExponential(2)}; top-3 dense`,
      reference.slice(0, 4).map((l) => l.toFixed(5)).join(' '),
      '| Lanczos', result.pairs.map((p) => p.value.toFixed(5)).join(' '),
      '| rel. errors', errors.map((e) => e.toExponential(1)).join(' '),
      '| residuals', result.pairs.map((p) => p.residual!.toExponential(1)).join(' '),
      '| iterations', result.iterations,
    );
    for (const [i, e] of errors.entries()) expect(e, `eigenvalue ${i + 1}`).toBeLessThan(1e-2);
    solver.destroy();
    hvp.destroy();
  });

  it('probeModes (on a graph of another batch shape) and the perturbed loss and gradient match float64', async () => {
    const rt = await testRuntime();
    const engine = await trainedEngine(c, 20);
    const slice = engine.table.attn;
    const P = slice.size;
    const shape: BatchShape = { ...c.shape, batch: 9 };
    const testBatch = syntheticBatch(c.config, shape, 78);
    const graph = await buildTransformerGraph(rt, engine.config, engine.state, shape, { backward: true });
    const params = Float64Array.from(await engine.readParams());

    // Directions at element 5 of their buffer: the top Hessian eigenvector of this batch, and two random ones.
    const testCase = { ...c, shape };
    const H = denseHessian(testCase, engine.table, params, slice, testBatch);
    const eig = new EigenvalueDecomposition(new Matrix(H.map((r) => Array.from(r))), { assumeSymmetric: true });
    const top = eig.realEigenvalues.indexOf(Math.max(...eig.realEigenvalues));
    const rng = new Rng(12);
    const vectors = [Float32Array.from(eig.eigenvectorMatrix.getColumn(top)), unitVector(rng, P), unitVector(rng, P)];
    const packed = new Float32Array(5 + 3 * P);
    vectors.forEach((v, j) => packed.set(v, 5 + j * P));
    const directions = { buffer: rt.storageFrom('directions', packed), P, vectorOffset: (j: number) => 5 + j * P };

    const modes = await probeModes(engine, testBatch, directions, 3, { graph });
    const thetaNorm = Math.sqrt(dot(params.subarray(0, P), params.subarray(0, P)));
    expect(modes.step).toBeCloseTo(1e-3 * thetaNorm, 8);
    const base = referenceAt(testCase, shape, engine.table, params, slice, testBatch);
    const gradNorm = Math.sqrt(dot(base.grad, base.grad));
    // The float32 noise floor of the curvature: a few rounding units of the loss, over e^2.
    const floor = (8 * 2 ** -24 * base.loss) / modes.step ** 2;
    expect(Math.abs(modes.loss - base.loss)).toBeLessThan(1e-4 * (1 + base.loss));
    vectors.forEach((v, j) => {
      const e = modes.step;
      const lossAt = (sign: number) => referenceAt(testCase, shape, engine.table, params, slice, testBatch, Float64Array.from(v, (x) => sign * e * x)).loss;
      const fd = (lossAt(1) + lossAt(-1) - 2 * base.loss) / e ** 2;
      const exact = dot(v, H.map((row) => dot(row, v)));
      console.log(`mode ${j}: curvature GPU ${modes.curvature[j].toFixed(5)}, float64 FD ${fd.toFixed(5)}, v^T H v ${exact.toFixed(5)}; G GPU ${modes.gradientProjection[j].toExponential(4)}, float64 ${dot(v, base.grad).toExponential(4)}`);
      expect(Math.abs(modes.curvature[j] - fd), `curvature ${j} vs float64 finite difference`).toBeLessThan(floor + 1e-2 * Math.abs(fd));
      expect(Math.abs(fd - exact), `float64 finite difference ${j} vs v^T H v`).toBeLessThan(5e-2 * Math.abs(exact) + 1e-3);
      expect(Math.abs(modes.gradientProjection[j] - dot(v, base.grad)), `gradient projection ${j}`).toBeLessThan(1e-3 * gradNorm);
    });

    // One perturbed point through the plain probe API, on the engine's own graph and batch shape.
    const probe = await ParamProbe.create(engine);
    const gradient = rt.storage('gradient', P * 4);
    const eps = 0.05;
    const loss = await probe.lossAndGradient(batch, { direction: at(directions.buffer, 5 + P), eps, gradient: at(gradient) });
    const ref = referenceAt(c, c.shape, engine.table, params, slice, batch, Float64Array.from(vectors[1], (x) => eps * x));
    expectClose([loss], [ref.loss], { atol: 1e-4, rtol: 1e-4 }, 'perturbed loss');
    const scale = Math.max(...Array.from(ref.grad, Math.abs));
    expectClose(await rt.readF32(gradient), ref.grad, { atol: 1e-5 + 1e-3 * scale, rtol: 0 }, 'perturbed gradient');
    expect(Float64Array.from(await engine.readParams())).toEqual(params);
    probe.destroy();
  });

  it('rejects directions that do not fit the slice', async () => {
    const rt = await testRuntime();
    const engine = await trainedEngine(c, 1);
    const P = engine.table.attn.size;
    const buffer = rt.storage('short', 2 * P * 4);
    await expect(probeModes(engine, batch, { buffer, P: P - 1, vectorOffset: (j) => j * P }, 1)).rejects.toThrow(/directions have \d+ floats, the parameter slice \d+/);
    await expect(probeModes(engine, batch, { buffer, P, vectorOffset: (j) => j * P + 1 }, 2)).rejects.toThrow(/direction 1 at element \d+ does not fit/);
  });
});
