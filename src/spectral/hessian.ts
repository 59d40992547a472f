// The loss Hessian with respect to a parameter slice (theta_attn by default), by finite differences on the GPU
// (docs/science.md §3), through the parameter probe (src/spectral/param-probe.ts), which restores theta exactly afterwards:
//   hessianOperator: Hv ~ (grad L(theta + e v) - grad L(theta - e v)) / (2e) as a Lanczos operator, so
//                    LanczosSolver gives the top Hessian eigenvalues;
//   probeModes:      curvature along unit directions v_j, h_j = v_j^T H v_j ~ (L(theta + e v_j) + L(theta - e v_j)
//                    - 2 L(theta)) / e^2, and the gradient projections G_j = <v_j, grad L(theta)> (the inputs of the
//                    gap flow equation, src/spectral/gap-flow.ts).
//
// The step: e = relativeStep * ||theta_slice|| (default 1e-3, docs/science.md §3's e = 0.001 ||theta_attn||), for unit v.
// Its scale is a float32 compromise. The central differences are exact up to O(e^2) (third and fourth derivatives
// of the loss), which wants e small; but theta + e v is rounded to float32 element by element, an error of about
// 6e-8 |theta_i| against a perturbation e |v_i|, and for v spread over the slice that is a relative error of about
// 6e-8 ||theta|| / e = 6e-5 in the direction actually probed; and the float32 gradients (losses) carry rounding
// noise of relative size ~1e-6 (~1e-7) that the difference divides by e (e^2). At 1e-3 ||theta|| all three are small
// for the models here; test/spectral-hessian.test.ts measures the result against float64 references. The curvature
// from losses is the noisier of the two: the losses' rounding noise, a few 1e-8 L, divided by e^2, so curvatures
// below about 1e-7 L / e^2 are not resolved (0.005 for the tiny test model, whose e is 4e-3; ~1e-3 L for the paper
// models' e ~ 0.02). Hessian-vector products divide gradient noise by e only.
import { NonFiniteError, assertFinite } from '../util/non-finite';
import { at, type TensorRef } from '../gpu/runtime';
import type { Batch } from '../model/batch';
import type { TrainingEngine } from '../model/engine';
import type { GpuOperator } from './lanczos';
import { ParamProbe, type ProbeOptions } from './param-probe';
import { axpyCall, dotsCall, partsFor, scheduleSums, VectorOp } from './vector-ops';

export interface FiniteDifferenceOptions extends ProbeOptions {
  /** e = relativeStep * ||theta_slice||. Default 1e-3. */
  relativeStep?: number;
}

export interface HessianOperator extends GpuOperator {
  /** The finite-difference step e. */
  readonly step: number;
  destroy(): void;
}

/** Unit directions over the slice: vector j is `P` floats from element `vectorOffset(j)` of `buffer`. */
export interface DirectionSet {
  buffer: GPUBuffer;
  P: number;
  vectorOffset(j: number): number;
}

export interface ModeProbe {
  /** h_j = v_j^T H v_j for j < k. */
  curvature: number[];
  /** G_j = <v_j, grad L(theta)> for j < k. */
  gradientProjection: number[];
  /** L(theta) on the batch. */
  loss: number;
  /** The finite-difference step e. */
  step: number;
}

async function probeWithStep(engine: TrainingEngine, options: FiniteDifferenceOptions): Promise<{ probe: ParamProbe; step: number }> {
  const { relativeStep = 1e-3 } = options;
  if (!(relativeStep > 0 && Number.isFinite(relativeStep))) throw new Error(`relativeStep must be a positive finite number, got ${relativeStep}`);
  const probe = await ParamProbe.create(engine, options);
  const norm = await probe.sliceNorm();
  if (!Number.isFinite(norm)) {
    probe.destroy();
    throw new NonFiniteError('the probed parameters\' norm', [norm]);
  }
  const step = relativeStep * norm;
  if (!(step > 0 && Number.isFinite(step))) {
    probe.destroy();
    throw new Error(`the finite-difference step is relativeStep * ||theta_slice|| = ${relativeStep} * ${norm}: it must be positive and finite`);
  }
  probe.setStep(step);
  return { probe, step };
}

/**
 * Hessian-vector products on `batch` as a GpuOperator over the slice. Each application uploads the batch (before
 * the next submit) and runs two forward+backward passes; theta and the gradient buffer are restored after each.
 */
export async function hessianOperator(engine: TrainingEngine, batch: Batch, options: FiniteDifferenceOptions = {}): Promise<HessianOperator> {
  const rt = engine.runtime;
  const { probe, step } = await probeWithStep(engine, options);
  const size = probe.slice.size;
  const gradPlus = rt.storage('hessian.gradPlus', size * 4);
  const output = rt.storage('hessian.output', size * 4);
  const difference = await VectorOp.create(rt, axpyCall({ x: at(gradPlus), y: probe.gradient, out: at(output), n: size, alpha: 1 / (2 * step), beta: -1 / (2 * step) }));
  const copy = (encoder: GPUCommandEncoder, from: TensorRef, to: TensorRef) => encoder.copyBufferToBuffer(from.buffer, from.offset * 4, to.buffer, to.offset * 4, size * 4);
  return {
    size,
    step,
    apply(encoder, x, y) {
      probe.graph.setBatch(batch);
      probe.encodeSave(encoder);
      probe.encodeDirection(encoder, x);
      probe.encodeEvaluate(encoder, 1, true);
      copy(encoder, probe.gradient, at(gradPlus));
      probe.encodeEvaluate(encoder, -1, true);
      rt.encode(encoder, [difference.dispatch]);
      probe.encodeRestore(encoder);
      copy(encoder, at(output), y);
      return encoder;
    },
    destroy() {
      probe.destroy();
      gradPlus.destroy();
      output.destroy();
    },
  };
}

/**
 * Curvature and gradient projection along the first k directions (unit vectors over the slice, e.g. the spectral
 * edge's K x P edge vectors over theta_attn), on `batch`: 2k + 1 forward passes and one backward pass, all in one
 * submit with one read back; theta and the gradient buffer are restored exactly.
 */
export async function probeModes(engine: TrainingEngine, batch: Batch, directions: DirectionSet, k: number, options: FiniteDifferenceOptions = {}): Promise<ModeProbe> {
  const rt = engine.runtime;
  if (!Number.isInteger(k) || k < 1) throw new Error(`probeModes: k must be a positive integer, got ${k}`);
  const { probe, step } = await probeWithStep(engine, options);
  try {
    const P = probe.slice.size;
    if (directions.P !== P) throw new Error(`probeModes: the directions have ${directions.P} floats, the parameter slice ${P}`);
    for (let j = 0; j < k; j++) {
      const offset = directions.vectorOffset(j);
      if (!Number.isInteger(offset) || offset < 0 || offset + P > directions.buffer.size / 4) {
        throw new Error(`probeModes: direction ${j} at element ${offset} does not fit in its buffer of ${directions.buffer.size / 4} floats`);
      }
    }
    const rows = batch.targets.length;
    const parts = partsFor(P);
    const losses = rt.storage('probeModes.losses', (2 * k + 1) * rows * 4);
    const dots = rt.storage('probeModes.dots', k * parts * 4);
    const partials = rt.storage('probeModes.partials', parts * 4);
    const projection = await VectorOp.create(rt, dotsCall({ a: probe.direction, b: probe.gradient, partials: at(partials), n: P, rows: 1 }));

    probe.graph.setBatch(batch);
    const encoder = rt.device.createCommandEncoder({ label: 'probeModes' });
    const keepLosses = (slot: number) => encoder.copyBufferToBuffer(probe.graph.losses, 0, losses, slot * rows * 4, rows * 4);
    probe.encodeSave(encoder);
    probe.encodeEvaluate(encoder, 0, true);
    keepLosses(0);
    for (let j = 0; j < k; j++) {
      probe.encodeDirection(encoder, at(directions.buffer, directions.vectorOffset(j)));
      rt.encode(encoder, [projection.dispatch]);
      encoder.copyBufferToBuffer(partials, 0, dots, j * parts * 4, parts * 4);
      probe.encodeEvaluate(encoder, 1, false);
      keepLosses(2 * j + 1);
      probe.encodeEvaluate(encoder, -1, false);
      keepLosses(2 * j + 2);
    }
    probe.encodeRestore(encoder);
    const readLosses = rt.scheduleRead(encoder, losses, 0, (2 * k + 1) * rows * 4);
    const readDots = scheduleSums(rt, encoder, at(dots), P, k);
    rt.device.queue.submit([encoder.finish()]);
    const [lossValues, gradientProjection] = await Promise.all([readLosses().then((b) => new Float32Array(b)), readDots()]);
    for (const buffer of [losses, dots, partials]) buffer.destroy();

    const lossAt = (slot: number) => probe.meanLoss(lossValues.subarray(slot * rows, (slot + 1) * rows), batch);
    const loss = lossAt(0);
    const curvature = Array.from({ length: k }, (_, j) => (lossAt(2 * j + 1) + lossAt(2 * j + 2) - 2 * loss) / step ** 2);
    assertFinite('the mode probe\'s loss, curvatures and gradient projections', [loss, ...curvature, ...gradientProjection]);
    return { curvature, gradientProjection: Array.from(gradientProjection), loss, step };
  } finally {
    probe.destroy();
  }
}
