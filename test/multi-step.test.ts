// Several training steps per GPU submission (src/model/engine.ts `steps`, src/train/submissions.ts): the group
// sizes follow the evaluation, snapshot and probe cadences, and a run in groups is bit for bit the run of one step
// per submission (parameters, Adam moments, metric series, spectral and live causal records), on a full-batch
// task (one batch for every step) and a minibatch one (each group's batches drawn ahead from the seeded sampler),
// through groups ended by an evaluation, a snapshot, a window with a probe, a call's `until` and the run's end.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { stepsPerSubmission } from '../src/train/submissions';
import { MAX_STEPS_PER_SUBMISSION } from '../src/model/engine';
import { resolveRunConfig } from '../src/train/run';
import { createTrainer } from '../src/analysis/live-causal';
import { buildTaskData } from '../src/train/presets';
import type { RunConfig, RunOverrides } from '../src/formats/run-file';
import type { TaskSpec } from '../src/formats/task';
import type { Trainer } from '../src/train/trainer';

describe('steps per submission', () => {
  it('end at the next multiple of any cadence, the end step or the cap', () => {
    const group = (next: number, end: number, every: number[], max?: number) => stepsPerSubmission(next, { end, every, ...(max !== undefined && { max }) });
    expect(group(1, 20, [10, 6])).toBe(6); // 1..6: a snapshot
    expect(group(7, 20, [10, 6])).toBe(4); // 7..10: an evaluation
    expect(group(11, 20, [10, 6])).toBe(2); // 11..12: a snapshot
    expect(group(13, 20, [10, 6])).toBe(6);
    expect(group(19, 20, [10, 6])).toBe(2); // the run's end
    expect(group(6, 20, [6])).toBe(1); // a cadence step is a group of its own
    expect(group(1, 9, [20])).toBe(9); // a call's end (until)
    expect(group(1, 1000, [500])).toBe(MAX_STEPS_PER_SUBMISSION);
    expect(group(5, 1000, [500], 1)).toBe(1);
    expect(() => group(1, 20, [10], 0)).toThrow(/steps per submission must be an integer in \[1, 32\], got 0/);
    expect(() => group(21, 20, [10])).toThrow(/step 21 is outside \[1, 20\]/);
  });
});

const task: TaskSpec = { kind: 'modarith', p: 11, op: 'add', trainFraction: 0.6 };
/** Snapshots every 6 steps and evaluations every 10: groups 1-6, 7-10, 11-12 (a window, with a probe), 13-18, 19-20. */
const CADENCES: RunOverrides = { steps: 20, evalEvery: 10, spectral: { window: 2, snapshotEvery: 6 } };
const TINY = { nLayers: 1, dModel: 16, nHeads: 2, dFF: 32 };

/** quick-add (full batch) on p = 11 with a tiny model. */
function quickAdd(): RunConfig {
  const base = resolveRunConfig('quick-add', 5, CADENCES);
  const model = { ...base.model, ...TINY, vocabSize: 11, nClasses: 11, posInitStd: 0.25 };
  return { ...base, task, model, shape: { ...base.shape, batch: buildTaskData(task, 5).trainCount } };
}

/**
 * quick-dyck (minibatches of 8, with padding) with a tiny model, a live causal probe at step 12 and one evaluation,
 * at the end (its 5,000 test sequences take seconds on SwiftShader): groups 1-6, 7-12, 13-18, 19-20.
 */
function quickDyck(): RunConfig {
  const base = resolveRunConfig('quick-dyck', 7, { ...CADENCES, evalEvery: 20, causal: { enabled: true, every: 12, sequences: 16, randomPairs: 2 } });
  return { ...base, model: { ...base.model, ...TINY }, shape: { ...base.shape, batch: 8 } };
}

async function outcome(trainer: Trainer) {
  const { params, m, v, step } = await trainer.engine.exportState();
  return { step, params, m, v, series: trainer.series, events: trainer.events, spectral: trainer.spectralRecords, causal: trainer.causalRecords };
}

describe('a run in multi-step submissions', () => {
  it.each([['quick-add', quickAdd], ['quick-dyck', quickDyck]] as const)('%s is bit for bit the run of one step per submission', async (_name, config) => {
    const rt = await testRuntime();
    const single = await createTrainer(rt, config());
    await single.run({ maxStepsPerSubmission: 1 });
    const grouped = await createTrainer(rt, config());
    // Interrupted at step 9 (inside a cadence), then on to the end.
    expect(await grouped.run({ until: 9 })).toBe('interrupted');
    expect(grouped.step).toBe(9);
    await grouped.run();
    expect(single.submissionStats).toEqual({ submissions: 20, steps: 20 });
    // quick-add: 1-6, 7-9 | 10, 11-12, 13-18, 19-20; quick-dyck: 1-6, 7-9 | 10-12, 13-18, 19-20.
    expect(grouped.submissionStats).toEqual({ submissions: config === quickAdd ? 6 : 5, steps: 20 });
    const a = await outcome(single);
    const b = await outcome(grouped);
    expect(b.spectral.map((r) => r.step)).toEqual([12, 18]);
    if (config === quickDyck) expect(b.causal.map((r) => r.step)).toEqual([12]);
    expect(b.series.step).toEqual(config === quickAdd ? [10, 20] : [20]);
    expect(b).toEqual(a);
    single.destroy();
    grouped.destroy();
  });
});
