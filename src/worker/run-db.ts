// Saved runs in IndexedDB (plain API, no wrapper library): the worker saves each run's summary, run file and
// latest checkpoint bytes at the evaluation cadence, and the checkpoint of its grok step once; the page lists,
// reopens and deletes them. Four object stores keyed by run id, so the run list reads only the small summaries.
//
// What can go wrong, and what happens:
// - The database fails to open (private mode, quota, a blocked upgrade): that call fails with the reason, and the
//   next one tries again (a failed open is never kept).
// - Another tab upgrades the database: this connection closes on `versionchange` and the next call reopens it.
// - A stored record is damaged or foreign (edited in the browser's tools, an interrupted write, a future format):
//   every record read is validated; `list` reports a damaged summary beside the good ones (the page offers to
//   delete it), and `get` throws a DamagedRunError saying which record is wrong.
// - Two tabs continue the same run: the tab that opens it claims it (`claim`, a Web Lock held while the run is
//   open); a second tab cannot claim it and opens it for viewing only, so no tab overwrites another's saves.
// - The lab's formats move on: each database version's step (UPGRADES) brings every stored record up to date when
//   a newer lab first opens the database, so saved runs stay openable.
import { parseRunFile } from '../train/run';
import type { RunFile } from '../formats/run-file';
import { STOP_REASONS } from '../formats/metrics';
import type { RunSink, SavedRunSummary } from '../formats/worker';
import { validateSchedule } from './protocol';

const DB_NAME = 'spectral-edge-lab';
const SUMMARIES = 'summaries';
const RUN_FILES = 'runFiles';
const CHECKPOINTS = 'checkpoints';
const GROK_CHECKPOINTS = 'grokCheckpoints';
const STORES = [SUMMARIES, RUN_FILES, CHECKPOINTS, GROK_CHECKPOINTS] as const;

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
 * inside the upgrade transaction, so only synchronous work and requests on `tx` (the transaction ends at the first
 * await of anything else). A new record format adds a step here; the steps are never changed once released.
 */
const UPGRADES: ((db: IDBDatabase, tx: IDBTransaction) => void)[] = [
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
  // 2 -> 3: the grok step's checkpoints (the runs saved before have none).
  (db) => {
    db.createObjectStore(GROK_CHECKPOINTS);
  },
];

/** The database version this lab writes. */
export const RUN_DB_VERSION = UPGRADES.length;

/** Replaces every value of `store` by `change(value)`, by a cursor (requests on the upgrade transaction only). */
function rewriteEach(store: IDBObjectStore, change: (value: unknown) => unknown): void {
  const cursor = store.openCursor();
  cursor.onsuccess = () => {
    const at = cursor.result;
    if (!at) return;
    const next = change(at.value);
    if (next !== at.value) at.update(next);
    at.continue();
  };
}

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

export class RunDb implements RunSink {
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
      const request = factory.open(this.options.name ?? DB_NAME, RUN_DB_VERSION);
      request.onupgradeneeded = (event) => {
        const tx = request.transaction!;
        for (let v = event.oldVersion; v < RUN_DB_VERSION; v++) UPGRADES[v](request.result, tx);
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
        reject(request.error ?? new Error('could not open IndexedDB'));
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

  async save(summary: SavedRunSummary, runFile: RunFile, checkpoint: Uint8Array, grokCheckpoint?: Uint8Array): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...STORES], 'readwrite');
    tx.objectStore(SUMMARIES).put(summary, summary.id);
    tx.objectStore(RUN_FILES).put(runFile, summary.id);
    tx.objectStore(CHECKPOINTS).put(checkpoint, summary.id);
    if (grokCheckpoint) tx.objectStore(GROK_CHECKPOINTS).put(grokCheckpoint, summary.id);
    await committed(tx);
  }

  /** Every saved run's summary (newest first), and those whose records cannot be read. */
  async list(): Promise<SavedRunList> {
    const db = await this.open();
    const tx = db.transaction([SUMMARIES, RUN_FILES]);
    const [keys, values, runFileKeys] = await Promise.all([
      done(tx.objectStore(SUMMARIES).getAllKeys()),
      done(tx.objectStore(SUMMARIES).getAll()),
      done(tx.objectStore(RUN_FILES).getAllKeys()),
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
    for (const key of runFileKeys) if (!listed.has(String(key))) damaged.push({ id: String(key), reason: 'its summary is missing' });
    return { runs: runs.sort((a, b) => b.updatedAt - a.updatedAt), damaged };
  }

  /** A saved run, every record checked; a DamagedRunError names the one that is wrong. */
  async get(id: string): Promise<SavedRun> {
    const db = await this.open();
    const tx = db.transaction([...STORES]);
    const [summary, runFile, checkpoint, grokCheckpoint] = await Promise.all(STORES.map((name) => done(tx.objectStore(name).get(id))));
    if (summary === undefined && runFile === undefined) throw new Error(`no saved run with id ${id} (it may have been deleted in another tab)`);
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
      runFile: check(() => {
        if (runFile === undefined) throw new Error('its run file is missing');
        try {
          return parseRunFile(runFile);
        } catch (error) {
          throw new Error(`its run file: ${(error as Error).message}`);
        }
      }),
      checkpoint: check(() => bytesOrNull(checkpoint, 'checkpoint')),
      grokCheckpoint: check(() => bytesOrNull(grokCheckpoint, 'grok checkpoint')),
    };
  }

  async delete(id: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...STORES], 'readwrite');
    for (const name of STORES) tx.objectStore(name).delete(id);
    await committed(tx);
    this.foundDamaged.delete(id);
  }

  /**
   * Claims run `id` for this tab's saves: resolves to the function that gives it back, or to null when another
   * tab (or worker) holds it. The claim is a Web Lock, so it also ends when its tab closes or crashes.
   */
  claim(id: string): Promise<(() => void) | null> {
    const locks = this.locks;
    if (!locks) return Promise.resolve(() => {});
    return new Promise((resolve, reject) => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      locks
        .request(`${DB_NAME}.run.${id}`, { ifAvailable: true }, async (lock) => {
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
