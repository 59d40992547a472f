// Saved runs in IndexedDB (plain API, no wrapper library): the worker saves each run's summary, run file and
// latest checkpoint bytes at the evaluation cadence, and the checkpoint of its grok step once; the page lists,
// reopens and deletes them. Four object stores keyed by run id, so the run list reads only the small summaries.
import type { RunFile } from '../formats/run-file';
import type { RunSink, SavedRunSummary } from '../formats/worker';

const DB_NAME = 'spectral-edge-lab';
/** Version 2 added the grok checkpoints (a version-1 database is upgraded in place: its runs simply have none). */
const DB_VERSION = 2;
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

export class RunDb implements RunSink {
  private db: Promise<IDBDatabase> | null = null;

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      if (typeof indexedDB === 'undefined') {
        reject(new Error('IndexedDB is not available here, so runs cannot be saved'));
        return;
      }
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        for (const name of STORES) if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('could not open IndexedDB'));
      request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version; close it and reload'));
    });
    return this.db;
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

  /** Every saved run's summary, newest first. */
  async list(): Promise<SavedRunSummary[]> {
    const db = await this.open();
    const all = (await done(db.transaction(SUMMARIES).objectStore(SUMMARIES).getAll())) as SavedRunSummary[];
    return all.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async get(id: string): Promise<SavedRun> {
    const db = await this.open();
    const tx = db.transaction([...STORES]);
    const [summary, runFile, checkpoint, grokCheckpoint] = await Promise.all(STORES.map((name) => done(tx.objectStore(name).get(id))));
    if (!summary || !runFile) throw new Error(`no saved run with id ${id} (it may have been deleted in another tab)`);
    return {
      summary: summary as SavedRunSummary,
      runFile: runFile as RunFile,
      checkpoint: (checkpoint as Uint8Array | undefined) ?? null,
      grokCheckpoint: (grokCheckpoint as Uint8Array | undefined) ?? null,
    };
  }

  async delete(id: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...STORES], 'readwrite');
    for (const name of STORES) tx.objectStore(name).delete(id);
    await committed(tx);
  }
}
