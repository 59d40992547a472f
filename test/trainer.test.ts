// The trainer on a tiny modular-addition model (p = 11, d 16): metrics at the evaluation cadence, events,
// checkpoints that continue bit for bit, and divergence stopping the run at the last good checkpoint, whether an
// evaluation or a spectral window finds it.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer, type TrainerProgress } from '../src/train/trainer';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_FILE, type RunConfig, type RunOverrides } from '../src/formats/run-file';
import { buildTaskData } from '../src/train/presets';
import type { TaskSpec } from '../src/formats/task';
import { GROK_TEST_ACCURACY, historyUpTo, paramNorms, pointAt } from '../src/train/metrics';

const p = 11;
const task: TaskSpec = { kind: 'modarith', p, op: 'add', trainFraction: 0.6 };

/**
 * A preset's settings with a tiny model and task in place of its own: 'quick-add' trains full batch,
 * 'modarith' on minibatches of 16 drawn from the seeded sampler. A trainer takes any RunConfig built in code; a run
 * file of one is well formed but refused when read (parseRunFile), since the lab would not make it from its preset.
 */
function tinyConfig(preset: 'quick-add' | 'modarith', seed: number, overrides: RunOverrides): RunConfig {
  const base = resolveRunConfig(preset, seed, overrides);
  const model = { ...base.model, nLayers: 1, dModel: 16, nHeads: 2, dFF: 32, vocabSize: p, nClasses: p, posInitStd: 0.25 };
  const batch = base.batchMode === 'full' ? buildTaskData(task, seed).trainCount : 16;
  return { ...base, task, model, shape: { ...base.shape, batch }, optim: { ...base.optim, lr: 1e-2 } };
}

describe('trainer', () => {
  it('records whole-set metrics and norms at the evaluation cadence, hyperparameter events, and a well-formed run file', async () => {
    const rt = await testRuntime();
    const config = tinyConfig('quick-add', 3, { steps: 30, evalEvery: 10 });
    const trainer = await Trainer.create(rt, config);
    const progress: TrainerProgress[] = [];

    expect(await trainer.run({ onEvaluation: (pr) => progress.push(pr), until: 20 })).toBe('interrupted');
    expect(trainer.series.step).toEqual([10, 20]);
    const hyper = trainer.setHyper({ weightDecay: 0 });
    expect(hyper).toEqual({ type: 'hyper', step: 20, before: { lr: 1e-2, weightDecay: 1 }, after: { lr: 1e-2, weightDecay: 0 } });
    expect(trainer.engine.optim.weightDecay).toBe(0);
    expect(await trainer.run({ onEvaluation: (pr) => progress.push(pr) })).toBe('completed');

    const { series } = trainer;
    expect(series.step).toEqual([10, 20, 30]);
    expect(progress.map((pr) => pr.point)).toEqual(series.step.map((_, i) => pointAt(series, i)));
    expect(progress.map((pr) => [pr.totalSteps, pr.stepsThisCall])).toEqual([[30, 10], [30, 20], [30, 10]]);
    // Accuracies are over the whole sets: whole numbers of correct pairs.
    const data = buildTaskData(task, 3);
    const testCount = data.test.targets.length;
    const wholeCount = (fraction: number, n: number) => expect(fraction * n).toBeCloseTo(Math.round(fraction * n), 9);
    for (let i = 0; i < 3; i++) {
      wholeCount(series.trainAcc[i], data.trainCount);
      wholeCount(series.testAcc[i], testCount);
      expect(series.attnNorm[i]).toBeLessThan(series.thetaNorm[i]);
    }
    expect(series.trainLoss[2]).toBeLessThan(series.trainLoss[0]);
    // The norms are those of the parameters after the evaluated step.
    const norms = paramNorms(await trainer.engine.readParams(), trainer.engine.table.attn);
    expect(series.thetaNorm[2]).toBe(norms.theta);
    expect(series.attnNorm[2]).toBe(norms.attn);
    // Grokked exactly when some evaluation reached the threshold, at the first one.
    const first = series.testAcc.findIndex((a) => a >= GROK_TEST_ACCURACY);
    expect(trainer.grokStep).toBe(first < 0 ? null : series.step[first]);

    const run = trainer.toRunFile();
    expect(run.summary).toMatchObject({ steps: 30, stopReason: 'completed', final: pointAt(series, 2), adapter: rt.adapter.description });
    expect(run.events[0]).toEqual(hyper);
    const json = JSON.stringify(run);
    expect(RUN_FILE.parse(json)).toEqual(run);
    // Read from outside, a run file must be one its preset makes: this tiny model is not quick-add's.
    expect(() => parseRunFile(json)).toThrow('invalid run file: config.task.p is 11; preset quick-add with seed 3 and the file\'s overrides gives 31');
  });

  it('restoring a mid-run checkpoint (also into a fresh trainer) continues with bit-identical metrics and parameters', async () => {
    const rt = await testRuntime();
    const config = tinyConfig('modarith', 5, { steps: 40, evalEvery: 10 });
    const trainer = await Trainer.create(rt, config);
    // Step 15 is between evaluations: the sampler is mid-interval.
    await trainer.run({ until: 15 });
    const checkpoint = await trainer.checkpoint();
    expect(checkpoint.step).toBe(15);
    expect(checkpoint.sampler).not.toBeNull();
    expect(await trainer.run()).toBe('completed');
    const series = structuredClone(trainer.series);
    const params = await trainer.engine.readParams();
    expect(series.step).toEqual([10, 20, 30, 40]);

    trainer.restore(checkpoint);
    expect(trainer.series.step).toEqual([10]);
    await trainer.run();
    expect(trainer.series).toEqual(series);
    expect(Buffer.from((await trainer.engine.readParams()).buffer).equals(Buffer.from(params.buffer))).toBe(true);

    const fresh = await Trainer.create(rt, config);
    fresh.restore(checkpoint);
    await fresh.run();
    expect(fresh.series).toEqual(series);
    expect(Buffer.from((await fresh.engine.readParams()).buffer).equals(Buffer.from(params.buffer))).toBe(true);

    // The checkpoint's history (the prefix of the run's it marks) was not changed by the runs that continued from it.
    expect(checkpoint.mark).toMatchObject({ evaluations: 1, events: 0 });
    expect(historyUpTo(checkpoint.metrics, checkpoint.mark).series.step).toEqual([10]);
  });

  it('stops a diverging run with a divergence event and keeps the last good checkpoint', async () => {
    const rt = await testRuntime();
    const config = tinyConfig('quick-add', 4, { steps: 40, evalEvery: 10 });
    const trainer = await Trainer.create(rt, config);
    await trainer.run({ until: 20 });
    const good = trainer.lastGoodCheckpoint;
    expect(good.step).toBe(20);

    // Adam's normalised update alone would keep a large lr finite for a while; the decoupled decay
    // theta <- theta (1 - lr wd) with lr wd = 1e6 multiplies every parameter by -999,999 each step, so float32
    // overflows within a handful of steps and the loss becomes NaN.
    trainer.setHyper({ lr: 1e6 });
    const events: unknown[] = [];
    expect(await trainer.run({ onEvent: (e) => events.push(e) })).toBe('diverged');

    const divergence = trainer.events.at(-1);
    expect(divergence).toMatchObject({ type: 'divergence', step: 30, restoredStep: 20 });
    expect(events).toEqual([divergence]);
    expect(divergence?.type === 'divergence' && divergence.message).toMatch(/diverged at step 30 \(the evaluation's .*(NaN|Infinity)/);
    expect(trainer.step).toBe(20);
    expect(trainer.engine.optim.lr).toBe(config.optim.lr);
    expect(trainer.series.step).toEqual([10, 20]);
    const params = await trainer.engine.readParams();
    expect(Buffer.from(params.buffer).equals(Buffer.from(good.engine.params.buffer))).toBe(true);

    const run = trainer.toRunFile();
    expect(run.summary.stopReason).toBe('diverged');
    expect(RUN_FILE.parse(JSON.stringify(run)).events.map((e) => e.type)).toEqual(['hyper', 'divergence']);
  });

  it('turns non-finite parameters met first by a spectral window into a divergence, not an eigensolver crash', async () => {
    const rt = await testRuntime();
    // Windows of 2 snapshots 5 steps apart: analysed at steps 10, 15, 20, 25; evaluations at 10, 20, 30.
    const config = tinyConfig('quick-add', 4, { steps: 30, evalEvery: 10, spectral: { window: 2, snapshotEvery: 5 } });
    const trainer = await Trainer.create(rt, config);
    await trainer.run({ until: 20 });
    expect(trainer.spectralRecords.map((r) => r.step)).toEqual([10, 15, 20]);
    const good = trainer.lastGoodCheckpoint;
    rt.write(trainer.engine.state.params, new Float32Array(trainer.engine.table.total).fill(Number.NaN));

    const events: unknown[] = [];
    expect(await trainer.run({ onEvent: (e) => events.push(e) })).toBe('diverged');
    const divergence = trainer.events.at(-1);
    expect(divergence).toMatchObject({ type: 'divergence', step: 25, restoredStep: 20 });
    expect(events).toEqual([divergence]);
    expect(divergence?.type === 'divergence' && divergence.message).toMatch(/^training diverged at step 25 \(the spectral window's Gram matrix is not finite \(NaN/);
    expect(trainer.step).toBe(20);
    expect(trainer.spectralRecords.map((r) => r.step)).toEqual([10, 15, 20]);
    const params = await trainer.engine.readParams();
    expect(Buffer.from(params.buffer).equals(Buffer.from(good.engine.params.buffer))).toBe(true);
    const run = trainer.toRunFile();
    expect(run.summary.stopReason).toBe('diverged');
    expect(run.events.map((e) => e.type)).toEqual(['divergence']);

    // The restored run trains on from step 20 as if nothing had happened: the next window is finite again.
    trainer.restore(good);
    expect(await trainer.run()).toBe('completed');
    expect(trainer.spectralRecords.map((r) => r.step)).toEqual([10, 15, 20, 25, 30]);
  });
});
