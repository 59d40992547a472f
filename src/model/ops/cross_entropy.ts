// Fused softmax + cross-entropy + dlogits (shaders/cross_entropy.wgsl). One dispatch per step writes the
// per-row losses and dlogits; nScored is counted in the kernel, so the dispatch is replayed unchanged
// across batches with different padding. The caller sums `losses` in float64 and divides by nScored.
import source from '../../../shaders/cross_entropy.wgsl?raw';
import { f32, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';

const kernel = { label: 'cross_entropy', code: source };

/** One thread per row: must equal WG in cross_entropy.wgsl. */
const ROWS_PER_WORKGROUP = 64;

export function crossEntropy(
  rt: GpuRuntime,
  a: { logits: TensorRef; targets: GPUBuffer; losses: TensorRef; dLogits: TensorRef; rows: number; classes: number; lossScale?: number },
): Promise<Dispatch> {
  const { logits, targets, losses, dLogits, rows, classes, lossScale = 1 } = a;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new Error(`crossEntropy: rows and classes must be positive integers, got ${rows} x ${classes}`);
  }
  // A buffer written by the kernel cannot share a dispatch with another binding of itself (WebGPU aliasing rule).
  const buffers = [logits.buffer, targets, losses.buffer, dLogits.buffer];
  if (new Set(buffers).size !== buffers.length) {
    throw new Error('crossEntropy: logits, targets, losses and dLogits must live in four distinct buffers');
  }
  return rt.dispatch(kernel, {
    params: [u32(rows), u32(classes), u32(logits.offset), u32(losses.offset), u32(dLogits.offset), f32(lossScale)],
    buffers,
    workgroups: [groups(rows, ROWS_PER_WORKGROUP)],
  });
}
