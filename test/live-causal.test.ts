// The live causal probes (src/analysis/live-causal.ts): options checked before any GPU work; a short quick-add run
// whose probes leave training bit for bit as it is without them, continue bit for bit after a checkpoint, and equal
// the post-hoc experiments run on the checkpoint of the same step.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { runScript } from './helpers/cli';
import { createTrainer, probeSeed, probeSubset, probeSubsetIndices } from '../src/analysis/live-causal';
import { ablateEdge, randomAblationDirections } from '../src/analysis/ablation';
import { perturbationSweep } from '../src/analysis/perturbation';
import { edgeCurvature } from '../src/analysis/curvature';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { parseRunFile, resolveRunConfig, RunConfigError } from '../src/train/run';
import type { RunOverrides } from '../src/formats/run-file';
import { EPS_FRACTIONS } from '../src/formats/live-causal';
import { NonFiniteError } from '../src/util/non-finite';
import type { Trainer } from '../src/train/trainer';
import { grokkedQuickAdd } from './helpers/grokked';

/**
 * quick-add on 30% of the pairs (a full batch of 288), 60 steps, a window of 4 deltas every 10 steps (windows from
 * step 40), probes every 20 steps on 64 test pairs.
 */
const SHORT: RunOverrides = { steps: 60, evalEvery: 20, trainFraction: 0.3, spectral: { window: 4, snapshotEvery: 10 } };
const PROBES = { enabled: true, every: 20, sequences: 64, randomPairs: 2 };
const config = (causal: boolean) => resolveRunConfig('quick-add', 3, { ...SHORT, ...(causal && { causal: PROBES }) });

async function finalState(trainer: Trainer) {
  const state = await trainer.engine.exportState();
  return { params: Array.from(state.params), m: Array.from(state.m), v: Array.from(state.v), series: trainer.series };
}

describe('live causal options', () => {
  it('are refused with one line naming the option and its range', () => {
    const refused = (causal: RunOverrides['causal'], spectral?: RunOverrides['spectral']) => {
      try {
        resolveRunConfig('quick-add', 1, { causal, ...(spectral && { spectral }) });
      } catch (err) {
        expect(err).toBeInstanceOf(RunConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ enabled: true, every: 30 })).toBe('causal.every must be a positive multiple of the snapshot cadence (20 steps), got 30');
    expect(refused({ enabled: true, every: 0 })).toMatch(/^causal\.every must be a positive multiple/);
    expect(refused({ enabled: true, sequences: 386 })).toBe('causal.sequences must be an integer in [1, 385] (the test set\'s size), got 386');
    expect(refused({ enabled: true, randomPairs: 0 })).toBe('causal.randomPairs must be an integer in [1, 64], got 0');
    expect(refused({ enabled: true, epsRelative: 0 })).toBe('causal.epsRelative must be a finite number in (0, 1], got 0');
    expect(refused({ enabled: true, epsRelative: Number.NaN })).toMatch(/^causal\.epsRelative must be a finite number/);
    expect(refused({ enabled: true }, { enabled: false })).toMatch(/need the spectral edge tracked/);
    expect(refused({ enabled: true }, { k: 1 })).toMatch(/at least 2 edge vectors/);
  });

  it('take the preset defaults, rounded to the run\'s window cadence', () => {
    expect(resolveRunConfig('quick-add', 1, { causal: { enabled: true } }).causal).toEqual({ enabled: true, every: 100, sequences: 256, randomPairs: 4, epsRelative: 0.005 });
    expect(resolveRunConfig('quick-add', 1, { causal: { enabled: true }, spectral: { snapshotEvery: 30 } }).causal!.every).toBe(120);
    expect(resolveRunConfig('quick-add', 1, {}).causal).toBeUndefined();
  });

  it('the CLI refuses them before any GPU work, with exit code 2', async () => {
    const orphan = await runScript('experiment', '--preset', 'quick-add', '--causal-every', '40');
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toMatch(/^experiment: --causal-every, --causal-subset, --causal-random and --causal-eps need --live-causal$/m);
    const big = await runScript('experiment', '--preset', 'quick-add', '--live-causal', '--causal-subset', '5000');
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/^experiment: causal\.sequences must be an integer in \[1, 385\]/m);
  });

  it('the probe subset is seeded, distinct and sorted', () => {
    const a = probeSubsetIndices(7, 385, 64);
    expect(a).toEqual(probeSubsetIndices(7, 385, 64));
    expect(a).not.toEqual(probeSubsetIndices(8, 385, 64));
    expect(new Set(a).size).toBe(64);
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(Math.max(...a)).toBeLessThan(385);
    expect(probeSeed(7, 40)).not.toBe(probeSeed(7, 60));
  });
});

describe('live causal probes on a short quick-add run', () => {
  it('leave training bit-identical, continue bit for bit after a checkpoint and equal the post-hoc experiments', async () => {
    const rt = await testRuntime();
    // With and without the probes.
    const probed = await createTrainer(rt, config(true));
    await probed.run();
    const plain = await createTrainer(rt, config(false));
    await plain.run();
    expect(await finalState(probed)).toEqual(await finalState(plain));
    const records = probed.causalRecords;
    expect(records.map((r) => r.step)).toEqual([40, 60]);
    for (const r of records) {
      expect(r.sequences).toBe(64);
      expect(r.scored).toBe(64);
      expect(r.resolution).toBe(1 / 64);
      expect(r.ablation.random).toHaveLength(2);
      expect(r.ablation.bulk).not.toBeNull();
      expect(r.perturbation.edge).toHaveLength(3);
      expect(r.perturbation.random).toHaveLength(2);
      expect(r.perturbation.eps).toBeCloseTo(0.005 * r.perturbation.sliceNorm, 12);
      expect(r.curvature.resolution).toBeGreaterThan(0);
    }
    // The run file carries the series and reads back through its schema.
    const file = parseRunFile(JSON.stringify(probed.toRunFile()));
    expect(file.causal).toEqual(records);
    expect(file.config.causal).toEqual({ ...PROBES, epsRelative: 0.005 });

    // Stopped at step 40 (a probe step), saved, restored into a new trainer and continued to 60.
    const first = await createTrainer(rt, config(true));
    await first.run({ until: 40 });
    expect(first.step).toBe(40);
    const saved = decodeCheckpoint(encodeCheckpoint(await first.checkpoint(), config(true), { withHistory: true }));
    const resumed = await createTrainer(rt, config(true));
    resumed.restore(saved.checkpoint);
    await resumed.run();
    expect(resumed.causalRecords).toEqual(records);
    expect(await finalState(resumed)).toEqual(await finalState(probed));

    // The post-hoc experiments on the step-40 checkpoint, with the probe's subset, seed and directions.
    const atStep = await createTrainer(rt, config(true));
    atStep.restore(saved.checkpoint);
    const live = records[0];
    const ctx = { engine: atStep.engine, edges: atStep.edgeVectors!, test: probeSubset(atStep, 64), seed: probeSeed(3, 40) };
    const ablation = await ablateEdge(ctx, { randomTrials: 2 });
    expect(ablation.base.accuracy).toBeCloseTo(live.base.accuracy, 12);
    expect(ablation.base.loss).toBeCloseTo(live.base.loss, 5);
    expect(ablation.edge.deltaCorrect).toBe(live.ablation.edge.deltaCorrect);
    expect(ablation.bulk!.deltaCorrect).toBe(live.ablation.bulk!.deltaCorrect);
    expect(ablation.random.effects.map((e) => e.deltaCorrect)).toEqual(live.ablation.random.map((e) => e.deltaCorrect));
    expect(Math.abs(ablation.edge.deltaLoss - live.ablation.edge.deltaLoss)).toBeLessThan(1e-5 + 1e-4 * Math.abs(live.ablation.edge.deltaLoss));
    const eps = live.perturbation.eps;
    const sweep = await perturbationSweep(ctx, {
      eps: EPS_FRACTIONS.map((f) => f * eps),
      k: 3,
      randomDirections: [0, 1].map((t) => Float32Array.from(randomAblationDirections(ctx.seed, t, ctx.edges.P)[0])),
      sequences: 64,
    });
    const close = (a: number[], b: number[], what: string) => a.forEach((x, i) => expect(Math.abs(x - b[i]), `${what}[${i}]: ${x} vs ${b[i]}`).toBeLessThanOrEqual(1e-6 + 1e-4 * Math.abs(b[i])));
    sweep.edge.forEach((c, j) => close(live.perturbation.edge[j].kl, c.kl, `KL along v${j + 1}`));
    sweep.random.curves.forEach((c, j) => close(live.perturbation.random[j].kl, c.kl, `KL along random ${j + 1}`));
    const curvature = await edgeCurvature(ctx, { k: 1, randomCount: 0, hessian: false, sequences: 64 });
    expect(Math.abs(curvature.edge[0] - live.curvature.v1)).toBeLessThanOrEqual(live.curvature.resolution);
    for (const t of [probed, plain, first, resumed, atStep]) t.destroy();
  });
});

describe('a probe that meets a non-finite value', () => {
  it('ends the run as a divergence at that step, back at the last good checkpoint, never as a crash', async () => {
    const rt = await testRuntime();
    const trainer = await createTrainer(rt, config(true));
    // In place of the real probe: one whose loss comes back non-finite at its first step (as from overflowing parameters).
    trainer.attachCausalProbe(async (step) => {
      throw new NonFiniteError(`the live causal probe's base loss at step ${step}`, [Number.NaN]);
    });
    const seen: unknown[] = [];
    expect(await trainer.run({ onEvent: (e) => seen.push(e) })).toBe('diverged');
    expect(seen).toHaveLength(1);
    const file = trainer.toRunFile();
    expect(file.summary.stopReason).toBe('diverged');
    expect(file.events).toEqual(seen);
    const divergence = file.events.find((e) => e.type === 'divergence');
    expect(divergence).toMatchObject({ type: 'divergence', step: 40, restoredStep: 20 });
    expect(divergence && 'message' in divergence && divergence.message).toMatch(/the live causal probe's base loss at step 40 is not finite \(NaN\)/);
    expect(trainer.lastGoodCheckpoint.step).toBe(20);
    expect(trainer.step).toBe(20);
    trainer.destroy();
  });
});

describe('the live ablation track of quick-add (seed 1, weight decay 1)', () => {
  it('removing the edge costs nothing while the model memorises and at least 0.1 test accuracy once it has grokked', async () => {
    const trainer = await grokkedQuickAdd();
    const records = trainer.causalRecords;
    expect(records.map((r) => r.step)).toEqual([200, 300, 400, 500]);
    const testAccAt = (step: number) => trainer.series.testAcc[trainer.series.step.indexOf(step)];
    // Memorisation: the windows before test accuracy rises (below 0.1).
    const memorising = records.filter((r) => testAccAt(r.step) < 0.1);
    expect(memorising.length).toBeGreaterThanOrEqual(1);
    for (const r of memorising) expect(Math.abs(r.ablation.edge.deltaAccuracy), `edge ablation at step ${r.step}`).toBeLessThan(0.05);
    // The end of the run, after the grok: the edge is necessary, random pairs flip no token.
    const last = records.at(-1)!;
    expect(trainer.grokStep).not.toBeNull();
    expect(last.step).toBeGreaterThan(trainer.grokStep!);
    expect(last.ablation.edge.deltaAccuracy).toBeLessThanOrEqual(-0.1);
    expect(last.ablation.randomMaxAbsDelta).toBeLessThan(last.resolution);
    expect(last.verdict.class).toBe('functional');
  });
});
