// What a run records at its evaluation cadence: metric series (parallel arrays, one entry per evaluation),
// events (grokking, hyperparameter changes, divergence), and the rules that read them (grok step, early stop).
import type { OptimConfig } from './optim-config';
import type { SpectralRecord } from '../spectral/record';
import type { CausalRecord } from '../formats/live-causal';

/** One evaluation, taken after the optimiser step `step`. */
export interface MetricPoint {
  step: number;
  /** Loss of the minibatch of step `step` (before its update), from the step's own readback. */
  batchLoss: number;
  /** Global gradient norm of step `step`, before clipping. */
  gradNorm: number;
  /** Whole training set after step `step`: mean cross-entropy and token accuracy. */
  trainLoss: number;
  trainAcc: number;
  /** Whole test set after step `step`. */
  testLoss: number;
  testAcc: number;
  /** Teacher-forced sequence accuracy: the fraction of sequences whose scored targets are all right. */
  trainSeqAcc: number;
  testSeqAcc: number;
  /**
   * Test sequence accuracy of greedy decoding (encoder-decoder models: each predicted token is fed back). For
   * models whose predictions are never fed back as inputs (modular arithmetic, Dyck) it equals testSeqAcc.
   */
  testGreedyAcc: number;
  /** ||theta|| over all parameters and ||theta_attn||, summed in float64 from the parameters read back. */
  thetaNorm: number;
  attnNorm: number;
}

export type MetricKey = keyof MetricPoint;

/** The order in which series are listed (and checked) everywhere. */
export const METRIC_KEYS: readonly MetricKey[] = [
  'step', 'batchLoss', 'gradNorm', 'trainLoss', 'trainAcc', 'testLoss', 'testAcc', 'trainSeqAcc', 'testSeqAcc', 'testGreedyAcc', 'thetaNorm', 'attnNorm',
];

export type MetricSeries = { [K in MetricKey]: number[] };

export type HyperParams = Pick<OptimConfig, 'lr' | 'weightDecay'>;

/** Test accuracy at which a run counts as grokked (SPEC §1). */
export const GROK_TEST_ACCURACY = 0.95;

/**
 * What grokking is read from (SPEC §1): test token accuracy; SCAN: test sequence accuracy; multitask: the lowest
 * task head's test accuracy (the run groks when every head has).
 */
export type GrokMetric = 'testAcc' | 'testSeqAcc' | 'minHeadTestAcc';

export type RunEvent =
  /**
   * The first evaluation whose grok metric (`metric`, at `value`) is >= GROK_TEST_ACCURACY; with `head`, that
   * task head's own test accuracy (multitask), without it the run's.
   */
  | { type: 'grok'; step: number; metric: GrokMetric; value: number; head?: string }
  /** Hyperparameters changed after step `step`: steps up to `step` used `before`, later steps `after`. */
  | { type: 'hyper'; step: number; before: HyperParams; after: HyperParams }
  /** A non-finite value at the evaluation of step `step`; the run stopped and went back to `restoredStep`. */
  | { type: 'divergence'; step: number; restoredStep: number; message: string };

/** What multitask runs record per task head at every evaluation. */
export const HEAD_METRIC_KEYS = ['trainLoss', 'trainAcc', 'testLoss', 'testAcc'] as const;
export type HeadMetricKey = (typeof HEAD_METRIC_KEYS)[number];

/** Multitask runs: each task head's train/test loss and accuracy at every evaluation, e.g. testAcc[head][evaluation]. */
export type HeadSeries = { names: string[] } & { [K in HeadMetricKey]: number[][] };

export interface RunMetrics {
  series: MetricSeries;
  events: RunEvent[];
  heads?: HeadSeries;
  /** One record per analysed window, for runs that track the spectral edge. */
  spectral?: SpectralRecord[];
  /** One record per live causal probe, for runs that take them (src/analysis/live-causal.ts). */
  causal?: CausalRecord[];
}

export function emptyMetrics(headNames: string[] | null = null, spectral = false, causal = false): RunMetrics {
  const series = Object.fromEntries(METRIC_KEYS.map((k) => [k, []])) as unknown as MetricSeries;
  return {
    series,
    events: [],
    ...(headNames && { heads: emptyHeadSeries(headNames) }),
    ...(spectral && { spectral: [] }),
    ...(causal && { causal: [] }),
  };
}

function emptyHeadSeries(names: string[]): HeadSeries {
  const series = Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, names.map(() => [])])) as unknown as Omit<HeadSeries, 'names'>;
  return { names: [...names], ...series };
}

/** Appends one evaluation's per-head values (each indexed by head). */
export function appendHeadPoint(heads: HeadSeries, values: Record<HeadMetricKey, readonly number[]>): void {
  for (const k of HEAD_METRIC_KEYS) heads.names.forEach((_, h) => heads[k][h].push(values[k][h]));
}

/** A deep copy (checkpoints keep one, so the live run's appends don't reach them). */
export function copyMetrics(m: RunMetrics): RunMetrics {
  return {
    series: Object.fromEntries(METRIC_KEYS.map((k) => [k, [...m.series[k]]])) as unknown as MetricSeries,
    events: m.events.map((e) => structuredClone(e)),
    ...(m.heads && { heads: structuredClone(m.heads) }),
    ...(m.spectral && { spectral: structuredClone(m.spectral) }),
    ...(m.causal && { causal: structuredClone(m.causal) }),
  };
}

export function appendPoint(series: MetricSeries, point: MetricPoint): void {
  for (const k of METRIC_KEYS) series[k].push(point[k]);
}

export function pointAt(series: MetricSeries, index: number): MetricPoint {
  return Object.fromEntries(METRIC_KEYS.map((k) => [k, series[k][index]])) as unknown as MetricPoint;
}

/** The keys of a point whose value is NaN or infinite (a diverged run). */
export function nonFiniteKeys(point: MetricPoint): MetricKey[] {
  return METRIC_KEYS.filter((k) => !Number.isFinite(point[k]));
}

/** Euclidean norms of all parameters and of the theta_attn slice, accumulated in float64. */
export function paramNorms(params: Float32Array, attn: { offset: number; size: number }): { theta: number; attn: number } {
  const sumOfSquares = (from: number, to: number) => {
    let sum = 0;
    for (let i = from; i < to; i++) sum += params[i] * params[i];
    return sum;
  };
  return { theta: Math.sqrt(sumOfSquares(0, params.length)), attn: Math.sqrt(sumOfSquares(attn.offset, attn.offset + attn.size)) };
}

/** The run's grok step (the first run-wide grok event; a task head's own is `headGrokStep`). */
export function grokStep(events: readonly RunEvent[]): number | null {
  return events.find((e) => e.type === 'grok' && e.head === undefined)?.step ?? null;
}

export function headGrokStep(events: readonly RunEvent[], head: string): number | null {
  return events.find((e) => e.type === 'grok' && e.head === head)?.step ?? null;
}

/** A run's grok metric at each of its evaluations. */
export function grokSeries(metrics: Pick<RunMetrics, 'series' | 'heads'>, metric: GrokMetric): number[] {
  if (metric !== 'minHeadTestAcc') return metrics.series[metric];
  const { heads } = metrics;
  if (!heads) throw new Error('the grok metric minHeadTestAcc needs task-head series (multitask runs)');
  return metrics.series.step.map((_, i) => Math.min(...heads.testAcc.map((s) => s[i])));
}

/** The grok event the latest evaluation triggers: the first evaluation whose grok metric reaches GROK_TEST_ACCURACY. */
export function grokEvent(metrics: RunMetrics, metric: GrokMetric): RunEvent | null {
  const value = grokSeries(metrics, metric).at(-1);
  if (grokStep(metrics.events) !== null || value === undefined || !(value >= GROK_TEST_ACCURACY)) return null;
  return { type: 'grok', step: metrics.series.step.at(-1)!, metric, value };
}

/** Multitask: the grok events of the task heads whose test accuracy first reaches GROK_TEST_ACCURACY at `step`. */
export function headGrokEvents(step: number, names: readonly string[], headTestAcc: readonly number[], events: readonly RunEvent[]): RunEvent[] {
  return names.flatMap((head, h): RunEvent[] =>
    headGrokStep(events, head) === null && headTestAcc[h] >= GROK_TEST_ACCURACY ? [{ type: 'grok', step, metric: 'testAcc', value: headTestAcc[h], head }] : [],
  );
}

/** Test accuracy at which the lab's early-stopping rule counts a run as solved. */
export const SOLVED_TEST_ACCURACY = 0.99;

/**
 * Early stopping: stop once the run's grok metric (test accuracy; SCAN: test sequence accuracy; multitask: every
 * head's test accuracy) has been >= `testAccuracy` for the last `evaluations` evaluations in a row. The lab's rule
 * is { SOLVED_TEST_ACCURACY, K } (off unless asked for: the edge's interesting phases continue after grokking);
 * { GROK_TEST_ACCURACY, 1 } stops at the grok step.
 */
export interface EarlyStopRule {
  testAccuracy: number;
  evaluations: number;
}

export function shouldStopEarly(metrics: Pick<RunMetrics, 'series' | 'heads'>, rule: EarlyStopRule, metric: GrokMetric): boolean {
  const acc = grokSeries(metrics, metric);
  if (acc.length < rule.evaluations) return false;
  return acc.slice(acc.length - rule.evaluations).every((a) => a >= rule.testAccuracy);
}
