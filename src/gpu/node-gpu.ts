// Node-only: a WebGPU implementation from the `webgpu` package (Dawn). Imported by the CLI, benchmarks
// and tests, never by the browser bundle.
//
// On a machine without a GPU driver Dawn finds no usable Vulkan device; then we point the Vulkan loader
// at the SwiftShader driver that Debian's `chromium` package ships and ask again, so the same engine runs
// (slowly) on CPU-only CI machines.
import { existsSync } from 'node:fs';
import { acquireDevice, withHardwareKernels, type AcquiredDevice, type LimitCaps } from './device';

const SWIFTSHADER_ICD_CANDIDATES = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib64/chromium/vk_swiftshader_icd.json'];

type DawnModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

let dawn: DawnModule | undefined;
// Every Dawn instance ever created stays referenced: dawn.node crashes (in InstanceBase::ProcessEvents) when
// the garbage collector frees an instance whose devices are still in use, or while another instance exists.
const instances: GPU[] = [];
async function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    dawn = (await import('webgpu')) as unknown as DawnModule;
    // Dawn's GPUBufferUsage, GPUMapMode, ... constants live on its globals object, as in a browser.
    Object.assign(globalThis, dawn.globals);
    throttleDawnPolling();
  }
  return dawn;
}

/** Dawn's poll callback: a nameless native function without parameters, queued with the global setImmediate. */
export const isDawnPoll = (callback: unknown): callback is () => void =>
  typeof callback === 'function' && callback.name === '' && callback.length === 0 && Function.prototype.toString.call(callback) === 'function () { [native code] }';

/** How long a wait for the GPU polls at full speed before it polls once a millisecond. */
const SPIN_MS = 2;

/**
 * dawn.node settles its promises (mapAsync, onSubmittedWorkDone, ...) by polling: while one is pending, a native
 * callback runs ProcessEvents and queues itself again with the global setImmediate, so the main thread spins at 100%
 * of a core for as long as the GPU works. On a CPU-only machine SwiftShader needs that core. Here a wait polls at
 * full speed for its first SPIN_MS (short waits on a real GPU keep their latency), then through a 1 ms timer. A
 * wait ends when the callback runs without queueing itself again.
 */
function throttleDawnPolling(): void {
  const immediate = globalThis.setImmediate;
  let waitStart: number | null = null;
  let requeued = false;
  const poll = (callback: () => void) => () => {
    requeued = false;
    callback();
    if (!requeued) waitStart = null;
  };
  globalThis.setImmediate = ((callback: unknown, ...args: unknown[]) => {
    if (!isDawnPoll(callback)) return immediate(callback as (...a: unknown[]) => void, ...args);
    requeued = true;
    const now = performance.now();
    waitStart ??= now;
    if (now - waitStart < SPIN_MS) return immediate(poll(callback));
    return setTimeout(poll(callback), 1);
  }) as typeof setImmediate;
}

export function swiftShaderIcd(): string | undefined {
  return SWIFTSHADER_ICD_CANDIDATES.find((p) => existsSync(p));
}

/**
 * `SEL_ADAPTER=swiftshader` forces the software adapter even where a real GPU exists (for comparisons);
 * `SEL_KERNELS=hardware` gives a software adapter the kernels and graph of a hardware one (the GPU path, run on the
 * CPU: slow, for checking it without a GPU); `caps` asks for less than the adapter's limits.
 */
export async function acquireNodeDevice(caps: LimitCaps = {}): Promise<AcquiredDevice> {
  const acquired = await acquireAnyNodeDevice(caps);
  return process.env.SEL_KERNELS === 'hardware' ? withHardwareKernels(acquired) : acquired;
}

async function acquireAnyNodeDevice(caps: LimitCaps): Promise<AcquiredDevice> {
  const { create: createInstance } = await loadDawn();
  const create = (flags: string[]) => {
    const gpu = createInstance(flags);
    instances.push(gpu);
    return gpu;
  };
  const forceSoftware = process.env.SEL_ADAPTER === 'swiftshader';
  if (!forceSoftware) {
    const gpu = create([]);
    if (await gpu.requestAdapter()) return acquireDevice(gpu, undefined, caps);
  }
  const icd = swiftShaderIcd();
  if (!icd) {
    throw new Error(
      'No WebGPU adapter found, and no SwiftShader Vulkan driver to fall back on. Install a GPU driver, or ' +
        "Debian's `chromium` and `libvulkan1` packages (apt-get install chromium libvulkan1).",
    );
  }
  process.env.VK_ICD_FILENAMES = icd;
  return acquireDevice(create([]), undefined, caps);
}
