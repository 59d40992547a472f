// The key moments of a grokking run (src/store/key-moments.ts) on synthetic series: memorisation (train accuracy
// >= 0.99), grokking (test accuracy >= 0.95; a multitask run's grok event), the edge turning decay-driven (v1's
// gradient energy fraction < 0.5 at or after memorisation), each only once it has held for two points in a row; no
// moment yet, a moment at the first point, one noisy point, NaN values, ragged columns. Also what the classroom says
// about them (src/ui/walkthrough.ts), how its walkthrough follows the run, and what it marks on its charts. The
// moments on runs the real engine recorded are tested in test/classroom-run.test.ts.
import { describe, expect, it } from 'vitest';
import { NO_KEY_MOMENTS, detectKeyMoments, momentsInOrder, sameKeyMoments, type KeyMomentInputs } from '../src/store/key-moments';
import { WALKTHROUGH_STEPS, followRun, momentLine, narration, settingsText } from '../src/ui/walkthrough';
import { classroomCharts, classroomMarkers } from '../src/ui/lab-charts';
import type { RunEvent } from '../src/formats/metrics';
import { MIN_PLOT_HEIGHT, buildPlotModel } from '../src/ui/charts/plot-model';

const f = (values: number[]) => Float64Array.from(values);

function inputs(
  evals: { step: number[]; train: number[]; test: number[] },
  spectral: { step: number[]; energy1: number[] } = { step: [], energy1: [] },
  events: RunEvent[] = [],
): KeyMomentInputs {
  return {
    evaluations: { step: f(evals.step), trainAcc: f(evals.train), testAcc: f(evals.test) },
    spectral: { step: f(spectral.step), energy1: f(spectral.energy1) },
    events,
  };
}

const grok = (step: number, value: number, head?: string): RunEvent => ({ type: 'grok', step, metric: 'testAcc', value, ...(head && { head }) });

describe('key moments', () => {
  it('finds none before the first evaluation', () => {
    expect(detectKeyMoments(inputs({ step: [], train: [], test: [] }))).toEqual(NO_KEY_MOMENTS);
  });

  it('finds none while train accuracy is below 0.99, and says where the run stands', () => {
    const m = detectKeyMoments(inputs({ step: [5, 10, 15], train: [0.2, 0.7, 0.989], test: [0.03, 0.04, 0.05] }, { step: [15], energy1: [0.1] }));
    expect(m.memorisation).toBeNull();
    expect(m.grokking).toBeNull();
    // A low energy fraction before memorisation is not the moment.
    expect(m.decayDriven).toBeNull();
    expect(m.edgeSinceMemorisation).toEqual({ records: 0, latest: null, lowest: null });
    expect(m.latest).toEqual({ step: 15, trainAcc: 0.989, testAcc: 0.05 });
  });

  it('finds every moment at the first point', () => {
    const m = detectKeyMoments(inputs({ step: [20, 40], train: [0.99, 1], test: [0.95, 1] }, { step: [20, 40], energy1: [0.49, 0.2] }));
    expect(m.memorisation).toEqual({ kind: 'memorisation', step: 20, value: 0.99 });
    expect(m.grokking).toEqual({ kind: 'grokking', step: 20, value: 0.95 });
    expect(m.decayDriven).toEqual({ kind: 'decay-driven', step: 20, value: 0.49 });
    expect(m.edgeSinceMemorisation).toEqual({ records: 2, latest: { step: 40, value: 0.2 }, lowest: { step: 40, value: 0.2 } });
  });

  it('skips NaN values: they never trigger a moment, and break a streak', () => {
    const m = detectKeyMoments(
      inputs({ step: [5, 10, 15, 20, 25], train: [NaN, 1, NaN, 1, 1], test: [NaN, 0.96, NaN, 0.97, 0.98] }, { step: [20, 25, 30, 35], energy1: [NaN, 0.7, 0.3, 0.2] }),
    );
    expect(m.memorisation).toEqual({ kind: 'memorisation', step: 20, value: 1 });
    expect(m.grokking).toEqual({ kind: 'grokking', step: 20, value: 0.97 });
    expect(m.decayDriven).toEqual({ kind: 'decay-driven', step: 30, value: 0.3 });
    expect(m.edgeSinceMemorisation).toEqual({ records: 4, latest: { step: 35, value: 0.2 }, lowest: { step: 35, value: 0.2 } });
    expect(detectKeyMoments(inputs({ step: [5, 10], train: [1, NaN], test: [0.5, NaN] })).latest!.testAcc).toBeNaN();
  });

  it('takes a moment only once it has held for two points: one noisy window or lucky evaluation is not one', () => {
    // The page's case: v1's energy fraction dips to 0.06 for one window and is back at 0.93 the next.
    const evals = { step: [20, 40, 60, 80, 100], train: [1, 1, 1, 1, 1], test: [0.2, 0.96, 0.4, 0.97, 0.98] };
    const noisy = detectKeyMoments(inputs(evals, { step: [40, 60, 80, 100], energy1: [0.9, 0.06, 0.93, 0.8] }));
    expect(noisy.decayDriven).toBeNull();
    expect(noisy.edgeSinceMemorisation.lowest).toEqual({ step: 60, value: 0.06 });
    // The evaluation at 40 crossed 0.95 alone; from 80 on it holds.
    expect(noisy.grokking).toEqual({ kind: 'grokking', step: 80, value: 0.97 });
    // Held, it is placed at its first point (and only seen once the second arrives).
    const held = detectKeyMoments(inputs(evals, { step: [40, 60, 80, 100], energy1: [0.9, 0.45, 0.3, 0.8] }));
    expect(held.decayDriven).toEqual({ kind: 'decay-driven', step: 60, value: 0.45 });
    expect(detectKeyMoments(inputs(evals, { step: [40, 60], energy1: [0.9, 0.45] })).decayDriven).toBeNull();
  });

  it('takes grokking from the test accuracy, and from the run\'s grok event (not a task head\'s) only when there is none (multitask)', () => {
    const evals = { step: [10, 20, 30], train: [1, 1, 1], test: [0.5, 0.97, 0.99] };
    expect(detectKeyMoments(inputs(evals, undefined, [grok(20, 0.97)])).grokking).toEqual({ kind: 'grokking', step: 20, value: 0.97 });
    const multitask = { ...evals, test: [NaN, NaN, NaN] };
    expect(detectKeyMoments(inputs(multitask, undefined, [grok(10, 0.96, 'add'), grok(30, 0.99)])).grokking).toEqual({ kind: 'grokking', step: 30, value: 0.99 });
    expect(detectKeyMoments(inputs(multitask, undefined, [grok(10, 0.96, 'add')])).grokking).toBeNull();
  });

  it('finds the edge decay-driven only at or after memorisation, and reports its lowest value when it never is', () => {
    const evals = { step: [10, 20, 30, 40], train: [0.6, 1, 1, 1], test: [0.05, 0.1, 0.2, 0.3] };
    const never = detectKeyMoments(inputs(evals, { step: [10, 20, 30, 40], energy1: [0.2, 0.9, 0.55, 0.6] }));
    expect(never.memorisation!.step).toBe(20);
    expect(never.decayDriven).toBeNull();
    expect(never.edgeSinceMemorisation).toEqual({ records: 3, latest: { step: 40, value: 0.6 }, lowest: { step: 30, value: 0.55 } });
    // Exactly 0.5 is not below 0.5; the first value below is the moment, later ones do not move it.
    const later = detectKeyMoments(inputs(evals, { step: [20, 30, 40, 50], energy1: [0.5, 0.45, 0.3, 0.8] }));
    expect(later.decayDriven).toEqual({ kind: 'decay-driven', step: 30, value: 0.45 });
    expect(later.edgeSinceMemorisation.lowest).toEqual({ step: 40, value: 0.3 });
  });

  it('reads only the rows every column has (ragged columns mid-append)', () => {
    const m = detectKeyMoments({
      evaluations: { step: f([10, 20, 30]), trainAcc: f([1, 1, 1, 1]), testAcc: f([0.1, 0.2, 0.3]) },
      spectral: { step: f([20]), energy1: f([0.7, 0.1]) },
      events: [],
    });
    expect(m.latest).toEqual({ step: 30, trainAcc: 1, testAcc: 0.3 });
    expect(m.decayDriven).toBeNull();
    expect(m.edgeSinceMemorisation.records).toBe(1);
  });

  it('orders the moments by step and compares results by value', () => {
    const a = detectKeyMoments(inputs({ step: [10, 20, 30], train: [1, 1, 1], test: [0.1, 0.96, 1] }, { step: [10, 20], energy1: [0.4, 0.3] }));
    expect(momentsInOrder(a).map((m) => `${m.kind}@${m.step}`)).toEqual(['memorisation@10', 'decay-driven@10', 'grokking@20']);
    const b = detectKeyMoments(inputs({ step: [10, 20, 30], train: [1, 1, 1], test: [0.1, 0.96, 1] }, { step: [10, 20], energy1: [0.4, 0.3] }));
    expect(sameKeyMoments(a, b)).toBe(true);
    expect(sameKeyMoments(a, NO_KEY_MOMENTS)).toBe(false);
    const nan = detectKeyMoments(inputs({ step: [10], train: [NaN], test: [NaN] }));
    expect(sameKeyMoments(nan, detectKeyMoments(inputs({ step: [10], train: [NaN], test: [NaN] })))).toBe(true);
  });
});

describe('the classroom walkthrough on the key moments', () => {
  const evals = { step: [20, 40, 60], train: [0.5, 1, 1], test: [0.04, 0.05, 0.2] };
  const memorised = detectKeyMoments(inputs(evals, { step: [40, 60], energy1: [0.8, 0.62] }));

  it('says when a moment happened, and what it waits for while the run goes on', () => {
    const running = { phase: 'running' as const, spectral: true };
    expect(momentLine('memorisation', memorised, running)).toMatchObject({ state: 'seen', text: 'Memorised at step 40: train accuracy 1.00.' });
    expect(momentLine('grokking', memorised, running)).toMatchObject({ state: 'waiting', text: 'Not yet: test accuracy 0.20 at step 60 (grokked at 0.95).' });
    expect(momentLine('decay-driven', memorised, running).text).toBe('Not yet: v₁’s gradient energy fraction is 0.62 at step 60 (decay-driven below 0.5).');
    expect(momentLine('memorisation', NO_KEY_MOMENTS, { phase: 'idle', spectral: null }).text).toBe('Not yet: start the run.');
    expect(narration(memorised, running)).toBe('Step 60: memorised but not generalising yet, train accuracy 1.00, test 0.20.');
  });

  it('says plainly that a moment did not happen once the run has ended, rather than inventing it', () => {
    const finished = { phase: 'finished' as const, spectral: true };
    expect(momentLine('decay-driven', memorised, finished)).toMatchObject({
      state: 'missed',
      text: 'It did not happen in this run: after memorisation v₁’s gradient energy fraction never fell below 0.5 (lowest 0.62, at step 60).',
    });
    expect(momentLine('grokking', memorised, finished).text).toBe('It did not happen in this run: test accuracy stayed below 0.95 (test accuracy 0.20 at step 60, the last evaluation).');
    expect(momentLine('decay-driven', memorised, { phase: 'running', spectral: false })).toMatchObject({ state: 'missed', text: 'Cannot be seen: this run does not track the spectral edge.' });
  });

  it('follows the run: a new moment moves it on to what to watch next, never back, and not on a run opened whole (not going)', () => {
    const index = (id: string) => WALKTHROUGH_STEPS.findIndex((s) => s.id === id);
    const evals = { step: [20, 40, 60, 80], train: [0.5, 1, 1, 1], test: [0.04, 0.05, 0.96, 0.97] };
    const grokked = detectKeyMoments(inputs(evals));
    const decayed = detectKeyMoments(inputs(evals, { step: [60, 80], energy1: [0.3, 0.2] }));
    const necessary = { step: f([60, 80]), edgeDeltaAcc: f([-0.2, -0.3]), randomMaxAbsDelta: f([0, 0]), resolution: f([0.001, 0.001]) };
    const all = detectKeyMoments({ ...inputs(evals, { step: [60, 80], energy1: [0.3, 0.2] }), causal: necessary });
    // Started: on "It memorises"; memorised -> "It groks"; grokked -> the edge; decay-driven -> necessary; all -> "Try it yourself".
    expect(followRun(index('memorise'), NO_KEY_MOMENTS, memorised, true)).toBe(index('grok'));
    expect(followRun(index('grok'), memorised, grokked, true)).toBe(index('edge'));
    expect(followRun(index('memorise'), memorised, grokked, true)).toBe(index('edge')); // not left on "It memorises" after the grok
    expect(followRun(index('edge'), grokked, decayed, true)).toBe(index('necessary'));
    expect(followRun(index('necessary'), decayed, all, true)).toBe(index('try'));
    // A moment ahead of the walkthrough's order (necessary before decay-driven): it waits on the step still to come.
    const necessaryFirst = detectKeyMoments({ ...inputs(evals), causal: necessary });
    expect(followRun(index('edge'), grokked, necessaryFirst, true)).toBe(index('edge'));
    // No new moment, a reader who moved ahead, or a run that is not going: it stays.
    expect(followRun(index('task'), memorised, memorised, true)).toBe(index('task'));
    expect(followRun(index('try'), memorised, grokked, true)).toBe(index('try'));
    expect(followRun(index('memorise'), NO_KEY_MOMENTS, all, false)).toBe(index('memorise'));
  });

  it('states the run\'s weight decay as it is now after a live change, not as it started', () => {
    const run = { preset: 'quick-dyck', seed: 1, steps: 1000, weightDecay: 1 };
    expect(settingsText(run, 1)).toBe('This run: quick-dyck, seed 1, weight decay 1, 1,000 steps.');
    expect(settingsText(run, 0.45)).toBe('This run: quick-dyck, seed 1, weight decay 1, now 0.45, 1,000 steps.');
    expect(settingsText(run, null)).toBe('This run: quick-dyck, seed 1, weight decay 1, 1,000 steps.');
    for (const step of WALKTHROUGH_STEPS) expect(step.text).not.toMatch(/weight decay \d/);
  });

  it('marks the moments on the classroom charts, the grok event once, hyperparameter changes kept', () => {
    const events: RunEvent[] = [{ type: 'hyper', step: 30, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.01, weightDecay: 0.5 } }, grok(60, 0.96)];
    const moments = detectKeyMoments(inputs({ step: [20, 40, 60, 80], train: [0.5, 1, 1, 1], test: [0.04, 0.05, 0.96, 0.97] }, undefined, events));
    expect(classroomMarkers(events, moments)).toEqual([
      { step: 30, kind: 'hyper', label: 'wd 1→0.5' },
      { step: 40, kind: 'memorisation', label: 'memorised @ 40' },
      { step: 60, kind: 'grokking', label: 'grokked @ 60' },
    ]);
    expect(classroomCharts(null).map((c) => [c.id, c.lines.map((l) => l.key)])).toEqual([
      ['loss', ['trainLoss', 'testLoss']],
      ['accuracy', ['trainAcc', 'testAcc']],
      ['g23', ['g23']],
      ['energy-v1', ['energy1']],
      ['causal-ablation', ['edgeDeltaAcc', 'bulkDeltaAcc', 'randomDeltaAccMean']],
    ]);
  });

  it('draws the moments as badges above the plot, in rows that do not overlap', () => {
    const accuracy = classroomCharts(null)[1];
    const data = { length: 3, x: f([10, 20, 30]), y: (key: string) => f(key === 'trainAcc' ? [0.5, 1, 1] : [0, 0.1, 1]) };
    const plain = buildPlotModel(accuracy, data, [], { width: 400, height: 250, logX: false })!;
    const markers = [
      { step: 20, kind: 'memorisation' as const, label: 'memorised @ 20' },
      { step: 21, kind: 'decay-driven' as const, label: 'edge decay-driven @ 21' },
      { step: 30, kind: 'grokking' as const, label: 'grokked @ 30' },
      { step: 15, kind: 'hyper' as const, label: 'wd 1→0' },
    ];
    const model = buildPlotModel(accuracy, data, markers, { width: 400, height: 250, logX: false })!;
    expect(model.markers).toHaveLength(4);
    expect(model.callouts.map((c) => c.marker.kind)).toEqual(['memorisation', 'decay-driven', 'grokking']);
    const [a, b, c] = model.callouts;
    // Close moments go to separate rows; every badge stays inside the figure and above the plot.
    expect(b.y).toBeGreaterThan(a.y);
    for (const badge of model.callouts) {
      expect(badge.x).toBeGreaterThanOrEqual(0);
      expect(badge.x + badge.width).toBeLessThanOrEqual(400);
      expect(badge.y + 17).toBeLessThanOrEqual(model.inner.top);
    }
    for (const p of model.callouts) {
      for (const q of model.callouts) if (p !== q && p.y === q.y) expect(p.x + p.width <= q.x || q.x + q.width <= p.x).toBe(true);
    }
    // The last one ends at its line, at the right edge.
    expect(c.x + c.width).toBeCloseTo(c.px);
    expect(model.inner.top).toBeGreaterThan(plain.inner.top);
    expect(model.x.domain()).toEqual(plain.x.domain());

    // Moments at one step share a badge (on quick-dyck memorisation and grokking both come at step 150): one row, not two.
    const together = buildPlotModel(accuracy, data, [
      { step: 20, kind: 'memorisation', label: 'memorised @ 20' },
      { step: 20, kind: 'grokking', label: 'grokked @ 20' },
      { step: 30, kind: 'decay-driven', label: 'edge decay-driven @ 30' },
    ], { width: 400, height: 250, logX: false })!;
    expect(together.callouts.map((c) => [c.marker.label, c.kinds])).toEqual([
      ['memorised · grokked @ 20', ['memorisation', 'grokking']],
      ['edge decay-driven @ 30', ['decay-driven']],
    ]);
    expect(new Set(together.callouts.map((c) => c.y)).size).toBeLessThanOrEqual(2);
  });

  it('keeps a shared badge inside a narrow chart (one badge a moment instead), and never squashes the plot under its legend', () => {
    // The classroom's ablation chart on a small screen: seven legend entries and two moments at one step, 240 px wide.
    const ablation = classroomCharts(null).find((c) => c.id === 'causal-ablation')!;
    const data = { length: 3, x: f([400, 600, 800]), y: () => f([-0.3, -0.2, -0.25]) };
    const moments = [
      { step: 400, kind: 'decay-driven' as const, label: 'edge decay-driven @ 400' },
      { step: 400, kind: 'edge-necessary' as const, label: 'edge necessary @ 400' },
    ];
    const narrow = buildPlotModel(ablation, data, moments, { width: 240, height: 200, logX: false })!;
    expect(narrow.callouts.map((c) => c.marker.label)).toEqual(['edge decay-driven @ 400', 'edge necessary @ 400']);
    for (const badge of narrow.callouts) {
      expect(badge.x).toBeGreaterThanOrEqual(0);
      expect(badge.x + badge.width).toBeLessThanOrEqual(240);
    }
    // The figure asked for leaves no room under the legend and badges: the model is taller, the plot keeps its height.
    expect(narrow.inner.height).toBe(MIN_PLOT_HEIGHT);
    expect(narrow.height).toBe(narrow.minHeight);
    expect(narrow.minHeight).toBeGreaterThan(200);
    // A wide chart shares the badge, and a tall one is drawn at the height asked for.
    const wide = buildPlotModel(ablation, data, moments, { width: 700, height: 500, logX: false })!;
    expect(wide.callouts.map((c) => c.marker.label)).toEqual(['edge decay-driven · necessary @ 400']);
    expect(wide.height).toBe(500);
    expect(wide.inner.height).toBeGreaterThan(MIN_PLOT_HEIGHT);
  });
});
