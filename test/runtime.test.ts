import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { GpuLimitError, u32, f32, type GpuRuntime } from '../src/gpu/runtime';
import { Trainer } from '../src/train/trainer';
import { isDawnPoll } from '../src/gpu/node-gpu';
import { resolveRunConfig } from '../src/train/run';

/** The validation error (null if none) of submitting what `record` encodes: a destroyed buffer fails. */
async function submitError(rt: GpuRuntime, record: (encoder: GPUCommandEncoder) => void): Promise<string | null> {
  rt.device.pushErrorScope('validation');
  const encoder = rt.device.createCommandEncoder();
  record(encoder);
  rt.device.queue.submit([encoder.finish()]);
  const error = await rt.device.popErrorScope();
  return error?.message ?? null;
}

/** The validation error of copying 16 bytes out of `buffer`. */
async function copyError(rt: GpuRuntime, buffer: GPUBuffer): Promise<string | null> {
  const target = rt.storage('copy-target', 16);
  const error = await submitError(rt, (encoder) => encoder.copyBufferToBuffer(buffer, 0, target, 0, 16));
  target.destroy();
  return error;
}

describe('GPU runtime', () => {
  it('runs a kernel with uniform parameters and reads the result back', async () => {
    const rt = await testRuntime();
    const kernel = {
      label: 'axpy-test',
      code: /* wgsl */ `
        struct Params { n: u32, a: f32 }
        @group(0) @binding(0) var<uniform> p: Params;
        @group(0) @binding(1) var<storage, read> x: array<f32>;
        @group(0) @binding(2) var<storage, read_write> y: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
          if (g.x < p.n) { y[g.x] = p.a * x[g.x] + y[g.x]; }
        }`,
    };
    const n = 100;
    const pipelines = rt.pipelineCount;
    const x = rt.storageFrom('x', Float32Array.from({ length: n }, (_, i) => i));
    const y = rt.storageFrom('y', new Float32Array(n).fill(1));
    const d = await rt.dispatch(kernel, { params: [u32(n), f32(0.5)], buffers: [x, y], workgroups: [2] });
    rt.run([d, d]);
    const out = await rt.readF32(y);
    expect(Array.from(out.slice(0, 4))).toEqual([1, 2, 3, 4]);
    expect(out[99]).toBe(100);
    expect(rt.pipelineCount).toBe(pipelines + 1);
  });

  it('names the buffer and the limit when an allocation is too large', async () => {
    const rt = await testRuntime();
    const tooBig = Math.max(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize) + 1024;
    expect(() => rt.storage('activations', tooBig)).toThrow(GpuLimitError);
    expect(() => rt.storage('activations', tooBig)).toThrow(/activations.*(maxBufferSize|maxStorageBufferBindingSize)/);
  });

  it('reports WGSL compile errors with the kernel name', async () => {
    const rt = await testRuntime();
    await expect(rt.pipeline({ label: 'broken', code: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }' })).rejects.toThrow(/broken/);
  });

  it('destroys what an allocation scope recorded, and nothing allocated outside it or after it closed', async () => {
    const rt = await testRuntime();
    const before = rt.storage('before', 64);
    const scope = rt.openScope();
    const inside = rt.storage('inside', 64);
    const d = await rt.dispatch({ label: 'scoped-kernel', code: '@group(0) @binding(0) var<uniform> p: vec4u; @compute @workgroup_size(1) fn main() { _ = p.x; }' }, { params: [u32(1)], buffers: [], workgroups: [1] });
    // A readback inside the scope takes a buffer from the runtime's pool, which the scope must leave alone.
    expect(Array.from(await rt.readF32(inside, 0, 2))).toEqual([0, 0]);
    scope.close();
    const after = rt.storage('after', 64);
    expect(scope.bufferCount).toBe(2); // `inside` and the kernel's uniform buffer
    expect(await copyError(rt, inside)).toBeNull();
    scope.release();
    expect(await copyError(rt, inside)).toMatch(/destroyed/i);
    expect(await submitError(rt, (encoder) => rt.encode(encoder, [d]))).toMatch(/destroyed/i);
    for (const kept of [before, after]) expect(await copyError(rt, kept)).toBeNull();
    expect(Array.from(await rt.readF32(before, 0, 2))).toEqual([0, 0]);
  });

  it('frees a scoped body\'s buffers however it ends, and a trainer\'s own buffers on destroy()', async () => {
    const rt = await testRuntime();
    let leaked: GPUBuffer | undefined;
    await expect(rt.scoped(async () => {
      leaked = rt.storage('thrown-away', 64);
      throw new Error('the body failed');
    })).rejects.toThrow('the body failed');
    expect(await copyError(rt, leaked!)).toMatch(/destroyed/i);

    const trainer = await Trainer.create(rt, resolveRunConfig('quick-add', 1, { steps: 1, evalEvery: 1 }));
    await trainer.run();
    const { params } = trainer.engine.state;
    expect(await copyError(rt, params)).toBeNull();
    trainer.destroy();
    expect(await copyError(rt, params)).toMatch(/destroyed/i);
  });

  it('lets the GPU work while the CPU waits for it: Dawn polls through a timer once a wait passes 2 ms, not back to back', async () => {
    const rt = await testRuntime();
    // One invocation spinning through a long dependent loop: a wait of a few hundred ms on SwiftShader.
    const kernel = {
      label: 'long-wait',
      code: /* wgsl */ `
        @group(0) @binding(0) var<uniform> n: vec4u;
        @group(0) @binding(1) var<storage, read_write> y: array<f32>;
        @compute @workgroup_size(1) fn main() {
          var x = 1.0;
          for (var i = 0u; i < n.x; i++) { x = fract(x * 1.0001 + 0.5); }
          y[0] = x;
        }`,
    };
    const y = rt.storage('y', 16);
    const d = await rt.dispatch(kernel, { params: [u32(20_000_000)], buffers: [y], workgroups: [1] });
    const throttled = globalThis.setImmediate;
    let polls = 0;
    globalThis.setImmediate = ((callback: (...a: unknown[]) => void, ...args: unknown[]) => {
      if (isDawnPoll(callback)) polls += 1;
      return throttled(callback, ...args);
    }) as typeof setImmediate;
    try {
      const start = performance.now();
      rt.run([d]);
      await rt.finish();
      const waitMs = performance.now() - start;
      // Polling back to back runs hundreds of polls a millisecond; through a 1 ms timer, at most about one.
      expect(polls).toBeLessThan(2000 + 2 * waitMs);
      expect(polls).toBeGreaterThan(0);
    } finally {
      globalThis.setImmediate = throttled;
    }
  });
});
