// One GPU runtime for the test files (Dawn in Node; SwiftShader where the machine has no GPU): they run in one process
// (vite.config.ts: isolate false), so the device and its compiled pipelines are shared; no test destroys it.
import { acquireNodeDevice } from '../../src/gpu/node-gpu';
import { GpuRuntime } from '../../src/gpu/runtime';

let runtime: Promise<GpuRuntime> | undefined;
export function testRuntime(): Promise<GpuRuntime> {
  runtime ??= acquireNodeDevice().then((d) => new GpuRuntime(d));
  return runtime;
}
