// Run configuration (presets + overrides), metric rules, and the run file: round trip through JSON and the
// schema's errors, which must name the offending path. No GPU needed.
import { describe, expect, it } from 'vitest';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_SCHEMA, RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../src/formats/run-file';
import { PRESETS, buildTaskData, grokMetric } from '../src/train/presets';
import { GROK_TEST_ACCURACY, appendPoint, emptyMetrics, grokEvent, grokStep, paramNorms, pointAt, shouldStopEarly } from '../src/train/metrics';
import { METRIC_KEYS, type MetricPoint, type RunEvent } from '../src/formats/metrics';
import { Rng } from '../src/util/random';

describe('resolveRunConfig', () => {
  it('applies overrides over the preset and sizes a full batch to the training set', () => {
    const base = resolveRunConfig('quick-add', 7, {});
    expect(base.optim).toEqual(PRESETS['quick-add'].optim);
    expect(base.steps).toBe(PRESETS['quick-add'].steps);
    expect(base.shape.batch).toBe(buildTaskData(base.task, 7).trainCount);
    expect(base.earlyStop).toBeNull();

    const changed = resolveRunConfig('quick-add', 7, { lr: 3e-3, weightDecay: 0, steps: 50, evalEvery: 5, op: 'mul' });
    expect(changed.optim).toEqual({ ...base.optim, lr: 3e-3, weightDecay: 0 });
    expect([changed.steps, changed.evalEvery]).toEqual([50, 5]);
    expect(changed.task).toEqual({ ...base.task, op: 'mul' });
    // mul drops the zero row and column, so its training set (and full batch) is smaller.
    expect(changed.shape.batch).toBe(buildTaskData(changed.task, 7).trainCount);
    expect(changed.shape.batch).toBeLessThan(base.shape.batch);

    // A train fraction re-splits the pairs: 0.3 of quick-add's 961 trains, and the full batch follows.
    const smaller = resolveRunConfig('quick-add', 7, { trainFraction: 0.3 });
    expect(smaller.task).toEqual({ ...base.task, trainFraction: 0.3 });
    expect(smaller.shape.batch).toBe(Math.floor(0.3 * 31 * 31));

    // Minibatch presets keep their batch size.
    expect(resolveRunConfig('dyck', 1, {}).shape).toEqual(PRESETS.dyck.shape);
  });

  it('names the bad setting', () => {
    expect(() => resolveRunConfig('nope', 1, {})).toThrow(/unknown preset "nope"/);
    expect(() => resolveRunConfig('dyck', 1, { op: 'add' })).toThrow(/op applies to modular-arithmetic presets only/);
    expect(() => resolveRunConfig('modarith', 1, { op: 'div' as never })).toThrow(/unknown op "div"/);
    expect(() => resolveRunConfig('dyck', 1, { trainFraction: 0.5 })).toThrow(/trainFraction applies to modular-arithmetic and multitask presets only/);
    expect(() => resolveRunConfig('quick-add', 1, { trainFraction: 1 })).toThrow(/trainFraction must be in \(0, 1\), got 1/);
    expect(() => resolveRunConfig('modarith', 1, { steps: 2.5 })).toThrow(/steps must be an integer in \[1, 10000000\], got 2.5/);
    expect(() => resolveRunConfig('modarith', 1, { evalEvery: 0 })).toThrow(/evalEvery must be an integer in \[1, 10000000\], got 0/);
    expect(() => resolveRunConfig('modarith', 1, { weightDecay: -1 })).toThrow(/weightDecay/);
    expect(() => resolveRunConfig('modarith', -3, {})).toThrow(/seed/);
    expect(() => resolveRunConfig('modarith', 1, { earlyStop: { testAccuracy: 2, evaluations: 1 } })).toThrow(/earlyStop.testAccuracy/);
  });
});

describe('metric rules', () => {
  it('paramNorms sums all parameters and the attention slice', () => {
    const rng = new Rng(3);
    const params = Float32Array.from({ length: 101 }, () => rng.normal());
    const attn = { offset: 0, size: 40 };
    const norm = (xs: Float32Array) => Math.hypot(...xs);
    const norms = paramNorms(params, attn);
    expect(norms.theta).toBeCloseTo(norm(params), 10);
    expect(norms.attn).toBeCloseTo(norm(params.subarray(0, 40)), 10);
  });

  it('early stopping needs the last K evaluations at or above the threshold', () => {
    const metrics = emptyMetrics();
    const { series } = metrics;
    const rule = { testAccuracy: 0.99, evaluations: 3 };
    for (const acc of [0.2, 0.995, 0.99, 0.5, 0.99, 1]) {
      series.testAcc.push(acc);
      expect(shouldStopEarly(metrics, rule, 'testAcc')).toBe(false);
    }
    series.testAcc.push(0.999);
    expect(shouldStopEarly(metrics, rule, 'testAcc')).toBe(true);
    // SCAN reads sequence accuracy: the same token accuracies say nothing there.
    expect(shouldStopEarly(metrics, rule, 'testSeqAcc')).toBe(false);
    expect(grokStep([{ type: 'hyper', step: 3, before: { lr: 1, weightDecay: 1 }, after: { lr: 1, weightDecay: 0 } }, { type: 'grok', step: 40, metric: 'testAcc', value: 0.96 }])).toBe(40);
    expect(grokStep([])).toBeNull();
  });

  it("detects grokking once, on the task's metric: sequence accuracy for SCAN", () => {
    const point = { ...pointAt(sampleRun(1).series, 0), step: 70, testAcc: 0.97, testSeqAcc: 0.6 };
    /** The metrics of a run whose latest evaluation is `p`. */
    const runAt = (p: MetricPoint, events: RunEvent[] = []) => {
      const metrics = emptyMetrics();
      appendPoint(metrics.series, p);
      metrics.events.push(...events);
      return metrics;
    };
    expect(grokMetric(PRESETS.scan.task)).toBe('testSeqAcc');
    expect(grokMetric(PRESETS.dyck.task)).toBe('testAcc');
    expect(grokEvent(runAt(point), 'testSeqAcc')).toBeNull();
    expect(grokEvent(runAt(point), 'testAcc')).toEqual({ type: 'grok', step: 70, metric: 'testAcc', value: 0.97 });
    expect(grokEvent(runAt({ ...point, testSeqAcc: GROK_TEST_ACCURACY }), 'testSeqAcc')).toMatchObject({ metric: 'testSeqAcc', value: GROK_TEST_ACCURACY });
    // Only the first evaluation that reaches it.
    expect(grokEvent(runAt(point, [{ type: 'grok', step: 50, metric: 'testAcc', value: 0.96 }]), 'testAcc')).toBeNull();
  });
});

/** A plausible run file with seeded random metrics. */
function sampleRun(points: number): RunFile {
  const config = resolveRunConfig('quick-add', 5, { steps: points * 10, evalEvery: 10 });
  const metrics = emptyMetrics();
  const rng = new Rng(11);
  let last: MetricPoint | null = null;
  for (let i = 1; i <= points; i++) {
    last = Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? i * 10 : rng.uniform()])) as unknown as MetricPoint;
    appendPoint(metrics.series, last);
  }
  metrics.events.push({ type: 'hyper', step: 10, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.01, weightDecay: 0 } });
  metrics.events.push({ type: 'grok', step: 20, metric: 'testAcc', value: 0.97 });
  metrics.events.push({ type: 'divergence', step: 40, restoredStep: 30, message: 'training diverged at step 40 (batchLoss NaN)' });
  return {
    version: RUN_FILE_VERSION,
    kind: RUN_FILE_KIND,
    config,
    ...metrics,
    summary: { steps: 30, grokStep: 20, stopReason: 'diverged', final: last, wallMs: 1234, adapter: 'test adapter' },
  };
}

/** The run file as JSON, edited by `change` (which mutates the parsed copy). */
function edited(change: (run: Record<string, any>) => void): string {
  const run = JSON.parse(JSON.stringify(sampleRun(4)));
  change(run);
  return JSON.stringify(run);
}

describe('run file', () => {
  it('round-trips through JSON and validates against RUN_SCHEMA', () => {
    const run = sampleRun(4);
    expect(parseRunFile(JSON.stringify(run))).toEqual(run);
    expect(parseRunFile(JSON.parse(JSON.stringify(run)))).toEqual(run);
    expect(RUN_SCHEMA.properties.series.required).toEqual(METRIC_KEYS);
  });

  it('accepts only a configuration the lab makes from its preset, seed and overrides', () => {
    const fail = (change: (run: Record<string, any>) => void) => {
      try {
        parseRunFile(edited(change));
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('the run file was accepted');
    };
    // Schema-valid, but not a run this lab could have made: refused before anything is built from it.
    expect(fail((r) => (r.config.task.p = 30011))).toBe('invalid run file: config.task.p is 30011; preset quick-add with seed 5 and the file\'s overrides gives 31');
    expect(fail((r) => (r.config.optim.lr = -1))).toBe('invalid run file: config.optim.lr is -1; preset quick-add with seed 5 and the file\'s overrides gives 0.01');
    expect(fail((r) => (r.config.overrides.lr = -1))).toBe('invalid run file: config.overrides: lr: must be >= 0, got -1');
    expect(fail((r) => (r.config.model.dModel = 4096))).toMatch(/^invalid run file: config\.model\.dModel is 4096; preset quick-add .* gives 64$/);
    expect(fail((r) => (r.config.shape.batch = 1e9))).toMatch(/^invalid run file: config\.shape\.batch is 1000000000; .* gives 576$/);
    expect(fail((r) => (r.config.overrides.spectral = { window: 1e6 }))).toBe('invalid run file: config.overrides: spectral.window must be an integer in [2, 256], got 1000000');
    expect(fail((r) => (r.config.overrides.steps = 1e12))).toBe('invalid run file: config.overrides: steps must be an integer in [1, 10000000], got 1000000000000');
    // Overrides and configuration changed together are a run the lab makes.
    const wd = JSON.parse(edited((r) => ((r.config.overrides.weightDecay = 0.25), (r.config.optim.weightDecay = 0.25))));
    expect(parseRunFile(wd).config.optim.weightDecay).toBe(0.25);
    // Files written before the decay and gap-flow fields existed still load.
    const older = JSON.parse(edited((r) => (delete r.config.decay, delete r.config.spectral.gapFlow)));
    expect(parseRunFile(older).config.decay).toBeUndefined();
  });

  it('reports schema errors by path', () => {
    const fail = (json: string) => {
      try {
        parseRunFile(json);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('the run file was accepted');
    };
    expect(fail(edited((r) => (r.series.testAcc[3] = 'high')))).toBe('invalid run file: series.testAcc[3] is "high"; must be number');
    expect(fail(edited((r) => delete r.config.seed))).toBe('invalid run file: config: the field "seed" is missing');
    expect(fail(edited((r) => (r.config.preset = 'huge')))).toMatch(/^invalid run file: config\.preset is "huge"; must be one of "modarith", "dyck"/);
    expect(fail(edited((r) => (r.events[1].step = -4)))).toBe('invalid run file: events[1].step is -4; must be >= 0');
    expect(fail(edited((r) => (r.events[0].type = 'party')))).toBe('invalid run file: events[0].type is "party"; must be one of "grok", "hyper", "divergence"');
    expect(fail(edited((r) => (r.summary.colour = 'red')))).toBe('invalid run file: summary: unknown field "colour"');
    expect(fail(edited((r) => r.series.gradNorm.pop()))).toMatch(/^invalid run file: series\.gradNorm is \[.*; must hold one value per evaluation \(series\.step has 4\)$/);
    expect(fail(edited((r) => (r.series.step[2] = 10)))).toBe('invalid run file: series.step[2] is 10; must come after series.step[1] (20)');
    expect(fail(edited((r) => (r.version = 1)))).toBe('unsupported run file version 1; this lab reads versions 2, 3');
    expect(fail(edited((r) => (r.kind = 'something.else')))).toBe('not a run file: kind is "something.else", expected "spectral-edge-lab.run"');
    expect(fail('{"version": 1,')).toMatch(/^not a run file: not JSON \(/);
    expect(fail('[]')).toBe('not a run file: a run file is a JSON object, got []');
  });
});
