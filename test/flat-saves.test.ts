// Saving a run costs what changed since the last save, not the whole history: a checkpoint names its place in the
// history instead of holding it, and the history goes to an append-only log. Counted in bytes written per save at
// 10^2 and at 10^4 evaluations (no GPU: a checkpoint of the right size and seeded metrics).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../src/train/run';
import { appendPoint, emptyMetrics } from '../src/train/metrics';
import { checkpointOf } from '../src/train/checkpoint';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { HISTORY_LOG, HistoryLogWriter, readHistoryLog } from '../src/cli/history-log';
import { buildParamTable } from '../src/model/params';
import { METRIC_KEYS, type MetricPoint, type RunMetrics } from '../src/formats/metrics';

const config = resolveRunConfig('quick-add', 5, { steps: 10_000_000, evalEvery: 1, spectral: { enabled: false } });
const n = buildParamTable(config.model).total;
const engine = { step: 0, optim: config.optim, params: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
const sampler = { state: () => null, restore: () => {} };

const evaluate = (metrics: RunMetrics, step: number) =>
  appendPoint(metrics.series, Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? step : 1 / step])) as unknown as MetricPoint);

/** Bytes written by one save (log line + checkpoint file) after `history` evaluations, each saved as it came. */
function bytesPerSave(history: number): { log: number; checkpoint: number; copied: boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'sel-flat-'));
  try {
    const metrics = emptyMetrics();
    const log = new HistoryLogWriter(dir);
    for (let step = 1; step <= history; step++) evaluate(metrics, step);
    log.append(metrics);
    const before = statSync(join(dir, HISTORY_LOG)).size;
    evaluate(metrics, history + 1);
    const checkpoint = checkpointOf({ ...engine, step: history + 1 }, sampler, metrics);
    log.append(checkpoint.metrics, checkpoint.mark);
    const bytes = encodeCheckpoint(checkpoint, config);
    // The checkpoint reopens with the log's history, which is the run's.
    const reopened = decodeCheckpoint(bytes, { run: { config, metrics: readHistoryLog(dir)! } });
    expect(reopened.checkpoint.metrics.series.step.length).toBe(history + 1);
    return { log: statSync(join(dir, HISTORY_LOG)).size - before, checkpoint: bytes.byteLength, copied: checkpoint.metrics !== metrics };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('saving a run', () => {
  it('costs the same at 10^4 evaluations as at 10^2 (bytes written per save)', () => {
    const early = bytesPerSave(100);
    const late = bytesPerSave(10_000);
    expect(early.copied || late.copied).toBe(false); // taking the checkpoint copied no history
    expect(late.checkpoint).toBeLessThanOrEqual(early.checkpoint + 64); // a few digits longer step numbers at most
    expect(late.log).toBeLessThan(early.log * 1.5);
    expect(late.log).toBeLessThan(2000); // one evaluation's line, not the whole history
  });
});
