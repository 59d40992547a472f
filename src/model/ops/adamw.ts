// The optimiser step on the GPU in two dispatches: shaders/reduce.wgsl writes per-workgroup sums of g^2,
// shaders/adamw.wgsl adds them into the global norm, clips, and applies AdamW to params, m and v in place.
// Both are built once; `setStep` rewrites the AdamW uniform each step (bias corrections, and lr / wd,
// which the user may change mid-run), so nothing is rebuilt. Which parameters are decayed is a bit mask fixed
// at creation (src/formats/optim.ts: every parameter unless Low-Rank Decay takes some matrices over).
import reduceSource from '../../../shaders/reduce.wgsl?raw';
import adamwSource from '../../../shaders/adamw.wgsl?raw';
import { f32, groups, u32, type Dispatch, type GpuRuntime, type Scalar, type TensorRef } from '../../gpu/runtime';
import type { OptimConfig, DecayMask } from '../../formats/optim';

const sumOfSquaresKernel = { label: 'reduce.sum_of_squares', code: reduceSource };

const adamwKernel = { label: 'adamw', code: adamwSource };

/**
 * Where the optimiser accumulates the gradient/decay split of a parameter slice: `buffer` holds [2 * count]
 * floats, the decay parts then the Adam (gradient) parts, summed over the steps until someone zeroes them.
 */
export interface SplitAccumulator {
  buffer: GPUBuffer;
  start: number;
  count: number;
}

/** Threads per workgroup: WG in reduce.wgsl and in adamw.wgsl. Both kernels grid-stride, so any grid covers n. */
const REDUCE_WORKGROUP_SIZE = 64;
const ADAMW_WORKGROUP_SIZE = 256;
/**
 * One partial sum per reduce workgroup, whose threads take ~64 gradients each, and at most 256 partials:
 * every AdamW thread adds all of them serially, and on software adapters each reduce workgroup (it has
 * barriers) is expensive, so the partials stay few for the small models.
 */
const GRADS_PER_PARTIAL = 64 * REDUCE_WORKGROUP_SIZE;
const MAX_PARTIALS = 256;
/** 1024 x 256 AdamW threads fill a large GPU; a 4M-parameter model then takes 16 elements a thread. */
const MAX_ADAMW_WORKGROUPS = 1024;
/**
 * A CPU implementation runs 16 x 256 threads on its few cores as well as more, and every thread adds all the partials
 * first: with a thread per element that sum was most of the step's AdamW on SwiftShader (quick-dyck 10.6 -> 2 ms).
 * Each element's update is the same whichever thread makes it.
 */
const MAX_ADAMW_WORKGROUPS_SOFTWARE = 16;

export interface OptimizerOp {
  /** [sum of squares, AdamW]: encode both, in this order, once per step. */
  dispatches: Dispatch[];
  /** Writes the uniforms for step t (t = 1 for the first step); call before every step's submit. */
  setStep(step: number, hyper: OptimConfig): void;
  /** The AdamW uniform buffer and what setStep writes into it for step t (several steps in one submission copy them in). */
  uniform: GPUBuffer;
  stepParams(step: number, hyper: OptimConfig): Scalar[];
}

export async function adamw(
  rt: GpuRuntime,
  a: {
    params: GPUBuffer; grads: GPUBuffer; m: GPUBuffer; v: GPUBuffer; gradNorm: TensorRef; n: number; split?: SplitAccumulator;
    /** Which parameters AdamW decays (src/formats/optim.ts); every one unless given. */
    decayMask?: DecayMask;
  },
): Promise<OptimizerOp> {
  const { params, grads, m, v, gradNorm, n, split } = a;
  if (split && !(split.start >= 0 && split.count > 0 && split.start + split.count <= n && split.buffer.size >= split.count * 8)) {
    throw new Error(`adamw: the split slice [${split.start}, ${split.start + split.count}) must lie in [0, ${n}) with a buffer of ${2 * split.count} floats`);
  }
  if (!Number.isInteger(n) || n < 1) throw new Error(`adamw: n must be a positive integer, got ${n}`);
  for (const [name, buffer] of [['params', params], ['grads', grads], ['m', m], ['v', v]] as const) {
    if (buffer.size < n * 4) throw new Error(`adamw: ${name} holds ${buffer.size / 4} floats, fewer than n = ${n}`);
  }
  if (new Set([params, grads, m, v, gradNorm.buffer]).size !== 5) {
    throw new Error('adamw: params, grads, m, v and gradNorm must live in five distinct buffers');
  }

  const maskWords = Math.ceil(n / 32);
  if (a.decayMask && a.decayMask.length !== maskWords) throw new Error(`adamw: the decay mask of ${n} parameters has ${maskWords} words, got ${a.decayMask.length}`);
  const mask = rt.storageFrom('adamw.decay_mask', a.decayMask ?? new Uint32Array(maskWords).fill(0xffffffff));

  const numPartials = Math.min(MAX_PARTIALS, groups(n, GRADS_PER_PARTIAL));
  const partials = rt.storage('adamw.grad_sq_partials', numPartials * 4);
  const sumOfSquares = await rt.dispatch(sumOfSquaresKernel, { params: [u32(n)], buffers: [grads, partials], workgroups: [numPartials] });

  // The AdamW uniform, field for field as in adamw.wgsl's Params.
  const uniforms = (u: { clipNorm: number; lrWd: number; beta1: number; beta2: number; stepSize: number; sqrtBc2: number; eps: number }): Scalar[] => [
    u32(n), u32(numPartials), u32(gradNorm.offset),
    f32(u.clipNorm), f32(u.lrWd), f32(u.beta1), f32(u.beta2), f32(u.stepSize), f32(u.sqrtBc2), f32(u.eps),
    u32(split?.start ?? 0), u32(split?.count ?? 0),
  ];
  // Until the first setStep the update is a no-op (betas 1, step size 0) that only writes the norm.
  // Without a split, a placeholder buffer fills the binding (splitCount 0: never touched).
  const splitBuffer = split?.buffer ?? rt.storage('adamw.no_split', 8);
  const update = await rt.dispatch(adamwKernel, {
    params: uniforms({ clipNorm: 1, lrWd: 0, beta1: 1, beta2: 1, stepSize: 0, sqrtBc2: 1, eps: 1 }),
    buffers: [params, grads, m, v, partials, gradNorm.buffer, splitBuffer, mask],
    workgroups: [Math.min(rt.adapter.isSoftware ? MAX_ADAMW_WORKGROUPS_SOFTWARE : MAX_ADAMW_WORKGROUPS, groups(n, ADAMW_WORKGROUP_SIZE))],
  });
  const uniformBuffer = update.params!;

  const stepParams = (step: number, hyper: OptimConfig): Scalar[] => {
    if (!Number.isInteger(step) || step < 1) throw new Error(`adamw: step must be an integer >= 1, got ${step}`);
    // Bias corrections in float64: 1 - beta^t loses most of its digits in float32 for small t.
    const { lr, weightDecay, beta1, beta2, eps, clipNorm } = hyper;
    const stepSize = lr / (1 - beta1 ** step);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** step);
    return uniforms({ clipNorm, lrWd: lr * weightDecay, beta1, beta2, stepSize, sqrtBc2, eps });
  };

  return {
    dispatches: [sumOfSquares, update],
    uniform: uniformBuffer,
    stepParams,
    setStep(step, hyper) {
      rt.writeParams(uniformBuffer, stepParams(step, hyper));
    },
  };
}
