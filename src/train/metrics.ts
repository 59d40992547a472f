// What a run records at its evaluation cadence: metric series (parallel arrays, one entry per evaluation),
// events (grokking, hyperparameter changes, divergence), and the rules that read them (grok step, early stop).
import { HEAD_METRIC_KEYS, METRIC_KEYS, type EarlyStopRule, type GrokMetric, type HeadMetricKey, type HeadSeries, type MetricKey, type MetricPoint, type MetricSeries, type RunEvent, type RunMetrics } from '../formats/metrics';
import type { HistoryMark } from '../formats/checkpoint-file';

/** Test accuracy at which a run counts as grokked (SPEC §1). */
export const GROK_TEST_ACCURACY = 0.95;

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

/** The lengths of a run's history lists now (a checkpoint's place in it). */
export function markOf(m: RunMetrics): HistoryMark {
  return { evaluations: m.series.step.length, events: m.events.length, spectral: m.spectral?.length ?? 0, causal: m.causal?.length ?? 0 };
}

/** A copy of the first `mark` entries of a run's history (the lists grow only by appending, so this is its state then). */
export function historyUpTo(m: RunMetrics, mark: HistoryMark): RunMetrics {
  const n = mark.evaluations;
  return {
    series: Object.fromEntries(METRIC_KEYS.map((k) => [k, m.series[k].slice(0, n)])) as unknown as MetricSeries,
    events: m.events.slice(0, mark.events).map((e) => structuredClone(e)),
    ...(m.heads && { heads: { names: [...m.heads.names], ...Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, m.heads![k].map((s) => s.slice(0, n))])) } as HeadSeries }),
    ...(m.spectral && { spectral: structuredClone(m.spectral.slice(0, mark.spectral)) }),
    ...(m.causal && { causal: structuredClone(m.causal.slice(0, mark.causal)) }),
  };
}

/** Whether `m` holds at least the history `mark` counts. */
export const covers = (m: RunMetrics, mark: HistoryMark): boolean =>
  m.series.step.length >= mark.evaluations && m.events.length >= mark.events && (m.spectral?.length ?? 0) >= mark.spectral && (m.causal?.length ?? 0) >= mark.causal;

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

export function shouldStopEarly(metrics: Pick<RunMetrics, 'series' | 'heads'>, rule: EarlyStopRule, metric: GrokMetric): boolean {
  const acc = grokSeries(metrics, metric);
  if (acc.length < rule.evaluations) return false;
  return acc.slice(acc.length - rule.evaluations).every((a) => a >= rule.testAccuracy);
}
