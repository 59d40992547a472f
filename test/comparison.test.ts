// Comparing saved runs (src/ui/comparison.ts): the legend names what differs between the runs, each run keeps its
// own steps on a shared x column (NaN elsewhere) and its line joins its points across the gaps, grok steps become
// markers, spectral charts appear only when a run has records, and the overlay's data exports as JSON and CSV.
import { describe, expect, it } from 'vitest';
import { comparisonCharts, comparisonLabels, comparisonMarkers } from '../src/ui/comparison';
import { buildPlotModel } from '../src/ui/charts/plot-model';
import { subPaths } from '../src/ui/charts/downsample';
import { chartDataCsv, chartDataJson } from '../src/ui/charts/chart-data';
import { resolveRunConfig } from '../src/train/run';
import type { RunFile } from '../src/formats/run-file';
import { emptyMetrics } from '../src/train/metrics';
import type { RunEvent } from '../src/formats/metrics';
import type { SpectralRecord } from '../src/formats/spectral';

function run(seed: number, wd: number, steps: number[], testAcc: number[], extra: { events?: RunEvent[]; spectral?: SpectralRecord[]; preset?: 'quick-add' | 'quick-dyck' } = {}): RunFile {
  const config = resolveRunConfig(extra.preset ?? 'quick-add', seed, { weightDecay: wd });
  const series = emptyMetrics().series;
  steps.forEach((step, i) => {
    for (const key of Object.keys(series) as (keyof typeof series)[]) series[key].push(key === 'step' ? step : key === 'testAcc' ? testAcc[i] : 0.5);
  });
  return { config, series, events: extra.events ?? [], ...(extra.spectral && { spectral: extra.spectral }), summary: { steps: steps.at(-1)! } } as unknown as RunFile;
}

const record = (step: number, g23: number, energy: number) => ({ step, g23, gradEnergyFraction: [energy] }) as unknown as SpectralRecord;

describe('comparing runs', () => {
  it('labels each run by what differs between them', () => {
    expect(comparisonLabels([run(1, 1, [20], [0]), run(2, 1, [20], [0])])).toEqual(['seed 1', 'seed 2']);
    expect(comparisonLabels([run(1, 1, [20], [0]), run(1, 0.3, [20], [0])])).toEqual(['wd 1', 'wd 0.3']);
    expect(comparisonLabels([run(1, 1, [20], [0]), run(2, 0, [20], [0])])).toEqual(['seed 1 · wd 1', 'seed 2 · wd 0']);
    const changed = run(1, 1, [20], [0], { events: [{ type: 'hyper', step: 10, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.01, weightDecay: 0.45 } }] });
    expect(comparisonLabels([run(1, 1, [20], [0]), changed])).toEqual(['wd 1', 'wd 1→0.45']);
    // Nothing differs: the seed, numbered.
    expect(comparisonLabels([run(3, 1, [20], [0]), run(3, 1, [20], [0])])).toEqual(['seed 3 (#1)', 'seed 3 (#2)']);
    expect(comparisonLabels([run(1, 1, [20], [0]), run(1, 1, [50], [0], { preset: 'quick-dyck' })])[1]).toMatch(/^quick-dyck · dyck · 71,181 parameters · batch 50/);
    // Runs of other sizes, moduli or optimiser constants (docs/science.md §1) say so: 13,937 parameters at p 17,
    // d_model 32, plus QK-norm's two gains of head_dim 16.
    const resized = { ...run(1, 1, [20], [0]), config: resolveRunConfig('quick-add', 1, { p: 17, dModel: 32, nHeads: 2, beta2: 0.95, qkNorm: true }) };
    expect(comparisonLabels([run(1, 1, [20], [0]), resized])).toEqual([
      'add mod 31, fraction 0.6 · 37,727 parameters · batch 576 · β 0.9/0.98, ε 1e-8, clip 1',
      'add mod 17, fraction 0.6 · 13,969 parameters, QK-norm · batch 173 · β 0.9/0.95, ε 1e-8, clip 1',
    ]);
  });

  it('puts the runs on the union of their steps and joins each run\'s points across the others\' steps', () => {
    const a = run(1, 1, [20, 40, 60], [0.1, 0.5, 1], { events: [{ type: 'grok', step: 60, metric: 'testAcc', value: 1 }] });
    const b = run(2, 1, [30, 60, 90], [0.2, 0.3, 0.96], { events: [{ type: 'grok', step: 90, metric: 'testAcc', value: 0.96 }] });
    const runs = [{ id: 'a', file: a }, { id: 'b', file: b }];
    const charts = comparisonCharts(runs);
    expect(charts.map((c) => c.spec.id)).toEqual(['compare-test-accuracy', 'compare-train-accuracy', 'compare-test-loss', 'compare-theta-norm']);
    const { spec, data } = charts[0];
    expect(spec.lines.map((l) => [l.key, l.label])).toEqual([['a', 'seed 1'], ['b', 'seed 2']]);
    expect(spec.lines[0].color).not.toBe(spec.lines[1].color);
    expect(Array.from(data.x)).toEqual([20, 30, 40, 60, 90]);
    expect(Array.from(data.y('a'))).toEqual([0.1, NaN, 0.5, 1, NaN]);
    expect(Array.from(data.y('b'))).toEqual([NaN, 0.2, NaN, 0.3, 0.96]);
    const markers = comparisonMarkers(runs);
    expect(markers).toEqual([{ step: 60, kind: 'grok', label: 'seed 1 groks @ 60' }, { step: 90, kind: 'grok', label: 'seed 2 groks @ 90' }]);
    const model = buildPlotModel(spec, data, markers, { width: 500, height: 260, logX: false })!;
    for (const line of model.lines) expect(subPaths(line.polyline)).toHaveLength(1); // one unbroken line per run
    // The overlay's data as files: one column per run, empty where a run has no point.
    expect(chartDataCsv(spec, data).split('\n').slice(0, 3)).toEqual(['step,seed 1,seed 2', '20,0.1,', '30,,0.2']);
    expect(chartDataJson(spec, data, markers).series.map((s) => s.label)).toEqual(['seed 1', 'seed 2']);
  });

  it('adds the spectral overlays when a run has records', () => {
    const a = run(1, 1, [20, 40], [0, 0], { spectral: [record(200, 3, 0.9), record(220, 0.5, 0.3)] });
    const charts = comparisonCharts([{ id: 'a', file: a }, { id: 'b', file: run(2, 0, [20, 40], [0, 0]) }]);
    const g23 = charts.find((c) => c.spec.id === 'compare-g23')!;
    expect(Array.from(g23.data.x)).toEqual([200, 220]);
    expect(g23.data.span).toEqual([20, 40]); // the evaluations' span: the same x axis as the other overlays
    // A quantity no run has a value of (g23 of windows of two) is left out.
    const noG23 = run(1, 1, [20, 40], [0, 0], { spectral: [record(200, NaN, 0.9)] });
    expect(comparisonCharts([{ id: 'a', file: noG23 }, { id: 'b', file: run(2, 0, [20, 40], [0, 0]) }]).map((c) => c.spec.id)).not.toContain('compare-g23');
    expect(Array.from(g23.data.y('a'))).toEqual([3, 0.5]);
    expect(Array.from(charts.find((c) => c.spec.id === 'compare-energy-v1')!.data.y('a'))).toEqual([0.9, 0.3]);
  });
});
