// Curvature of the test loss along the spectral edge (docs/science.md §3.3), on the first 200 test sequences:
//   edge and random directions: v^T H v ~ (L(theta + e v) + L(theta - e v) - 2 L(theta)) / e^2 with
//     e = relativeStep * ||theta_slice|| (default 1e-3 ||theta_attn||), along v_1..v_K and seeded random unit
//     directions, with the gradient projections <v, grad L> (src/spectral/hessian.ts: probeModes);
//   the top Hessian eigenvalues: block Lanczos (src/spectral/lanczos.ts) on Hessian-vector products by central
//     differences of gradients, Hv ~ (grad L(theta + e v) - grad L(theta - e v)) / (2e) (hessianOperator).
// Both run on one graph with a backward pass whose batch is all the analysed sequences, built on engine.state,
// through the parameter probe, which restores the parameters and gradients exactly. The slice is the one the edge
// vectors live in (theta_attn unless the run tracked every parameter).
//
// Resolution: the curvature from losses divides the float32 losses' rounding noise (a few 2^-24 L) by e^2, so
// values below `curvatureResolution` = 8 * 2^-24 * L / e^2 are not resolved (see src/spectral/hessian.ts).
import { buildTransformerGraph, type TransformerGraph } from '../model/transformer';
import type { Batch } from '../model/batch';
import { hessianOperator, probeModes } from '../spectral/hessian';
import { LanczosSolver } from '../spectral/lanczos';
import type { AnalysisContext } from './context';
import { analysedSequences, edgeCount, positiveInteger, randomUnitDirection } from './perturbation';
import { HessianTopResult, CurvatureResult } from '../formats/experiments';

export interface HessianTopOptions {
  /** Eigenvalues wanted (the algebraically largest). Default 3. */
  k?: number;
  /** The first `sequences` test sequences; default 200. */
  sequences?: number;
  /** e = relativeStep * ||theta_slice||; default 1e-3. */
  relativeStep?: number;
  /** Most Hessian-vector products of the Krylov process; default min(P - blockSize, 100) (LanczosSolver). */
  maxIterations?: number;
  /** Converged when every residual bound <= tolerance * max |theta|; default 1e-5 (LanczosSolver). */
  tolerance?: number;
}

export interface CurvatureOptions {
  /** Edge directions v_1..v_k; default every one the context holds. */
  k?: number;
  /** Seeded random unit directions; default 4 (0 allowed). */
  randomCount?: number;
  /** The first `sequences` test sequences; default 200. */
  sequences?: number;
  /** e = relativeStep * ||theta_slice||; default 1e-3 (docs/science.md §3.3). */
  relativeStep?: number;
  /** The top Hessian eigenvalues too (default on, k 3); false to skip them. */
  hessian?: boolean | Omit<HessianTopOptions, 'sequences' | 'relativeStep'>;
}

/** The analysed sequences and a graph with a backward pass of that batch on engine.state. */
interface Prepared {
  data: Batch;
  n: number;
  scored: number;
  graph: TransformerGraph;
}

async function prepare(what: string, ctx: AnalysisContext, sequences: number | undefined): Promise<Prepared> {
  const { data, n, scored } = analysedSequences(what, ctx, positiveInteger(what, 'sequences', sequences, 200));
  const { engine } = ctx;
  const graph = await buildTransformerGraph(engine.runtime, engine.config, engine.state, { ...engine.graph.shape, batch: n }, { backward: true });
  return { data, n, scored, graph };
}

function checkRelativeStep(what: string, relativeStep: number | undefined): number {
  const r = relativeStep ?? 1e-3;
  if (!(typeof r === 'number' && r > 0 && Number.isFinite(r))) throw new Error(`${what}: relativeStep must be a positive finite number, got ${r}`);
  return r;
}

async function hessianTopOn(ctx: AnalysisContext, prepared: Prepared, options: HessianTopOptions): Promise<HessianTopResult> {
  const what = 'hessian top';
  const { engine, edges } = ctx;
  const k = positiveInteger(what, 'k', options.k, 3);
  const relativeStep = checkRelativeStep(what, options.relativeStep);
  const op = await hessianOperator(engine, prepared.data, { graph: prepared.graph, relativeStep, slice: { offset: edges.paramOffset, size: edges.P } });
  let solver: LanczosSolver | undefined;
  try {
    solver = await LanczosSolver.create(engine.runtime, edges.P, { k, ...(options.maxIterations !== undefined && { maxIterations: options.maxIterations }) });
    const result = await solver.solve(op, { seed: ctx.seed, ...(options.tolerance !== undefined && { tolerance: options.tolerance }) });
    return {
      eigenvalues: result.pairs.map((p) => p.value),
      // Measured (measureResiduals is on by default in LanczosSolver.solve).
      residuals: result.pairs.map((p) => p.residual!),
      residualBounds: result.pairs.map((p) => p.residualBound),
      converged: result.pairs.map((p) => p.converged),
      iterations: result.iterations,
      step: op.step,
    };
  } finally {
    solver?.destroy();
    op.destroy();
  }
}

/** The top Hessian eigenvalues of the test loss over the edge vectors' slice, by Lanczos on Hessian-vector products. */
export async function hessianTop(ctx: AnalysisContext, options: HessianTopOptions = {}): Promise<HessianTopResult> {
  positiveInteger('hessian top', 'k', options.k, 3);
  checkRelativeStep('hessian top', options.relativeStep);
  return hessianTopOn(ctx, await prepare('hessian top', ctx, options.sequences), options);
}

export async function edgeCurvature(ctx: AnalysisContext, options: CurvatureOptions = {}): Promise<CurvatureResult> {
  const what = 'edge curvature';
  const { engine, edges } = ctx;
  const rt = engine.runtime;
  const k = edgeCount(what, ctx, options.k);
  const randomCount = positiveInteger(what, 'randomCount', options.randomCount, 4, 0);
  const relativeStep = checkRelativeStep(what, options.relativeStep);
  const hessian = options.hessian ?? true;
  if (hessian && typeof hessian === 'object') positiveInteger('hessian top', 'k', hessian.k, 3);
  const prepared = await prepare(what, ctx, options.sequences);
  const { data, graph } = prepared;
  const P = edges.P;
  const probeOptions = { graph, relativeStep, slice: { offset: edges.paramOffset, size: P } };
  const steps = 1 + (randomCount > 0 ? 1 : 0) + (hessian ? 1 : 0);

  const edgeModes = await probeModes(engine, data, edges, k, probeOptions);
  ctx.progress?.(1, steps, 'curvature along the edge directions');
  let random: { curvature: number[]; gradientProjection: number[] } = { curvature: [], gradientProjection: [] };
  if (randomCount > 0) {
    const packed = new Float32Array(randomCount * P);
    for (let j = 0; j < randomCount; j++) packed.set(randomUnitDirection(ctx.seed, 'curvature', j, P), j * P);
    const buffer = rt.storageFrom('curvature.random', packed);
    try {
      random = await probeModes(engine, data, { buffer, P, vectorOffset: (j) => j * P }, randomCount, probeOptions);
    } finally {
      buffer.destroy();
    }
    ctx.progress?.(2, steps, 'curvature along random directions');
  }
  const top = hessian ? await hessianTopOn(ctx, prepared, { ...(typeof hessian === 'object' ? hessian : {}), relativeStep }) : null;
  if (hessian) ctx.progress?.(steps, steps, 'top Hessian eigenvalues');
  const { loss, step } = edgeModes;
  return {
    sequences: prepared.n,
    scoredTargets: prepared.scored,
    loss,
    step,
    relativeStep,
    curvatureResolution: (8 * 2 ** -24 * loss) / step ** 2,
    edge: edgeModes.curvature,
    edgeGradientProjection: edgeModes.gradientProjection,
    random: random.curvature,
    randomGradientProjection: random.gradientProjection,
    randomSeed: ctx.seed,
    hessian: top,
  };
}
