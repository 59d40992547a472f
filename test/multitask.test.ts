// Multitask modular arithmetic: the task (one shared split, a label per op), the model's task heads through the
// trainer (per-head accuracy series and grok events, a valid run file). The model itself is checked against the
// float64 reference with the other tiny models (test/helpers/tiny-models.ts: three task heads).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { MOD_OPS } from '../src/tasks/modarith';
import { MULTITASK_OPS, multitaskBatch, multitaskSplit } from '../src/tasks/multitask';
import { buildParamTable } from '../src/model/params';
import { PRESET_SHAPES } from '../src/train/presets';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { Trainer } from '../src/train/trainer';
import { headGrokEvents } from '../src/train/metrics';
import { datasetLines } from '../src/tasks/text';

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

  it("records each head's test accuracy and grok step in a valid run file", async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-multitask', 1, { steps: 20, evalEvery: 10 });
    const trainer = await Trainer.create(rt, config);
    await trainer.run();
    const run = parseRunFile(JSON.stringify(trainer.toRunFile()));
    expect(run.heads?.names).toEqual([...MULTITASK_OPS]);
    expect(run.heads?.testAcc.map((s) => s.length)).toEqual([2, 2, 2, 2]);
    // The run's token accuracy is the mean over heads (every head scores every test pair).
    const last = run.heads!.testAcc.map((s) => s[1]);
    expect(run.series.testAcc[1]).toBeCloseTo(last.reduce((a, b) => a + b, 0) / last.length, 12);
    // A head groks once, when its own accuracy first reaches 0.95.
    const events = headGrokEvents(40, ['add', 'mul'], [0.96, 0.5], []);
    expect(events).toEqual([{ type: 'grok', step: 40, metric: 'testAcc', value: 0.96, head: 'add' }]);
    expect(headGrokEvents(60, ['add', 'mul'], [0.99, 0.97], events)).toEqual([{ type: 'grok', step: 60, metric: 'testAcc', value: 0.97, head: 'mul' }]);
  });
});
