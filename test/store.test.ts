// The page's store: growable typed-array series with a version counter, batches appended to them (and a reset
// clearing them), spectral records as chart columns (missing values NaN, never 0), and the run's schedule and
// form following the run on show.
import { describe, expect, it } from 'vitest';
import { SeriesTable } from '../src/store/series-table';
import { createLabStore, createTables, headColumn } from '../src/store/lab-store';
import { chartSources, stableRankChart, trainingCharts } from '../src/ui/lab-charts';
import { STABLE_RANK_MODULES, spectralRow } from '../src/store/spectral-columns';
import { batchOfMetrics, packMetricRows } from '../src/worker/protocol';
import { IDLE_STATUS, type LabBatch, type WorkerStatus } from '../src/formats/worker';
import { emptyMetrics } from '../src/train/metrics';
import { METRIC_KEYS } from '../src/formats/metrics';
import { resolveRunConfig } from '../src/train/run';
import type { SpectralRecord } from '../src/formats/spectral';

describe('SeriesTable', () => {
  it('grows past its capacity, keeps every row, and changes its version on every write', () => {
    const table = new SeriesTable(['step', 'loss'], 2);
    const versions = [table.version];
    for (let i = 0; i < 100; i++) {
      table.append({ step: i * 10, loss: 1 / (i + 1) });
      versions.push(table.version);
    }
    expect(new Set(versions).size).toBe(versions.length);
    expect(table.length).toBe(100);
    expect(table.column('step')[99]).toBe(990);
    expect(table.column('loss')[0]).toBe(1);
    expect(table.row(42)).toEqual({ step: 420, loss: 1 / 43 });
    table.clear();
    expect(table.length).toBe(0);
    expect(table.column('loss')).toHaveLength(0);
    expect(table.version).toBeGreaterThan(versions.at(-1)!);
  });

  it('appends packed rows by name, NaN for a key the packing lacks', () => {
    const table = new SeriesTable(['b', 'a', 'missing']);
    table.appendPacked(Float64Array.from([1, 2, 3, 4, 5, 6]), 3, ['a', 'b']);
    expect(Array.from(table.column('a'))).toEqual([1, 3, 5]);
    expect(Array.from(table.column('b'))).toEqual([2, 4, 6]);
    expect(Array.from(table.column('missing')).every(Number.isNaN)).toBe(true);
    expect(() => table.appendPacked(new Float64Array(5), 3, ['a', 'b'])).toThrow('expected 3 x 2 values, got 5');
    expect(() => table.column('c' as 'a')).toThrow('no series "c" (series: b, a, missing)');
    expect(() => new SeriesTable(['x', 'x'])).toThrow('distinct');
  });
});

const record = (step: number, sigma: number[], extra: Partial<SpectralRecord> = {}): SpectralRecord => ({
  step, sigma, g23: sigma.length >= 3 ? sigma[1] ** 2 - sigma[2] ** 2 : null, kStar: 1, gapRatio: sigma[0] / sigma[1], rotationDeg: [],
  gradEnergyFraction: sigma.map(() => 0.5), alignment: sigma.map(() => -1e-8), trapezoidGradEnergyFraction: sigma.map(() => 0.4),
  deltaGramNorm: null, davisKahanAlpha: [], adiabatic: null, ...extra,
});

describe('spectral columns', () => {
  it('spreads a record over columns, missing values NaN', () => {
    const row = spectralRow(record(40, [3, 2], { rotationDeg: [12.5], adiabatic: 0.7 }));
    expect(row).toMatchObject({ step: 40, sigma1: 3, sigma2: 2, gapRatio: 1.5, kStar: 1, rotation1: 12.5, energy1: 0.5, energy2: 0.5, alignment1: -1e-8, adiabatic: 0.7 });
    for (const k of ['sigma3', 'sigma5', 'g23', 'rotation2', 'energy3', 'deltaGramNorm', 'stableRankQ1', 'stableRankK1'] as const) expect(row[k]).toBeNaN();
  });

  it('gives each attention module its stable-rank columns, and the chart one W_Q and one W_K line per module of the run', () => {
    expect(STABLE_RANK_MODULES).toBe(9); // SCAN: 3 encoder layers, 3 decoder layers with self- and cross-attention
    const row = spectralRow(record(60, [3, 2], { stableRank: { q: [20.5, 18], k: [9.25, 7] } }));
    expect(row).toMatchObject({ stableRankQ1: 20.5, stableRankQ2: 18, stableRankK1: 9.25, stableRankK2: 7 });
    expect(row.stableRankQ3).toBeNaN();
    expect(row.stableRankK9).toBeNaN();

    expect(stableRankChart(null).lines).toEqual([]);
    const one = stableRankChart(resolveRunConfig('quick-add', 1, {})).lines;
    expect(one.map((l) => [l.key, l.label])).toEqual([['stableRankQ1', 'W_Q'], ['stableRankK1', 'W_K']]);
    expect(one[0].color).toBe(one[1].color);
    expect(one[0].dash).not.toEqual(one[1].dash);
    const scan = stableRankChart(resolveRunConfig('scan', 1, {})).lines;
    expect(scan).toHaveLength(18);
    expect(scan.map((l) => l.label).slice(0, 2)).toEqual(['W_Q enc L1', 'W_K enc L1']);
    expect(scan.map((l) => l.label).slice(-2)).toEqual(['W_Q dec L3 cross', 'W_K dec L3 cross']);
    expect(scan.at(-1)!.key).toBe('stableRankK9');
  });
});

describe('lab store', () => {
  const config = resolveRunConfig('quick-add', 5, { steps: 40, evalEvery: 10, weightDecay: 0.5 });
  const status = (over: Partial<WorkerStatus>): WorkerStatus => ({ ...IDLE_STATUS, runId: 'r1', phase: 'running', totalSteps: 40, ...over });
  const series = emptyMetrics().series;
  for (let i = 1; i <= 4; i++) METRIC_KEYS.forEach((k, c) => series[k].push(k === 'step' ? i * 10 : i * 100 + c));

  it('appends batches to the tables outside React and keeps events, status and schedule in the store', () => {
    const tables = createTables();
    const store = createLabStore(tables);
    const v0 = tables.metrics.version;
    const change = { type: 'hyper' as const, step: 15, before: { lr: 0.01, weightDecay: 0.5 }, after: { lr: 0.01, weightDecay: 0 } };
    const batches: LabBatch[] = [
      { reset: { config, headNames: null }, status: status({ step: 0 }), metrics: packMetricRows(series, 0, 0), events: [] },
      { status: status({ step: 12 }), metrics: packMetricRows(series, 0, 1), spectral: [record(10, [2, 1])] },
      { status: status({ step: 15, schedule: [{ step: 15, lr: 0.01, weightDecay: 0 }] }), events: [change] },
      { status: status({ step: 31, schedule: [{ step: 15, lr: 0.01, weightDecay: 0 }] }), metrics: packMetricRows(series, 1, 3) },
    ];
    store.getState().applyBatch(batches[0]);
    expect(store.getState().form.values).toMatchObject({ seed: '5', steps: '40', evalEvery: '10', weightDecay: '0.5' });
    for (const b of batches.slice(1)) store.getState().applyBatch(b);
    expect(tables.metrics.version).toBeGreaterThan(v0);
    expect(Array.from(tables.metrics.column('step'))).toEqual([10, 20, 30]);
    expect(Array.from(tables.metrics.column('testAcc'))).toEqual(series.testAcc.slice(0, 3));
    expect(tables.spectral.length).toBe(1);
    const state = store.getState();
    expect(state.events).toEqual([change]);
    expect(state.status.step).toBe(31);
    expect(state.spectralCount).toBe(1);
    expect(state.schedule).toEqual([{ step: 15, lr: 0.01, weightDecay: 0 }]);

    // Clearing the form's copy of the schedule sticks until the run's own schedule changes.
    store.getState().setSchedule([]);
    store.getState().applyBatch({ status: status({ step: 33, schedule: [{ step: 15, lr: 0.01, weightDecay: 0 }] }) });
    expect(store.getState().schedule).toEqual([]);

    // A reset clears what was shown.
    store.getState().applyBatch({ reset: { config: null, headNames: null }, status: { ...IDLE_STATUS } });
    expect(tables.metrics.length).toBe(0);
    expect(tables.spectral.length).toBe(0);
    expect(tables.spectralRecords).toEqual([]);
    expect(store.getState().events).toEqual([]);
    expect(store.getState().config).toBeNull();
  });

  it('fills the form from a shown run, and says which of its command-line options the form cannot hold', () => {
    const store = createLabStore(createTables());
    const cli = resolveRunConfig('quick-add', 2, { p: 17, dModel: 32, nHeads: 2, trainFraction: 0.5, earlyStop: { testAccuracy: 0.99, evaluations: 3 }, spectral: { centred: true, solver: 'lanczos' } });
    store.getState().applyBatch({ reset: { config: cli, headNames: null }, status: status({ step: 0 }) });
    expect(store.getState().form.values).toMatchObject({ seed: '2', p: '17', dModel: '32', nHeads: '2', trainFraction: '0.5' });
    expect(store.getState().notice).toEqual({
      kind: 'info',
      text: 'This run was made with --early-stop 3, --centred, --solver lanczos, which the form has no field for: New run starts without them (resuming this run, here or with npm run experiment -- --resume, keeps them).',
    });
    store.getState().setNotice(null);
    store.getState().applyBatch({ reset: { config, headNames: null }, status: status({ step: 0 }) });
    expect(store.getState().notice).toBeNull();
  });

  it('keeps a multitask run\'s per-head series, aligned with the evaluations', () => {
    const tables = createTables();
    const store = createLabStore(tables);
    const names = ['add', 'mul'];
    const heads = { names, trainLoss: [[1, 2], [3, 4]], trainAcc: [[0.1, 0.2], [0.3, 0.4]], testLoss: [[5, 6], [7, 8]], testAcc: [[0.5, 0.6], [0.7, 0.8]] };
    const two = emptyMetrics().series;
    METRIC_KEYS.forEach((k) => two[k].push(1, 2));
    store.getState().applyBatch(batchOfMetrics(null, { series: two, events: [], heads }, IDLE_STATUS));
    expect(store.getState().headNames).toEqual(names);
    const data = chartSources(tables).heads.data();
    expect(data.length).toBe(2);
    expect(Array.from(data.y(headColumn('testAcc', 'mul')))).toEqual([0.7, 0.8]);
    expect(Array.from(data.y(headColumn('trainLoss', 'add')))).toEqual([1, 2]);
    const chart = trainingCharts(null, names).find((c) => c.id === 'heads')!;
    expect(chart.lines.map((l) => l.label)).toEqual(names);
  });

  it('detects the key moments as batches arrive (each once it has held for two points), and clears them with the run', () => {
    const tables = createTables();
    const store = createLabStore(tables);
    const acc = emptyMetrics().series;
    const rows: [number, number, number][] = [[10, 0.4, 0.03], [20, 1, 0.05], [30, 1, 0.97], [40, 1, 0.98]];
    for (const [step, train, test] of rows) METRIC_KEYS.forEach((k) => acc[k].push(k === 'step' ? step : k === 'trainAcc' ? train : k === 'testAcc' ? test : 0));
    store.getState().applyBatch({ reset: { config, headNames: null }, status: status({ step: 0 }), events: [] });
    expect(store.getState().moments.memorisation).toBeNull();
    store.getState().applyBatch({ status: status({ step: 20 }), metrics: packMetricRows(acc, 0, 2), spectral: [record(20, [3, 2, 1], { gradEnergyFraction: [0.7] })] });
    // Train accuracy 1 at step 20 only: not a moment yet.
    expect(store.getState().moments.memorisation).toBeNull();
    store.getState().applyBatch({ status: status({ step: 30 }), metrics: packMetricRows(acc, 2, 3), spectral: [record(30, [3, 2, 1], { gradEnergyFraction: [0.3] })] });
    const first = store.getState().moments;
    expect(first.memorisation).toEqual({ kind: 'memorisation', step: 20, value: 1 });
    expect(first.decayDriven).toBeNull();
    // A batch with nothing new keeps the same object (nothing re-renders).
    store.getState().applyBatch({ status: status({ step: 31 }) });
    expect(store.getState().moments).toBe(first);
    store.getState().applyBatch({
      status: status({ step: 40 }),
      metrics: packMetricRows(acc, 3, 4),
      spectral: [record(40, [3, 2, 1], { gradEnergyFraction: [0.2] })],
      events: [{ type: 'grok', step: 30, metric: 'testAcc', value: 0.97 }],
    });
    expect(store.getState().moments).toMatchObject({ grokking: { step: 30, value: 0.97 }, decayDriven: { step: 30, value: 0.3 } });
    store.getState().applyBatch({ reset: { config: null, headNames: null }, status: { ...IDLE_STATUS } });
    expect(store.getState().moments).toMatchObject({ memorisation: null, grokking: null, decayDriven: null, latest: null });
  });

  it('switches classroom mode and moves the walkthrough, never before its first step', () => {
    const store = createLabStore(createTables());
    expect(store.getState()).toMatchObject({ classroom: false, walkthroughStep: 0 });
    store.getState().setClassroom(true);
    store.getState().setWalkthroughStep(2);
    expect(store.getState()).toMatchObject({ classroom: true, walkthroughStep: 2 });
    store.getState().setWalkthroughStep(-3);
    expect(store.getState().walkthroughStep).toBe(0);
  });

  it('keeps the form when the preset changes only for the seed, and drops a replay schedule', () => {
    const store = createLabStore(createTables());
    store.getState().setField('seed', '9');
    store.getState().setField('lr', '0.5');
    store.getState().setSchedule([{ step: 3, lr: 1, weightDecay: 1 }]);
    store.getState().setPreset('quick-dyck');
    expect(store.getState().form).toMatchObject({ preset: 'quick-dyck', values: { seed: '9', lr: '0.001', steps: '1000' } });
    expect(store.getState().schedule).toEqual([]);
  });
});
