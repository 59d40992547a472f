// Multitask modular arithmetic: the task (one shared split, a label per op), the model's task heads through the
// trainer (per-head accuracy series and grok events, a valid run file). The model itself is checked against the
// float64 reference with the other tiny models (test/helpers/tiny-models.ts: three task heads).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { MOD_OPS } from '../src/tasks/modarith';
import { MULTITASK_OPS, multitaskBatch, multitaskSplit } from '../src/tasks/multitask';
import { buildParamTable } from '../src/model/params';
import { PRESETS, PRESET_SHAPES, grokMetric } from '../src/train/presets';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { Trainer } from '../src/train/trainer';
import { appendHeadPoint, appendPoint, emptyMetrics, grokEvent, headGrokEvents, shouldStopEarly } from '../src/train/metrics';
import { HEAD_METRIC_KEYS, METRIC_KEYS, type MetricPoint } from '../src/formats/metrics';
import { datasetLines } from '../src/cli/task-text';

describe('multitask modular arithmetic', () => {
  it('splits the pairs a, b in 1..p-1 once for all heads, with one label per op', () => {
    const split = multitaskSplit({ p: 7, ops: MULTITASK_OPS, trainFraction: 0.5, seed: 3 });
    const count = split.train.a.length + split.test.a.length;
    expect(count).toBe(36);
    expect(split.train.a.length).toBe(18);
    const seen = new Set<string>();
    for (const part of [split.train, split.test]) {
      part.a.forEach((a, i) => {
        const b = part.b[i];
        expect(a >= 1 && a <= 6 && b >= 1 && b <= 6).toBe(true);
        seen.add(`${a},${b}`);
        MULTITASK_OPS.forEach((op, h) => expect(part.labels[i * MULTITASK_OPS.length + h]).toBe(MOD_OPS[op](a, b, 7)));
      });
    }
    expect(seen.size).toBe(36);
    const batch = multitaskBatch(split.test, MULTITASK_OPS.length, [2, 0]);
    expect(Array.from(batch.tokens)).toEqual([split.test.a[2], split.test.b[2], split.test.a[0], split.test.b[0]]);
    expect(Array.from(batch.targets)).toEqual([...split.test.labels.subarray(8, 12), ...split.test.labels.subarray(0, 4)]);
    expect(() => multitaskSplit({ p: 7, ops: ['add', 'add'], trainFraction: 0.5, seed: 1 })).toThrow(/distinct/);
  });

  it('prints as "a b<TAB>c1 c2 c3 c4" lines for npm run data', () => {
    const lines = datasetLines(['multitask', '--p', '7', '--part', 'test', '--seed', '3']);
    const split = multitaskSplit({ p: 7, ops: MULTITASK_OPS, trainFraction: 0.5, seed: 3 });
    expect(lines).toHaveLength(18);
    expect(lines[0]).toBe(`${split.test.a[0]} ${split.test.b[0]}\t${Array.from(split.test.labels.subarray(0, 4)).join(' ')}`);
  });

  it('has one head of p classes per op on the modarith trunk: 290,401 + 3 x (97 x 128 + 97) parameters', () => {
    expect(buildParamTable(PRESET_SHAPES.multitask.model).total).toBe(290_401 + 3 * (97 * 128 + 97));
    expect(buildParamTable(PRESET_SHAPES['quick-multitask'].model).total).toBe(37_727 + 3 * (31 * 64 + 31));
  });

  it("records each head's train/test loss and accuracy and grok step in a valid run file", async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-multitask', 1, { steps: 20, evalEvery: 10 });
    const trainer = await Trainer.create(rt, config);
    await trainer.run();
    const run = parseRunFile(JSON.stringify(trainer.toRunFile()));
    expect(run.heads?.names).toEqual([...MULTITASK_OPS]);
    for (const k of HEAD_METRIC_KEYS) expect(run.heads![k].map((s) => s.length), k).toEqual([2, 2, 2, 2]);
    // Every head scores every pair: the run's accuracy is the mean over heads, its loss the sum of the heads' means.
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const last = (k: (typeof HEAD_METRIC_KEYS)[number]) => run.heads![k].map((s) => s[1]);
    for (const part of ['train', 'test'] as const) {
      expect(run.series[`${part}Acc`][1]).toBeCloseTo(sum(last(`${part}Acc`)) / 4, 12);
      expect(run.series[`${part}Loss`][1]).toBeCloseTo(sum(last(`${part}Loss`)), 5);
    }
    // The heads learn at different rates: after 20 steps their losses differ.
    expect(new Set(last('trainLoss')).size).toBe(4);
    // A head groks once, when its own accuracy first reaches 0.95.
    const events = headGrokEvents(40, ['add', 'mul'], [0.96, 0.5], []);
    expect(events).toEqual([{ type: 'grok', step: 40, metric: 'testAcc', value: 0.96, head: 'add' }]);
    expect(headGrokEvents(60, ['add', 'mul'], [0.99, 0.97], events)).toEqual([{ type: 'grok', step: 60, metric: 'testAcc', value: 0.97, head: 'mul' }]);
  });

  it('groks (and stops early) only when every head has, not when the mean over heads reaches the threshold', () => {
    const metric = grokMetric(PRESETS['quick-multitask'].task);
    expect(metric).toBe('minHeadTestAcc');
    const metrics = emptyMetrics(['add', 'mul']);
    const evaluate = (step: number, headTestAcc: number[]) => {
      const testAcc = (headTestAcc[0] + headTestAcc[1]) / 2;
      const zeros = Object.fromEntries(METRIC_KEYS.map((k) => [k, 0])) as unknown as MetricPoint;
      appendPoint(metrics.series, { ...zeros, step, testAcc });
      appendHeadPoint(metrics.heads!, { trainLoss: [0, 0], trainAcc: [1, 1], testLoss: [0, 0], testAcc: headTestAcc });
      const grok = grokEvent(metrics, metric);
      if (grok) metrics.events.push(grok);
      return grok;
    };
    expect(evaluate(20, [1, 0.92])).toBeNull(); // mean 0.96
    expect(evaluate(40, [0.995, 0.95])).toEqual({ type: 'grok', step: 40, metric: 'minHeadTestAcc', value: 0.95 });
    expect(evaluate(60, [1, 1])).toBeNull(); // once
    const rule = { testAccuracy: 0.99, evaluations: 2 };
    expect(shouldStopEarly(metrics, rule, metric)).toBe(false);
    evaluate(80, [0.999, 0.991]);
    expect(shouldStopEarly(metrics, rule, metric)).toBe(true);
  });
});
