// The live causal probes: the post-hoc causal experiments (ablation, perturbation, curvature) run on the spectral
// edge while the run trains, at every `causal.every` steps at a window step, on a fixed, seeded subset of the test
// set, each giving one CausalRecord (src/formats/live-causal.ts) that the trainer keeps in the run's metrics (so
// checkpoints carry it and a resumed run continues the series bit for bit).
//
// One probe, on the window's edge v_1..v_K:
//   ablation      ablateEdge: {v1, v2}, {v3, v4} and R random orthonormal pairs removed, on the subset;
//   perturbation  perturbationSweep at eps * EPS_FRACTIONS, eps = epsRelative * ||theta_attn||, along v_1..v_3 and
//                 along the first direction of each random pair;
//   curvature     edgeCurvature along v_1: v1^T H v1 by the second difference of the subset's loss, with its float32
//                 noise level;
//   verdict       universalityVerdict from this probe and the spectral records up to the step.
// The same functions as the post-hoc experiments, so a live record equals the experiment run on a checkpoint of the
// same step with the same subset and seed (test/live-causal.test.ts). The random pairs are fresh per probe: their
// seed is derived from the run seed and the step, never from the training stream. Each probe's GPU buffers live in
// an allocation scope released when it ends; every experiment restores the parameters bit for bit, so training is
// the same with the probes on or off.
import type { GpuRuntime } from '../gpu/runtime';
import type { Batch } from '../model/batch';
import { taskHeadCount } from '../model/config';
import { EPS_FRACTIONS, type CausalRecord, type LiveAblationEffect, type LiveCausalOptions, type LivePerturbationCurve } from '../formats/live-causal';
import { Trainer } from '../train/trainer';
import type { RunConfig } from '../formats/run-file';
import type { SpectralRecord } from '../formats/spectral';
import { assertFinite } from '../util/non-finite';
import { Rng } from '../util/random';
import { ablateEdge, randomAblationDirections } from './ablation';
import type { AblationEffect, PerturbationCurve } from '../formats/experiments';
import { sequencesAt, type AnalysisContext } from './context';
import { edgeCurvature } from './curvature';
import { perturbationSweep } from './perturbation';
import { universalityVerdict } from './verdict';

/** Edge directions the perturbation follows (v_1..v_3, fewer when the run keeps fewer). */
const PERTURBED_EDGE_DIRECTIONS = 3;

/** The trainer of a run, with its live causal probe attached when its config enables one. */
export async function createTrainer(rt: GpuRuntime, config: RunConfig): Promise<Trainer> {
  const trainer = await Trainer.create(rt, config);
  if (config.causal?.enabled) trainer.attachCausalProbe(liveCausalProbe(trainer, config.causal));
  return trainer;
}

/**
 * The probe subset: `count` distinct test sequences chosen by a generator derived from the run seed, in increasing
 * order (the same for every probe of the run).
 */
export function probeSubsetIndices(seed: number, testSequences: number, count: number): number[] {
  if (!(Number.isInteger(count) && count >= 1 && count <= testSequences)) throw new Error(`the probe subset needs 1..${testSequences} sequences, got ${count}`);
  const rng = Rng.derive(seed, 'live-causal.subset');
  const all = Array.from({ length: testSequences }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(testSequences - i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/** The seed of the probe at `step`: its random pairs are fresh per probe and independent of training. */
export function probeSeed(runSeed: number, step: number): number {
  return Rng.derive(runSeed, `live-causal.step.${step}`).nextU32();
}

/** The probe subset of a trainer's test set. */
export function probeSubset(trainer: Trainer, sequences: number): Batch {
  const { test } = trainer.taskData;
  const shape = trainer.engine.graph.shape;
  const available = test.tokens.length / shape.seqLen;
  return sequencesAt(test, shape, taskHeadCount(trainer.engine.config), probeSubsetIndices(trainer.config.seed, available, sequences));
}

/** The probe of a trainer's run: measures the trainer's current edge, at the step it is called with. */
export function liveCausalProbe(trainer: Trainer, options: LiveCausalOptions): (step: number) => Promise<CausalRecord> {
  const subset = probeSubset(trainer, options.sequences);
  return async (step) => {
    const edges = trainer.edgeVectors;
    if (!edges) throw new Error('the live causal probes need the spectral edge');
    const ctx: AnalysisContext = { engine: trainer.engine, edges, test: subset, seed: probeSeed(trainer.config.seed, step) };
    return trainer.engine.runtime.scoped(() => measure(ctx, step, options, trainer.spectralRecords.filter((r) => r.step <= step)));
  };
}

const liveEffect = (e: AblationEffect): LiveAblationEffect => ({ deltaAccuracy: e.deltaAccuracy, deltaLoss: e.deltaLoss, deltaCorrect: e.deltaCorrect });

/** One probe on the context's edge and subset (what the live record holds, from the post-hoc experiments). */
export async function measure(ctx: AnalysisContext, step: number, options: LiveCausalOptions, records: readonly SpectralRecord[]): Promise<CausalRecord> {
  const sequences = ctx.test.tokens.length / ctx.engine.graph.shape.seqLen;
  const ablation = await ablateEdge(ctx, { randomTrials: options.randomPairs, single: false, chunk: sequences });
  assertFinite(`the live causal probe's base loss at step ${step}`, [ablation.base.loss, ablation.sliceNorm]);

  const eps = options.epsRelative * ablation.sliceNorm;
  const randomDirections = Array.from({ length: options.randomPairs }, (_, trial) => Float32Array.from(randomAblationDirections(ctx.seed, trial, ctx.edges.P)[0]));
  const sweep = await perturbationSweep(ctx, {
    eps: EPS_FRACTIONS.map((f) => f * eps),
    k: Math.min(PERTURBED_EDGE_DIRECTIONS, ctx.edges.count),
    randomDirections,
    sequences,
  });
  const curve = (c: PerturbationCurve): LivePerturbationCurve => ({
    kl: c.kl,
    deltaLoss: c.loss.map((l) => l - sweep.base.loss),
    deltaAccuracy: c.accuracy.map((a) => a - sweep.base.accuracy),
  });
  const curvature = await edgeCurvature(ctx, { k: 1, randomCount: 0, hessian: false, sequences });

  const maxKl = (curves: PerturbationCurve[]) => Math.max(...curves.flatMap((c) => c.kl));
  const verdict = universalityVerdict({
    records,
    ablation: { edge: Math.abs(ablation.edge.deltaAccuracy), randomMean: ablation.random.meanAbsDelta, resolution: ablation.resolution },
    perturbation: { edgeMaxKl: maxKl(sweep.edge.slice(0, 2)), randomMaxKl: maxKl(sweep.random.curves) },
  });
  const record: CausalRecord = {
    step,
    seed: ctx.seed,
    sequences,
    scored: ablation.scored,
    resolution: ablation.resolution,
    base: ablation.base,
    ablation: {
      edge: liveEffect(ablation.edge),
      bulk: ablation.bulk && liveEffect(ablation.bulk),
      random: ablation.random.effects.map(liveEffect),
      randomMeanAbsDelta: ablation.random.meanAbsDelta,
      randomMaxAbsDelta: ablation.random.maxAbsDelta,
      randomMeanAbsDeltaLoss: ablation.random.meanAbsDeltaLoss,
      ratio: { value: ablation.ratio.value, lowerBound: ablation.ratio.lowerBound },
    },
    perturbation: { sliceNorm: ablation.sliceNorm, eps, edge: sweep.edge.map(curve), random: sweep.random.curves.map(curve) },
    curvature: { v1: curvature.edge[0], resolution: curvature.curvatureResolution, step: curvature.step },
    verdict: { class: verdict.class, reason: verdict.reason },
  };
  assertFinite(`the live causal probe at step ${step}`, [
    ...record.perturbation.edge.flatMap((c) => [...c.kl, ...c.deltaLoss]),
    ...record.perturbation.random.flatMap((c) => [...c.kl, ...c.deltaLoss]),
    record.curvature.v1,
    record.ablation.edge.deltaLoss,
  ]);
  return record;
}
