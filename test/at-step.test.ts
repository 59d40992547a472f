// Rebuilding a recorded run's model at a step (src/analysis/at-step.ts): from step 0 or from a checkpoint, with a
// mid-run weight-decay change replayed at its step, the parameters equal the original run's bit for bit; the step
// names resolve against the run file; checkpoints of another run are refused.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { parseAnalysisStep, resolveAnalysisStep, trainerAt } from '../src/analysis/at-step';

describe('the model of a run at a step', () => {
  it('replays to the step bit for bit, from scratch or from a checkpoint, changes included', async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-add', 2, { steps: 30, evalEvery: 10, spectral: { enabled: false } });
    const original = await Trainer.create(rt, config);
    await original.run({ until: 10 });
    const checkpoint = await original.checkpoint();
    await original.run({ until: 15 });
    original.setHyper({ weightDecay: 0.2 });
    await original.run({ until: 25 });
    const at25 = await original.engine.readParams();
    await original.run();
    const run = original.toRunFile();

    expect(resolveAnalysisStep(run, 'late')).toBe(30);
    expect(resolveAnalysisStep(run, 12)).toBe(12);
    expect(() => resolveAnalysisStep(run, 'grok')).toThrow(/did not grok/);
    expect(() => resolveAnalysisStep(run, 31)).toThrow(/past its end/);
    expect(parseAnalysisStep('late')).toBe('late');
    expect(parseAnalysisStep('120')).toBe(120);
    expect(() => parseAnalysisStep('soon')).toThrow(/"grok", "late" or a step number/);

    const scratch = await trainerAt(rt, run, 25);
    expect(scratch.replay.fromStep).toBe(0);
    expect(scratch.trainer.engine.optim.weightDecay).toBe(0.2);
    expect(Array.from(await scratch.trainer.engine.readParams())).toEqual(Array.from(at25));

    const resumed = await trainerAt(rt, run, 30, { checkpoints: [{ config, checkpoint }] });
    expect(resumed.replay.fromStep).toBe(10);
    expect(resumed.replay.recordedTestLoss).toBe(run.series.testLoss.at(-1));
    expect(resumed.replay.replayedTestLoss).toBe(run.series.testLoss.at(-1));
    expect(Array.from(await resumed.trainer.engine.readParams())).toEqual(Array.from(await original.engine.readParams()));

    const other = { ...config, seed: 3 };
    await expect(trainerAt(rt, run, 30, { checkpoints: [{ config: other, checkpoint }] })).rejects.toThrow(/another run/);
  });
});
