// The bench page's side of its worker (src/worker/bench-worker.ts): one worker for the page's life.
import * as Comlink from 'comlink';
import type { BenchWorkerApi } from '../../formats/bench';

let api: Comlink.Remote<BenchWorkerApi> | null = null;

export function benchWorker(): Comlink.Remote<BenchWorkerApi> {
  api ??= Comlink.wrap<BenchWorkerApi>(new Worker(new URL('../../worker/bench-worker.ts', import.meta.url), { type: 'module', name: 'spectral-edge-lab-bench' }));
  return api;
}

export const progressCallback = (f: (message: string) => void) => Comlink.proxy(f);
