// What a run records at its evaluation cadence: metric series (parallel arrays, one entry per evaluation),
// events (grokking, hyperparameter changes, divergence), and the rules that read them (grok step, early stop).
import { HEAD_METRIC_KEYS, METRIC_KEYS, type EarlyStopRule, type GrokMetric, type HeadMetricKey, type HeadSeries, type MetricKey, type MetricPoint, type MetricSeries, type RunEvent, type RunMetrics } from '../formats/metrics';
import type { HistoryMark } from '../formats/checkpoint-file';
import type { HistoryDelta } from '../formats/history';

/** Test accuracy at which a run counts as grokked (docs/science.md §1). */
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
export const covers = (m: RunMetrics, mark: HistoryMark): boolean => within(mark, markOf(m));

/** The mark of an empty history. */
export const NO_HISTORY: HistoryMark = Object.freeze({ evaluations: 0, events: 0, spectral: 0, causal: 0 });

/** Whether the history up to `inner` is no longer than the one up to `outer`, list by list. */
export const within = (inner: HistoryMark, outer: HistoryMark): boolean =>
  inner.evaluations <= outer.evaluations && inner.events <= outer.events && inner.spectral <= outer.spectral && inner.causal <= outer.causal;

/** The history two continuations of one history share, given where each ends: the shorter of each list. */
export const commonMark = (a: HistoryMark, b: HistoryMark): HistoryMark => ({
  evaluations: Math.min(a.evaluations, b.evaluations),
  events: Math.min(a.events, b.events),
  spectral: Math.min(a.spectral, b.spectral),
  causal: Math.min(a.causal, b.causal),
});

/** The entries of `m` after `from` and up to `to` (each list between its own marks): copies only those. */
export function historyDelta(m: RunMetrics, from: HistoryMark, to: HistoryMark = markOf(m)): HistoryDelta {
  const [a, b] = [from.evaluations, to.evaluations];
  return {
    from,
    series: Object.fromEntries(METRIC_KEYS.map((k) => [k, m.series[k].slice(a, b)])) as unknown as MetricSeries,
    ...(m.heads && { heads: { names: [...m.heads.names], ...Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, m.heads![k].map((s) => s.slice(a, b))])) } as HeadSeries }),
    events: m.events.slice(from.events, to.events),
    ...(m.spectral && { spectral: m.spectral.slice(from.spectral, to.spectral) }),
    ...(m.causal && { causal: m.causal.slice(from.causal, to.causal) }),
  };
}

/** The mark after `delta` is applied. */
export const endOf = (delta: HistoryDelta): HistoryMark => ({
  evaluations: delta.from.evaluations + delta.series.step.length,
  events: delta.from.events + delta.events.length,
  spectral: delta.from.spectral + (delta.spectral?.length ?? 0),
  causal: delta.from.causal + (delta.causal?.length ?? 0),
});

/**
 * Cuts `m` back to `delta.from` and appends `delta`, in place (so reading a history of n steps costs its length, not
 * n times it). A value that is not such a step, or one that starts past the end of `m`, is an Error saying what is
 * wrong, and `m` is left as it was.
 */
export function appendDelta(m: RunMetrics, delta: unknown): void {
  const d = checkDelta(delta);
  if (!covers(m, d.from)) throw new Error(`it starts after evaluation ${d.from.evaluations}, event ${d.from.events}, spectral record ${d.from.spectral} and causal record ${d.from.causal}, past the end of the history before it (${JSON.stringify(markOf(m))})`);
  if (d.heads && m.heads && JSON.stringify(d.heads.names) !== JSON.stringify(m.heads.names)) throw new Error(`its task heads ${JSON.stringify(d.heads.names)} are not the run's (${JSON.stringify(m.heads.names)})`);
  const n = d.from.evaluations;
  for (const k of METRIC_KEYS) {
    m.series[k].length = n;
    m.series[k].push(...d.series[k]);
  }
  if (d.heads) {
    m.heads ??= emptyHeadSeries(d.heads.names);
    for (const k of HEAD_METRIC_KEYS) {
      m.heads[k].forEach((s, h) => {
        s.length = n;
        s.push(...d.heads![k][h]);
      });
    }
  }
  m.events.length = d.from.events;
  m.events.push(...d.events);
  if (d.spectral) {
    m.spectral ??= [];
    m.spectral.length = d.from.spectral;
    m.spectral.push(...d.spectral);
  }
  if (d.causal) {
    m.causal ??= [];
    m.causal.length = d.from.causal;
    m.causal.push(...d.causal);
  }
}

/** `value` as a HistoryDelta, its shape checked (lists, counts, lengths; the values are the run file's to check). */
function checkDelta(value: unknown): HistoryDelta {
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(value)) throw new Error(`it is not a history step (${JSON.stringify(value) ?? String(value)})`);
  const { from, series, heads, events, spectral, causal } = value;
  const count = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (!isObject(from) || !(['evaluations', 'events', 'spectral', 'causal'] as const).every((k) => count(from[k]))) throw new Error(`its mark must count evaluations, events, spectral and causal records, got ${JSON.stringify(from) ?? 'nothing'}`);
  if (!isObject(series)) throw new Error('its series are missing');
  const bad = METRIC_KEYS.find((k) => !Array.isArray(series[k]) || (series[k] as unknown[]).length !== (series.step as unknown[]).length);
  if (bad !== undefined) throw new Error(`its series.${bad} must be a list as long as series.step`);
  const n = (series.step as unknown[]).length;
  if (heads !== undefined) {
    const h = isObject(heads) ? heads : {};
    const names = h.names;
    if (!Array.isArray(names) || !names.every((x) => typeof x === 'string')) throw new Error('its heads.names must be a list of names');
    const isHeadLists = (lists: unknown) => Array.isArray(lists) && lists.length === names.length && lists.every((s) => Array.isArray(s) && s.length === n);
    const badHead = HEAD_METRIC_KEYS.find((k) => !isHeadLists(h[k]));
    if (badHead !== undefined) throw new Error(`its heads.${badHead} must hold a list as long as series.step for each head`);
  }
  if (!Array.isArray(events)) throw new Error('its events must be a list');
  for (const [name, list] of [['spectral', spectral], ['causal', causal]] as const) if (list !== undefined && !Array.isArray(list)) throw new Error(`its ${name} records must be a list`);
  return value as unknown as HistoryDelta;
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

export function shouldStopEarly(metrics: Pick<RunMetrics, 'series' | 'heads'>, rule: EarlyStopRule, metric: GrokMetric): boolean {
  const acc = grokSeries(metrics, metric);
  if (acc.length < rule.evaluations) return false;
  return acc.slice(acc.length - rule.evaluations).every((a) => a >= rule.testAccuracy);
}
