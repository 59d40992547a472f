// A run store for the worker's tests: the page's saved-run database (src/worker/run-db.ts) on fake-indexeddb,
// recording each save as the page would reopen it (the run file put together from its history steps).
import 'fake-indexeddb/auto'; // IDBKeyRange, which the database's range queries use
import { IDBFactory } from 'fake-indexeddb';
import { RunDb, type SavedRun } from '../../src/worker/run-db';
import type { RunSink } from '../../src/formats/worker';

export interface SavedRunStore {
  store: RunSink;
  /** The database the saves go to (share it to continue a saved run, as the page does). */
  db: RunDb;
  /** The saved run after each save, oldest first. */
  saves: SavedRun[];
}

export function savedRunStore(db = new RunDb({ factory: new IDBFactory(), locks: null })): SavedRunStore {
  const saves: SavedRun[] = [];
  const store: RunSink = {
    async save(save) {
      await db.save(save);
      saves.push(await db.get(save.summary.id));
    },
  };
  return { store, db, saves };
}
