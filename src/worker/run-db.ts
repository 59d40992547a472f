// Saved runs in IndexedDB (plain API, no wrapper library): the worker saves each run at the evaluation cadence; the
// page lists, reopens and deletes them. A save costs what changed since the last one, not the whole run:
// - `summaries` (by run id): what the run list shows, so listing reads only these;
// - `runs` (by run id): the run file but its history (configuration, summary) and where its saved history ends;
// - `history` (by [run id, n]): the run's history in steps, each what a save added (new evaluations, events,
//   spectral and causal records, analyses) from the mark the save before ended at (src/formats/history.ts);
//   opening a run applies its steps in order and checks the run file they make;
// - `checkpoints` (by run id): the latest checkpoint's bytes, which name their place in the history;
// - `grokCheckpoints` (by run id): the checkpoint of the run's grok step, written once (experiments at the grok);
// - `studyUnits` (by [study key, unit id]): the finished units of the Reproduce panel's studies, each the unit file's
//   JSON text as `npm run reproduce` writes it (src/reproduce/unit-file.ts), checked against the plan when read back
//   (src/worker/study-service.ts), so a closed page keeps the units it finished.
//
// What can go wrong, and what happens:
// - The database fails to open (private mode, quota, a blocked upgrade): that call fails with the reason, and the
//   next one tries again (a failed open is never kept).
// - Another tab upgrades the database: this connection closes on `versionchange` and the next call reopens it.
// - A stored record is damaged or foreign (edited in the browser's tools, an interrupted write, a future format):
//   every record read is validated; `list` reports a damaged summary beside the good ones (the page offers to
//   delete it), and `get` throws a DamagedRunError saying which record (or history step) is wrong.
// - Two tabs continue the same run: the tab that opens it claims it (`claim`, a Web Lock held while the run is
//   open); a second tab cannot claim it and opens it for viewing only, so no tab overwrites another's saves.
// - The lab's formats move on: each database version's step (UPGRADES) brings every stored record up to date when
//   a newer lab first opens the database, so saved runs stay openable.
import { parseRunFile } from '../train/run';
import { NO_HISTORY, appendDelta, emptyMetrics, endOf, markOf, within } from '../train/metrics';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../formats/run-file';
import { STOP_REASONS } from '../formats/metrics';
import type { HistoryMark } from '../formats/checkpoint-file';
import type { RunDelta, RunSave, RunSink, SavedRunSummary } from '../formats/worker';
import { validateSchedule } from './protocol';
import { NOTHING_SAVED, deltaSince } from './saved-mark';
import type { StudyUnitStore } from './study-service';

const DB_NAME = 'spectral-edge-lab';
const SUMMARIES = 'summaries';
const RUNS = 'runs';
const HISTORY = 'history';
const CHECKPOINTS = 'checkpoints';
const GROK_CHECKPOINTS = 'grokCheckpoints';
const STORES = [SUMMARIES, RUNS, HISTORY, CHECKPOINTS, GROK_CHECKPOINTS] as const;
/** The studies' finished units (not a run's: no run transaction touches it). */
const STUDY_UNITS = 'studyUnits';
/** Versions 1 and 2: each run's whole run file, rewritten at every save. */
const RUN_FILES = 'runFiles';

/** A saved run's record but its history (the `runs` store). */
interface RunRecord extends Pick<RunFile, 'config' | 'summary'> {
  /** The history steps stored under [id, 0] .. [id, steps - 1]. */
  steps: number;
  /** Where the saved history and analyses end: the next save starts within them. */
  history: HistoryMark;
  analyses: number;
}

/** The record of a run whose saved history ends with `delta`, its `steps`-th step. */
const recordOf = (run: Pick<RunFile, 'config' | 'summary'>, delta: RunDelta, steps: number): RunRecord => ({
  config: run.config,
  summary: run.summary,
  steps,
  history: endOf(delta.history),
  analyses: delta.analyses.from + delta.analyses.added.length,
});

/** The keys of run `id`'s history steps. */
const stepsOf = (id: string): IDBKeyRange => IDBKeyRange.bound([id, 0], [id, Infinity]);
/** The keys of study `key`'s units (any string id; an array key sorts after every string). */
const unitsOf = (key: string): IDBKeyRange => IDBKeyRange.bound([key, ''], [key, []]);

export interface SavedRun {
  summary: SavedRunSummary;
  runFile: RunFile;
  /** The checkpoint file bytes (src/train/checkpoint-file.ts), or null if none was saved. */
  checkpoint: Uint8Array | null;
  /** The grok step's checkpoint bytes, or null if none was saved. */
  grokCheckpoint: Uint8Array | null;
}

/** A saved run whose summary cannot be read: listed with its reason, to be deleted. */
export interface DamagedRun {
  id: string;
  reason: string;
}

export interface SavedRunList {
  /** Newest first. */
  runs: SavedRunSummary[];
  damaged: DamagedRun[];
}

/** A saved run with a record that is missing or not what the lab wrote. */
export class DamagedRunError extends Error {
  override name = 'DamagedRunError';

  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`the saved run ${id} is damaged: ${reason}; delete it`);
  }
}

/** The part of the Web Locks API a claim needs (navigator.locks in the page and its workers). */
export interface RunLocks {
  request(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

/**
 * How the database reaches each version: UPGRADES[v] takes it (and every record in it) from version v to v + 1,
 * inside the upgrade transaction, so only requests on `tx` and awaits of them (the transaction ends at the first
 * await of anything else); each step starts when the one before has finished. A new record format adds a step
 * here; the steps are never changed once released.
 */
const UPGRADES: ((db: IDBDatabase, tx: IDBTransaction) => void | Promise<void>)[] = [
  // 0 -> 1: the three stores.
  (db) => {
    for (const name of [SUMMARIES, RUN_FILES, CHECKPOINTS]) db.createObjectStore(name);
  },
  // 1 -> 2: every run file in the current run-file version (version 2 files, from before the live causal probes,
  // become version 3), so a saved run never depends on a loader for an older version. One that does not load is
  // left as it is: it is damaged, and opening it says so.
  (_db, tx) =>
    rewriteEach(tx.objectStore(RUN_FILES), (value) => {
      try {
        return parseRunFile(value);
      } catch {
        return value;
      }
    }),
  // 2 -> 3: saves append. Each run file is split into its record (`runs`) and its history as one step (`history`),
  // as if saved at once; `runFiles` goes. One that does not load is kept as its record: damaged, and opening it says so.
  async (db, tx) => {
    const runs = db.createObjectStore(RUNS);
    const history = db.createObjectStore(HISTORY);
    await forEachRecord(tx.objectStore(RUN_FILES), (at) => {
      let file: RunFile;
      try {
        file = parseRunFile(at.value);
      } catch {
        runs.put(at.value, at.key);
        return;
      }
      const { delta } = deltaSince(NOTHING_SAVED, file, file.analyses ?? []);
      runs.put(recordOf(file, delta, 1), at.key);
      history.put(delta, [at.key as string, 0]);
    });
    db.deleteObjectStore(RUN_FILES);
  },
  // 3 -> 4: the grok step's checkpoints (the runs saved before have none).
  (db) => {
    db.createObjectStore(GROK_CHECKPOINTS);
  },
  // 4 -> 5: the Reproduce panel's finished units.
  (db) => {
    db.createObjectStore(STUDY_UNITS);
  },
];

/** The database version this lab writes. */
export const RUN_DB_VERSION = UPGRADES.length;

/** Visits every record of `store` by a cursor; resolves after the last. */
function forEachRecord(store: IDBObjectStore, visit: (at: IDBCursorWithValue) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const cursor = store.openCursor();
    cursor.onerror = () => reject(cursor.error);
    cursor.onsuccess = () => {
      const at = cursor.result;
      if (!at) {
        resolve();
        return;
      }
      visit(at);
      at.continue();
    };
  });
}

/** Replaces every value of `store` by `change(value)`. */
const rewriteEach = (store: IDBObjectStore, change: (value: unknown) => unknown): Promise<void> =>
  forEachRecord(store, (at) => {
    const next = change(at.value);
    if (next !== at.value) at.update(next);
  });

const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });

const committed = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });

/** A stored checkpoint: bytes, or null when none was saved; anything else is damage. */
function bytesOrNull(value: unknown, what: string): Uint8Array | null {
  if (value === undefined) return null;
  if (!(value instanceof Uint8Array)) throw new Error(`its ${what} is not bytes (${Object.prototype.toString.call(value)})`);
  return value;
}

/** A stored summary, checked field by field; throws an Error naming the first field that is wrong. */
export function checkSummary(value: unknown, id: string): SavedRunSummary {
  if (typeof value !== 'object' || value === null) throw new Error(`its summary is ${value === undefined ? 'missing' : `not an object (${String(value)})`}`);
  const s = value as Record<string, unknown>;
  const wrong = (field: string, want: string) => new Error(`its summary's ${field} must be ${want}, got ${JSON.stringify(s[field]) ?? 'nothing'}`);
  if (s.id !== id) throw wrong('id', `"${id}" (the key it is stored under)`);
  for (const field of ['title', 'preset']) if (typeof s[field] !== 'string') throw wrong(field, 'a string');
  for (const field of ['seed', 'createdAt', 'updatedAt', 'step', 'totalSteps', 'checkpointStep']) {
    if (typeof s[field] !== 'number' || !Number.isFinite(s[field])) throw wrong(field, 'a finite number');
  }
  if (s.grokStep !== null && !(typeof s.grokStep === 'number' && Number.isFinite(s.grokStep))) throw wrong('grokStep', 'a number or null');
  if (s.grokCheckpointStep != null && !(typeof s.grokCheckpointStep === 'number' && Number.isFinite(s.grokCheckpointStep))) throw wrong('grokCheckpointStep', 'a number, null or absent');
  if (typeof s.finished !== 'boolean') throw wrong('finished', 'true or false');
  if (s.stopReason !== null && !(STOP_REASONS as readonly unknown[]).includes(s.stopReason)) throw wrong('stopReason', `null or one of ${STOP_REASONS.join(', ')}`);
  if (!Array.isArray(s.schedule)) throw wrong('schedule', 'a list of changes');
  try {
    validateSchedule(s.schedule);
  } catch (error) {
    throw new Error(`its summary's ${(error as Error).message}`);
  }
  return value as SavedRunSummary;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isMark = (x: unknown): x is HistoryMark => isObject(x) && isCount(x.evaluations) && isCount(x.events) && isCount(x.spectral) && isCount(x.causal);

/** A stored run record, its bookkeeping checked (its configuration and summary are checked with the run file they make). */
function checkRunRecord(value: unknown): RunRecord {
  if (!isObject(value)) throw new Error(`its record is ${value === undefined ? 'missing' : 'not an object'}`);
  if (!isCount(value.steps)) throw new Error(`its record's step count must be a whole number, got ${JSON.stringify(value.steps) ?? 'nothing'}`);
  if (!isMark(value.history) || !isCount(value.analyses)) throw new Error("its record does not say where its history ends");
  return value as unknown as RunRecord;
}

/** The run file a record and its history steps (in order) make, checked as a run file from disk is. */
function assembleRunFile(record: unknown, steps: unknown[]): RunFile {
  const r = checkRunRecord(record);
  if (steps.length !== r.steps) throw new Error(`its history holds ${steps.length} of its ${r.steps} steps`);
  const metrics = emptyMetrics();
  const analyses: unknown[] = [];
  steps.forEach((step, i) => {
    try {
      if (!isObject(step)) throw new Error('it is not an object');
      appendDelta(metrics, step.history);
      const added = isObject(step.analyses) ? step.analyses : {};
      if (!isCount(added.from) || added.from > analyses.length || !Array.isArray(added.added)) throw new Error('its analyses are not a count and a list that continue the ones before');
      analyses.length = added.from;
      analyses.push(...added.added);
    } catch (error) {
      throw new Error(`its history step ${i + 1} of ${steps.length} is damaged (${(error as Error).message})`);
    }
  });
  const end = markOf(metrics);
  if (!within(end, r.history) || !within(r.history, end) || analyses.length !== r.analyses) {
    throw new Error(`its history ends at ${JSON.stringify({ ...end, analyses: analyses.length })}, its record says ${JSON.stringify({ ...r.history, analyses: r.analyses })}`);
  }
  try {
    return parseRunFile({ version: RUN_FILE_VERSION, kind: RUN_FILE_KIND, config: r.config, ...metrics, ...(analyses.length > 0 && { analyses }), summary: r.summary });
  } catch (error) {
    throw new Error(`its run file: ${(error as Error).message}`);
  }
}

export class RunDb implements RunSink, StudyUnitStore {
  private db: Promise<IDBDatabase> | null = null;
  /** Runs whose run file or checkpoint `get` found damaged (their summaries read fine): `list` reports them so. */
  private readonly foundDamaged = new Map<string, string>();

  constructor(
    private readonly options: {
      /** Default: the global indexedDB. */
      factory?: IDBFactory;
      /** Default: navigator.locks, where there is one (none: claims always succeed). */
      locks?: RunLocks | null;
      name?: string;
    } = {},
  ) {}

  private get factory(): IDBFactory | undefined {
    return this.options.factory ?? (typeof indexedDB === 'undefined' ? undefined : indexedDB);
  }

  private get locks(): RunLocks | null {
    if (this.options.locks !== undefined) return this.options.locks;
    return typeof navigator !== 'undefined' && 'locks' in navigator ? (navigator.locks as unknown as RunLocks) : null;
  }

  /** The open connection; a failed open is forgotten, so the next call tries again. */
  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      const opening = this.openOnce();
      this.db = opening;
      opening.catch(() => {
        if (this.db === opening) this.db = null;
      });
    }
    return this.db;
  }

  private openOnce(): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const factory = this.factory;
      if (!factory) {
        reject(new Error('IndexedDB is not available here, so runs cannot be saved'));
        return;
      }
      let settled = false;
      let upgradeFailure: unknown = null;
      const request = factory.open(this.options.name ?? DB_NAME, RUN_DB_VERSION);
      request.onupgradeneeded = (event) => {
        const tx = request.transaction!;
        // One step after another (a step may wait for its cursors); a failing step undoes the whole upgrade.
        UPGRADES.slice(event.oldVersion)
          .reduce((previous: Promise<void>, step) => previous.then(() => step(request.result, tx)), Promise.resolve())
          .catch((error: unknown) => {
            upgradeFailure = error;
            tx.abort();
          });
      };
      request.onsuccess = () => {
        const db = request.result;
        if (settled) {
          db.close(); // the caller was already told it failed (blocked)
          return;
        }
        settled = true;
        // Another tab opens a newer version: let it, and reopen on the next call.
        db.onversionchange = () => this.forget(db);
        db.onclose = () => this.forget(db);
        resolve(db);
      };
      request.onerror = () => {
        settled = true;
        reject(upgradeFailure ?? request.error ?? new Error('could not open IndexedDB'));
      };
      request.onblocked = () => {
        settled = true;
        reject(new Error('the saved runs are being upgraded by another tab of the lab that is still open on an older version; close it and reload'));
      };
    });
  }

  private forget(db: IDBDatabase): void {
    db.close();
    this.db = null;
  }

  /**
   * Adds a save to run `summary.id`: the new history step, the record, summary and checkpoint, in one transaction.
   * Its cost is the size of what is new (the history step) and of what does not grow (the rest). A save from
   * nothing replaces the run's history; one that starts past the end of the saved history is refused.
   */
  async save({ summary, run, delta, checkpoint, grokCheckpoint }: RunSave): Promise<void> {
    const db = await this.open();
    const id = summary.id;
    const tx = db.transaction([...STORES], 'readwrite');
    const finished = committed(tx);
    try {
      let steps = 0;
      if (within(delta.history.from, NO_HISTORY) && delta.analyses.from === 0) {
        tx.objectStore(HISTORY).delete(stepsOf(id));
      } else {
        let stored: RunRecord;
        try {
          stored = checkRunRecord(await done(tx.objectStore(RUNS).get(id)));
        } catch (error) {
          throw new Error(`cannot add to the saved run ${id}: ${(error as Error).message}`);
        }
        if (!within(delta.history.from, stored.history) || delta.analyses.from > stored.analyses) {
          throw new Error(`cannot add to the saved run ${id}: the save starts at ${JSON.stringify(delta.history.from)}, past the end of its history (${JSON.stringify(stored.history)})`);
        }
        steps = stored.steps;
      }
      tx.objectStore(HISTORY).put(delta, [id, steps]);
      tx.objectStore(RUNS).put(recordOf(run, delta, steps + 1), id);
      tx.objectStore(SUMMARIES).put(summary, id);
      tx.objectStore(CHECKPOINTS).put(checkpoint, id);
      if (grokCheckpoint) tx.objectStore(GROK_CHECKPOINTS).put(grokCheckpoint, id);
    } catch (error) {
      tx.abort();
      await finished.catch(() => {});
      throw error;
    }
    await finished;
  }

  /** Every saved run's summary (newest first), and those whose records cannot be read. */
  async list(): Promise<SavedRunList> {
    const db = await this.open();
    const tx = db.transaction([SUMMARIES, RUNS]);
    const [keys, values, runKeys] = await Promise.all([
      done(tx.objectStore(SUMMARIES).getAllKeys()),
      done(tx.objectStore(SUMMARIES).getAll()),
      done(tx.objectStore(RUNS).getAllKeys()),
    ]);
    const runs: SavedRunSummary[] = [];
    const damaged: DamagedRun[] = [];
    keys.forEach((key, i) => {
      const id = String(key);
      try {
        const summary = checkSummary(values[i], id);
        const reason = this.foundDamaged.get(id);
        if (reason) damaged.push({ id, reason });
        else runs.push(summary);
      } catch (error) {
        damaged.push({ id, reason: (error as Error).message });
      }
    });
    const listed = new Set(keys.map(String));
    for (const key of runKeys) if (!listed.has(String(key))) damaged.push({ id: String(key), reason: 'its summary is missing' });
    return { runs: runs.sort((a, b) => b.updatedAt - a.updatedAt), damaged };
  }

  /** A saved run, its run file put together from its history steps, every record checked; a DamagedRunError names the one that is wrong. */
  async get(id: string): Promise<SavedRun> {
    const db = await this.open();
    const tx = db.transaction([...STORES]);
    const [summary, record, steps, checkpoint, grokCheckpoint] = await Promise.all([
      done(tx.objectStore(SUMMARIES).get(id)),
      done(tx.objectStore(RUNS).get(id)),
      done(tx.objectStore(HISTORY).getAll(stepsOf(id))),
      done(tx.objectStore(CHECKPOINTS).get(id)),
      done(tx.objectStore(GROK_CHECKPOINTS).get(id)),
    ]);
    if (summary === undefined && record === undefined) throw new Error(`no saved run with id ${id} (it may have been deleted in another tab)`);
    const check = <T>(read: () => T): T => {
      try {
        return read();
      } catch (error) {
        this.foundDamaged.set(id, (error as Error).message);
        throw new DamagedRunError(id, (error as Error).message);
      }
    };
    return {
      summary: check(() => checkSummary(summary, id)),
      runFile: check(() => assembleRunFile(record, steps)),
      checkpoint: check(() => bytesOrNull(checkpoint, 'checkpoint')),
      grokCheckpoint: check(() => bytesOrNull(grokCheckpoint, 'grok checkpoint')),
    };
  }

  async delete(id: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...STORES], 'readwrite');
    for (const name of STORES) tx.objectStore(name).delete(name === HISTORY ? stepsOf(id) : id);
    await committed(tx);
    this.foundDamaged.delete(id);
  }

  async putStudyUnit(key: string, id: string, text: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STUDY_UNITS, 'readwrite');
    tx.objectStore(STUDY_UNITS).put(text, [key, id]);
    await committed(tx);
  }

  async studyUnits(key: string): Promise<{ id: string; text: unknown }[]> {
    const db = await this.open();
    const store = db.transaction(STUDY_UNITS).objectStore(STUDY_UNITS);
    const [keys, values] = await Promise.all([done(store.getAllKeys(unitsOf(key))), done(store.getAll(unitsOf(key)))]);
    return keys.map((k, i) => ({ id: String((k as IDBValidKey[])[1]), text: values[i] }));
  }

  async deleteStudyUnits(key: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STUDY_UNITS, 'readwrite');
    tx.objectStore(STUDY_UNITS).delete(unitsOf(key));
    await committed(tx);
  }

  /**
   * Claims run `id` for this tab's saves: resolves to the function that gives it back, or to null when another
   * tab (or worker) holds it. The claim is a Web Lock, so it also ends when its tab closes or crashes.
   */
  claim(id: string): Promise<(() => void) | null> {
    return this.lock(`${DB_NAME}.run.${id}`);
  }

  /** Claims the study kept under `key` (its units) for this tab's run of it, as `claim` does a run. */
  claimStudy(key: string): Promise<(() => void) | null> {
    return this.lock(`${DB_NAME}.study.${key}`);
  }

  private lock(name: string): Promise<(() => void) | null> {
    const locks = this.locks;
    if (!locks) return Promise.resolve(() => {});
    return new Promise((resolve, reject) => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      locks
        .request(name, { ifAvailable: true }, async (lock) => {
          if (!lock) {
            resolve(null);
            return;
          }
          resolve(release);
          await held;
        })
        .catch(reject);
    });
  }
}
