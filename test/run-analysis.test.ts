// One analysis of a recorded run (src/analysis/run-analysis.ts): the verdict brings the experiments it reads, an
// experiment that does not apply records its reason, the file validates against its schema (and a broken one does
// not), a step before the first spectral window is refused with what to do instead, and a value that is not finite
// (in an experiment's computation or its result) is a one-line NonFiniteError naming the experiment and the value.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { plannedExperiments } from '../src/analysis/experiments';
import { firstNonFinite, runAnalysis } from '../src/analysis/run-analysis';
import { NonFiniteError } from '../src/util/non-finite';
import { parseAnalysisFile } from '../src/formats/analysis-file';
import { ExperimentCancelledError } from '../src/analysis/context';

const CONFIG = resolveRunConfig('quick-add', 4, { steps: 30, evalEvery: 10, spectral: { window: 3, snapshotEvery: 5 } });
let trained: Promise<Trainer> | undefined;
/** The 30-step run both tests analyse (trained once). */
function trainedRun(): Promise<Trainer> {
  trained ??= testRuntime().then(async (rt) => {
    const trainer = await Trainer.create(rt, CONFIG);
    await trainer.run();
    return trainer;
  });
  return trained;
}

describe('an analysis of a run', () => {
  it('runs the verdict with the perturbation sweep and ablation it reads, and records what does not apply', async () => {
    expect(plannedExperiments(['verdict', 'probe'])).toEqual(['perturb', 'ablate', 'probe', 'verdict']);
    const rt = await testRuntime();
    const early = await Trainer.create(rt, CONFIG);
    await early.run({ until: 10 });
    await expect(runAnalysis(early, early.toRunFile(), { experiments: ['ablate'], requested: '10' })).rejects.toThrow(
      'no spectral window at or before step 10: the first is at step 15 (W 3 x every 5)',
    );

    const trainer = await trainedRun();
    const seen = new Set<string>();
    const analysis = await runAnalysis(trainer, trainer.toRunFile(), {
      experiments: ['verdict', 'probe'],
      requested: 'late',
      onProgress: (name) => seen.add(name),
    });
    expect([...seen]).toEqual(['perturb', 'ablate']); // the probe refuses before any work
    expect(Object.keys(analysis.experiments)).toEqual(['perturb', 'ablate', 'probe', 'verdict']);
    expect(analysis.experiments.probe).toEqual({ notApplicable: expect.stringMatching(/Dyck depth and SCAN tokens/) });
    expect(analysis.at).toEqual({ requested: 'late', step: 30, windowStep: 30 });
    const verdict = analysis.experiments.verdict;
    if (!verdict || !('result' in verdict)) throw new Error('no verdict');
    expect(['functional', 'mixed', 'compression']).toContain(verdict.result.class);
    expect(verdict.result.evidence[0].value).toBe(trainer.spectralRecords.slice(-3).map((r) => r.gradEnergyFraction[0]).sort((a, b) => a - b)[1]);

    const text = JSON.stringify(analysis);
    expect(parseAnalysisFile(text)).toEqual(analysis);
    const broken = JSON.parse(text);
    delete broken.experiments.ablate.result.ratio;
    expect(() => parseAnalysisFile(broken)).toThrow(/^invalid analysis file: experiments\.ablate/);

    // A stopped run whose parameters are not finite (a damaged model): each experiment says so in one line. The
    // shared run is then restored for the next test.
    const healthy = await trainer.checkpoint();
    rt.write(trainer.engine.state.params, new Float32Array(trainer.engine.table.total).fill(Number.NaN));
    const failure = (experiment: 'perturb' | 'ablate') => runAnalysis(trainer, trainer.toRunFile(), { experiments: [experiment], requested: 'late' }).catch((e: unknown) => e);
    const perturb = await failure('perturb');
    expect(perturb).toBeInstanceOf(NonFiniteError);
    expect((perturb as Error).message).toBe('the perturb experiment at step 30: the loss at a probed point is not finite (NaN)');
    expect(((await failure('ablate')) as Error).message).toBe('the ablate experiment at step 30: its result.sliceNorm is not finite (NaN)');
    trainer.restore(healthy);
  });

  it('finds the first value that is not finite in a result, with its path', () => {
    expect(firstNonFinite({ a: [1, { b: 2 }], c: null, d: 'x', e: Float64Array.of(0, 1) }, 'r')).toBeNull();
    expect(firstNonFinite({ a: [1, { b: Number.NaN }], c: Infinity }, 'r')).toEqual({ path: 'r.a[1].b', value: Number.NaN });
    expect(firstNonFinite({ grid: Float32Array.of(0, -Infinity) }, 'r')).toEqual({ path: 'r.grid[1]', value: -Infinity });
  });

  it('cancels between experiments and inside a weight-decay branch, leaving the model as it was', async () => {
    const trainer = await trainedRun();
    const before = await trainer.checkpoint();
    await expect(runAnalysis(trainer, trainer.toRunFile(), { experiments: ['ablate'], requested: 'late', shouldStop: () => true })).rejects.toBeInstanceOf(ExperimentCancelledError);

    let branchSteps = 0;
    let cancelled = false;
    const request = runAnalysis(trainer, trainer.toRunFile(), {
      experiments: ['wd-intervention', 'verdict'],
      requested: 'late',
      interventionSteps: 10_000,
      onProgress: (name, _done, _total, what) => {
        if (name === 'wd-intervention' && /step \d+ of/.test(what)) branchSteps += 1;
        if (branchSteps >= 1) cancelled = true;
      },
      shouldStop: () => cancelled,
    });
    await expect(request).rejects.toThrow('the experiments were cancelled');
    expect(branchSteps).toBe(1); // stopped within the first branch, not after 4 x 10,000 steps
    const after = await trainer.checkpoint();
    expect(trainer.step).toBe(30);
    expect(after.engine.params).toEqual(before.engine.params);
    expect(after.engine.m).toEqual(before.engine.m);
  });
});
