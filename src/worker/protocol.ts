// The typed protocol between the page and the training worker (DESIGN: "a typed command/event protocol",
// after Sequence Toy): the commands the page calls (LabWorkerApi, exposed by Comlink) and the batches the worker
// streams back through one long-lived callback. Batches carry metric rows as packed typed arrays (transferred,
// not copied) at 10-30 Hz, plus the few events, spectral records and the status line that changed since the last.
//
// Everything here is plain data or pure functions: the worker (lab-worker.ts), its Node-driven tests and the
// page's store all share it.
import { HEAD_METRIC_KEYS, METRIC_KEYS, type RunEvent, type RunMetrics } from '../formats/metrics';
import type { RunConfig } from '../formats/run-file';
import type { AnalysisFile } from '../formats/analysis-file';
import { HyperChange, WorkerStatus, MetricRows, HeadRows, LabBatch } from '../formats/worker';

// ---- Packing --------------------------------------------------------------------------------------------------

/** Rows [from, to) of a run's metric series, packed. */
export function packMetricRows(series: RunMetrics['series'], from: number, to: number): MetricRows {
  const width = METRIC_KEYS.length;
  const data = new Float64Array((to - from) * width);
  for (let r = from; r < to; r++) METRIC_KEYS.forEach((k, c) => (data[(r - from) * width + c] = series[k][r]));
  return { rows: to - from, data };
}

/** Rows [from, to) of a multitask run's head series, packed. */
export function packHeadRows(heads: NonNullable<RunMetrics['heads']>, from: number, to: number): HeadRows {
  const h = heads.names.length;
  const width = HEAD_METRIC_KEYS.length * h;
  const data = new Float64Array((to - from) * width);
  for (let r = from; r < to; r++) {
    HEAD_METRIC_KEYS.forEach((k, c) => heads[k].forEach((series, head) => (data[(r - from) * width + c * h + head] = series[r])));
  }
  return { rows: to - from, data };
}

/** The value of metric column `column` (an index into METRIC_KEYS) in row `row`. */
export const metricAt = (rows: MetricRows, row: number, column: number): number => rows.data[row * METRIC_KEYS.length + column];

/** The buffers a batch can hand over instead of copying. */
export function transferables(batch: LabBatch): ArrayBuffer[] {
  return [batch.metrics?.data.buffer, batch.heads?.data.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/** The whole of a recorded run as one reset batch (a loaded file, a restored checkpoint), with its records and analyses. */
export function batchOfMetrics(config: RunConfig | null, metrics: RunMetrics, status: WorkerStatus, analyses: readonly AnalysisFile[] = []): LabBatch {
  const n = metrics.series.step.length;
  return {
    reset: { config, headNames: metrics.heads?.names ?? (config?.task.kind === 'multitask' ? [...config.task.ops] : null) },
    status,
    metrics: packMetricRows(metrics.series, 0, n),
    ...(metrics.heads && { heads: packHeadRows(metrics.heads, 0, n) }),
    events: metrics.events,
    ...(metrics.spectral && { spectral: metrics.spectral }),
    ...(metrics.causal && { causal: metrics.causal }),
    ...(analyses.length > 0 && { analyses: [...analyses] }),
  };
}

/** The schedule a run's hyper events make (how a run file or a live run becomes a replayable link). */
export function scheduleOfEvents(events: readonly RunEvent[]): HyperChange[] {
  return events.flatMap((e) => (e.type === 'hyper' ? [{ step: e.step, lr: e.after.lr, weightDecay: e.after.weightDecay }] : []));
}

/** Checks a schedule (steps non-negative integers in order, rates finite and >= 0); the message names the entry. */
export function validateSchedule(schedule: readonly HyperChange[]): void {
  schedule.forEach((c, i) => {
    if (!Number.isInteger(c.step) || c.step < 0) throw new RangeError(`schedule[${i}].step must be a non-negative integer, got ${c.step}`);
    if (i > 0 && c.step < schedule[i - 1].step) throw new RangeError(`schedule[${i}].step (${c.step}) comes before schedule[${i - 1}].step (${schedule[i - 1].step}); list changes in step order`);
    for (const key of ['lr', 'weightDecay'] as const) {
      if (!(Number.isFinite(c[key]) && c[key] >= 0)) throw new RangeError(`schedule[${i}].${key} must be a finite number >= 0, got ${c[key]}`);
    }
  });
}

// ---- Saved runs -----------------------------------------------------------------------------------------------
