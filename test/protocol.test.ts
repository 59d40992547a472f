// The training worker's API (src/worker/lab-api.ts) driven directly in Node with the real engine on the GPU
// (SwiftShader where there is no GPU): streamed batches, pause/step/resume, a live weight-decay change, the
// experiments on a finished run (kept in its run file), and the three ways a run continues exactly: replaying its schedule from a link,
// resuming from a saved checkpoint, and recovering from a lost GPU device. Plus the protocol's pure packing.
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-gpu';
import type { AcquiredDevice } from '../src/gpu/device';
import { LabApi } from '../src/worker/lab-api';
import { batchOfMetrics, metricAt, packMetricRows, scheduleOfEvents, validateSchedule } from '../src/worker/protocol';
import { IDLE_STATUS, type LabBatch, type RunSave, type StartRequest, type WorkerStatus } from '../src/formats/worker';
import { emptyMetrics } from '../src/train/metrics';
import { METRIC_KEYS, type MetricSeries } from '../src/formats/metrics';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import type { RunFile } from '../src/formats/run-file';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { GROKKED_STEPS, grokkedQuickAdd } from './helpers/grokked';
import type { SavedRun } from '../src/worker/run-db';
import { savedRunStore, type SavedRunStore } from './helpers/saved-runs';

/** quick-add, 20 steps, an evaluation every 5, spectral windows of 2 snapshots 5 steps apart. */
const REQUEST: StartRequest = { preset: 'quick-add', seed: 7, overrides: { steps: 20, evalEvery: 5, spectral: { window: 2, snapshotEvery: 5 } } };
const CHANGE = { step: 7, weightDecay: 0.2 };

/**
 * A LabApi with a recording listener and the page's run store (src/worker/run-db.ts on fake-indexeddb; a new one
 * unless given); `devices` collects every device it acquired.
 */
function lab({ store, saves, db }: SavedRunStore = savedRunStore()) {
  const batches: { at: number; batch: LabBatch }[] = [];
  const devices: AcquiredDevice[] = [];
  let n = 0;
  const api = new LabApi({
    acquire: async () => {
      const device = await acquireNodeDevice();
      devices.push(device);
      return device;
    },
    store,
    newRunId: () => `run-${++n}`,
  });
  api.subscribe((batch) => batches.push({ at: performance.now(), batch }));
  const status = () => batches.at(-1)?.batch.status;
  return { api, batches, saves, db, devices, status };
}

async function until(what: string, condition: () => boolean, timeoutMs = 300_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The metric series the batches delivered, rebuilt from their packed rows. */
function streamedSeries(batches: { batch: LabBatch }[]): MetricSeries {
  let series = emptyMetrics().series;
  for (const { batch } of batches) {
    if (batch.reset) series = emptyMetrics().series;
    const rows = batch.metrics;
    if (!rows) continue;
    expect(rows.data).toBeInstanceOf(Float64Array);
    for (let r = 0; r < rows.rows; r++) METRIC_KEYS.forEach((k, c) => series[k].push(metricAt(rows, r, c)));
  }
  return series;
}

const finished = (s: WorkerStatus | undefined) => s?.phase === 'finished';

describe('the lab worker API on the GPU', () => {
  let reference: RunFile;
  let midRunSave: SavedRun;
  /** The first run's store: its run is resumed from it. */
  const saved = savedRunStore();

  it('streams batches, pauses between chunks, steps exactly, takes a live weight-decay change, and exports a valid run', async () => {
    const { api, batches, saves, status } = lab(saved);
    await expect(api.runExperiment({ experiments: ['ablate'] })).rejects.toThrow('there is no run to analyse: start one first');
    await expect(api.pause()).rejects.toThrow('there is no run to pause: start one first');
    await expect(api.start({ ...REQUEST, overrides: { steps: 0 } })).rejects.toThrow('steps must be an integer in [1, 10000000], got 0');

    // Start paused, step exactly 7 steps (one evaluation at 5), change the weight decay while paused.
    let s = await api.start({ ...REQUEST, paused: true });
    expect(s).toMatchObject({ phase: 'paused', step: 0, totalSteps: 20, runId: 'run-1', optim: { lr: 0.01, weightDecay: 1 } });
    s = await api.step(7);
    expect(s.step).toBe(7);
    await expect(api.step(0)).rejects.toThrow('n must be a positive integer, got 0');
    const event = await api.setHyper({ weightDecay: CHANGE.weightDecay });
    expect(event).toEqual({ type: 'hyper', step: CHANGE.step, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.01, weightDecay: CHANGE.weightDecay } });
    await expect(api.setHyper({ weightDecay: -1 })).rejects.toThrow('weightDecay must be a finite number >= 0, got -1');
    await until('the save after the change', () => saves.some((x) => x.summary.schedule.length === 1));
    midRunSave = saves.find((x) => x.summary.schedule.length === 1)!;
    expect(midRunSave.summary).toMatchObject({ id: 'run-1', step: 7, checkpointStep: 5, finished: false, schedule: [{ step: 7, lr: 0.01, weightDecay: 0.2 }] });

    // Resume; pause is answered at the next chunk boundary while training.
    await api.resume();
    await until('training past step 9', () => (status()?.step ?? 0) >= 9);
    s = await api.pause();
    console.log(`pause answered at step ${s.step}`);
    // Mid-run, at a chunk boundary: not held back until the run ends.
    expect(s.phase).toBe('paused');
    expect(s.step).toBeLessThan(20);
    const pausedAt = s.step;
    await new Promise((r) => setTimeout(r, 300));
    expect(status()).toMatchObject({ phase: 'paused', step: pausedAt, optim: { weightDecay: 0.2 } });
    await api.resume();
    await until('the run to finish', () => finished(status()));
    expect(status()).toMatchObject({ step: 20, stopReason: 'completed', schedule: [{ step: 7, lr: 0.01, weightDecay: 0.2 }] });

    reference = parseRunFile(JSON.parse(JSON.stringify(await api.exportRun())));
    expect(reference.series.step).toEqual([5, 10, 15, 20]);
    expect(reference.events.filter((e) => e.type === 'hyper')).toEqual([event]);
    expect(reference.spectral!.map((r) => r.step)).toEqual([10, 15, 20]);
    // What the batches carried is what the run recorded: the same rows, events and records.
    expect(streamedSeries(batches)).toEqual(reference.series);
    expect(batches.flatMap(({ batch }) => batch.events ?? [])).toEqual(reference.events);
    expect(batches.flatMap(({ batch }) => batch.spectral ?? [])).toEqual(reference.spectral);
    // Flushed on a timer: at most about 20 batches a second.
    const gaps = batches.slice(1).map((b, i) => b.at - batches[i].at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(40);
    await expect(api.resume()).rejects.toThrow('the run has ended (completed)');

    // An experiment on the finished run's model: progress in the status, the result kept in the run file.
    const analysis = await api.runExperiment({ experiments: ['ablate'] });
    expect(analysis).toMatchObject({ at: { step: 20, windowStep: 20 }, run: { preset: 'quick-add', seed: 7 } });
    expect(analysis.experiments.ablate).toHaveProperty('result.edge.deltaAccuracy');
    await until('the progress to reach the page', () => batches.some(({ batch }) => batch.status.experiment?.name === 'ablate'));
    await until('the progress to clear', () => status()?.experiment === null);
    await until('the analysis to reach the page', () => batches.some(({ batch }) => !batch.reset && batch.analyses?.length === 1));
    expect(batches.find(({ batch }) => batch.analyses)!.batch.analyses).toEqual([analysis]);
    const withAnalysis = parseRunFile(JSON.parse(JSON.stringify(await api.exportRun())));
    expect(withAnalysis.analyses).toEqual([analysis]);
    // Saved in many steps (each what was new), the run reopens as the run file it is.
    await until('the save of the analysis', () => saves.at(-1)?.runFile.analyses?.length === 1);
    expect(saves.length).toBeGreaterThan(3);
    expect(saves.at(-1)!.runFile).toEqual(withAnalysis);
    const before = batches.length;
    await api.loadRun({ runFile: withAnalysis });
    await until('the loaded run to reach the page', () => batches.slice(before).some(({ batch }) => batch.reset));
    expect(batches.slice(before).find(({ batch }) => batch.reset)!.batch.analyses).toEqual([analysis]);
    expect((await api.exportRun()).analyses).toEqual([analysis]);
    const broken = JSON.stringify({ ...withAnalysis, analyses: [{ kind: 'spectral-edge-lab.analysis', version: 1 }] });
    await expect(api.loadRun({ runFile: broken })).rejects.toThrow(/^analyses\[0\]: invalid analysis file: \(root\): the field "run" is missing$/);
  });

  it('replays a run from its schedule bit for bit, even across a lost GPU device', async () => {
    const { api, status, devices, batches, saves } = lab();
    const schedule = scheduleOfEvents(reference.events);
    await api.start({ ...REQUEST, schedule });
    await until('the first evaluation', () => (status()?.step ?? 0) >= 5 && streamedSeries(batches).step.length >= 1);
    devices[0].device.destroy(); // what a driver reset looks like to the page
    await until('the recovery', () => batches.some(({ batch }) => batch.status.phase === 'recovering'));
    await until('the run to finish', () => finished(status()));
    expect(devices).toHaveLength(2);
    expect(status()!.message).toMatch(/^the GPU device was lost \(destroyed.*\); resumed from the checkpoint of step (5|10|15)$/);
    const replay = await api.exportRun();
    expect(replay.series).toEqual(reference.series);
    expect(replay.events).toEqual(reference.events);
    expect(replay.spectral).toEqual(reference.spectral);
    // The saves after the recovery continued the saved history from the restored checkpoint.
    await until('the last save', () => saves.at(-1)?.summary.finished === true);
    expect(saves.at(-1)!.runFile).toEqual(replay);
  });

  it('resumes a saved run from its checkpoint and replays the changes still to come', async () => {
    const { api, status, saves } = lab(saved);
    const before = saves.length;
    const s = await api.loadRun({ runFile: midRunSave.runFile, checkpoint: midRunSave.checkpoint!, runId: midRunSave.summary.id, schedule: midRunSave.summary.schedule });
    expect(s).toMatchObject({ phase: 'paused', step: 5, runId: 'run-1', optim: { weightDecay: 1 } });
    await api.resume();
    await until('the run to finish', () => finished(status()));
    const resumed = await api.exportRun();
    expect(resumed.series).toEqual(reference.series);
    expect(resumed.events).toEqual(reference.events);
    expect(resumed.spectral).toEqual(reference.spectral);
    // Its saves went on from the checkpoint's place in the saved history (step 5, before the change at step 7).
    await until('the last save', () => saves.length > before && saves.at(-1)!.summary.finished);
    expect(saves.at(-1)!.runFile).toEqual(resumed);
  });

  it('refuses to continue a saved run another tab holds, before any GPU work', async () => {
    const acquired: string[] = [];
    const api = new LabApi({
      acquire: async () => {
        acquired.push('device');
        return acquireNodeDevice();
      },
      store: { save: async () => expect.unreachable('nothing is saved'), claim: async () => null },
    });
    await expect(api.loadRun({ runFile: midRunSave.runFile, checkpoint: midRunSave.checkpoint!, runId: midRunSave.summary.id })).rejects.toThrow(
      'this run is open in another tab of the lab, which continues and saves it; close it there to continue it here',
    );
    expect(acquired).toEqual([]);
    // Viewing it is fine (a view is never saved).
    expect(await api.loadRun({ runFile: midRunSave.runFile, runId: midRunSave.summary.id })).toMatchObject({ phase: 'viewing', step: midRunSave.runFile.summary.steps });
  });

  it('ends a run whose spectral window goes non-finite as diverged, with the message and the last good checkpoint saved', async () => {
    const { api, status, saves } = lab();
    // lr 1000: the window of step 4 (2 snapshots, one a step) is the first to see non-finite parameters.
    await api.start({ preset: 'quick-add', seed: 42, overrides: { lr: 1000, steps: 20, evalEvery: 2, spectral: { window: 2, snapshotEvery: 1 } } });
    await until('the run to stop', () => finished(status()) || status()?.phase === 'failed');
    expect(status()).toMatchObject({ phase: 'finished', stopReason: 'diverged', step: 2 });
    expect(status()!.message).toMatch(/^training diverged at step 4 \(the spectral window's Gram matrix is not finite .*\); stopped and restored the last good checkpoint \(step 2,/);
    await until('the save', () => saves.at(-1)?.summary.stopReason === 'diverged');
    const saved = saves.at(-1)!;
    expect(saved.summary).toMatchObject({ finished: true, checkpointStep: 2 });
    expect(saved.runFile.events.at(-1)).toMatchObject({ type: 'divergence', step: 4, restoredStep: 2 });
    expect(decodeCheckpoint(saved.checkpoint!, { run: { config: saved.runFile.config, metrics: saved.runFile } }).checkpoint.step).toBe(2);
  });
});

describe('the grok step\'s checkpoint', () => {
  it('is kept when the run groks, saved once, reopened with the run, and analysed while the run stays at its end', async () => {
    // The grokked fixture (quick-add seed 1, step 500, test accuracy >= 0.95) with its grok forgotten and 40 more
    // steps to go: the lab's first evaluation (step 520) is then the grok.
    const fixture = await grokkedQuickAdd();
    // A checkpoint's metrics are the trainer's own (its mark says how much of them it holds), and the fixture is shared
    // by every test file: the grok is left out of a copy.
    const taken = await fixture.checkpoint();
    const events = taken.metrics.events.filter((e) => e.type !== 'grok');
    const checkpoint = { ...taken, metrics: { ...taken.metrics, events }, mark: { ...taken.mark, events: events.length } };
    const config = resolveRunConfig(fixture.config.preset, fixture.config.seed, { ...fixture.config.overrides, steps: GROKKED_STEPS + 40 });
    const file = fixture.toRunFile();
    const runFile: RunFile = { ...file, config, events: checkpoint.metrics.events, summary: { ...file.summary, grokStep: null, stopReason: 'interrupted' } };
    // The page's store, with every save the worker sends recorded as sent.
    const stored = savedRunStore();
    const sent: RunSave[] = [];
    const { api, status } = lab({
      ...stored,
      store: {
        async save(save) {
          sent.push(save);
          await stored.store.save(save);
        },
      },
    });
    expect(await api.loadRun({ runFile, checkpoint: encodeCheckpoint(checkpoint, config) })).toMatchObject({ phase: 'paused', grokCheckpointStep: null });
    await expect(api.runExperiment({ experiments: ['ablate'], at: 'grok' })).rejects.toThrow(/no checkpoint of its grok step/);
    await api.resume();
    await until('the run to finish', () => finished(status()));
    expect(status()).toMatchObject({ step: GROKKED_STEPS + 40, grokCheckpointStep: GROKKED_STEPS + 20 });
    const withGrok = sent.filter((s) => s.grokCheckpoint);
    expect(withGrok).toHaveLength(1); // sent once
    const id = status()!.runId!;
    const saved = await stored.db.get(id);
    expect(saved.summary).toMatchObject({ finished: true, grokCheckpointStep: GROKKED_STEPS + 20, checkpointStep: GROKKED_STEPS + 40 });
    expect(saved.grokCheckpoint).toEqual(withGrok[0].grokCheckpoint);
    expect(decodeCheckpoint(saved.grokCheckpoint!, { run: { config, metrics: saved.runFile } }).checkpoint.step).toBe(GROKKED_STEPS + 20);

    // Reopened from the store, finished: its model takes experiments, at the end and at the grok.
    const reopened = lab(savedRunStore(stored.db));
    expect(await reopened.api.loadRun({ runFile: saved.runFile, checkpoint: saved.checkpoint!, grokCheckpoint: saved.grokCheckpoint!, runId: id })).toMatchObject({
      phase: 'finished', step: GROKKED_STEPS + 40, grokCheckpointStep: GROKKED_STEPS + 20,
    });
    const atGrok = await reopened.api.runExperiment({ experiments: ['ablate'], at: 'grok' });
    expect(atGrok.at).toMatchObject({ requested: 'grok', step: GROKKED_STEPS + 20 });
    const atEnd = await reopened.api.runExperiment({ experiments: ['ablate'] });
    expect(atEnd.at.step).toBe(GROKKED_STEPS + 40);
    expect((await reopened.api.exportRun()).analyses?.map((a) => a.at.step)).toEqual([GROKKED_STEPS + 20, GROKKED_STEPS + 40]);
  });
});

describe('protocol packing', () => {
  const series = emptyMetrics().series;
  for (let i = 0; i < 5; i++) METRIC_KEYS.forEach((k, c) => series[k].push(k === 'step' ? (i + 1) * 10 : i + c / 7));

  it('packs rows row-major in METRIC_KEYS order and reads them back', () => {
    const rows = packMetricRows(series, 1, 4);
    expect(rows.rows).toBe(3);
    expect(rows.data.length).toBe(3 * METRIC_KEYS.length);
    for (let r = 0; r < 3; r++) METRIC_KEYS.forEach((k, c) => expect(metricAt(rows, r, c)).toBe(series[k][r + 1]));
  });

  it('makes a reset batch of a whole record', () => {
    const events = [{ type: 'hyper' as const, step: 20, before: { lr: 1, weightDecay: 1 }, after: { lr: 1, weightDecay: 0 } }];
    const batch = batchOfMetrics(null, { series, events }, IDLE_STATUS);
    expect(batch.reset).toEqual({ config: null, headNames: null });
    expect(batch.metrics!.rows).toBe(5);
    expect(batch.events).toEqual(events);
    expect(scheduleOfEvents(events)).toEqual([{ step: 20, lr: 1, weightDecay: 0 }]);
  });

  it('rejects schedules out of order or with bad rates, naming the entry', () => {
    expect(() => validateSchedule([{ step: 5, lr: 0.1, weightDecay: 1 }, { step: 3, lr: 0.1, weightDecay: 1 }])).toThrow('schedule[1].step (3) comes before schedule[0].step (5)');
    expect(() => validateSchedule([{ step: 5, lr: NaN, weightDecay: 1 }])).toThrow('schedule[0].lr must be a finite number >= 0, got NaN');
    expect(() => validateSchedule([{ step: 1.5, lr: 0, weightDecay: 1 }])).toThrow('schedule[0].step must be a non-negative integer, got 1.5');
  });
});
