// Newton-Schulz polar factor and the Low-Rank Decay update on the GPU (docs/science.md §4), for one matrix W [rows, cols]
// stored row-major at an offset of some buffer (a W_Q or W_K slice of the flat parameter buffer):
//   X_0 = W / ||W||_F,  X_{k+1} = B_k X_k with B_k = 1.5 I - 0.5 X_k X_k^T   (= 1.5 X_k - 0.5 X_k X_k^T X_k)
//   Low-Rank Decay:     W <- W - rate * X_K                                   (K = 5 by default)
// When rows > cols the Gram matrix is taken on the other side, X_{k+1} = X_k (1.5 I - 0.5 X_k^T X_k), so it is
// always min(rows, cols) on a side. The products run on the matmul kernels (src/model/ops/matmul.ts); the norm, the
// coefficient step and the update on shaders/polar.wgsl. Every step is a prebuilt dispatch and none reads anything
// back, so the whole update can be encoded into a training step's command buffer, after the optimiser. When the
// optimiser accumulates a slice's gradient/decay split (the spectral edge), the update's change -rate * X_K of the
// elements in that slice is added to the split's decay part, as AdamW's own decay is.
// Scratch (one buffer per op): norm partials, ||W||_F^2, X in two ping-pong halves, the m x m Gram matrix.
//
// Five iterations only approximate U V^T: a singular value s of X_0 (s <= 1) becomes about 1.5^5 s ~ 7.6 s while
// small, so directions with s below ~0.1 stay short of 1 (for a random square matrix most of them). That is the
// method as specified; more iterations converge to U V^T wherever s is not tiny.
import source from '../../../shaders/polar.wgsl?raw';
import { instantiateKernel, read, write, type KernelSpec } from '../../gpu/kernel-template';
import { at, f32, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { matmul } from './matmul';
import type { SplitAccumulator } from './adamw';

/** The iteration as docs/science.md §4 states it: X <- linear X + cubic X X^T X, five times. */
export const NEWTON_SCHULZ = { iterations: 5, linear: 1.5, cubic: -0.5 } as const;

/** Invocations per workgroup: WG in shaders/polar.wgsl. */
const WG = 64;
/** The norm's first pass gives each invocation about this many elements, on at most MAX_REDUCE_WORKGROUPS. */
const ELEMENTS_PER_INVOCATION = 64;
const MAX_REDUCE_WORKGROUPS = 4;

export interface PolarArgs {
  /** W [rows, cols] row-major. */
  w: TensorRef;
  rows: number;
  cols: number;
  /** Newton-Schulz iterations; NEWTON_SCHULZ.iterations unless given. */
  iterations?: number;
}

export interface PolarOp {
  /** Encode in this order, after W is final for the step. */
  dispatches: Dispatch[];
  /** Where polar(W) ~ X_K [rows, cols] lies once the dispatches have run (in the op's scratch buffer). */
  polar: TensorRef;
}

export interface LowRankDecayOp extends PolarOp {
  /** Rewrites the decay rate used by the last dispatch (call before the submit that should use it). */
  setRate(rate: number): void;
}

function checkArgs(a: PolarArgs): number {
  for (const dim of ['rows', 'cols'] as const) {
    if (!Number.isInteger(a[dim]) || a[dim] < 1) throw new RangeError(`polar: ${dim} must be a positive integer, got ${a[dim]}`);
  }
  const iterations = a.iterations ?? NEWTON_SCHULZ.iterations;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`polar: iterations must be a positive integer, got ${iterations}`);
  return iterations;
}

function checkRate(rate: number): void {
  if (!Number.isFinite(rate) || rate < 0) throw new RangeError(`low-rank decay: the rate must be finite and >= 0, got ${rate}`);
}

/** One shaders/polar.wgsl kernel dispatched over `threads` invocations. */
async function polarDispatch(rt: GpuRuntime, spec: KernelSpec & { section: string }, threads: number): Promise<Dispatch> {
  const k = instantiateKernel(source, spec);
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [groups(threads, WG)] });
}

/** The dispatches that leave polar(W) ~ X_K in scratch. */
export async function newtonSchulzPolar(rt: GpuRuntime, args: PolarArgs): Promise<PolarOp> {
  const iterations = checkArgs(args);
  const { w, rows, cols } = args;
  const n = rows * cols;
  const wideOrSquare = rows <= cols;
  const m = wideOrSquare ? rows : cols;

  const reduceWorkgroups = Math.min(MAX_REDUCE_WORKGROUPS, groups(n, WG * ELEMENTS_PER_INVOCATION));
  const parts = reduceWorkgroups * WG;
  const scratch = rt.storage(`polar.scratch ${rows}x${cols}`, (parts + 1 + 2 * n + m * m) * 4);
  const partials = at(scratch, 0);
  const norm2 = at(scratch, parts);
  const x = [at(scratch, parts + 1), at(scratch, parts + 1 + n)];
  const gram = at(scratch, parts + 1 + 2 * n);

  const sumOfSquares = await polarDispatch(rt, {
    label: 'polar.sum_of_squares', section: 'sum_of_squares', uniforms: { n: u32(n) },
    tensors: { w: read(w, n), partials: write(partials, parts) },
  }, parts);
  const sumPartials = await polarDispatch(rt, {
    label: 'polar.sum_partials', section: 'sum_partials', uniforms: { parts: u32(parts) },
    tensors: { partials: read(partials, parts), norm2: write(norm2, 1) },
  }, 1);
  const normalise = await polarDispatch(rt, {
    label: 'polar.normalise', section: 'normalise', uniforms: { n: u32(n) },
    tensors: { w: read(w, n), norm2: read(norm2, 1), x: write(x[0], n) },
  }, n);
  const coefficients = await polarDispatch(rt, {
    label: 'polar.identity_plus', section: 'identity_plus',
    uniforms: { m: u32(m), diag_coeff: f32(NEWTON_SCHULZ.linear), gram_coeff: f32(NEWTON_SCHULZ.cubic) },
    tensors: { g: write(gram, m * m) },
  }, m * m);

  // One iteration from x[from] into x[1 - from]: G = X X^T (or X^T X), G <- 1.5 I - 0.5 G, X' = G X (or X G).
  const iteration = async (from: 0 | 1): Promise<Dispatch[]> => {
    const [src, dst] = [x[from], x[1 - from]];
    const g = wideOrSquare
      ? await matmul(rt, { M: m, N: m, K: cols, a: src, b: src, transB: true, c: gram })
      : await matmul(rt, { M: m, N: m, K: rows, a: src, b: src, transA: true, c: gram });
    const product = wideOrSquare
      ? await matmul(rt, { M: rows, N: cols, K: rows, a: gram, b: src, c: dst })
      : await matmul(rt, { M: rows, N: cols, K: cols, a: src, b: gram, c: dst });
    return [g, coefficients, product];
  };
  const steps = [await iteration(0), await iteration(1)];
  const dispatches = [sumOfSquares, sumPartials, normalise, ...Array.from({ length: iterations }, (_, k) => steps[k % 2]).flat()];
  return { dispatches, polar: x[iterations % 2] };
}

/**
 * Newton-Schulz polar factor followed by W <- W - rate * polar(W), in place. `split`: the optimiser's gradient/decay
 * accumulator of a slice of the buffer W lives in (its start in that buffer's elements); the change of W's elements
 * in the slice is added to the decay half.
 */
export async function lowRankDecay(rt: GpuRuntime, args: PolarArgs & { rate: number; split?: SplitAccumulator }): Promise<LowRankDecayOp> {
  checkRate(args.rate);
  const polar = await newtonSchulzPolar(rt, args);
  const n = args.rows * args.cols;
  const { split } = args;
  // Without a split, a placeholder fills the binding (acc_count 0: never touched).
  const acc = split ? at(split.buffer) : at(rt.storage('polar.no_split', 4));
  const decaySpec = (rate: number) => ({
    label: 'polar.decay', section: 'decay',
    uniforms: { n: u32(n), rate: f32(rate), acc_shift: u32(split ? (args.w.offset - split.start) >>> 0 : 0), acc_count: u32(split?.count ?? 0) },
    tensors: { w: write(args.w, n), x: read(polar.polar, n), acc: write(acc, split?.count ?? 0) },
  });
  const decay = await polarDispatch(rt, decaySpec(args.rate), n);
  return {
    dispatches: [...polar.dispatches, decay],
    polar: polar.polar,
    setRate(rate) {
      checkRate(rate);
      rt.writeParams(decay.params!, instantiateKernel(source, decaySpec(rate)).params);
    },
  };
}
