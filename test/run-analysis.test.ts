// One analysis of a recorded run (src/analysis/run-analysis.ts): the verdict brings the experiments it reads, an
// experiment that does not apply records its reason, the file validates against its schema (and a broken one does
// not), and a step before the first spectral window is refused with what to do instead.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { plannedExperiments } from '../src/analysis/experiments';
import { runAnalysis } from '../src/analysis/run-analysis';
import { parseAnalysisFile } from '../src/formats/analysis-file';

describe('an analysis of a run', () => {
  it('runs the verdict with the perturbation sweep and ablation it reads, and records what does not apply', async () => {
    expect(plannedExperiments(['verdict', 'probe'])).toEqual(['perturb', 'ablate', 'probe', 'verdict']);
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-add', 4, { steps: 30, evalEvery: 10, spectral: { window: 3, snapshotEvery: 5 } });
    const early = await Trainer.create(rt, config);
    await early.run({ shouldStop: () => early.step >= 10 });
    await expect(runAnalysis(early, early.toRunFile(), { experiments: ['ablate'], requested: '10' })).rejects.toThrow(
      'no spectral window at or before step 10: the first is at step 15 (W 3 x every 5)',
    );

    const trainer = await Trainer.create(rt, config);
    await trainer.run();
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
    expect(() => parseAnalysisFile(broken)).toThrow(/^not a valid analysis file: \/experiments\/ablate/);
  });
});
