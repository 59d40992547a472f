// Comparing runs: two or more saved runs (other seeds, weight decays, presets) overlaid on the same charts, one line
// per run with its own colour and dash, a legend that names what differs between them, and their grok steps as
// markers. Pure: the page's compare panel (ComparePanel.tsx) draws these specs with the one TimeSeriesChart,
// so every overlay exports as PNG, SVG, JSON and CSV like any chart.
//
// Runs evaluate at their own steps, so a chart's x column is the union of the runs' steps and each run's column
// holds NaN where it has no point; the charts join each run's points across those gaps (ChartSpec.joinGaps).
import type { ChartSpec } from './charts/chart-spec';
import type { ChartData, Marker } from './charts/plot-model';
import { SERIES_STYLES } from './charts/palette';
import { grokStep } from '../train/metrics';
import type { MetricKey } from '../formats/metrics';
import type { RunFile } from '../formats/run-file';
import { buildParamTable } from '../model/params';
import type { SpectralRecord } from '../formats/spectral';
import type { ComparedRun } from '../store/compare-store';

/** The most runs one comparison overlays (one Okabe-Ito colour and dash each). */
export const MAX_COMPARED = SERIES_STYLES.length;

/** What one overlay chart plots: a metric series or a spectral quantity, per run. */
interface Quantity {
  id: string;
  title: string;
  description: string;
  yLabel: string;
  yScale: 'linear' | 'log';
  yDomain?: [number, number];
  /** The run's points: steps and values (null: the run has none, e.g. no spectral records). */
  points(file: RunFile): { step: number[]; value: number[] } | null;
}

const metric = (key: MetricKey) => (file: RunFile) => ({ step: file.series.step, value: file.series[key] });
const spectral = (value: (r: SpectralRecord) => number) => (file: RunFile) =>
  file.spectral && file.spectral.length > 0 ? { step: file.spectral.map((r) => r.step), value: file.spectral.map(value) } : null;

const QUANTITIES: Quantity[] = [
  { id: 'test-accuracy', title: 'Test accuracy', description: 'Token accuracy on each run’s test set: when each one groks.', yLabel: 'test accuracy', yScale: 'linear', yDomain: [0, 1], points: metric('testAcc') },
  { id: 'train-accuracy', title: 'Train accuracy', description: 'Token accuracy on each run’s training set: when each one memorises.', yLabel: 'train accuracy', yScale: 'linear', yDomain: [0, 1], points: metric('trainAcc') },
  { id: 'test-loss', title: 'Test loss', description: 'Mean cross-entropy on each run’s test set.', yLabel: 'cross-entropy', yScale: 'log', points: metric('testLoss') },
  { id: 'theta-norm', title: 'Parameter norm ‖θ‖', description: 'Weight decay shrinks the parameters: compare the decays.', yLabel: 'norm', yScale: 'linear', points: metric('thetaNorm') },
  { id: 'g23', title: 'Spectral gap g₂₃', description: 'σ₂² − σ₃² of each run’s update windows.', yLabel: 'g₂₃', yScale: 'log', points: spectral((r) => r.g23 ?? NaN) },
  {
    id: 'energy-v1', title: 'Gradient energy fraction of v₁', description: 'What moves each run’s top update direction: the gradient (1) or weight decay (0).',
    yLabel: 'fraction', yScale: 'linear', yDomain: [0, 1], points: spectral((r) => r.gradEnergyFraction[0] ?? NaN),
  },
];

const fmt = (v: number) => Number(v.toPrecision(3)).toString();

/** What each run's settings are, as "name value" parts (the weight decay as it started, and as it ended if changed). */
function settingsOf(file: RunFile): Record<string, string> {
  const { config, events } = file;
  const lastHyper = [...events].reverse().find((e) => e.type === 'hyper');
  const wd = fmt(config.optim.weightDecay) + (lastHyper && lastHyper.after.weightDecay !== config.optim.weightDecay ? `→${fmt(lastHyper.after.weightDecay)}` : '');
  const lr = fmt(config.optim.lr) + (lastHyper && lastHyper.after.lr !== config.optim.lr ? `→${fmt(lastHyper.after.lr)}` : '');
  const { task: t, model: m, optim } = config;
  const task = t.kind === 'modarith' ? `${t.op} mod ${t.p}, fraction ${t.trainFraction}` : t.kind === 'multitask' ? `mod ${t.p}, fraction ${t.trainFraction}` : t.kind;
  const model = [`${buildParamTable(m).total.toLocaleString('en')} parameters`, m.norm === 'rms' && 'RMSNorm', m.qkNorm && 'QK-norm'].filter(Boolean).join(', ');
  const adam = `β ${optim.beta1}/${optim.beta2}, ε ${optim.eps}, clip ${optim.clipNorm}`;
  return {
    preset: config.preset, task, model, seed: String(config.seed), batch: String(config.shape.batch), wd, lr, adam,
    decay: config.decay?.kind === 'lrd' ? `LRD ${fmt(config.decay.rate)}` : 'L2',
  };
}

/** The settings whose value names itself in a label (the others read "seed 3", "wd 0.5", ...). */
const UNNAMED = new Set(['preset', 'task', 'model', 'adam']);

/**
 * A legend label per run naming what differs between the compared runs (seed, weight decay, ...), or the seed when
 * nothing does; runs that still read alike are numbered.
 */
export function comparisonLabels(files: readonly RunFile[]): string[] {
  const settings = files.map(settingsOf);
  const keys = Object.keys(settings[0] ?? {}).filter((k) => new Set(settings.map((s) => s[k])).size > 1);
  const shown = keys.length > 0 ? keys : ['seed'];
  const labels = settings.map((s) => shown.map((k) => (UNNAMED.has(k) ? s[k] : `${k} ${s[k]}`)).join(' · '));
  return labels.map((label, i) => (labels.indexOf(label) !== labels.lastIndexOf(label) ? `${label} (#${i + 1})` : label));
}

/** The sorted union of the runs' steps. */
function unionSteps(columns: readonly ({ step: number[] } | null)[]): Float64Array {
  const all = new Set<number>();
  for (const c of columns) for (const s of c?.step ?? []) all.add(s);
  return Float64Array.from([...all].sort((a, b) => a - b));
}

export interface ComparisonChart {
  spec: ChartSpec;
  data: ChartData;
}

/**
 * The overlay charts of the runs (a quantity none of them has a value of is left out), each with its data; every
 * chart spans the runs' evaluations, so the spectral overlays line up with the others.
 */
export function comparisonCharts(runs: readonly ComparedRun[]): ComparisonChart[] {
  const labels = comparisonLabels(runs.map((r) => r.file));
  const evaluated = runs.flatMap((r) => r.file.series.step);
  const span = evaluated.length > 0 ? ([Math.min(...evaluated), Math.max(...evaluated)] as const) : undefined;
  return QUANTITIES.flatMap((q): ComparisonChart[] => {
    const columns = runs.map((r) => q.points(r.file));
    if (!columns.some((c) => c?.value.some((v) => Number.isFinite(v)))) return [];
    const x = unionSteps(columns);
    const index = new Map(Array.from(x, (s, i) => [s, i] as const));
    const ys = columns.map((c) => {
      const y = new Float64Array(x.length).fill(NaN);
      c?.step.forEach((s, i) => (y[index.get(s)!] = c.value[i]));
      return y;
    });
    const spec: ChartSpec = {
      id: `compare-${q.id}`,
      title: q.title,
      description: q.description,
      source: 'metrics',
      yScale: q.yScale,
      ...(q.yDomain && { yDomain: q.yDomain }),
      yLabel: q.yLabel,
      emptyText: 'None of the compared runs recorded this.',
      joinGaps: true,
      lines: runs.map((r, i) => ({ key: r.id, label: labels[i], ...SERIES_STYLES[i % SERIES_STYLES.length] })),
    };
    const byKey = new Map(runs.map((r, i) => [r.id, ys[i]]));
    return [{ spec, data: { length: x.length, x, y: (key) => byKey.get(key) ?? new Float64Array(x.length).fill(NaN), ...(span && { span }) } }];
  });
}

/** Each run's grok step as a marker, labelled with the run. */
export function comparisonMarkers(runs: readonly ComparedRun[]): Marker[] {
  const labels = comparisonLabels(runs.map((r) => r.file));
  return runs.flatMap((r, i): Marker[] => {
    const step = grokStep(r.file.events);
    return step === null ? [] : [{ step, kind: 'grok', label: `${labels[i]} groks @ ${step}` }];
  });
}
