// The experiment panels' data layer (src/ui/experiments/experiment-data.ts) and their store: when the Run button
// works and why not, progress through the planned experiments, the shapes drawn from results (the random band,
// the ablation's resolution and lower-bound ratio, the 2-D spectrum centred on frequency 0), and the run's analyses
// arriving in batches. The result objects hold only the fields the layouts read.
import { describe, expect, it } from 'vitest';
import {
  ablationBars, ablationRatioText, checkInterventionSteps, curvatureBars, defaultSelection, formatNumber, hasOffDiagonalModes, heatmapData, modeBases, modeRows, modeSpectrumPlot,
  interventionEstimate, outcomeView, pendingText, perturbationPlot, plannedProgress, runBlocker, selectedExperiments, type RunGate,
} from '../src/ui/experiments/experiment-data';
import { notForTask } from '../src/analysis/experiments';
import { EXPERIMENTS, type AblationEffect, type AblationResult, type PerturbationResult, type CurvatureResult, type FunctionalModesResult } from '../src/formats/experiments';
import { ANALYSIS_FILE_KIND, ANALYSIS_FILE_VERSION, parseAnalysisFile, type AnalysisFile } from '../src/formats/analysis-file';
import { createExperimentsStore, shownAnalysisIndex } from '../src/store/experiments-store';
import { createLabStore, createTables } from '../src/store/lab-store';
import { IDLE_STATUS } from '../src/formats/worker';

const gate = (over: Partial<RunGate>): RunGate => ({
  phase: 'paused', hasRun: true, spectral: { enabled: true, window: 10, snapshotEvery: 20 }, spectralCount: 1, step: 200, busy: false, selected: 2, stepsOk: true, ...over,
});

describe('the Run button', () => {
  it('works on a paused or finished run with a spectral window, and says why not otherwise', () => {
    expect(runBlocker(gate({}))).toBeNull();
    expect(runBlocker(gate({ phase: 'finished' }))).toBeNull();
    expect(runBlocker(gate({ phase: 'running' }))).toMatch(/^Pause the run first/);
    expect(runBlocker(gate({ phase: 'idle', hasRun: false }))).toMatch(/^Start a run, or open a saved one/);
    expect(runBlocker(gate({ phase: 'viewing' }))).toMatch(/opened from a file, which holds no model/);
    expect(runBlocker(gate({ phase: 'playing' }))).toMatch(/^This is a recording playing back/);
    expect(runBlocker(gate({ spectralCount: 0, step: 120 }))).toContain('the first is at step 200 (now 120)');
    expect(runBlocker(gate({ spectral: { enabled: false, window: 10, snapshotEvery: 20 } }))).toMatch(/does not track the spectral edge/);
    expect(runBlocker(gate({ selected: 0 }))).toBe('Tick at least one experiment.');
    expect(runBlocker(gate({ stepsOk: false }))).toMatch(/number of steps/);
    expect(runBlocker(gate({ busy: true }))).toMatch(/^Experiments are running/);
  });

  it('selects every experiment but the training one by default, and checks the branch length', () => {
    expect(selectedExperiments(defaultSelection())).toEqual(['perturb', 'curvature', 'ablate', 'probe', 'fourier', 'verdict']);
    expect(checkInterventionSteps(' 500 ')).toEqual({ ok: true, value: 500 });
    expect(checkInterventionSteps('1.5')).toMatchObject({ ok: false, message: 'must be a whole number of steps, got "1.5"' });
    expect(checkInterventionSteps('0')).toMatchObject({ ok: false });
    expect(checkInterventionSteps('100001')).toMatchObject({ ok: false, message: 'must be between 1 and 100,000' });
  });

  it('leaves unticked, and never sends, what cannot run on the task (probes on modular arithmetic, modes on SCAN)', () => {
    expect(selectedExperiments(defaultSelection('modarith'), 'modarith')).toEqual(['perturb', 'curvature', 'ablate', 'fourier', 'verdict']);
    expect(selectedExperiments(defaultSelection('multitask'), 'multitask')).not.toContain('probe');
    expect(selectedExperiments(defaultSelection('dyck'), 'dyck')).toEqual(['perturb', 'curvature', 'ablate', 'probe', 'fourier', 'verdict']);
    expect(selectedExperiments(defaultSelection('scan'), 'scan')).toEqual(['perturb', 'curvature', 'ablate', 'probe', 'verdict']);
    const all = Object.fromEntries(EXPERIMENTS.map((n) => [n, true])) as ReturnType<typeof defaultSelection>;
    expect(selectedExperiments(all, 'modarith')).not.toContain('probe');
    expect(notForTask('probe', 'modarith')).toMatch(/no probe target/);
    expect(notForTask('probe', 'dyck')).toBeNull();
  });

  it('estimates the weight-decay branches from the measured step rate', () => {
    expect(interventionEstimate(1000, 4, 20)).toBe('4 branches × 1,000 steps = 4,000 training steps: about 3 min at the 20 steps/s this run trained at.');
    expect(interventionEstimate(3000, 4, 2.5)).toBe('4 branches × 3,000 steps = 12,000 training steps: about 80 min at the 2.5 steps/s this run trained at.');
    expect(interventionEstimate(3000, 4, 0.5)).toContain('about 6.7 h');
    expect(interventionEstimate(100, 4, 400)).toContain('about 1 s');
    expect(interventionEstimate(500, 4, null)).toBe('4 branches × 500 steps = 2,000 training steps; the time is estimated once this run has trained here.');
  });

  it('tells each card of a running request what it is waiting for, instead of "not computed yet"', () => {
    const planned = ['perturb', 'ablate', 'verdict'] as const;
    const current = { name: 'ablate' as const, done: 3, total: 27, what: 'random pair 1' };
    expect(pendingText('perturb', planned, current)).toBe('Computed: shown when the other experiments have finished.');
    expect(pendingText('ablate', planned, current)).toBe('Computing now: random pair 1 (3 of 27).');
    expect(pendingText('verdict', planned, current)).toBe('Waiting: runs after ablation.');
    expect(pendingText('perturb', planned, null)).toBe('Starting…');
    expect(pendingText('probe', planned, current)).toBeNull();
  });

  it('marks the planned experiments done, running or waiting from the worker\'s progress', () => {
    const planned = ['perturb', 'ablate', 'verdict'] as const;
    expect(plannedProgress(planned, null).map((p) => p.state)).toEqual(['waiting', 'waiting', 'waiting']);
    expect(plannedProgress(planned, { name: 'ablate', done: 3, total: 27, what: 'random pair 1' }).map((p) => p.state)).toEqual(['done', 'running', 'waiting']);
  });
});

const band = (values: number[]) => ({ min: values.map((v) => v - 1), mean: values, max: values.map((v) => v + 1) });
const curve = (kl: number[]) => ({ loss: kl, accuracy: kl.map(() => 1), kl, attentionEntropy: kl.map(() => 0.5) });
const effect = (deltaAccuracy: number, removedFraction = 0.1): AblationEffect => ({
  vectors: [], projections: [], removedFraction, accuracy: 1 + deltaAccuracy, loss: 0, deltaAccuracy, deltaLoss: 0, deltaCorrect: 0,
});

describe('figures from results', () => {
  it('draws each edge direction as a line over eps and the random directions as a band', () => {
    const r = {
      eps: [-0.1, 0, 0.1],
      edge: [curve([0.4, 0, 0.5]), curve([0.1, 0, 0.2])],
      random: { count: 8, ...Object.fromEntries(['loss', 'accuracy', 'kl', 'attentionEntropy'].map((k) => [k, band([0.01, 0, 0.02])])) },
    } as unknown as PerturbationResult;
    const plot = perturbationPlot(r, 'kl');
    expect(plot.lines.map((l) => l.label)).toEqual(['v1', 'v2']);
    expect(plot.band).toMatchObject({ label: '8 random directions (min–max, mean)', min: [-0.99, -1, -0.98] });
    expect(plot.xDomain).toEqual([-0.1, 0.1]);
    // KL is drawn from 0 up, padded above the largest value on show.
    expect(plot.yDomain[0]).toBe(-1 - 0.05 * 2.02);
    expect(plot.yDomain[1]).toBeGreaterThan(1.02);
  });

  it('shades one token flip around 0 and calls the ratio a lower bound when random pairs flip less than one token', () => {
    const base = { scored: 400, resolution: 1 / 400, edge: effect(-0.9, 0.83), bulk: effect(-0.01), single: [effect(-0.5), effect(-0.2)] };
    const quiet = { ...base, random: { trials: 20, effects: [effect(0), effect(0.0025)], meanAbsDelta: 0.000125 }, ratio: { value: 360, lowerBound: true, resolution: 1 / 400 } } as unknown as AblationResult;
    const layout = ablationBars(quiet);
    expect(layout.rows.map((r) => r.key)).toEqual(['edge', 'bulk', 'v1', 'v2']);
    expect(layout.rows[0].note).toBe('removes 83.0% of ‖θ_attn‖²');
    expect(layout.shade).toMatchObject({ from: -0.0025, to: 0.0025, label: '±1 token flip (1/400)' });
    expect(layout.dots).toMatchObject({ mean: 0.00125, min: 0, max: 0.0025 });
    expect(layout.domain[0]).toBeLessThan(-0.9);
    expect(ablationRatioText(quiet)).toMatch(/^Edge\/random ratio ≥ 360 — a lower bound/);
    const loud = { ...quiet, random: { ...quiet.random, meanAbsDelta: 0.01 }, ratio: { value: 90, lowerBound: false, resolution: 1 / 400 } } as unknown as AblationResult;
    expect(ablationRatioText(loud)).toMatch(/^Edge\/random ratio = 90: \|Δ edge\| = 0\.9 against a mean \|Δ\| of 0\.01 over 20 random pairs \(4 token flips/);
  });

  it('puts the top Hessian eigenvalue beside the curvatures for scale when it is of their size', () => {
    const r = { edge: [2, -0.5], edgeGradientProjection: [0.1, 0], random: [0.01, 0.02], curvatureResolution: 0.05, hessian: { eigenvalues: [5, 3] } } as unknown as CurvatureResult;
    const layout = curvatureBars(r);
    expect(layout.rows.map((row) => row.value)).toEqual([2, -0.5]);
    expect(layout.refs).toEqual([{ x: 5, label: 'top Hessian eigenvalue λ₁ = 5' }]);
    expect(layout.domain[1]).toBeGreaterThan(5);
  });

  it('leaves a top eigenvalue far beyond the bars off their scale, so they stay readable', () => {
    // The page's case: λ1 = 22.4 against curvatures of about -0.03 (the bars vanished at λ1's scale).
    const r = { edge: [-0.03, -0.028], edgeGradientProjection: [0, 0], random: [-0.031, -0.027, -0.029, -0.03], curvatureResolution: 0.002, hessian: { eigenvalues: [22.4, 8] } } as unknown as CurvatureResult;
    const layout = curvatureBars(r);
    expect(layout.refs).toEqual([{ x: 22.4, label: 'top Hessian eigenvalue λ₁ = 22.4 (off this scale)', offScale: true }]);
    expect(layout.domain[1] - layout.domain[0]).toBeLessThan(0.1);
    // A bar of -0.03 fills at least a quarter of the axis.
    expect(0.03 / (layout.domain[1] - layout.domain[0])).toBeGreaterThan(0.25);
  });

  it('centres the 2-D spectrum on frequency 0, each cell where its (k1, k2) lands', () => {
    const p = 5;
    const power = new Array(p * p).fill(0);
    power[1 * p + 4] = 0.5; // (k1, k2) = (1, -1)
    power[4 * p + 1] = 0.5; // (-1, 1)
    const h = heatmapData({ p, power });
    expect(h.freqs).toEqual([-2, -1, 0, 1, 2]);
    expect(h.cells[3 * p + 1]).toBe(0.5);
    expect(h.cells[1 * p + 3]).toBe(0.5);
    expect(h.cells.filter((c) => c > 0)).toHaveLength(2);
    expect(h.max).toBe(0.5);
    expect(() => heatmapData({ p, power: [1] })).toThrow('the 2-D power has 1 cells, expected 5 x 5');
  });

  it('draws a basis\'s spectrum for v1..v3 with the random band and the uniform level', () => {
    const modes = (power: number[]) => ({ add: { power, uniformLevel: 1 / power.length } });
    const r = {
      heads: null,
      directions: [
        { label: 'v1', kind: 'edge', bases: modes([0.7, 0.1, 0.2]) },
        { label: 'v2', kind: 'edge', bases: modes([0.2, 0.6, 0.2]) },
        { label: 'random1', kind: 'random', bases: modes([0.3, 0.3, 0.4]) },
        { label: 'random2', kind: 'random', bases: modes([0.5, 0.1, 0.4]) },
      ],
    } as unknown as FunctionalModesResult;
    const plot = modeSpectrumPlot(r, 'add');
    expect(plot.x).toEqual([1, 2, 3]);
    expect(plot.lines.map((l) => l.key)).toEqual(['v1', 'v2']);
    expect(plot.band!.min).toEqual([0.3, 0.1, 0.4]);
    expect(plot.band!.max).toEqual([0.5, 0.3, 0.4]);
    expect(plot.refs).toEqual([{ label: 'uniform 1/3', y: 1 / 3 }]);
    expect(hasOffDiagonalModes(r)).toBe(false);
    expect(modeBases(r, 'offDiagonal')).toEqual([]);
  });

  it('shows the spectra over the pairs a != b when every direction has them', () => {
    const modes = (power: number[]) => ({ mulLog: { power, uniformLevel: 1 / power.length, concentration: Math.max(...power), peakFrequency: power.indexOf(Math.max(...power)) + 1 } });
    const direction = (label: string, all: number[], off: number[], ratio: number) => ({ label, kind: label.startsWith('v') ? 'edge' : 'random', bases: modes(all), offDiagonal: { bases: modes(off), diagonalPairs: 4, diagonalResponseRatio: ratio } });
    const r = { heads: null, directions: [direction('v1', [0.1, 0.9], [0.6, 0.4], 5.5), direction('random1', [0.2, 0.8], [0.5, 0.5], 6)] } as unknown as FunctionalModesResult;
    expect(hasOffDiagonalModes(r)).toBe(true);
    expect(modeSpectrumPlot(r, 'mulLog', 'offDiagonal').lines[0].values).toEqual([0.6, 0.4]);
    expect(modeSpectrumPlot(r, 'mulLog').lines[0].values).toEqual([0.1, 0.9]);
    const rows = modeRows(r, 'offDiagonal');
    expect(rows.map((row) => [row.label, row.bases[0].peakFrequency, row.diagonalResponseRatio])).toEqual([['v1', 1, 5.5], ['random1', 1, 6]]);
    expect(modeRows(r)[0].bases[0].peakFrequency).toBe(2);
    const partial = { ...r, directions: [r.directions[0], { ...r.directions[1], offDiagonal: undefined }] } as FunctionalModesResult;
    expect(hasOffDiagonalModes(partial)).toBe(false);
  });

  it('writes numbers in significant figures, never NaN', () => {
    expect(formatNumber(0.000123456)).toBe('1.23e−4');
    expect(formatNumber(-2.5)).toBe('−2.5');
    expect(formatNumber(NaN)).toBe('n/a');
    expect(formatNumber(null)).toBe('n/a');
    expect(formatNumber(Infinity)).toBe('∞');
  });
});

const analysis = (step: number, experiments: AnalysisFile['experiments'] = {}): AnalysisFile =>
  parseAnalysisFile({
    kind: ANALYSIS_FILE_KIND, version: ANALYSIS_FILE_VERSION, run: { preset: 'quick-add', seed: 1, steps: 500, grokStep: 460, adapter: 'test' },
    at: { requested: String(step), step, windowStep: step }, seed: 1, experiments, wallMs: 10,
  });

describe('the run\'s analyses', () => {
  it('arrive in batches, all of them with a reset, and the newest is shown unless another is chosen', () => {
    const store = createLabStore(createTables());
    const [a, b, c] = [analysis(200), analysis(300, { probe: { notApplicable: 'no probe target' } }), analysis(400)];
    store.getState().applyBatch({ reset: { config: null, headNames: null }, status: { ...IDLE_STATUS, phase: 'paused' }, analyses: [a] });
    store.getState().applyBatch({ status: { ...IDLE_STATUS, phase: 'paused' }, analyses: [b] });
    expect(store.getState().analyses).toEqual([a, b]);
    expect(outcomeView(b, 'probe')).toEqual({ state: 'not-applicable', reason: 'no probe target' });
    expect(outcomeView(b, 'ablate')).toEqual({ state: 'empty' });

    const panel = createExperimentsStore();
    expect(shownAnalysisIndex(panel.getState().shown, 2)).toBe(1);
    panel.getState().show(0);
    expect(shownAnalysisIndex(panel.getState().shown, 2)).toBe(0);
    panel.getState().begin({ planned: ['ablate'], step: 300 });
    panel.getState().settle('the device was lost');
    expect(panel.getState()).toMatchObject({ request: null, error: 'the device was lost', shown: 0 });
    panel.getState().begin({ planned: ['ablate'], step: 300 });
    expect(panel.getState().error).toBeNull();
    panel.getState().settle(null);
    expect(panel.getState().shown).toBeNull();

    // Another run on show: its own analyses only, and a stale choice falls back to the newest.
    store.getState().applyBatch({ reset: { config: null, headNames: null }, status: { ...IDLE_STATUS }, analyses: [c] });
    expect(store.getState().analyses).toEqual([c]);
    expect(shownAnalysisIndex(5, 1)).toBe(0);
    expect(shownAnalysisIndex(null, 0)).toBeNull();
  });
});
