// The page's side of the training worker: starts the module worker, wraps it with Comlink, and registers the one
// long-lived callback (Comlink.proxy) through which every batch arrives.
import * as Comlink from 'comlink';
import { IDLE_STATUS, type LabListener, type LabWorkerApi, type WorkerStatus } from '../formats/worker';
import type { StudyApi } from './study-service';

export interface LabClient {
  api: Comlink.Remote<LabWorkerApi & StudyApi>;
  terminate(): void;
}

/**
 * Connects to a new training worker. `onBatch` receives every batch; a worker that fails to load (a script error,
 * an unsupported browser) is reported to it as a failed status, so the page always learns why nothing happens.
 */
export function connectLab(onBatch: LabListener): LabClient {
  const worker = new Worker(new URL('./lab-worker.ts', import.meta.url), { type: 'module', name: 'spectral-edge-lab' });
  worker.addEventListener('error', (event) => {
    const status: WorkerStatus = { ...IDLE_STATUS, phase: 'failed', message: `the training worker failed to start: ${event.message || 'unknown error'}` };
    onBatch({ status });
  });
  const api = Comlink.wrap<LabWorkerApi & StudyApi>(worker);
  void api.subscribe(Comlink.proxy(onBatch));
  return {
    api,
    terminate: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
