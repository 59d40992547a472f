// The GPU runtime every kernel goes through: a pipeline cache, checked buffer allocation, prebuilt
// dispatches (pipeline + bind group + grid, built once per model and replayed every step), one command
// encoder per batch of work, and reads back to the CPU.
//
// Kernel binding convention (all WGSL in shaders/ follows it): entry point `main`; when a kernel takes
// scalar parameters they are a uniform struct at @binding(0) whose fields are 4-byte scalars in the order
// the TS side lists them; storage buffers follow at @binding(1), (2), ... in argument order.
import type { AdapterSummary, AcquiredDevice } from './device';

export interface Kernel {
  /** Human-readable name, used in labels and error messages. */
  label: string;
  /** Complete WGSL source. Variants of a kernel family are produced by TS template functions. */
  code: string;
}

/** A tensor inside a buffer: `offset` counts float32 (or u32) elements from the buffer's start. */
export interface TensorRef {
  buffer: GPUBuffer;
  offset: number;
}
export const at = (buffer: GPUBuffer, offset = 0): TensorRef => ({ buffer, offset });

export type Scalar = { type: 'u32' | 'i32' | 'f32'; value: number };
export const u32 = (value: number): Scalar => ({ type: 'u32', value });
export const i32 = (value: number): Scalar => ({ type: 'i32', value });
export const f32 = (value: number): Scalar => ({ type: 'f32', value });

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  /** Uniform buffer holding the scalar parameters, when the kernel has any (rewrite with `writeParams`). */
  params?: GPUBuffer;
  /** Useful floating-point operations of one run, where the op knows them (matmul, attention): for benchmarks. */
  flops?: number;
}

export class GpuLimitError extends Error {
  override name = 'GpuLimitError';
}

/** A kernel that binds more storage buffers than the device allows (maxStorageBuffersPerShaderStage). */
export class BindingLimitError extends GpuLimitError {
  override name = 'BindingLimitError';
}

/**
 * Every buffer the runtime allocated (outside its readback pool) while the scope was open; `release()` destroys
 * them. A way to free a whole object graph (a trainer with its evaluators and monitor, an analysis, a phase-diagram
 * cell) without each part keeping its own list. Scopes may nest or overlap: a buffer belongs to every scope open
 * when it was made, and destroying a buffer twice is harmless.
 */
export class AllocationScope {
  private readonly buffers: GPUBuffer[] = [];
  private open = true;

  constructor(private readonly detach: (scope: AllocationScope) => void) {}

  /** Records a buffer allocated while the scope is open (GpuRuntime.buffer). */
  add(buffer: GPUBuffer): void {
    if (this.open) this.buffers.push(buffer);
  }

  get bufferCount(): number {
    return this.buffers.length;
  }

  /** Stops recording; what was recorded stays the scope's until release(). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.detach(this);
  }

  /** Closes the scope and destroys its buffers: nothing allocated in it may be used after. */
  release(): void {
    this.close();
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.length = 0;
  }
}

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly readbackPool: GPUBuffer[] = [];
  private readonly scopes = new Set<AllocationScope>();
  /** Reads scheduled so far (benchmarks check that a training step schedules none). */
  readbackCount = 0;
  /** Whether compute passes can be timed on the GPU (the device has the 'timestamp-query' feature). */
  readonly hasTimestampQuery: boolean;

  constructor(acquired: AcquiredDevice) {
    this.device = acquired.device;
    this.adapter = acquired.adapter;
    this.hasTimestampQuery = acquired.hasTimestampQuery;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Compiles (once per distinct source) and caches a compute pipeline; WGSL errors reject with the log. */
  pipeline(kernel: Kernel): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(kernel.code);
    if (!p) {
      p = this.compile(kernel);
      this.pipelines.set(kernel.code, p);
    }
    return p;
  }

  // Synchronous creation inside an error scope: dawn.node's createComputePipelineAsync aborts the process
  // (a futex error) after a few pipelines, and compilation is a one-off cost per model anyway.
  private async compile(kernel: Kernel): Promise<GPUComputePipeline> {
    const module = this.device.createShaderModule({ label: kernel.label, code: kernel.code });
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({ label: kernel.label, layout: 'auto', compute: { module, entryPoint: 'main' } });
    const error = await this.device.popErrorScope();
    if (error) {
      const info = await module.getCompilationInfo();
      const log = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
      throw new Error(`kernel ${kernel.label} failed to compile: ${error.message}\n${log}`);
    }
    return pipeline;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Throws a GpuLimitError naming the buffer and the limit when a buffer of this size cannot be created. */
  checkFits(label: string, byteLength: number, usage: GPUBufferUsageFlags): void {
    if (!Number.isFinite(byteLength) || byteLength < 0) throw new GpuLimitError(`buffer ${label}: invalid size ${byteLength} bytes`);
    if (byteLength > this.limits.maxBufferSize) {
      throw new GpuLimitError(
        `buffer ${label} needs ${byteLength} bytes, above this adapter's maxBufferSize of ${this.limits.maxBufferSize} bytes`,
      );
    }
    if (usage & GPUBufferUsage.STORAGE && byteLength > this.limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(
        `buffer ${label} needs ${byteLength} bytes, above this adapter's maxStorageBufferBindingSize of ${this.limits.maxStorageBufferBindingSize} bytes`,
      );
    }
  }

  /** Allocates a buffer after checking it against the adapter's limits; every open allocation scope records it. */
  buffer(label: string, byteLength: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const buffer = this.allocate(label, byteLength, usage);
    for (const scope of this.scopes) scope.add(buffer);
    return buffer;
  }

  private allocate(label: string, byteLength: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.checkFits(label, byteLength, usage);
    // Rounded up to 16 bytes and at least 16, so zero-length tensors and odd sizes bind and copy cleanly.
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    return this.device.createBuffer({ label, size, usage });
  }

  /**
   * This runtime (its device, caches and scopes) for one piece of work that may have to be undone: the buffers
   * allocated through `rt` are also listed, and `release()` destroys exactly those. An allocation scope would also take
   * the buffers other work allocates meanwhile (between this work's awaits), and destroy them. For
   * buildTransformerGraph's attempts at a fusion level.
   */
  tracking(): { rt: GpuRuntime; release(): void } {
    const buffers: GPUBuffer[] = [];
    // Everything else (the device, the pipeline cache, the scopes) is this runtime's, through the prototype.
    const rt: GpuRuntime = Object.create(this);
    rt.buffer = (label, byteLength, usage) => {
      const buffer = this.buffer(label, byteLength, usage);
      buffers.push(buffer);
      return buffer;
    };
    return { rt, release: () => buffers.forEach((b) => b.destroy()) };
  }

  /** Opens an allocation scope: it records every buffer allocated from now until it is closed or released. */
  openScope(): AllocationScope {
    const scope = new AllocationScope((s) => this.scopes.delete(s));
    this.scopes.add(scope);
    return scope;
  }

  /** Runs `body` in an allocation scope and destroys what it allocated, however it ends (its result must not hold GPU objects). */
  async scoped<T>(body: () => Promise<T>): Promise<T> {
    const scope = this.openScope();
    try {
      return await body();
    } finally {
      scope.release();
    }
  }

  /** A storage buffer that can also be written from and copied to the CPU (the only kind kernels use). */
  storage(label: string, byteLength: number): GPUBuffer {
    return this.buffer(label, byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC);
  }

  /** A storage buffer initialised from `data`. */
  storageFrom(label: string, data: Float32Array | Uint32Array | Int32Array): GPUBuffer {
    const buf = this.storage(label, data.byteLength);
    this.write(buf, data);
    return buf;
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, byteOffset = 0): void {
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Builds a reusable dispatch: the pipeline, a uniform buffer with `params`, and a bind group over `buffers`. */
  async dispatch(
    kernel: Kernel,
    args: { params?: Scalar[]; buffers: GPUBuffer[]; workgroups: readonly [number, number?, number?] },
  ): Promise<Dispatch> {
    const [x, y = 1, z = 1] = args.workgroups;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 0 || n > maxDim) {
        throw new GpuLimitError(`kernel ${kernel.label}: grid ${x}x${y}x${z} exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
      }
    }
    const maxBuffers = this.limits.maxStorageBuffersPerShaderStage;
    if (args.buffers.length > maxBuffers) {
      throw new BindingLimitError(`kernel ${kernel.label} binds ${args.buffers.length} storage buffers, above this device's maxStorageBuffersPerShaderStage of ${maxBuffers}`);
    }
    const pipeline = await this.pipeline(kernel);
    const entries: GPUBindGroupEntry[] = [];
    let params: GPUBuffer | undefined;
    if (args.params && args.params.length > 0) {
      params = this.buffer(`${kernel.label}.params`, args.params.length * 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.writeParams(params, args.params);
      entries.push({ binding: 0, resource: { buffer: params } });
    }
    args.buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
    this.device.pushErrorScope('validation');
    const bindGroup = this.device.createBindGroup({ label: kernel.label, layout: pipeline.getBindGroupLayout(0), entries });
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`kernel ${kernel.label}: cannot bind its buffers: ${error.message}`);
    return { label: kernel.label, pipeline, bindGroup, workgroups: [x, y, z], params };
  }

  writeParams(buffer: GPUBuffer, params: Scalar[]): void {
    this.device.queue.writeBuffer(buffer, 0, packParams(params).buffer, 0, params.length * 4);
  }

  /** Records dispatches into one compute pass of `encoder` (with `timestampWrites`, timed by the GPU). */
  encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[], timestampWrites?: GPUComputePassTimestampWrites): void {
    const pass = encoder.beginComputePass(timestampWrites && { timestampWrites });
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
  }

  /** Submits dispatches as one command buffer. */
  run(dispatches: readonly Dispatch[]): void {
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, dispatches);
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * Copies `byteLength` bytes of `src` into a pooled mappable buffer as part of `encoder`; the returned
   * function, called after the encoder is submitted, resolves to the bytes and returns the buffer to the pool.
   * Nothing waits on the GPU until that function is called.
   */
  scheduleRead(encoder: GPUCommandEncoder, src: GPUBuffer, byteOffset: number, byteLength: number): () => Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    this.readbackCount += 1;
    const index = this.readbackPool.findIndex((b) => b.size >= size);
    const staging =
      index >= 0
        ? this.readbackPool.splice(index, 1)[0]
        : this.allocate('readback', Math.max(size, 256), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    encoder.copyBufferToBuffer(src, byteOffset, staging, 0, size);
    return async () => {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
      const bytes = staging.getMappedRange(0, size).slice(0, byteLength);
      staging.unmap();
      this.readbackPool.push(staging);
      return bytes;
    };
  }

  /** Reads a buffer (or part of it) back as float32. For tests and checkpoints, not for the training loop. */
  async readF32(src: GPUBuffer, offset = 0, count = (src.size >> 2) - offset): Promise<Float32Array> {
    const encoder = this.device.createCommandEncoder();
    const read = this.scheduleRead(encoder, src, offset * 4, count * 4);
    this.device.queue.submit([encoder.finish()]);
    return new Float32Array(await read());
  }

  async readU32(src: GPUBuffer, offset = 0, count = (src.size >> 2) - offset): Promise<Uint32Array> {
    return new Uint32Array((await this.readF32(src, offset, count)).buffer);
  }

  /** Resolves when all submitted work is done (for timing). */
  finish(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    for (const b of this.readbackPool) b.destroy();
    this.device.destroy();
  }
}

/** A kernel's scalar parameters as the bytes of its uniform struct (4 bytes each, little-endian; at least 16 bytes). */
export function packParams(params: readonly Scalar[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(Math.max(16, params.length * 4)));
  params.forEach((p, i) => {
    if (!Number.isFinite(p.value)) throw new Error(`kernel parameter ${i} is not finite: ${p.value}`);
    if (p.type === 'u32') view.setUint32(i * 4, p.value, true);
    else if (p.type === 'i32') view.setInt32(i * 4, p.value, true);
    else view.setFloat32(i * 4, p.value, true);
  });
  return new Uint8Array(view.buffer, 0, params.length * 4);
}

/** Number of workgroups of `size` threads that cover `n` items. */
export function groups(n: number, size: number): number {
  return Math.ceil(n / size);
}
