// The training worker (a module Web Worker): acquires the GPU here, off the page's thread (navigator.gpu exists in
// dedicated workers), and exposes the lab's API to the page with Comlink. Batches are handed over with their
// typed arrays transferred, not copied. Runs (and the Reproduce panel's finished units) are saved to IndexedDB from
// here, so a checkpoint never has to cross to the page to be kept.
import * as Comlink from 'comlink';
import { acquireDevice } from '../gpu/device';
import { LabApi } from './lab-api';
import { transferables } from './protocol';
import type { LabListener } from '../formats/worker';
import { RunDb } from './run-db';

class WorkerLabApi extends LabApi {
  override subscribe(listener: LabListener): void {
    super.subscribe((batch) => listener(Comlink.transfer(batch, transferables(batch))));
  }
}

const db = new RunDb();
Comlink.expose(new WorkerLabApi({ acquire: () => acquireDevice(navigator.gpu as GPU | undefined), store: db, studyUnits: db }));
