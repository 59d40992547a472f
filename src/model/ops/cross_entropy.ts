// Fused softmax + cross-entropy + dlogits (shaders/cross_entropy.wgsl). One dispatch per step writes the
// per-row losses and dlogits; nScored is counted in the kernel, so the dispatch is replayed unchanged
// across batches with different padding. The caller sums `losses` in float64 and divides by nScored.
// With `head` (the fused graph) the same dispatch first computes the logits of the Linear head itself.
import source from '../../../shaders/cross_entropy.wgsl?raw';
import { at, f32, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { instantiateKernel, read, write } from '../../gpu/kernel-template';

/** One thread per row: must equal WG in cross_entropy.wgsl. */
const ROWS_PER_WORKGROUP = 64;

/**
 * The Linear head whose logits the kernel computes: logits[r, c] = input[r / heads] . w[(r % heads) * classes + c]
 * + bias[(r % heads) * classes + c], input [rows / heads, inputs], w [heads * classes, inputs] (task heads side by
 * side), bias [heads * classes]; the same bits as the matmul kernels' forward of that head.
 */
export interface CrossEntropyHead {
  input: TensorRef;
  w: TensorRef;
  bias: TensorRef;
  inputs: number;
  heads: number;
}

const NO_HEAD = [
  'fn read_head_in(i: u32) -> f32 { return 0.0; }',
  'fn read_w(i: u32) -> f32 { return 0.0; }',
  'fn read_bias(i: u32) -> f32 { return 0.0; }',
  'fn write_logits(i: u32, v: f32) {}',
].join('\n');

export function crossEntropy(
  rt: GpuRuntime,
  a: { logits: TensorRef; targets: GPUBuffer; losses: TensorRef; dLogits: TensorRef; rows: number; classes: number; lossScale?: number; head?: CrossEntropyHead },
): Promise<Dispatch> {
  const { rows, classes, lossScale = 1, head } = a;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new Error(`crossEntropy: rows and classes must be positive integers, got ${rows} x ${classes}`);
  }
  if (head && !(Number.isInteger(head.heads) && head.heads >= 1 && rows % head.heads === 0 && Number.isInteger(head.inputs) && head.inputs >= 1)) {
    throw new Error(`crossEntropy: a head of ${head.heads} task heads and ${head.inputs} inputs does not fit ${rows} rows`);
  }
  const headTensors = head && {
    head_in: read(head.input, (rows / head.heads) * head.inputs),
    w: read(head.w, head.heads * classes * head.inputs),
    bias: read(head.bias, head.heads * classes),
  };
  const k = instantiateKernel(source, {
    label: head ? 'cross_entropy.head' : 'cross_entropy',
    uniforms: { rows: u32(rows), classes: u32(classes), lossScale: f32(lossScale), heads: u32(head?.heads ?? 1), k_dim: u32(head?.inputs ?? 0) },
    tensors: {
      ...headTensors,
      logits: head ? write(a.logits, rows * classes) : read(a.logits, rows * classes),
      targets: read(at(a.targets), rows, 'u32'),
      losses: write(a.losses, rows),
      d_logits: write(a.dLogits, rows * classes),
    },
    fills: { HEAD: String(!!head), HEAD_ACCESSORS: head ? '' : NO_HEAD },
  });
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [groups(rows, ROWS_PER_WORKGROUP)] });
}
