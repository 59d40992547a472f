// One GPU runtime for the test files (Dawn in Node; SwiftShader where the machine has no GPU): they run in one process
// (vite.config.ts: isolate false), so the device and its compiled pipelines are shared; no test destroys it.
import { acquireNodeDevice } from '../../src/gpu/node-gpu';
import { GpuRuntime } from '../../src/gpu/runtime';
import { withHardwareKernels } from '../../src/gpu/device';

let runtime: Promise<GpuRuntime> | undefined;
export function testRuntime(): Promise<GpuRuntime> {
  runtime ??= acquireNodeDevice().then((d) => new GpuRuntime(d));
  return runtime;
}

let smallRuntime: Promise<GpuRuntime> | undefined;
/**
 * A second device on the same adapter with the storage-buffer bindings WebGPU guarantees and no more (8 per shader
 * stage), as some adapters have: the graphs must fit it.
 */
export function guaranteedBindingsRuntime(): Promise<GpuRuntime> {
  smallRuntime ??= acquireNodeDevice({ maxStorageBuffersPerShaderStage: 8 }).then((d) => new GpuRuntime(d));
  return smallRuntime;
}

const hardwareVariants = new WeakMap<GpuRuntime, GpuRuntime>();
/**
 * `rt`'s device, with the kernels and the graph a hardware adapter gets even where the adapter is software
 * (SwiftShader): workgroup-memory trees, staged matmuls, split-K, every fusion inside products. The GPU path, run here.
 */
export function withHardwareVariants(rt: GpuRuntime): GpuRuntime {
  let hw = hardwareVariants.get(rt);
  if (!hw) {
    hw = new GpuRuntime(withHardwareKernels({ device: rt.device, adapter: rt.adapter, hasTimestampQuery: rt.hasTimestampQuery }));
    hardwareVariants.set(rt, hw);
  }
  return hw;
}
