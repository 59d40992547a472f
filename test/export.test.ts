// Exports: a run exported, opened and exported again gives the same JSON (through the worker API and through the
// page's store), a chart's JSON and CSV hold exactly the run's numbers, and the min/max-per-pixel polylines behind
// the canvas lines and the SVG paths keep every column's extremes while drawing at most four points per pixel.
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-gpu';
import { LabApi } from '../src/worker/lab-api';
import type { LabBatch } from '../src/formats/worker';
import { createLabStore, createTables } from '../src/store/lab-store';
import { parseRunFile } from '../src/train/run';
import type { RunFile } from '../src/formats/run-file';
import { chartDataCsv, chartDataJson } from '../src/ui/charts/chart-data';
import { minMaxPolyline, subPaths, svgPathData } from '../src/ui/charts/downsample';
import { causalCharts } from '../src/ui/live-causal/causal-charts';
import { MARKER_LABEL_HEIGHT, buildPlotModel, layoutLegend, textWidth, type ChartData } from '../src/ui/charts/plot-model';
import { SPECTRAL_CHARTS, chartSources, markersOf, trainingCharts } from '../src/ui/lab-charts';

/** A LabApi that never needs the GPU (viewing only): acquiring one is a test failure. */
function viewer(batches: LabBatch[] = []) {
  const api = new LabApi({
    acquire: () => Promise.reject(new Error('viewing a run file must not need the GPU')),
  });
  api.subscribe((b) => batches.push(b));
  return api;
}

const settle = () => new Promise((r) => setTimeout(r, 120)); // past the worker API's 50 ms flush

describe('run export and import', () => {
  let original: RunFile;
  let originalJson: string;

  it('exports a trained run, opens it, and exports the same JSON again', async () => {
    const api = new LabApi({ acquire: acquireNodeDevice });
    await api.start({ preset: 'quick-add', seed: 3, overrides: { steps: 10, evalEvery: 5, spectral: { window: 2, snapshotEvery: 5 } }, paused: true });
    await api.step(8);
    await api.setHyper({ lr: 0.005, weightDecay: 0.5 });
    await api.step(2);
    original = await api.exportRun();
    originalJson = JSON.stringify(original);
    expect(() => parseRunFile(originalJson)).not.toThrow();
    expect(original.spectral).toHaveLength(1);
    expect(original.events).toEqual([{ type: 'hyper', step: 8, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.005, weightDecay: 0.5 } }]);

    const first = viewer();
    const status = await first.loadRun({ runFile: originalJson });
    expect(status).toMatchObject({ phase: 'viewing', step: 10, totalSteps: 10, optim: { lr: 0.005, weightDecay: 0.5 }, schedule: [{ step: 8, lr: 0.005, weightDecay: 0.5 }] });
    const again = JSON.stringify(await first.exportRun());
    expect(again).toBe(originalJson);
    const second = viewer();
    await second.loadRun({ runFile: again });
    expect(JSON.stringify(await second.exportRun())).toBe(originalJson);
  });

  it('rejects a file that is not a valid run, naming the problem', async () => {
    const broken = JSON.parse(originalJson) as { series: { testAcc: unknown[] } };
    broken.series.testAcc[1] = 'high';
    await expect(viewer().loadRun({ runFile: JSON.stringify(broken) })).rejects.toThrow('series.testAcc[1] is "high"; must be number');
    await expect(viewer().loadRun({ runFile: '{"kind":"something else"}' })).rejects.toThrow('not a run file: kind is "something else"');
  });

  it('puts exactly the run’s numbers into the page’s tables and each chart’s JSON and CSV', async () => {
    const batches: LabBatch[] = [];
    await viewer(batches).loadRun({ runFile: originalJson });
    await settle();
    const tables = createTables();
    const store = createLabStore(tables);
    for (const b of batches) store.getState().applyBatch(b);
    const state = store.getState();
    expect(state.status.phase).toBe('viewing');
    expect(state.events).toEqual(original.events);
    expect(state.config).toEqual(original.config);
    expect(state.form.values).toMatchObject({ seed: '3', steps: '10', evalEvery: '5', window: '2', snapshotEvery: '5' });

    const sources = chartSources(tables);
    const markers = markersOf(state.events);
    expect(markers).toEqual([{ step: 8, kind: 'hyper', label: 'wd 1→0.5, lr 0.01→0.005' }]);
    const loss = trainingCharts(state.config, null).find((c) => c.id === 'loss')!;
    const json = chartDataJson(loss, sources.metrics.data(), markers);
    expect(json.x.values).toEqual(original.series.step);
    expect(json.series.map((s) => s.values)).toEqual([original.series.trainLoss, original.series.testLoss]);
    expect(json.markers).toEqual(markers);
    const csv = chartDataCsv(loss, sources.metrics.data()).trim().split('\n');
    expect(csv[0]).toBe('step,train,test');
    expect(csv.slice(1)).toEqual(original.series.step.map((s, i) => `${s},${original.series.trainLoss[i]},${original.series.testLoss[i]}`));

    const sigma = SPECTRAL_CHARTS.find((c) => c.id === 'sigma')!;
    const record = original.spectral![0];
    const sigmaJson = chartDataJson(sigma, sources.spectral.data(), markers);
    expect(sigmaJson.x.values).toEqual([record.step]);
    // W = 2: sigma_1 and sigma_2 exist, sigma_3..5 do not (null in JSON, empty in CSV, never 0).
    expect(sigmaJson.series.map((s) => s.values[0])).toEqual([record.sigma[0], record.sigma[1], null, null, null]);
    expect(chartDataCsv(sigma, sources.spectral.data()).trim().split('\n')[1]).toBe(`${record.step},${record.sigma[0]},${record.sigma[1]},,,`);
  });
});

describe('min/max polylines', () => {
  const identity = (v: number) => v;

  it('keeps every pixel column’s first, lowest, highest and last value, and at most 4 points per column', () => {
    const n = 100_000;
    const xs = Float64Array.from({ length: n }, (_, i) => i);
    const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 500) + (i % 997 === 0 ? 5 : 0));
    const toPx = (x: number) => x / 250; // 250 points per pixel column (exact: no point lands in its neighbour's column)
    const line = minMaxPolyline(xs, ys, toPx, identity);
    expect(line.length / 2).toBeLessThanOrEqual(4 * 400);
    for (let c = 0; c < 400; c++) {
      const inColumn = Array.from(ys.subarray(c * 250, (c + 1) * 250));
      const drawn = [];
      for (let i = 0; i < line.length; i += 2) if (Math.floor(line[i]) === c) drawn.push(line[i + 1]);
      expect(Math.min(...drawn)).toBe(Math.min(...inColumn));
      expect(Math.max(...drawn)).toBe(Math.max(...inColumn));
      expect(drawn[0]).toBe(inColumn[0]);
      expect(drawn.at(-1)).toBe(inColumn.at(-1));
    }
  });

  it('breaks the line at gaps instead of joining across them, and writes SVG path data', () => {
    const xs = [0, 10, 20, 30, 40];
    const ys = [1, 2, NaN, 4, 5];
    const line = minMaxPolyline(xs, ys, identity, identity);
    expect(subPaths(line).map((p) => Array.from(p))).toEqual([[0, 1, 10, 2], [30, 4, 40, 5]]);
    expect(svgPathData(line)).toBe('M0 1L10 2M30 4L40 5');
    // A lone point still shows.
    expect(svgPathData(minMaxPolyline([3], [7], identity, identity))).toBe('M3 7h0.01');
  });

  it('fits the axes to the data and the markers, and leaves out what a log axis cannot show', () => {
    const data: ChartData = {
      length: 3,
      x: Float64Array.from([10, 20, 30]),
      y: (key) => (key === 'trainLoss' ? Float64Array.from([1, 0, 0.01]) : Float64Array.from([2, 1, 0.5])),
    };
    const loss = trainingCharts(null, null).find((c) => c.id === 'loss')!;
    const model = buildPlotModel(loss, data, [{ step: 45, kind: 'hyper', label: 'wd 1→0' }], { width: 400, height: 250, logX: false })!;
    expect(model.x.domain()[1]).toBeGreaterThanOrEqual(45);
    expect(model.markers).toHaveLength(1);
    // The zero loss cannot sit on a log axis: the train line has two pieces, not a dive to -infinity.
    expect(subPaths(model.lines[0].polyline)).toHaveLength(2);
    expect(subPaths(model.lines[1].polyline)).toHaveLength(1);
    const empty: ChartData = { length: 0, x: new Float64Array(), y: () => new Float64Array() };
    expect(buildPlotModel(loss, empty, [], { width: 400, height: 250, logX: false })).toBeNull();
  });

  it('labels markers in a band above the plot, where no data line can cross them (screen and exports alike)', () => {
    const data: ChartData = { length: 3, x: Float64Array.from([10, 20, 30]), y: () => Float64Array.from([1, 0.5, 0.25]) };
    const loss = trainingCharts(null, null).find((c) => c.id === 'loss')!;
    const markers = [
      { step: 12, kind: 'hyper' as const, label: 'wd 1→0.45' },
      { step: 13, kind: 'hyper' as const, label: 'lr 0.01→0.003' },
      { step: 29, kind: 'grok' as const, label: 'grok @ 29' },
    ];
    for (const title of [undefined, loss.title]) {
      const model = buildPlotModel(loss, data, markers, { width: 400, height: 250, logX: false, ...(title && { title }) })!;
      expect(model.labels.map((l) => l.marker.label).sort()).toEqual(markers.map((m) => m.label).sort());
      for (const label of model.labels) {
        expect(label.y + MARKER_LABEL_HEIGHT).toBeLessThanOrEqual(model.inner.top);
        expect(label.x).toBeGreaterThanOrEqual(0);
        expect(label.x + label.width).toBeLessThanOrEqual(400);
      }
      // Two labels in one row never overlap (the two changes close together take two rows).
      for (const p of model.labels) for (const q of model.labels) if (p !== q && p.y === q.y) expect(p.x + p.width <= q.x || q.x + q.width <= p.x).toBe(true);
      expect(new Set(model.labels.map((l) => l.y)).size).toBeGreaterThan(1);
    }
    // No markers: no band.
    expect(buildPlotModel(loss, data, [], { width: 400, height: 250, logX: false })!.labels).toEqual([]);
  });

  it('gives the spectral and live causal charts the training charts\' x axis (the run from its first evaluation), linear and log', () => {
    const tables = createTables();
    const steps = [20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220];
    for (const step of steps) tables.metrics.append({ step, trainAcc: 0.5, testAcc: 0.5 });
    for (const step of [200, 220]) tables.spectral.append({ step, energy1: 0.5, energy2: 0.5, energy3: 0.5 });
    const sources = chartSources(tables);
    const accuracy = trainingCharts(null, null).find((c) => c.id === 'accuracy')!;
    const energy = SPECTRAL_CHARTS.find((c) => c.id === 'energy')!;
    for (const logX of [false, true]) {
      const training = buildPlotModel(accuracy, sources.metrics.data(), [], { width: 400, height: 250, logX })!;
      const spectral = buildPlotModel(energy, sources.spectral.data(), [], { width: 400, height: 250, logX })!;
      expect(spectral.x.domain()).toEqual(training.x.domain());
    }
    expect(sources.spectral.data().span).toEqual([20, 220]);

    // The live probes come later still (the first at a full window): their charts take the same axis.
    for (const step of [200, 220]) tables.causal.append({ step, edgeDeltaAcc: -0.2, bulkDeltaAcc: -0.1, randomDeltaAccMean: 0 });
    const ablation = causalCharts(null).find((c) => c.id === 'causal-ablation')!;
    const training = buildPlotModel(accuracy, sources.metrics.data(), [], { width: 400, height: 250, logX: false })!;
    expect(buildPlotModel(ablation, sources.causal.data(), [], { width: 400, height: 250, logX: false })!.x.domain()).toEqual(training.x.domain());
  });

  it('flows a wide legend into more rows (and a title ahead of it) instead of running off the figure', () => {
    const gapFlow = SPECTRAL_CHARTS.find((c) => c.id === 'gap-flow')!;
    const one = layoutLegend(gapFlow.lines, 1200);
    expect(one.rows).toBe(1);
    const narrow = layoutLegend(gapFlow.lines, 400, gapFlow.title);
    expect(narrow.rows).toBeGreaterThan(1);
    expect(narrow.items[0]).toMatchObject({ line: null, text: gapFlow.title });
    for (const item of narrow.items) expect(item.x + textWidth(item.text)).toBeLessThanOrEqual(400);
    // The plotting area starts below the legend's last row.
    const data: ChartData = { length: 2, x: Float64Array.from([5, 10]), y: () => Float64Array.from([0.1, -0.2]) };
    const model = buildPlotModel(gapFlow, data, [], { width: 400, height: 250, logX: false, title: gapFlow.title })!;
    expect(model.inner.top).toBeGreaterThan(Math.max(...narrow.items.map((i) => i.y)));
  });
});
