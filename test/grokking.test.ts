// Acceptance: the quick-add preset groks with weight decay 1 and does not without it (SPEC §1: test accuracy
// reaches 0.95 at 440-540 steps for seeds 1, 2, 3 and 42; with wd 0 no grok in 1,200 steps), and the spectral
// edge shows the transition (SPEC §2): with decay, g23 = sigma_2^2 - sigma_3^2 of the update window falls by a
// large factor from its pre-grok maximum to the grok step; without decay it does not.
//
// Slow on SwiftShader (about 0.35 s a step on two cores): the wd-1 run stops at its grok step
// (early stop at the grok threshold), and the wd-0 run trains exactly as many steps.
import { expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { GROK_TEST_ACCURACY } from '../src/train/metrics';

const SEED = 1;
/** SPEC's 440-540 with a margin; a later grok is a finding about the engine, not a reason to move this. */
const GROK_WITHIN = 700;
/** The factor by which g23 must fall from its pre-grok maximum to the grok step with decay (and not without). */
const G23_FALL = 10;

async function train(weightDecay: number, steps: number, stopAtGrok: boolean) {
  const rt = await testRuntime();
  const earlyStop = stopAtGrok ? { testAccuracy: GROK_TEST_ACCURACY, evaluations: 1 } : null;
  const trainer = await Trainer.create(rt, resolveRunConfig('quick-add', SEED, { weightDecay, steps, evalEvery: 20, earlyStop }));
  const reason = await trainer.run();
  const run = trainer.toRunFile();
  const g23 = run.spectral!.map((r) => `${r.step}:${r.g23?.toPrecision(3)}`).join(' ');
  console.log(`g23 by window (wd ${weightDecay}): ${g23}`);
  console.log(
    `quick-add seed ${SEED} wd ${weightDecay}: ${reason} at step ${run.summary.steps}, grok step ${run.summary.grokStep}, ` +
      `final test acc ${run.summary.final?.testAcc.toFixed(3)}, ${(run.summary.wallMs / run.summary.steps).toFixed(0)} ms/step on ${run.summary.adapter}`,
  );
  return run;
}

it(`quick-add groks with wd 1 within ${GROK_WITHIN} steps and not with wd 0 in as many steps`, async () => {
  const decayed = await train(1, GROK_WITHIN, true);
  const grokStep = decayed.summary.grokStep;
  expect(grokStep).not.toBeNull();
  expect(decayed.summary.stopReason).toBe('early-stop');

  const undecayed = await train(0, grokStep ?? GROK_WITHIN, false);
  expect(undecayed.summary.stopReason).toBe('completed');
  expect(undecayed.summary.grokStep).toBeNull();
  // Not a broken run: without decay the model memorises the training set but does not generalise.
  expect(undecayed.summary.final?.trainAcc).toBe(1);
  expect(undecayed.summary.final?.testAcc).toBeLessThan(GROK_TEST_ACCURACY);

  // The spectral edge (tracked by default, without changing training: the grok step above is the one without it).
  const fall = (run: typeof decayed) => {
    const g23 = run.spectral!.map((r) => r.g23!);
    return Math.max(...g23) / g23.at(-1)!;
  };
  console.log(`g23 pre-grok maximum / g23 at the last window: wd 1 ${fall(decayed).toFixed(1)}, wd 0 ${fall(undecayed).toFixed(1)}`);
  expect(decayed.spectral!.at(-1)!.step).toBe(grokStep);
  expect(fall(decayed)).toBeGreaterThan(G23_FALL);
  expect(fall(undecayed)).toBeLessThan(G23_FALL);
}, 4 * 3600_000);
