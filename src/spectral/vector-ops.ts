// The TS side of shaders/lanczos.wgsl: dense kernels over vectors of length n and row blocks of them (dot
// products as per-part partial sums, sums of parts, linear combinations of rows, axpy), shared by the Lanczos
// solver, its operators and the parameter probes.
//
// A VectorOp is one prebuilt dispatch whose uniforms (sizes, scalars, tensor offsets) can be rewritten between
// submits while its buffers stay the same, so a solver that grows its basis row by row reuses one pipeline and
// bind group per role. Partial sums that feed decisions are read back and added in float64 (DESIGN.md).
import source from '../../shaders/lanczos.wgsl?raw';
import { f32, groups, u32, type Dispatch, type GpuRuntime, type Scalar, type TensorRef } from '../gpu/runtime';
import { instantiateKernel, read, write, type TensorArg } from '../gpu/kernel-template';

const WG = 64;
/** Grid cap for the element-striding kernels (64K invocations fill a large GPU; each strides further). */
const MAX_WORKGROUPS = 1024;
/** Each partial dot product is a float32 sum of about this many products... */
const ELEMENTS_PER_PART = 512;
/** ...with at most this many parts per row, so a read-back row of partials stays at most 1 KiB. */
const MAX_PARTS = 256;

/** Parts per row of a dot product over n elements. */
export function partsFor(n: number): number {
  return Math.max(1, Math.min(MAX_PARTS, Math.ceil(n / ELEMENTS_PER_PART)));
}

/** One kernel of lanczos.wgsl with its arguments and grid. */
export interface KernelCall {
  section: 'dots' | 'sum_parts' | 'combine' | 'axpy';
  uniforms: Record<string, Scalar>;
  tensors: Record<string, TensorArg>;
  workgroups: number;
}

function instantiate(call: KernelCall) {
  return instantiateKernel(source, { label: `lanczos.${call.section}`, section: call.section, uniforms: call.uniforms, tensors: call.tensors, fills: { WG: `${WG}u` } });
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
}

export class VectorOp {
  private constructor(
    private readonly rt: GpuRuntime,
    private readonly code: string,
    private readonly buffers: GPUBuffer[],
    /** The dispatch to encode; its uniforms are whatever `retarget` last wrote. */
    public dispatch: Dispatch,
  ) {}

  static async create(rt: GpuRuntime, call: KernelCall): Promise<VectorOp> {
    const k = instantiate(call);
    const dispatch = await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [call.workgroups] });
    return new VectorOp(rt, k.kernel.code, k.buffers, dispatch);
  }

  /**
   * The same kernel on the same buffers with new sizes, scalars or offsets, effective from the next submit: encode
   * the op at most once per submitted command buffer, since every use in one buffer sees the last uniforms written.
   */
  retarget(call: KernelCall): void {
    const k = instantiate(call);
    if (k.kernel.code !== this.code || k.buffers.some((b, i) => b !== this.buffers[i])) {
      throw new Error(`${this.dispatch.label}: retargeting must keep the kernel's buffers`);
    }
    this.rt.writeParams(this.dispatch.params!, k.params);
    this.dispatch = { ...this.dispatch, workgroups: [call.workgroups, 1, 1] };
  }
}

/**
 * partials[r * parts + t] for r < rows: the t-th part of <a row r, b> (or <a row r, b row r> when `paired`);
 * `partsFor(n)` parts per row.
 */
export function dotsCall(a: { a: TensorRef; b: TensorRef; partials: TensorRef; n: number; rows: number; paired?: boolean }): KernelCall {
  checkCount('dots: n', a.n);
  checkCount('dots: rows', a.rows);
  const parts = partsFor(a.n);
  return {
    section: 'dots',
    uniforms: { n: u32(a.n), rows: u32(a.rows), parts: u32(parts), bStep: u32(a.paired ? a.n : 0) },
    tensors: { a: read(a.a, a.rows * a.n), b: read(a.b, a.paired ? a.rows * a.n : a.n), partials: write(a.partials, a.rows * parts) },
    workgroups: groups(a.rows * parts, WG),
  };
}

/** out[r] = the sum of row r's `parts` partials, on the GPU in float32. */
export function sumPartsCall(a: { partials: TensorRef; out: TensorRef; rows: number; parts: number }): KernelCall {
  checkCount('sum_parts: rows', a.rows);
  return {
    section: 'sum_parts',
    uniforms: { rows: u32(a.rows), parts: u32(a.parts) },
    tensors: { partials: read(a.partials, a.rows * a.parts), out: write(a.out, a.rows) },
    workgroups: groups(a.rows, WG),
  };
}

/** out[o] = (keep ? out[o] : 0) + sum_r coeff[o * rows + r] * src[r], rows of n elements, o < outRows. */
export function combineCall(a: { src: TensorRef; coeff: TensorRef; out: TensorRef; n: number; rows: number; outRows: number; keep: boolean }): KernelCall {
  checkCount('combine: n', a.n);
  checkCount('combine: rows', a.rows);
  checkCount('combine: outRows', a.outRows);
  return {
    section: 'combine',
    uniforms: { n: u32(a.n), rows: u32(a.rows), outRows: u32(a.outRows), keep: u32(a.keep ? 1 : 0) },
    tensors: { src: read(a.src, a.rows * a.n), coeff: read(a.coeff, a.outRows * a.rows), out: write(a.out, a.outRows * a.n) },
    workgroups: Math.min(MAX_WORKGROUPS, groups(a.n, WG)),
  };
}

/** out = alpha x + beta y over n elements (out may be x or y). */
export function axpyCall(a: { x: TensorRef; y: TensorRef; out: TensorRef; n: number; alpha: number; beta: number }): KernelCall {
  checkCount('axpy: n', a.n);
  return {
    section: 'axpy',
    uniforms: { n: u32(a.n), alpha: f32(a.alpha), beta: f32(a.beta) },
    tensors: { x: read(a.x, a.n), y: read(a.y, a.n), out: write(a.out, a.n) },
    workgroups: Math.min(MAX_WORKGROUPS, groups(a.n, WG)),
  };
}

/**
 * Schedules a read of `rows` rows of partials (as `dots` wrote them for vectors of length n) into `encoder`; after
 * the submit, the returned function resolves to each row's sum, added in float64.
 */
export function scheduleSums(rt: GpuRuntime, encoder: GPUCommandEncoder, partials: TensorRef, n: number, rows: number): () => Promise<Float64Array> {
  const parts = partsFor(n);
  const read = rt.scheduleRead(encoder, partials.buffer, partials.offset * 4, rows * parts * 4);
  return async () => {
    const values = new Float32Array(await read());
    const sums = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let t = 0; t < parts; t++) s += values[r * parts + t];
      sums[r] = s;
    }
    return sums;
  };
}
