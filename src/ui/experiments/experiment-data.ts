// What the experiment panels draw, shaped from the analysis results (src/analysis/): pure functions, no DOM, so
// the layouts are tested on their own (test/experiment-panels.test.ts). Also the panel's gating (when the Run
// button works and why not), its selection of experiments and the words for numbers.
import { EXPERIMENTS, type AblationResult, type CurvatureResult, type DecayInterventionResult, type DecayRow, type FieldBasis, type FunctionalModesResult, type PerturbationResult, type ProbeExperimentResult, type ExperimentName } from '../../formats/experiments';
import type { AnalysisFile, ExperimentResults, ResultOf } from '../../formats/analysis-file';
import { INTERVENTION_DEFAULTS, notForTask, type TaskKind } from '../../analysis/experiments';
import type { ExperimentProgress, RunPhase } from '../../formats/worker';

// ---- The experiments ---------------------------------------------------------------------------------------

export const EXPERIMENT_INFO: Record<ExperimentName, { label: string; what: string }> = {
  perturb: { label: 'Perturbation sweep', what: 'loss, accuracy and KL at θ_attn + ε v along each edge direction and 8 random ones' },
  curvature: { label: 'Curvature', what: 'vᵀHv along the edge and random directions, and the top Hessian eigenvalues' },
  ablate: { label: 'Ablation', what: 'remove the edge {v₁, v₂}, the bulk {v₃, v₄}, each v_k and 20 random pairs from θ_attn' },
  probe: { label: 'Probes', what: 'linear, quadratic and MLP R² from the residual stream (Dyck depth, SCAN tokens)' },
  fourier: { label: 'Functional modes', what: 'the Fourier spectrum of how each direction moves the residual stream' },
  'wd-intervention': { label: 'Weight-decay intervention', what: `train branches of this checkpoint at weight decay ${INTERVENTION_DEFAULTS.weightDecays.slice(0, -1).join(', ')} and ${INTERVENTION_DEFAULTS.weightDecays.at(-1)}` },
  verdict: { label: 'Verdict', what: 'the edge’s universality class from stated thresholds (runs the sweep and the ablation)' },
};

export type Selection = Record<ExperimentName, boolean>;

/** Everything that applies to the task (null: no run yet) but the weight-decay intervention, which trains. */
export function defaultSelection(kind: TaskKind | null = null): Selection {
  return Object.fromEntries(EXPERIMENTS.map((name) => [name, name !== 'wd-intervention' && (kind === null || notForTask(name, kind) === null)])) as Selection;
}

/** The ticked experiments that apply to the task (one that does not is never sent, whatever its box says). */
export const selectedExperiments = (selection: Selection, kind: TaskKind | null = null): ExperimentName[] =>
  EXPERIMENTS.filter((name) => selection[name] && (kind === null || notForTask(name, kind) === null));

/** The weight-decay intervention's branch length in the page: long enough to see the decays part, short enough to wait for. */
export const PAGE_INTERVENTION_STEPS = 1000;

const duration = (seconds: number): string => {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
};

/**
 * How long the weight-decay intervention will train: `branches` x `steps`, at the step rate this run was measured
 * at on this machine (null: not measured here, e.g. a reopened run that has not trained since).
 */
export function interventionEstimate(steps: number, branches: number, stepsPerSecond: number | null): string {
  const total = steps * branches;
  const work = `${branches} branches × ${steps.toLocaleString('en')} steps = ${total.toLocaleString('en')} training steps`;
  if (stepsPerSecond === null || !(stepsPerSecond > 0)) return `${work}; the time is estimated once this run has trained here.`;
  const rate = stepsPerSecond >= 10 ? Math.round(stepsPerSecond).toString() : stepsPerSecond.toPrecision(2);
  return `${work}: about ${duration(total / stepsPerSecond)} at the ${rate} steps/s this run trained at.`;
}

/** What a card says while a request runs: computing now, waiting its turn, or done and shown with the rest (null: not part of it). */
export function pendingText(name: ExperimentName, planned: readonly ExperimentName[], current: ExperimentProgress | null): string | null {
  const state = plannedProgress(planned, current).find((p) => p.name === name)?.state;
  if (!state) return null;
  if (state === 'running' && current) return `Computing now: ${current.what} (${current.done} of ${current.total}).`;
  if (state === 'done') return 'Computed: shown when the other experiments have finished.';
  const i = planned.indexOf(name);
  return i === 0 ? 'Starting…' : `Waiting: runs after ${EXPERIMENT_INFO[planned[i - 1]].label.toLowerCase()}.`;
}

export const MAX_INTERVENTION_STEPS = 100_000;

export function checkInterventionSteps(text: string): { ok: true; value: number } | { ok: false; message: string } {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { ok: false, message: `must be a whole number of steps, got "${text}"` };
  const value = Number(trimmed);
  if (value < 1 || value > MAX_INTERVENTION_STEPS) return { ok: false, message: `must be between 1 and ${MAX_INTERVENTION_STEPS.toLocaleString('en')}` };
  return { ok: true, value };
}

export interface RunGate {
  phase: RunPhase;
  hasRun: boolean;
  /** The run's spectral settings (null: no run config). */
  spectral: { enabled: boolean; window: number; snapshotEvery: number } | null;
  /** Spectral records received: the experiments need one (its edge vectors). */
  spectralCount: number;
  step: number;
  /** A request is in progress. */
  busy: boolean;
  selected: number;
  stepsOk: boolean;
}

/** Why the Run button is disabled (null: it is not). */
export function runBlocker(g: RunGate): string | null {
  if (g.busy) return 'Experiments are running on this checkpoint.';
  switch (g.phase) {
    case 'idle':
    case 'failed':
      return 'Start a run, or open a saved one: the experiments run on its model.';
    case 'preparing':
    case 'recovering':
      return 'Wait until the run is ready.';
    case 'running':
      return 'Pause the run first: the experiments run on the model as it is at one step.';
    case 'playing':
      return 'This is a recording playing back: it holds no model to experiment on. Train the run here (Start) to analyse it.';
    case 'viewing':
      return 'This run was opened from a file, which holds no model to experiment on: open it from Saved runs if it trained in this browser, or press Start to train it again with the same settings.';
    case 'paused':
    case 'finished':
      break;
  }
  if (!g.hasRun) return 'Start a run first.';
  if (g.spectral && !g.spectral.enabled) return 'This run does not track the spectral edge, so there are no edge directions to test.';
  if (g.spectralCount === 0) {
    const first = g.spectral ? g.spectral.window * g.spectral.snapshotEvery : null;
    return `The experiments use the edge vectors of the latest spectral window, and there is none yet${first === null ? '' : `: the first is at step ${first.toLocaleString('en')} (now ${g.step.toLocaleString('en')})`}. Train further first.`;
  }
  if (g.selected === 0) return 'Tick at least one experiment.';
  if (!g.stepsOk) return 'Fix the weight-decay intervention’s number of steps.';
  return null;
}

/** Each planned experiment and where it stands while a request runs. */
export function plannedProgress(planned: readonly ExperimentName[], current: ExperimentProgress | null): { name: ExperimentName; state: 'done' | 'running' | 'waiting' }[] {
  const at = current ? planned.indexOf(current.name) : -1;
  return planned.map((name, i) => ({ name, state: at < 0 ? 'waiting' : i < at ? 'done' : i === at ? 'running' : 'waiting' }));
}

export function progressText(p: ExperimentProgress): string {
  return `${EXPERIMENT_INFO[p.name].label}: ${p.what} (${p.done} of ${p.total})`;
}

/** One line about an analysis: the step, where its edge vectors come from, seed, adapter and time. */
export function analysisSummary(file: AnalysisFile): string {
  const { run, at } = file;
  const grok = run.grokStep === null ? 'not grokked' : `grokked at ${run.grokStep.toLocaleString('en')}`;
  return `${run.preset}, seed ${run.seed} (${grok}) at step ${at.step.toLocaleString('en')}; edge vectors from the window at step ${at.windowStep.toLocaleString('en')}; control seed ${file.seed}; ${formatSeconds(file.wallMs)} on ${run.adapter || 'an unnamed adapter'}`;
}

/** File names of an analysis's exports: preset, seed and analysed step (like the run's, src/ui/lab.ts fileBase). */
export const analysisFileBase = (file: AnalysisFile) => `${file.run.preset}-seed${file.run.seed}-step${file.at.step}`;

/** The result of experiment `name`, its reason for not applying, or nothing yet. */
export type OutcomeView<T> = { state: 'empty' } | { state: 'not-applicable'; reason: string } | { state: 'done'; result: T; wallMs: number };

export function outcomeView<K extends keyof ExperimentResults>(file: AnalysisFile | null, name: K): OutcomeView<ResultOf<K>> {
  const outcome = file?.experiments[name];
  if (!outcome) return { state: 'empty' };
  if ('notApplicable' in outcome) return { state: 'not-applicable', reason: outcome.notApplicable };
  return { state: 'done', result: outcome.result as ResultOf<K>, wallMs: outcome.wallMs };
}

// ---- Numbers -----------------------------------------------------------------------------------------------

/** A number in `digits` significant figures; scientific when tiny or huge; "n/a" when missing or not finite. */
export function formatNumber(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  const text = a < 1e-3 || a >= 1e5 ? v.toExponential(digits - 1).replace(/\.?0+e/, 'e').replace('e+', 'e') : String(Number(v.toPrecision(digits)));
  return text.replace('-', '−');
}

export const formatPercent = (v: number, digits = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : 'n/a');

export const formatSigned = (v: number, digits = 3) => (v > 0 ? `+${formatNumber(v, digits)}` : formatNumber(v, digits));

export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A data range padded by `pad` of its span (optionally including 0); [0, 1] when nothing is finite. */
export function valueDomain(arrays: readonly (readonly number[])[], { includeZero = false, pad = 0.05 }: { includeZero?: boolean; pad?: number } = {}): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const values of arrays) for (const v of values) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (includeZero) [lo, hi] = [Math.min(lo, 0), Math.max(hi, 0)];
  if (lo > hi) return [0, 1];
  if (lo === hi) {
    const d = Math.abs(lo) * 0.1 || 1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * pad;
  return [includeZero && lo === 0 ? 0 : lo - d, includeZero && hi === 0 ? 0 : hi + d];
}

// ---- Line plots (perturbation curves, mode spectra) --------------------------------------------------------

export interface LinePlotData {
  x: number[];
  /** One line per edge direction (v1 first), drawn in SERIES_STYLES order. */
  lines: { key: string; label: string; values: number[] }[];
  /** The random control: min-max shaded, the mean as a thin line. */
  band: { label: string; min: number[]; mean: number[]; max: number[] } | null;
  /** Horizontal reference levels. */
  refs: { label: string; y: number }[];
  xDomain: [number, number];
  yDomain: [number, number];
}

export type PerturbMetric = 'loss' | 'kl' | 'accuracy' | 'attentionEntropy';

export const PERTURB_METRIC_LABEL: Record<PerturbMetric, string> = {
  loss: 'test loss',
  kl: 'KL(base ‖ perturbed), nats',
  accuracy: 'token accuracy',
  attentionEntropy: 'attention entropy, nats',
};

export function perturbationPlot(r: PerturbationResult, metric: PerturbMetric): LinePlotData {
  const lines = r.edge.map((curve, j) => ({ key: `v${j + 1}`, label: `v${j + 1}`, values: curve[metric] }));
  const stats = r.random[metric];
  const band = r.random.count > 0 ? { label: `${r.random.count} random directions (min–max, mean)`, min: stats.min, mean: stats.mean, max: stats.max } : null;
  const yDomain = valueDomain([...lines.map((l) => l.values), ...(band ? [band.min, band.max] : [])], { includeZero: metric === 'kl' });
  return { x: r.eps, lines, band, refs: [], xDomain: [Math.min(...r.eps), Math.max(...r.eps)], yDomain };
}

export const BASIS_LABEL: Record<FieldBasis, string> = { add: 'a + b', sub: 'a − b', mulRaw: 'a·b (raw)', mulLog: 'log a + log b', depth: 'depth' };
const BASIS_ORDER: FieldBasis[] = ['add', 'sub', 'mulRaw', 'mulLog', 'depth'];

/** Which pairs the spectra are over: every held-out pair, or those with a != b (the result's offDiagonal). */
export type ModePairs = 'all' | 'offDiagonal';

type DirectionModes = FunctionalModesResult['directions'][number];

/** A direction's spectra over `pairs` (none when the result has no off-diagonal spectra). */
function basesOver(d: DirectionModes, pairs: ModePairs): DirectionModes['bases'] {
  return pairs === 'all' ? d.bases : (d.offDiagonal?.bases ?? {});
}

/** Whether the result also has spectra over the pairs a != b (modular arithmetic analysed since they were added). */
export function hasOffDiagonalModes(r: FunctionalModesResult): boolean {
  return r.directions.length > 0 && r.directions.every((d) => d.offDiagonal);
}

/** The bases the result has spectra in over `pairs`, in a fixed order. */
export function modeBases(r: FunctionalModesResult, pairs: ModePairs = 'all'): FieldBasis[] {
  const first = r.directions[0];
  return first ? BASIS_ORDER.filter((b) => basesOver(first, pairs)[b] !== undefined) : [];
}

/** The basis to show first: the first head's own basis (its op), else the first the result has. */
export function defaultModeBasis(r: FunctionalModesResult): FieldBasis | null {
  const bases = modeBases(r);
  const own = r.heads?.[0]?.bases.find((b) => bases.includes(b));
  return own ?? bases[0] ?? null;
}

/** Power against frequency in one basis: v1..v3, the random directions as a band, and the uniform level. */
export function modeSpectrumPlot(r: FunctionalModesResult, basis: FieldBasis, pairs: ModePairs = 'all'): LinePlotData {
  const edge = r.directions.filter((d) => d.kind === 'edge').slice(0, 3);
  const random = r.directions.filter((d) => d.kind === 'random');
  const spectrum = (d: DirectionModes) => basesOver(d, pairs)[basis]?.power ?? [];
  const lines = edge.map((d) => ({ key: d.label, label: d.label, values: spectrum(d) }));
  const n = Math.max(0, ...r.directions.map((d) => spectrum(d).length));
  const x = Array.from({ length: n }, (_, i) => i + 1);
  let band: LinePlotData['band'] = null;
  if (random.length > 0) {
    const columns = x.map((_, i) => random.map((d) => spectrum(d)[i]).filter(Number.isFinite));
    band = {
      label: `${random.length} random direction${random.length === 1 ? '' : 's'} (min–max, mean)`,
      min: columns.map((c) => Math.min(...c)),
      mean: columns.map((c) => c.reduce((s, v) => s + v, 0) / c.length),
      max: columns.map((c) => Math.max(...c)),
    };
  }
  const uniform = (edge[0] && basesOver(edge[0], pairs)[basis]?.uniformLevel) ?? (n > 0 ? 1 / n : null);
  const refs = uniform === null ? [] : [{ label: `uniform 1/${n}`, y: uniform }];
  const yDomain = valueDomain([...lines.map((l) => l.values), ...(band ? [band.max] : []), refs.map((ref) => ref.y)], { includeZero: true });
  return { x, lines, band, refs, xDomain: [Math.min(1, n), Math.max(1, n)], yDomain };
}

export interface ModeRow {
  label: string;
  kind: 'edge' | 'random';
  meanResponse: number;
  /** Mean f on the pairs a = b over the mean f elsewhere (null: not measured, or no such pair). */
  diagonalResponseRatio: number | null;
  bases: { basis: FieldBasis; concentration: number; peakFrequency: number | null; uniformLevel: number; nullConcentration: number | null; nullExceedance: number | null }[];
  grid: { concentration: number; peak: string } | null;
}

/** One row per direction: the concentration F and peak frequency in each basis, with its permutation null. */
export function modeRows(r: FunctionalModesResult, pairs: ModePairs = 'all'): ModeRow[] {
  const bases = modeBases(r, pairs);
  return r.directions.map((d) => ({
    label: d.label,
    kind: d.kind,
    meanResponse: d.meanResponse,
    diagonalResponseRatio: d.offDiagonal?.diagonalResponseRatio ?? null,
    bases: bases.flatMap((basis) => {
      const m = basesOver(d, pairs)[basis];
      return m ? [{ basis, concentration: m.concentration, peakFrequency: m.peakFrequency, uniformLevel: m.uniformLevel, nullConcentration: m.nullConcentration ?? null, nullExceedance: m.nullExceedance ?? null }] : [];
    }),
    grid: d.grid ? { concentration: d.grid.concentration, peak: d.grid.peaks[0] ? `(${d.grid.peaks[0].k1}, ${d.grid.peaks[0].k2})` : '–' } : null,
  }));
}

export interface HeatmapData {
  p: number;
  /** The frequencies along each axis, centred on 0 (−h..h). */
  freqs: number[];
  /** cells[i * freqs.length + j]: the power at (k1 = freqs[i], k2 = freqs[j]). */
  cells: number[];
  max: number;
}

/** v1's 2-D power (stored at (k1 mod p) p + (k2 mod p)) on frequencies centred on 0. */
export function heatmapData(grid: { p: number; power: number[] }): HeatmapData {
  const { p, power } = grid;
  if (power.length !== p * p) throw new Error(`the 2-D power has ${power.length} cells, expected ${p} x ${p}`);
  const lo = -Math.floor((p - 1) / 2);
  const freqs = Array.from({ length: p }, (_, i) => lo + i);
  const mod = (k: number) => ((k % p) + p) % p;
  const cells = freqs.flatMap((k1) => freqs.map((k2) => power[mod(k1) * p + mod(k2)]));
  return { p, freqs, cells, max: Math.max(0, ...cells.filter(Number.isFinite)) };
}

// ---- Bar plots (ablation, curvature) -----------------------------------------------------------------------

export type BarKind = 'edge' | 'bulk' | 'single' | 'random';

export interface BarRow {
  key: string;
  label: string;
  value: number;
  kind: BarKind;
  /** A short note drawn beside the value (e.g. the share of ||θ||² removed). */
  note: string;
}

export interface DotsRow {
  key: string;
  label: string;
  values: number[];
  mean: number;
  min: number;
  max: number;
}

export interface BarLayout {
  rows: BarRow[];
  /** The random control as dots with its min-max range and mean (drawn last). */
  dots: DotsRow | null;
  /** A shaded interval around 0 (what the measurement cannot resolve). */
  shade: { from: number; to: number; label: string } | null;
  /** Vertical reference values. */
  /**
   * Reference values drawn as dashed lines; one far outside the bars (`offScale`) would squash them to nothing, so it
   * is left off the scale and drawn as an arrow at the plot's edge with its value.
   */
  refs: { x: number; label: string; offScale?: boolean }[];
  domain: [number, number];
}

/** A reference further out than this many times the bars' own extent is drawn off scale. */
export const OFF_SCALE_FACTOR = 3;

const dotsOf = (key: string, label: string, values: number[]): DotsRow | null => {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  return { key, label, values: finite, mean: finite.reduce((s, v) => s + v, 0) / finite.length, min: Math.min(...finite), max: Math.max(...finite) };
};

const removes = (fraction: number) => `removes ${formatPercent(fraction)} of ‖θ_attn‖²`;

/** Δ test accuracy of each removal: the edge, the bulk, each v_k, and the random pairs as dots. */
export function ablationBars(r: AblationResult): BarLayout {
  const rows: BarRow[] = [
    { key: 'edge', label: 'edge {v1, v2}', value: r.edge.deltaAccuracy, kind: 'edge', note: removes(r.edge.removedFraction) },
    ...(r.bulk ? [{ key: 'bulk', label: 'bulk {v3, v4}', value: r.bulk.deltaAccuracy, kind: 'bulk' as const, note: removes(r.bulk.removedFraction) }] : []),
    ...r.single.map((e, j) => ({ key: `v${j + 1}`, label: `v${e.vectors[0] ?? j + 1} alone`, value: e.deltaAccuracy, kind: 'single' as const, note: removes(e.removedFraction) })),
  ];
  const dots = dotsOf('random', `${r.random.trials} random pairs`, r.random.effects.map((e) => e.deltaAccuracy));
  const shade = { from: -r.resolution, to: r.resolution, label: `±1 token flip (1/${r.scored.toLocaleString('en')})` };
  const domain = valueDomain([rows.map((b) => b.value), dots?.values ?? [], [shade.from, shade.to]], { includeZero: true, pad: 0.08 });
  return { rows, dots, shade, refs: [], domain };
}

/** The edge/random ratio in words: a lower bound (with the resolution) when random pairs flip under one token. */
export function ablationRatioText(r: AblationResult): string {
  const edge = Math.abs(r.edge.deltaAccuracy);
  const { value, lowerBound, resolution } = r.ratio;
  const mean = r.random.meanAbsDelta;
  const flips = mean / resolution;
  if (lowerBound) {
    return `Edge/random ratio ≥ ${formatNumber(value)} — a lower bound: the ${r.random.trials} random pairs change accuracy by ${formatNumber(mean)} on average (${formatNumber(flips, 2)} token flips), below the resolution of one flip (${formatNumber(resolution)} = 1/${r.scored.toLocaleString('en')} scored targets), so |Δ edge| = ${formatNumber(edge)} is divided by the resolution instead.`;
  }
  return `Edge/random ratio = ${formatNumber(value)}: |Δ edge| = ${formatNumber(edge)} against a mean |Δ| of ${formatNumber(mean)} over ${r.random.trials} random pairs (${formatNumber(flips, 2)} token flips; resolution ${formatNumber(resolution)}).`;
}

/** v^T H v along each edge direction, the random directions as dots, float32 noise shaded, λ1 for scale. */
export function curvatureBars(r: CurvatureResult): BarLayout {
  const rows: BarRow[] = r.edge.map((value, j) => ({ key: `v${j + 1}`, label: `v${j + 1}`, value, kind: 'edge', note: `⟨v, ∇L⟩ ${formatNumber(r.edgeGradientProjection[j])}` }));
  const dots = dotsOf('random', `${r.random.length} random directions`, r.random);
  const res = r.curvatureResolution;
  const shade = { from: -res, to: res, label: `float32 noise (|vᵀHv| < ${formatNumber(res)})` };
  const top = r.hessian?.eigenvalues[0];
  const data = [rows.map((b) => b.value), dots?.values ?? [], [shade.from, shade.to]];
  const [lo, hi] = valueDomain(data, { includeZero: true });
  const within = top !== undefined && top >= lo * OFF_SCALE_FACTOR && top <= hi * OFF_SCALE_FACTOR;
  const refs = top !== undefined && Number.isFinite(top) ? [{ x: top, label: `top Hessian eigenvalue λ₁ = ${formatNumber(top)}${within ? '' : ' (off this scale)'}`, ...(!within && { offScale: true }) }] : [];
  const domain = valueDomain([...data, refs.filter((r) => !r.offScale).map((ref) => ref.x)], { includeZero: true, pad: 0.08 });
  return { rows, dots, shade, refs, domain };
}

// ---- Tables ------------------------------------------------------------------------------------------------

export const PROBE_LABEL = { linear: 'linear (ridge 1)', quadratic: 'quadratic (ridge 10)', mlp: 'MLP (64 ReLU)' } as const;

export function probeRows(r: ProbeExperimentResult): { kind: keyof typeof PROBE_LABEL; label: string; trained: number; untrained: number; gain: number }[] {
  return (Object.keys(PROBE_LABEL) as (keyof typeof PROBE_LABEL)[]).map((kind) => ({
    kind,
    label: PROBE_LABEL[kind],
    trained: r.trained[kind],
    untrained: r.untrained[kind],
    gain: r.trained[kind] - r.untrained[kind],
  }));
}

export function decayRows(r: DecayInterventionResult): (DecayRow & { label: string })[] {
  return [
    { ...r.base, label: `checkpoint (wd ${formatNumber(r.base.weightDecay)})` },
    ...r.branches.map((b) => ({ ...b, label: `wd ${formatNumber(b.weightDecay)}` })),
  ];
}
