// The saved-run database (src/worker/run-db.ts) on fake-indexeddb: a save costs what changed since the last one
// (counted in records and bytes written, at 10^2 and 10^4 evaluations), a run saved in many steps (one of them
// continuing from an earlier checkpoint) reopens as its run file, a failed open is tried again, a newer version
// opened by another tab is let through, every record read is checked (a damaged one, a history step included, is
// listed as such, and opening it names the record), older databases and their records are upgraded so their runs
// still open, a run claimed by one tab cannot be claimed by another until it is given back, and the grok step's
// checkpoint is kept beside a run's.
import 'fake-indexeddb/auto'; // IDBKeyRange
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { DamagedRunError, RUN_DB_VERSION, RunDb, checkSummary } from '../src/worker/run-db';
import { sharedLocks } from './helpers/fake-locks';
import { NOTHING_SAVED, deltaSince, type SavedMark } from '../src/worker/saved-mark';
import { resolveRunConfig } from '../src/train/run';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunConfig, type RunFile } from '../src/formats/run-file';
import { appendHeadPoint, appendPoint, commonMark, emptyMetrics, historyUpTo, markOf, pointAt } from '../src/train/metrics';
import { checkpointOf } from '../src/train/checkpoint';
import { encodeCheckpoint } from '../src/train/checkpoint-file';
import { buildParamTable } from '../src/model/params';
import { taskHeadNames } from '../src/train/presets';
import { METRIC_KEYS, type MetricPoint, type RunMetrics } from '../src/formats/metrics';
import type { HistoryMark } from '../src/formats/checkpoint-file';
import type { SpectralRecord } from '../src/formats/spectral';
import { ANALYSIS_FILE_KIND, type AnalysisFile } from '../src/formats/analysis-file';
import type { RunSave, SavedRunSummary } from '../src/formats/worker';

function runFile(): RunFile {
  const config = resolveRunConfig('quick-add', 5, { steps: 20, evalEvery: 10 });
  const metrics = emptyMetrics();
  let last: MetricPoint | null = null;
  for (const step of [10, 20]) {
    last = Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? step : step / 100])) as unknown as MetricPoint;
    appendPoint(metrics.series, last);
  }
  return { version: RUN_FILE_VERSION, kind: RUN_FILE_KIND, config, ...metrics, summary: { steps: 20, grokStep: null, stopReason: 'completed', final: last, wallMs: 5, adapter: 'test' } };
}

const summary = (id: string, updatedAt = 1): SavedRunSummary => ({
  id, title: `run ${id}`, preset: 'quick-add', seed: 5, createdAt: 0, updatedAt, step: 20, totalSteps: 20, checkpointStep: 20,
  grokStep: null, finished: true, stopReason: 'completed', schedule: [{ step: 0, lr: 0.01, weightDecay: 1 }],
});

/** A save of the whole of `file` (what the worker sends at a run's first save). */
const wholeSave = (s: SavedRunSummary, file: RunFile, checkpoint: Uint8Array): RunSave => ({
  summary: s,
  run: { config: file.config, summary: file.summary },
  delta: deltaSince(NOTHING_SAVED, file, file.analyses ?? []).delta,
  checkpoint,
});

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/** One request on a store of database `name`, outside the lab (as a damaged or older database holds its records). */
async function raw<T>(factory: IDBFactory, name: string, store: string, ask: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await request(factory.open(name));
  const tx = db.transaction(store, 'readwrite');
  const result = await request(ask(tx.objectStore(store)));
  await new Promise((resolve) => (tx.oncomplete = resolve));
  db.close();
  return result;
}
const putRaw = (factory: IDBFactory, name: string, store: string, key: IDBValidKey, value: unknown) => raw(factory, name, store, (s) => s.put(value, key));
const getRaw = (factory: IDBFactory, name: string, store: string, key: IDBValidKey) => raw<unknown>(factory, name, store, (s) => s.get(key));
const deleteRaw = (factory: IDBFactory, name: string, store: string, key: IDBValidKey) => raw(factory, name, store, (s) => s.delete(key));
const countRaw = (factory: IDBFactory, name: string, store: string) => raw(factory, name, store, (s) => s.count());

const SPECTRAL: Omit<SpectralRecord, 'step'> = {
  sigma: [3, 2, 1.5, 0.5],
  g23: 1.33,
  kStar: 1,
  gapRatio: 1.5,
  rotationDeg: [3.5, 12, 40],
  gradEnergyFraction: [0.9, 0.5, 0.2],
  alignment: [-1e-4, 2e-5, 0],
  trapezoidGradEnergyFraction: [0.88, 0.52, 0.2],
  deltaGramNorm: 0.4,
  davisKahanAlpha: [0.97, 0.95, 0.9],
  adiabatic: 400,
};

/**
 * A run growing and saved as the worker grows and saves one (no GPU): an evaluation at a time (with task-head
 * values on a multitask preset), a spectral record every 10th and a hyperparameter change every 100th, analyses when
 * asked; each save sends what is new since the last (deltaSince) with a real checkpoint of the model's size.
 */
class GrowingRun {
  readonly config: RunConfig;
  metrics: RunMetrics;
  readonly analyses: AnalysisFile[] = [];
  saved: SavedMark = NOTHING_SAVED;
  private readonly params: Float32Array;

  constructor(
    readonly id: string,
    preset: 'quick-add' | 'quick-multitask' = 'quick-add',
  ) {
    this.config = resolveRunConfig(preset, 5, { steps: 10_000_000, evalEvery: 1 });
    this.metrics = emptyMetrics(taskHeadNames(this.config.task), true);
    this.params = new Float32Array(buildParamTable(this.config.model).total);
  }

  get evaluations(): number {
    return this.metrics.series.step.length;
  }

  evaluate(): void {
    const { series, heads, events, spectral } = this.metrics;
    const step = (series.step.at(-1) ?? 0) + 1;
    appendPoint(series, Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? step : 1 / step])) as unknown as MetricPoint);
    if (heads) appendHeadPoint(heads, { trainLoss: heads.names.map(() => 2 / step), trainAcc: heads.names.map(() => 0.5), testLoss: heads.names.map(() => 3 / step), testAcc: heads.names.map(() => 0.25) });
    if (step % 10 === 0) spectral!.push({ step, ...SPECTRAL });
    if (step % 100 === 0) events.push({ type: 'hyper', step, before: { lr: 0.01, weightDecay: 1 }, after: { lr: 0.01, weightDecay: step / 1000 } });
  }

  addAnalysis(): void {
    this.analyses.push({ kind: ANALYSIS_FILE_KIND, version: 1, note: `analysis ${this.analyses.length}` } as unknown as AnalysisFile);
  }

  /** The run file the worker would export now (Trainer.toRunFile). */
  file(): RunFile {
    const { series, events, heads, spectral } = structuredClone(this.metrics);
    return {
      version: RUN_FILE_VERSION, kind: RUN_FILE_KIND, config: this.config, series, events, ...(heads && { heads }), spectral,
      ...(this.analyses.length > 0 && { analyses: structuredClone(this.analyses) }), summary: this.summary(),
    };
  }

  private summary(): RunFile['summary'] {
    const n = this.evaluations;
    return { steps: this.metrics.series.step.at(-1) ?? 0, grokStep: null, stopReason: 'completed', final: n > 0 ? pointAt(this.metrics.series, n - 1) : null, wallMs: 1, adapter: 'test' };
  }

  async saveTo(db: RunDb): Promise<void> {
    const { delta, end } = deltaSince(this.saved, this.metrics, this.analyses);
    const engine = { step: this.summary().steps, optim: this.config.optim, params: this.params, m: this.params, v: this.params };
    const checkpoint = encodeCheckpoint(checkpointOf(engine, { state: () => null, restore: () => {} }, this.metrics), this.config);
    await db.save({ summary: summary(this.id), run: { config: this.config, summary: this.summary() }, delta, checkpoint });
    this.saved = end;
  }

  /** Goes back to the checkpoint at `mark` (reopened, or after a lost GPU): the store and the run share what came before. */
  restore(mark: HistoryMark): void {
    this.metrics = historyUpTo(this.metrics, mark);
    this.saved = { history: commonMark(this.saved.history, mark), analyses: this.saved.analyses };
  }
}

/** What IndexedDB is asked to store from here on: one entry per record put (its store, and its bytes or JSON length). */
function countWrites(): { store: string; bytes: number }[] {
  const writes: { store: string; bytes: number }[] = [];
  const put = IDBObjectStore.prototype.put;
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    writes.push({ store: this.name, bytes: value instanceof Uint8Array ? value.byteLength : JSON.stringify(value).length });
    return put.call(this, value, key);
  });
  return writes;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('saving a run', () => {
  it('writes as much at 10^4 evaluations as at 10^2: the new history, not the whole run (records and bytes per save)', async () => {
    async function oneSave(evaluations: number) {
      const db = new RunDb({ factory: new IDBFactory(), locks: null });
      const run = new GrowingRun('r');
      while (run.evaluations < evaluations) run.evaluate();
      await run.saveTo(db); // the run so far, at once
      run.evaluate();
      const writes = countWrites();
      await run.saveTo(db); // one evaluation later
      vi.restoreAllMocks();
      expect((await db.get('r')).runFile.series.step).toEqual(run.metrics.series.step);
      const bytes = (store?: string) => writes.filter((w) => !store || w.store === store).reduce((sum, w) => sum + w.bytes, 0);
      return { records: writes.map((w) => w.store).sort(), bytes: bytes(), history: bytes('history'), checkpoint: bytes('checkpoints'), runFile: JSON.stringify(run.file()).length };
    }
    const early = await oneSave(100);
    const late = await oneSave(10_000);
    console.log(`one save: ${JSON.stringify(early)} at 10^2 evaluations, ${JSON.stringify(late)} at 10^4`);
    expect(late.records).toEqual(['checkpoints', 'history', 'runs', 'summaries']);
    expect(early.records).toEqual(late.records);
    expect(late.history).toBeLessThan(1000); // one evaluation (and maybe a spectral record), not the history
    // The same but for step numbers of 5 digits instead of 3 (in the step, the summaries, the checkpoint's header).
    expect(late.bytes).toBeLessThan(early.bytes + 200);
    expect(late.runFile).toBeGreaterThan(100 * late.history); // what the old layout wrote at every save
  });

  it('reopens a run saved in many steps, one continuing from an earlier checkpoint, as its run file', async () => {
    for (const preset of ['quick-add', 'quick-multitask'] as const) {
      const db = new RunDb({ factory: new IDBFactory(), locks: null });
      const run = new GrowingRun(preset, preset);
      const marks: HistoryMark[] = [];
      for (let save = 0; save < 30; save++) {
        for (let e = 0; e < 7; e++) run.evaluate();
        if (save % 10 === 5) run.addAnalysis();
        await run.saveTo(db);
        marks.push(markOf(run.metrics));
      }
      expect((await db.get(preset)).runFile).toEqual(run.file());
      // Reopened at the checkpoint of evaluation 105 (the evaluations, records and change of step 200 after it are
      // dropped), and continued in other steps.
      run.restore(marks[14]);
      for (let save = 0; save < 5; save++) {
        for (let e = 0; e < 30; e++) run.evaluate();
        await run.saveTo(db);
      }
      const reopened = await db.get(preset);
      expect(reopened.runFile).toEqual(run.file());
      expect(reopened.runFile.series.step.length).toBe(105 + 150);
      expect(reopened.runFile.events.map((e) => e.step)).toEqual([100, 200]);
      expect(reopened.runFile.analyses).toHaveLength(3);
    }
  });

  it('refuses a save that starts past the end of the saved history, and takes one from nothing in its place', async () => {
    const db = new RunDb({ factory: new IDBFactory(), locks: null });
    const run = new GrowingRun('r');
    for (let e = 0; e < 20; e++) run.evaluate();
    await run.saveTo(db);
    const stored = await db.get('r');
    run.saved = { history: { ...run.saved.history, evaluations: 25 }, analyses: 0 };
    run.evaluate();
    await expect(run.saveTo(db)).rejects.toThrow(/^cannot add to the saved run r: the save starts at .*"evaluations":25.*, past the end of its history \(.*"evaluations":20/);
    // Nothing of the refused save was written.
    const after = await db.get('r');
    expect(after.runFile).toEqual(stored.runFile);
    expect(Buffer.from(after.checkpoint!).equals(Buffer.from(stored.checkpoint!))).toBe(true);
    run.saved = NOTHING_SAVED; // what the worker does after a failed save
    await run.saveTo(db);
    expect((await db.get('r')).runFile).toEqual(run.file());
  });
});

describe('the saved-run database', () => {
  it('saves, lists newest first and reads back a run', async () => {
    const db = new RunDb({ factory: new IDBFactory(), locks: null });
    await db.save(wholeSave(summary('a', 1), runFile(), Uint8Array.of(1, 2, 3)));
    await db.save(wholeSave(summary('b', 2), runFile(), Uint8Array.of(4)));
    expect(await db.list()).toEqual({ runs: [summary('b', 2), summary('a', 1)], damaged: [] });
    const a = await db.get('a');
    expect(a.runFile).toEqual(runFile());
    expect(a.checkpoint).toEqual(Uint8Array.of(1, 2, 3));
    await db.delete('a');
    await expect(db.get('a')).rejects.toThrow('no saved run with id a');
  });

  it('keeps the grok step\'s checkpoint given once across the saves after it, checks it, and deletes it with the run', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null });
    const grokked = { ...summary('g'), grokCheckpointStep: 10 };
    await db.save(wholeSave(summary('g'), runFile(), Uint8Array.of(1)));
    expect((await db.get('g')).grokCheckpoint).toBeNull();
    await db.save({ ...wholeSave(grokked, runFile(), Uint8Array.of(2)), grokCheckpoint: Uint8Array.of(5, 5) });
    await db.save(wholeSave(grokked, runFile(), Uint8Array.of(3)));
    expect(await db.get('g')).toMatchObject({ checkpoint: Uint8Array.of(3), grokCheckpoint: Uint8Array.of(5, 5), summary: { grokCheckpointStep: 10 } });
    await putRaw(factory, 'spectral-edge-lab', 'grokCheckpoints', 'g', 'not bytes');
    await expect(db.get('g')).rejects.toThrow('its grok checkpoint is not bytes');
    await db.delete('g');
    await expect(db.get('g')).rejects.toThrow('no saved run with id g');
    expect(await getRaw(factory, 'spectral-edge-lab', 'grokCheckpoints', 'g')).toBeUndefined();
    expect(() => checkSummary({ ...grokked, grokCheckpointStep: 'ten' }, 'g')).toThrow("its summary's grokCheckpointStep must be a number, null or absent");
  });

  it('tries a failed open again instead of keeping the failure', async () => {
    const real = new IDBFactory();
    let failures = 1;
    const flaky = {
      open: (name: string, version?: number) => {
        if (failures-- > 0) throw new DOMException('the quota is exceeded', 'QuotaExceededError');
        return real.open(name, version);
      },
    } as unknown as IDBFactory;
    const db = new RunDb({ factory: flaky, locks: null });
    await expect(db.list()).rejects.toThrow('the quota is exceeded');
    expect(await db.list()).toEqual({ runs: [], damaged: [] });
  });

  it('closes its connection when another tab opens a newer version, and opens again when asked', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null, name: 'versions' });
    await db.save(wholeSave(summary('a'), runFile(), Uint8Array.of(1)));
    // Not blocked: the upgrade goes through because this connection closed on versionchange.
    const newer = factory.open('versions', RUN_DB_VERSION + 1);
    newer.onblocked = () => expect.unreachable('the upgrade was blocked by the lab\'s open connection');
    (await request(newer)).close();
    await expect(db.list()).rejects.toThrow(); // this lab is older than the database now
    await expect(db.list()).rejects.toThrow(); // and says so again (nothing cached)
  });

  it('lists a damaged summary with its reason, and names the damaged record or history step of a run on opening it', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null, name: 'damage' });
    const ids = ['good', 'bad-summary', 'bad-record', 'bad-step', 'bad-values', 'lost-step', 'bad-checkpoint'];
    for (const id of ids) await db.save(wholeSave(summary(id), runFile(), Uint8Array.of(1)));
    const second = new GrowingRun('lost-step');
    second.evaluate();
    await second.saveTo(db);
    second.evaluate();
    await second.saveTo(db);
    await putRaw(factory, 'damage', 'summaries', 'bad-summary', { ...summary('bad-summary'), step: 'twenty' });
    await putRaw(factory, 'damage', 'runs', 'bad-record', { ...(await getRaw(factory, 'damage', 'runs', 'bad-record') as object), steps: 'many' });
    const step = (await getRaw(factory, 'damage', 'history', ['bad-step', 0])) as Record<string, any>;
    await putRaw(factory, 'damage', 'history', ['bad-step', 0], { ...step, history: { ...step.history, series: null } });
    const values = (await getRaw(factory, 'damage', 'history', ['bad-values', 0])) as Record<string, any>;
    values.history.series.testAcc[1] = 'high';
    await putRaw(factory, 'damage', 'history', ['bad-values', 0], values);
    await deleteRaw(factory, 'damage', 'history', ['lost-step', 0]);
    await putRaw(factory, 'damage', 'checkpoints', 'bad-checkpoint', 'not bytes');
    await putRaw(factory, 'damage', 'runs', 'orphan', await getRaw(factory, 'damage', 'runs', 'good'));

    const list = await db.list();
    expect(list.runs.map((r) => r.id).sort()).toEqual(ids.filter((id) => id !== 'bad-summary').sort());
    expect(list.damaged).toEqual([
      { id: 'bad-summary', reason: 'its summary\'s step must be a finite number, got "twenty"' },
      { id: 'orphan', reason: 'its summary is missing' },
    ]);
    const reasons: Record<string, string> = {
      'bad-record': 'its record\'s step count must be a whole number, got "many"',
      'bad-step': 'its history step 1 of 1 is damaged (its series are missing)',
      'bad-values': 'its run file: invalid run file: series.testAcc[1] is "high"; must be number',
      'lost-step': 'its history holds 1 of its 2 steps',
      'bad-checkpoint': 'its checkpoint is not bytes ([object String])',
    };
    for (const [id, reason] of Object.entries(reasons)) {
      const error = await db.get(id).catch((e: unknown) => e);
      expect(error, id).toBeInstanceOf(DamagedRunError);
      expect((error as DamagedRunError).reason).toBe(reason);
      expect((error as Error).message).toBe(`the saved run ${id} is damaged: ${(error as DamagedRunError).reason}; delete it`);
    }
    await expect(db.get('bad-summary')).rejects.toThrow(DamagedRunError);
    // Once found, a damaged run is listed as such, until it is deleted (with its history).
    const damaged = ['bad-checkpoint', 'bad-record', 'bad-step', 'bad-summary', 'bad-values', 'lost-step', 'orphan'];
    expect((await db.list()).damaged.map((d) => d.id).sort()).toEqual(damaged);
    for (const id of damaged) await db.delete(id);
    expect(await db.list()).toEqual({ runs: [summary('good')], damaged: [] });
    expect(await countRaw(factory, 'damage', 'history')).toBe(1);
  });

  it('checks every field of a summary', () => {
    expect(checkSummary(summary('x'), 'x')).toEqual(summary('x'));
    expect(() => checkSummary(undefined, 'x')).toThrow('its summary is missing');
    expect(() => checkSummary(summary('y'), 'x')).toThrow('its summary\'s id must be "x" (the key it is stored under), got "y"');
    expect(() => checkSummary({ ...summary('x'), finished: 'yes' }, 'x')).toThrow('its summary\'s finished must be true or false, got "yes"');
    expect(() => checkSummary({ ...summary('x'), stopReason: 'bored' }, 'x')).toThrow('its summary\'s stopReason must be null or one of completed');
    expect(() => checkSummary({ ...summary('x'), schedule: [{ step: 5, lr: -1, weightDecay: 0 }] }, 'x')).toThrow('its summary\'s schedule[0].lr must be a finite number >= 0, got -1');
  });

  it('upgrades a database of version 1 and its version-2 run files, so its runs still open', async () => {
    const factory = new IDBFactory();
    // The lab before the live causal probes: database version 1, run files of version 2.
    const old = factory.open('old', 1);
    old.onupgradeneeded = () => {
      for (const store of ['summaries', 'runFiles', 'checkpoints']) old.result.createObjectStore(store);
    };
    (await request(old)).close();
    const { causal: _, ...configV2 } = runFile().config;
    const fileV2 = { ...runFile(), version: 2, config: configV2 };
    await putRaw(factory, 'old', 'summaries', 'r', summary('r'));
    await putRaw(factory, 'old', 'runFiles', 'r', fileV2);
    await putRaw(factory, 'old', 'checkpoints', 'r', Uint8Array.of(9));

    const db = new RunDb({ factory, locks: null, name: 'old' });
    expect((await db.list()).runs).toEqual([summary('r')]);
    const upgraded = await request(factory.open('old'));
    expect(upgraded.version).toBe(RUN_DB_VERSION);
    expect([...upgraded.objectStoreNames].sort()).toEqual(['checkpoints', 'grokCheckpoints', 'history', 'runs', 'studyUnits', 'summaries']);
    upgraded.close();
    const saved = await db.get('r');
    expect(saved.runFile).toEqual({ ...fileV2, version: RUN_FILE_VERSION }); // in the current format
    expect(saved.checkpoint).toEqual(Uint8Array.of(9));
  });

  it('upgrades a database of version 2 (whole run files) to saves that append, keeping a damaged run damaged', async () => {
    const factory = new IDBFactory();
    const old = factory.open('v2', 2);
    old.onupgradeneeded = () => {
      for (const store of ['summaries', 'runFiles', 'checkpoints']) old.result.createObjectStore(store);
    };
    (await request(old)).close();
    // A run with spectral records, events and an analysis, saved whole, as the lab of version 2 saved it.
    const run = new GrowingRun('r');
    for (let e = 0; e < 250; e++) run.evaluate();
    run.addAnalysis();
    await putRaw(factory, 'v2', 'summaries', 'r', summary('r'));
    await putRaw(factory, 'v2', 'runFiles', 'r', run.file());
    await putRaw(factory, 'v2', 'checkpoints', 'r', Uint8Array.of(7));
    await putRaw(factory, 'v2', 'summaries', 'broken', summary('broken'));
    await putRaw(factory, 'v2', 'runFiles', 'broken', { ...run.file(), series: 'lost' });

    const db = new RunDb({ factory, locks: null, name: 'v2' });
    expect((await db.get('r')).runFile).toEqual(run.file());
    expect(await countRaw(factory, 'v2', 'history')).toBe(1); // the whole history, as one step
    await expect(db.get('broken')).rejects.toThrow("the saved run broken is damaged: its record's step count must be a whole number, got nothing; delete it");
    // The upgraded run takes saves that append: one step with the new evaluation.
    run.saved = { history: markOf(run.metrics), analyses: 1 };
    run.evaluate();
    const writes = countWrites();
    await run.saveTo(db);
    vi.restoreAllMocks();
    expect(writes.find((w) => w.store === 'history')!.bytes).toBeLessThan(1000);
    expect((await db.get('r')).runFile).toEqual(run.file());
    await db.delete('broken');
    expect(await db.list()).toEqual({ runs: [summary('r')], damaged: [] });
  });

  it('lets one claim of a run stand at a time', async () => {
    const locks = sharedLocks();
    const tabA = new RunDb({ factory: new IDBFactory(), locks });
    const tabB = new RunDb({ factory: new IDBFactory(), locks });
    const release = await tabA.claim('r');
    expect(release).toBeTypeOf('function');
    expect(await tabB.claim('r')).toBeNull();
    expect(await tabB.claim('other')).toBeTypeOf('function');
    release!();
    await new Promise((r) => setTimeout(r, 0));
    expect(await tabB.claim('r')).toBeTypeOf('function');
  });
});
