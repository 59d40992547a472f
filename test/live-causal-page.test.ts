// The page side of the live causal probes, on hand-made records: records as chart columns (bands, the verdict
// strip, gaps for what a record lacks), the store keeping them (and clearing them with the run), the key moment
// "the edge becomes necessary" and what the walkthrough says about it, the curve at a step and its scrubber, and the
// chart machinery they use (band polygons, strip segments, their JSON and CSV).
import { describe, expect, it } from 'vitest';
import { EPS_FRACTIONS, type CausalRecord, type LiveAblationEffect, type UniversalityClass } from '../src/formats/live-causal';
import { causalRow } from '../src/store/causal-columns';
import { createLabStore, createTables } from '../src/store/lab-store';
import { NO_KEY_MOMENTS, detectKeyMoments, edgeIsNecessary } from '../src/store/key-moments';
import { IDLE_STATUS, type LabBatch } from '../src/formats/worker';
import { momentLine } from '../src/ui/walkthrough';
import { chartSources } from '../src/ui/lab-charts';
import { CURVE_FRACTIONS, causalCharts, curveChart, curveData, curveSource } from '../src/ui/live-causal/causal-charts';
import { scrubberState } from '../src/ui/live-causal/scrubber';
import { bandPolygons, buildPlotModel, stripSegments } from '../src/ui/charts/plot-model';
import { chartDataCsv, chartDataJson } from '../src/ui/charts/chart-data';

const effect = (deltaAccuracy: number, scored = 200): LiveAblationEffect => ({ deltaAccuracy, deltaLoss: -deltaAccuracy * 2, deltaCorrect: Math.round(deltaAccuracy * scored) });
const curve = (scale: number) => ({
  kl: EPS_FRACTIONS.map((f) => scale * f * f),
  deltaLoss: EPS_FRACTIONS.map((f) => scale * f * f * 2),
  deltaAccuracy: EPS_FRACTIONS.map((f) => -scale * Math.abs(f)),
});

/** A probe at `step`: edge and random Δacc as given (scored 200 targets: resolution 0.005). */
function record(step: number, edge: number, random: number[], extra: { bulk?: number | null; edgeCurves?: number; verdict?: UniversalityClass } = {}): CausalRecord {
  const scored = 200;
  const abs = random.map(Math.abs);
  const mean = abs.reduce((a, b) => a + b, 0) / abs.length;
  const bulk = extra.bulk === undefined ? -0.01 : extra.bulk;
  return {
    step, seed: 7 + step, sequences: scored, scored, resolution: 1 / scored,
    base: { accuracy: 0.9, loss: 0.4 },
    ablation: {
      edge: effect(edge), bulk: bulk === null ? null : effect(bulk), random: random.map((r) => effect(r)),
      randomMeanAbsDelta: mean, randomMaxAbsDelta: Math.max(...abs), randomMeanAbsDeltaLoss: 2 * mean,
      ratio: mean * scored < 1 ? { value: Math.abs(edge) * scored, lowerBound: true } : { value: Math.abs(edge) / mean, lowerBound: false },
    },
    perturbation: {
      sliceNorm: 20, eps: 0.1,
      edge: Array.from({ length: extra.edgeCurves ?? 3 }, (_, k) => curve(0.5 / (k + 1))),
      random: random.map((_, j) => curve(0.01 * (j + 1))),
    },
    curvature: { v1: 3.5, resolution: 0.25, step: 0.02 },
    verdict: { class: extra.verdict ?? 'mixed', reason: 'hand-made' },
  };
}

const status = { ...IDLE_STATUS, runId: 'r', phase: 'running' as const };

describe('live causal records as chart columns', () => {
  it('spreads a record over columns: edge, bulk, the random band and mean, the one-token band, perturbation maxima, curvature, verdict', () => {
    const row = causalRow(record(400, -0.3, [0.005, -0.01, 0, 0.015], { verdict: 'functional' }));
    expect(row).toMatchObject({
      step: 400, edgeDeltaAcc: -0.3, bulkDeltaAcc: -0.01, randomDeltaAccMin: -0.01, randomDeltaAccMax: 0.015, randomMaxAbsDelta: 0.015,
      tokenLow: -0.005, tokenHigh: 0.005, resolution: 0.005, curvature: 3.5, curvatureNoiseLow: -0.25, curvatureNoiseHigh: 0.25, verdict: 0,
    });
    expect(row.randomDeltaAccMean).toBeCloseTo(0.0025, 12);
    // The largest KL and loss change over the curve's points (+-eps give f^2 = 1).
    expect([row.klV1, row.klV2, row.klV3]).toEqual([0.5, 0.25, 0.5 / 3]);
    expect(row.dLossV1).toBe(1);
    expect([row.klRandomMin, row.klRandomMax]).toEqual([0.01, 0.04]);
    expect(row.klRandomMean).toBeCloseTo(0.025, 12);
  });

  it('leaves a gap (NaN, never 0) for what a record lacks: no bulk pair, fewer edge directions', () => {
    const row = causalRow(record(20, -0.01, [0], { bulk: null, edgeCurves: 2, verdict: 'compression' }));
    expect(row.bulkDeltaAcc).toBeNaN();
    expect(row.klV3).toBeNaN();
    expect(row.dLossV3).toBeNaN();
    expect(row.klV2).toBe(0.25);
    expect(row.verdict).toBe(2);
  });
});

describe('the store keeps the live causal records', () => {
  it('appends them as they stream, counts them, finds the moment, and clears them with the run', () => {
    const tables = createTables();
    const store = createLabStore(tables);
    store.getState().applyBatch({ reset: { config: null, headNames: null }, status, causal: [record(100, -0.02, [0, 0])] });
    store.getState().applyBatch({ status, causal: [record(200, -0.15, [0.005, 0]), record(300, -0.4, [0, 0])] });
    expect(store.getState().causalCount).toBe(3);
    expect(tables.causalRecords.map((r) => r.step)).toEqual([100, 200, 300]);
    expect(Array.from(tables.causal.column('edgeDeltaAcc'))).toEqual([-0.02, -0.15, -0.4]);
    // Step 200 costs 0.15 but a random pair flips a token (0.005 = resolution); 300 qualifies, but one probe is
    // not yet a moment (it must hold for two).
    expect(store.getState().moments.edgeNecessary).toBeNull();
    store.getState().applyBatch({ status, causal: [record(400, -0.3, [0, 0])] });
    expect(store.getState().moments.edgeNecessary).toEqual({ kind: 'edge-necessary', step: 300, value: -0.4 });
    expect(store.getState().moments.latestProbe).toEqual({ step: 400, edgeDeltaAcc: -0.3, randomMaxAbsDelta: 0, resolution: 0.005 });

    const source = chartSources(tables).causal;
    const before = source.version();
    const reset: LabBatch = { reset: { config: null, headNames: null }, status };
    store.getState().applyBatch(reset);
    expect(store.getState().causalCount).toBe(0);
    expect(tables.causal.length).toBe(0);
    expect(tables.causalRecords).toEqual([]);
    expect(source.version()).not.toBe(before);
    expect(store.getState().moments.edgeNecessary).toBeNull();
  });
});

describe('classroom mode turns the probes on by default', () => {
  it('moves the form’s probes with the mode unless the user set them otherwise', () => {
    const store = createLabStore(createTables());
    expect(store.getState().form.values.causal).toBe('off');
    store.getState().setClassroom(true);
    expect(store.getState().form.values.causal).toBe('on');
    store.getState().setPreset('quick-dyck');
    expect(store.getState().form.values.causal).toBe('on');
    store.getState().setClassroom(false);
    expect(store.getState().form.values.causal).toBe('off');
    // Switched on by hand outside classroom mode: it stays on both ways.
    store.getState().setField('causal', 'on');
    store.getState().setClassroom(true);
    store.getState().setClassroom(true);
    expect(store.getState().form.values.causal).toBe('on');
    store.getState().setField('causal', 'off');
    store.getState().setClassroom(false);
    expect(store.getState().form.values.causal).toBe('off');
  });
});

describe('the key moment "the edge becomes necessary"', () => {
  const probes = (rows: [step: number, edge: number, randomMax: number][], resolution = 0.005) => ({
    step: rows.map((r) => r[0]),
    edgeDeltaAcc: rows.map((r) => r[1]),
    randomMaxAbsDelta: rows.map((r) => r[2]),
    resolution: rows.map(() => resolution),
  });
  const none = { evaluations: { step: [], trainAcc: [], testAcc: [] }, spectral: { step: [], energy1: [] }, events: [] };

  it('is the first probe with edge Δacc <= -0.1 while every random pair stays below resolution', () => {
    expect(edgeIsNecessary({ edgeDeltaAcc: -0.1, randomMaxAbsDelta: 0, resolution: 0.005 })).toBe(true);
    expect(edgeIsNecessary({ edgeDeltaAcc: -0.0999, randomMaxAbsDelta: 0, resolution: 0.005 })).toBe(false);
    expect(edgeIsNecessary({ edgeDeltaAcc: -0.5, randomMaxAbsDelta: 0.005, resolution: 0.005 })).toBe(false);
    expect(edgeIsNecessary({ edgeDeltaAcc: NaN, randomMaxAbsDelta: 0, resolution: 0.005 })).toBe(false);
    const m = detectKeyMoments({ ...none, causal: probes([[100, -0.05, 0], [200, -0.2, 0.01], [300, -0.1, 0.004], [400, -0.6, 0]]) });
    expect(m.edgeNecessary).toEqual({ kind: 'edge-necessary', step: 300, value: -0.1 });
    expect(m.latestProbe).toEqual({ step: 400, edgeDeltaAcc: -0.6, randomMaxAbsDelta: 0, resolution: 0.005 });
  });

  it('is absent without probes, and the walkthrough says why', () => {
    expect(detectKeyMoments(none)).toEqual(NO_KEY_MOMENTS);
    expect(momentLine('edge-necessary', NO_KEY_MOMENTS, { phase: 'idle', spectral: null, causal: null })).toMatchObject({ state: 'waiting', text: 'Not yet: start the run.' });
    expect(momentLine('edge-necessary', NO_KEY_MOMENTS, { phase: 'running', spectral: true, causal: false })).toMatchObject({
      state: 'missed',
      text: 'Cannot be seen: this run does not run the live causal probes (switch on “Live causal probes” and start again).',
    });
    expect(momentLine('edge-necessary', NO_KEY_MOMENTS, { phase: 'running', spectral: true, causal: true }).text).toBe('Not yet: waiting for the first live causal probe.');
  });

  it('says where the edge stands while waiting, when it happened, and that it did not once the run is over', () => {
    const waiting = detectKeyMoments({ ...none, causal: probes([[100, -0.05, 0.01]]) });
    expect(momentLine('edge-necessary', waiting, { phase: 'running', spectral: true, causal: true })).toMatchObject({
      state: 'waiting',
      text: 'Not yet: removing {v₁, v₂} costs −0.05 test accuracy at step 100, random pairs change up to 0.01 (necessary at −0.1 with random pairs below one token).',
    });
    expect(momentLine('edge-necessary', waiting, { phase: 'finished', spectral: true, causal: true }).state).toBe('missed');
    const seen = detectKeyMoments({ ...none, causal: probes([[100, -0.05, 0], [500, -0.42, 0], [600, -0.45, 0]]) });
    expect(momentLine('edge-necessary', seen, { phase: 'running', spectral: true, causal: true })).toMatchObject({
      state: 'seen',
      text: 'The edge became necessary at step 500: removing {v₁, v₂} cost −0.42 test accuracy, while random pairs flipped no token.',
    });
  });
});

describe('the curve at a step', () => {
  it('puts the unperturbed 0 point among eps * EPS_FRACTIONS, with each edge direction and the random band', () => {
    expect(CURVE_FRACTIONS).toEqual([-1, -0.5, 0, 0.5, 1]);
    const data = curveData(record(300, -0.4, [0, 0.005]), 'kl');
    expect(Array.from(data.x)).toEqual([-0.1, -0.05, 0, 0.05, 0.1]);
    expect(Array.from(data.y('v1'))).toEqual([0.5, 0.125, 0, 0.125, 0.5]);
    expect(Array.from(data.y('randomMin'))).toEqual([0.01, 0.0025, 0, 0.0025, 0.01]);
    expect(Array.from(data.y('randomMax'))).toEqual([0.02, 0.005, 0, 0.005, 0.02]);
    expect(data.y('randomMean')[0]).toBeCloseTo(0.015, 12);
    const acc = curveData(record(300, -0.4, [0]), 'deltaAccuracy');
    expect(Array.from(acc.y('v2'))).toEqual([-0.25, -0.125, 0, -0.125, -0.25]);
    // A record with two edge directions: v3 is a gap.
    expect(Array.from(curveData(record(300, -0.4, [0], { edgeCurves: 2 }), 'kl').y('v3')).every(Number.isNaN)).toBe(true);
  });

  it('follows the chosen record: a new index is a new version and new data', () => {
    const records = [record(100, -0.01, [0]), record(200, -0.3, [0])];
    records[1].perturbation.eps = 0.2;
    const a = curveSource(records, 0, 'kl', () => 5);
    const b = curveSource(records, 1, 'kl', () => 5);
    expect(a.version()).not.toBe(b.version());
    expect(a.data().x[4]).toBe(0.1);
    expect(b.data().x[4]).toBe(0.2);
    expect(curveSource(records, 2, 'kl', () => 5).data().length).toBe(0);
  });

  it('scrubs: follows the latest unless pinned, names the markers before the probe, ticks each marker at its first probe', () => {
    const markers = [
      { step: 150, kind: 'grok' as const, label: 'grok @ 150' },
      { step: 250, kind: 'hyper' as const, label: 'wd 1→0' },
      { step: 900, kind: 'hyper' as const, label: 'lr 0.01→0.001' },
    ];
    expect(scrubberState([], null, markers)).toEqual({ index: -1, step: null, text: 'No probe yet.', ticks: [] });
    const latest = scrubberState([100, 200, 300], null, markers);
    expect(latest).toMatchObject({ index: 2, step: 300, text: 'Step 300, probe 3 of 3 (the latest); after grok @ 150, wd 1→0.' });
    expect(latest.ticks).toEqual([{ index: 1, label: 'grok @ 150' }, { index: 2, label: 'wd 1→0' }]);
    expect(scrubberState([100, 200, 300], 0, markers)).toMatchObject({ index: 0, step: 100, text: 'Step 100, probe 1 of 3.' });
    // A pin past the end (a new run with fewer probes) shows the latest.
    expect(scrubberState([100], 4, markers).index).toBe(0);
  });
});

describe('bands and the verdict strip in the chart machinery', () => {
  const identity = (v: number) => v;

  it('closes a band polygon per run of plottable rows, and widens a lone row so it shows', () => {
    const polygons = bandPolygons([0, 10, 20, 30, 40], [-1, -2, NaN, -1, -1], [1, 2, 0, 1, 1], identity, identity);
    expect(polygons.map((p) => Array.from(p))).toEqual([
      [0, 1, 10, 2, 10, -2, 0, -1],
      [30, 1, 40, 1, 40, -1, 30, -1],
    ]);
    expect(Array.from(bandPolygons([5], [0], [1], identity, identity)[0])).toEqual([2, 1, 8, 1, 8, 0, 2, 0]);
  });

  it('gives each row its category from halfway to the previous row to halfway to the next, within the plot', () => {
    const colors = ['g', 'o', 'p'];
    const segments = stripSegments([0, 10, 30, 40], [0, 1, NaN, 2], colors, identity, 0, 45);
    expect(segments).toEqual([
      { x0: 0, x1: 5, step: 0, category: 0, color: 'g' },
      { x0: 5, x1: 20, step: 10, category: 1, color: 'o' },
      { x0: 35, x1: 45, step: 40, category: 2, color: 'p' },
    ]);
  });

  it('fits the y axis to the bands too, lays the strip above the x axis, and exports every plotted column', () => {
    const tables = createTables();
    const store = createLabStore(tables);
    store.getState().applyBatch({
      reset: { config: null, headNames: null },
      status,
      causal: [record(100, -0.02, [0.01, -0.03], { verdict: 'mixed' }), record(200, -0.5, [0, 0], { verdict: 'functional' })],
    });
    const ablation = causalCharts(null).find((c) => c.id === 'causal-ablation')!;
    const data = chartSources(tables).causal.data();
    const model = buildPlotModel(ablation, data, [], { width: 500, height: 300, logX: true })!;
    // Only a step axis may be logarithmic: the ablation chart's is, and it keeps its strip.
    expect(model.logX).toBe(true);
    expect(model.y.domain()[0]).toBeLessThanOrEqual(-0.5);
    expect(model.y.domain()[1]).toBeGreaterThanOrEqual(0.01);
    expect(model.bands.map((b) => b.polygons.length)).toEqual([1, 1]);
    expect(model.strip!.segments.map((s) => s.category)).toEqual([1, 0]);
    expect(model.strip!.y).toBeGreaterThan(model.inner.top + model.inner.height);
    expect(model.xAxisY).toBeGreaterThan(model.strip!.y);
    expect(model.legend.filter((i) => i.fill).map((i) => i.text)).toEqual(['random pairs (min–max)', '±1 token', 'functional', 'mixed', 'compression']);

    const json = chartDataJson(ablation, data, []);
    expect(json.x).toEqual({ label: 'step', values: [100, 200] });
    expect(json.series.map((s) => s.key)).toEqual(['edgeDeltaAcc', 'bulkDeltaAcc', 'randomDeltaAccMean', 'randomDeltaAccMin', 'randomDeltaAccMax', 'tokenLow', 'tokenHigh', 'verdict']);
    expect(json.series.find((s) => s.key === 'verdict')!.values).toEqual([1, 0]);
    const csv = chartDataCsv(ablation, data).trim().split('\n');
    expect(csv[0]).toBe('step,"edge {v₁,v₂}","bulk {v₃,v₄}",random mean,random pairs (min–max) (low),random pairs (min–max) (high),±1 token (low),±1 token (high),"verdict (0 functional, 1 mixed, 2 compression)"');
    expect(csv[2]).toBe('200,-0.5,-0.01,0,0,0,-0.005,0.005,0');
  });

  it('draws the curve at a step against ε (never a log axis), and names ε in its files', () => {
    const spec = curveChart('kl', null, 300);
    expect(spec.title).toBe('KL against ε at step 300');
    const data = curveData(record(300, -0.4, [0, 0.005]), 'kl');
    const model = buildPlotModel(spec, data, [], { width: 400, height: 260, logX: true })!;
    expect(model.logX).toBe(false);
    expect(model.xLabel).toBe('ε (step along the direction)');
    expect(model.x.domain()[0]).toBeLessThanOrEqual(-0.1);
    expect(chartDataJson(spec, data, []).x.label).toBe('ε (step along the direction)');
    expect(chartDataCsv(spec, data).split('\n')[0].startsWith('ε (step along the direction),v₁,v₂,v₃,random mean')).toBe(true);
  });
});
