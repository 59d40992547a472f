// The bench page's worker (a module Web Worker): acquires the visitor's GPU and runs the same benchmark as
// `npm run bench` (src/bench/benchmark.ts), reporting progress through a Comlink proxy.
import * as Comlink from 'comlink';
import { acquireDevice } from '../gpu/device';
import { GpuRuntime } from '../gpu/runtime';
import { runBenchmark } from '../bench/benchmark';
import type { BenchReport, BenchRequest, BenchWorkerApi } from '../formats/bench';

let runtime: Promise<GpuRuntime> | null = null;
let cancelled = false;

const gpu = () => (runtime ??= acquireDevice(navigator.gpu as GPU | undefined).then((d) => new GpuRuntime(d)));

const api: BenchWorkerApi = {
  async adapter() {
    return (await gpu()).adapter;
  },
  async run(request: BenchRequest, onProgress: (message: string) => void): Promise<BenchReport> {
    cancelled = false;
    const rt = await gpu();
    return runBenchmark(rt, navigator.userAgent, {
      presets: request.presets,
      ...(request.steps !== undefined && { steps: request.steps }),
      grok: request.grok,
      detail: request.detail,
      onProgress,
      shouldStop: () => cancelled,
    });
  },
  cancel() {
    cancelled = true;
  },
};

Comlink.expose(api);
