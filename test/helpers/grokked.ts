// A quick-add model that has grokked, for the experiments' acceptance tests: seed 1, weight decay 1, trained to
// step 500 (it groks at 440 on SwiftShader; SPEC: 440-540), tracking the spectral edge at the preset's cadence
// (a window of 10 snapshots every 20 steps). Trained once per test file (about 3 minutes on SwiftShader).
import { testRuntime } from './gpu';
import { Trainer } from '../../src/train/trainer';
import { resolveRunConfig } from '../../src/train/run';

export const GROKKED_STEPS = 500;

let trained: Promise<Trainer> | undefined;
export function grokkedQuickAdd(): Promise<Trainer> {
  trained ??= (async () => {
    const trainer = await Trainer.create(await testRuntime(), resolveRunConfig('quick-add', 1, { steps: GROKKED_STEPS, evalEvery: 20 }));
    await trainer.run();
    if (trainer.grokStep === null) throw new Error(`quick-add seed 1 did not grok in ${GROKKED_STEPS} steps: an engine bug, not a fixture to loosen`);
    return trainer;
  })();
  return trained;
}
