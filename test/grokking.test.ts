// Acceptance: the quick-add preset groks with weight decay 1 and does not without it (docs/science.md §1: test accuracy
// reaches 0.95 at 440-540 steps for seeds 1, 2, 3 and 42; with wd 0 no grok in 1,200 steps), and the spectral
// edge shows the transition (docs/science.md §2): with decay, g23 = sigma_2^2 - sigma_3^2 of the update window falls by a
// large factor from its pre-grok maximum to the grok step, and so does the gap relative to the modes,
// g23 / sigma_2^2 = 1 - (sigma_3 / sigma_2)^2: sigma_2 and sigma_3 close up. Without decay the raw g23 falls
// too (even more: once the training set is memorised every update shrinks), but the relative gap does not: no
// transition, only a smaller scale. Measured on an H100 (seed 1, grok at 460): raw fall 21.6x, relative 7.4x
// with decay; relative 1.0x without. On SwiftShader (seed 1, grok at 440): g23 8.98 at the first window (step 200)
// -> 0.910 at 440, raw fall 9.9x, relative 3.9x (0.619 -> 0.160); wd 0: raw 11,348x, relative 1.0x.
//
// Slow on SwiftShader (about 0.35 s a step on two cores): the wd-1 run stops at its grok step
// (early stop at the grok threshold), and the wd-0 run trains exactly as many steps.
import { expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { GROK_TEST_ACCURACY } from '../src/train/metrics';

const SEED = 1;
/** docs/science.md's 440-540 with a margin; a later grok is a finding about the engine, not a reason to move this. */
const GROK_WITHIN = 700;
/** With decay, g23 falls by at least this factor from its pre-grok maximum to the grok step... */
const G23_FALL = 5;
/** ...and g23 / sigma_2^2 by at least this; without decay g23 / sigma_2^2 falls by less than NO_TRANSITION. */
const RELATIVE_FALL = 3;
const NO_TRANSITION = 2;

async function train(weightDecay: number, steps: number, stopAtGrok: boolean) {
  const rt = await testRuntime();
  const earlyStop = stopAtGrok ? { testAccuracy: GROK_TEST_ACCURACY, evaluations: 1 } : null;
  const trainer = await Trainer.create(rt, resolveRunConfig('quick-add', SEED, { weightDecay, steps, evalEvery: 20, earlyStop }));
  const reason = await trainer.run();
  const run = trainer.toRunFile();
  const g23 = run.spectral!.map((r) => `${r.step}:${r.g23?.toPrecision(3)}/${(r.g23! / r.sigma[1] ** 2).toPrecision(3)}`).join(' ');
  console.log(`g23 and g23 / sigma_2^2 by window (wd ${weightDecay}): ${g23}`);
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
  const fall = (run: typeof decayed, relative: boolean) => {
    const g23 = run.spectral!.map((r) => r.g23! / (relative ? r.sigma[1] ** 2 : 1));
    return Math.max(...g23) / g23.at(-1)!;
  };
  const falls = (run: typeof decayed) => `g23 ${fall(run, false).toFixed(1)}x, g23 / sigma_2^2 ${fall(run, true).toFixed(1)}x`;
  console.log(`from the pre-grok maximum to the last window: wd 1 ${falls(decayed)}; wd 0 ${falls(undecayed)}`);
  expect(decayed.spectral!.at(-1)!.step).toBe(grokStep);
  expect(fall(decayed, false)).toBeGreaterThan(G23_FALL);
  expect(fall(decayed, true)).toBeGreaterThan(RELATIVE_FALL);
  expect(fall(undecayed, true)).toBeLessThan(NO_TRANSITION);
}, 4 * 3600_000);
