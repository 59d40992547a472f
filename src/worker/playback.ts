// Playing a recorded run back (the lab's recorded demo, for machines without WebGPU or with a slow GPU): the run
// file's evaluations, spectral records, live causal records and events are released in step order as the playback clock passes their
// steps, as the same batches a live run streams, so the charts and the walkthrough show it exactly as they show a
// run training. Pure: the worker (lab-api.ts) owns the clock.
import type { RunFile } from '../formats/run-file';
import { packHeadRows, packMetricRows } from './protocol';
import type { LabBatch } from '../formats/worker';

/** How long a recording takes to play by default (then the charts hold the whole run). */
export const PLAYBACK_MS = 45_000;

/** What has been released so far. */
export interface PlaybackCursor {
  rows: number;
  spectral: number;
  causal: number;
  events: number;
}

export const PLAYBACK_START: PlaybackCursor = { rows: 0, spectral: 0, causal: 0, events: 0 };

/** The last step the recording reaches (its last evaluation, record or event). */
export function playbackEnd(file: RunFile): number {
  const last = [file.series.step.at(-1), file.spectral?.at(-1)?.step, file.causal?.at(-1)?.step, file.events.at(-1)?.step].filter((s): s is number => s !== undefined);
  return Math.max(0, ...last);
}

/** The step the playback has reached `elapsedMs` after it started (the end once `durationMs` has passed). */
export function playbackStep(file: RunFile, elapsedMs: number, durationMs: number): number {
  const end = playbackEnd(file);
  return elapsedMs >= durationMs ? end : Math.floor((end * Math.max(0, elapsedMs)) / durationMs);
}

/**
 * Everything with a step at or before `step` that `cursor` has not released yet, as batch fields (metric and head
 * rows packed, as a live run sends them), and the cursor after it.
 */
export function playbackSlice(file: RunFile, cursor: PlaybackCursor, step: number): { batch: Omit<LabBatch, 'status'>; cursor: PlaybackCursor } {
  const steps = file.series.step;
  let rows = cursor.rows;
  while (rows < steps.length && steps[rows] <= step) rows++;
  const records = file.spectral ?? [];
  let spectral = cursor.spectral;
  while (spectral < records.length && records[spectral].step <= step) spectral++;
  const probes = file.causal ?? [];
  let causal = cursor.causal;
  while (causal < probes.length && probes[causal].step <= step) causal++;
  let events = cursor.events;
  while (events < file.events.length && file.events[events].step <= step) events++;
  const batch: Omit<LabBatch, 'status'> = {};
  if (rows > cursor.rows) {
    batch.metrics = packMetricRows(file.series, cursor.rows, rows);
    if (file.heads) batch.heads = packHeadRows(file.heads, cursor.rows, rows);
  }
  if (spectral > cursor.spectral) batch.spectral = records.slice(cursor.spectral, spectral);
  if (causal > cursor.causal) batch.causal = probes.slice(cursor.causal, causal);
  if (events > cursor.events) batch.events = file.events.slice(cursor.events, events);
  return { batch, cursor: { rows, spectral, causal, events } };
}
