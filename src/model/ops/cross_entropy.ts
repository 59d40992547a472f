// Fused softmax + cross-entropy + dlogits (shaders/cross_entropy.wgsl). One dispatch per step writes the
// per-row losses and dlogits; nScored is counted in the kernel, so the dispatch is replayed unchanged
// across batches with different padding. The caller sums `losses` in float64 and divides by nScored.
// With `head` (the fused graph) the same dispatch first computes the logits of the Linear head itself, and with
// the head's `norm` the model's final norm of the head's input too.
import source from '../../../shaders/cross_entropy.wgsl?raw';
import { at, f32, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { instantiateKernel, read, standIns, write, type StandIn, type TensorArg } from '../../gpu/kernel-template';
import { NORM_ROW_ACCESSORS, normRowFills, type LayerNormKernel } from './layernorm';
import { NORM_EPS } from '../config';

/** cross_entropy.wgsl's WG: rows per workgroup with one thread per row, invocations per input row when grouped. */
const WG = 64;

/**
 * How the kernel spreads its work (shaders/cross_entropy.wgsl): one thread per row, or with the head on GPUs one
 * workgroup per input row (a thread per row would loop over every class's inputs, thousands of dependent loads).
 */
export type CrossEntropyLayout = 'thread-per-row' | 'workgroup-per-input';

/** The head's sizes that decide the layout, and the limits they must fit. */
type HeadShape = { inputs: number; heads: number; inputRows: number };
type GroupLimits = Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize' | 'maxComputeWorkgroupsPerDimension'>;

/** GPUs group a head's work where the workgroup's copy of an input row and its task heads fit. */
function chooseLayout(adapter: { isSoftware: boolean }, limits: GroupLimits, head: HeadShape | undefined): CrossEntropyLayout {
  return !adapter.isSoftware && head && groupedFits(limits, head) ? 'workgroup-per-input' : 'thread-per-row';
}

/** The grouped kernel's workgroup memory: the input row, each task head's softmax sums (WG), lane_sum's and the count. */
function groupedFits(limits: GroupLimits, head: HeadShape): boolean {
  const bytes = head.inputs * 4 + WG * 8 + WG * 8 + 4;
  return head.heads <= WG && head.inputRows <= limits.maxComputeWorkgroupsPerDimension && bytes <= limits.maxComputeWorkgroupStorageSize;
}

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
  /** The input is this norm of the residual stream at the readout positions, computed here and written to `input`. */
  norm?: HeadNorm;
}

/**
 * The model's final norm (shaders/cross_entropy.wgsl, NORM) of x [batch * seqLen, inputs] at positions [start,
 * start + count) of each sequence, the head's input rows in order; gamma (and beta) [inputs]; it writes the input,
 * rstd (and mean) [batch * seqLen] at the rows it normalises, as normForward with that window would.
 */
export type HeadNorm = { x: TensorRef; gamma: TensorRef; rstd: TensorRef; seqLen: number; start: number; count: number; kernel?: LayerNormKernel } & (
  | { kind: 'layer'; beta: TensorRef; mean: TensorRef }
  | { kind: 'rms' }
);

/** Every accessor a variant may call, with the stand-in a variant that binds no such tensor gets. */
const ACCESSORS: StandIn[] = [
  { signature: 'read_head_in(i: u32) -> f32', tensor: 'head_in', body: 'return 0.0;' },
  { signature: 'write_head_in(i: u32, v: f32)', tensor: 'head_in', body: '' },
  { signature: 'read_w(i: u32) -> f32', tensor: 'w', body: 'return 0.0;' },
  { signature: 'read_bias(i: u32) -> f32', tensor: 'bias', body: 'return 0.0;' },
  { signature: 'write_logits(i: u32, v: f32)', tensor: 'logits', body: '' },
  ...NORM_ROW_ACCESSORS,
];

export function crossEntropy(
  rt: GpuRuntime,
  a: {
    logits: TensorRef; targets: GPUBuffer; losses: TensorRef; dLogits: TensorRef; rows: number; classes: number; lossScale?: number; head?: CrossEntropyHead;
    /** Overrides the adapter-based choice (tests). */
    layout?: CrossEntropyLayout;
  },
): Promise<Dispatch> {
  const { rows, classes, lossScale = 1, head } = a;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new Error(`crossEntropy: rows and classes must be positive integers, got ${rows} x ${classes}`);
  }
  if (head && !(Number.isInteger(head.heads) && head.heads >= 1 && rows % head.heads === 0 && Number.isInteger(head.inputs) && head.inputs >= 1)) {
    throw new Error(`crossEntropy: a head of ${head.heads} task heads and ${head.inputs} inputs does not fit ${rows} rows`);
  }
  const norm = head?.norm;
  if (norm && !(Number.isInteger(norm.seqLen) && Number.isInteger(norm.start) && Number.isInteger(norm.count) && norm.start >= 0 && norm.count >= 1 &&
    norm.start + norm.count <= norm.seqLen && (rows / head.heads) % norm.count === 0)) {
    throw new Error(`crossEntropy: a final norm of positions [${norm.start}, ${norm.start + norm.count}) of ${norm.seqLen} does not fit ${rows / head!.heads} input rows`);
  }
  const inputRows = head ? rows / head.heads : 0;
  const headShape: HeadShape | undefined = head && { inputs: head.inputs, heads: head.heads, inputRows };
  const layout = a.layout ?? chooseLayout(rt.adapter, rt.limits, headShape);
  const grouped = layout === 'workgroup-per-input';
  if (grouped && !(headShape && groupedFits(rt.limits, headShape))) {
    throw new Error(`crossEntropy: one workgroup per input row needs the head, at most ${WG} task heads and an input row in workgroup memory`);
  }
  const xRows = norm ? (inputRows / norm.count) * norm.seqLen : 0;
  const tensors: Record<string, TensorArg | undefined> = {
    ...(head && {
      head_in: norm ? write(head.input, inputRows * head.inputs) : read(head.input, inputRows * head.inputs),
      w: read(head.w, head.heads * classes * head.inputs),
      bias: read(head.bias, head.heads * classes),
    }),
    ...(norm && {
      x: read(norm.x, xRows * head!.inputs),
      gamma: read(norm.gamma, head!.inputs),
      beta: norm.kind === 'layer' ? read(norm.beta, head!.inputs) : undefined,
      mean: norm.kind === 'layer' ? write(norm.mean, xRows) : undefined,
      rstd: write(norm.rstd, xRows),
    }),
    logits: head ? write(a.logits, rows * classes) : read(a.logits, rows * classes),
    targets: read(at(a.targets), rows, 'u32'),
    losses: write(a.losses, rows),
    d_logits: write(a.dLogits, rows * classes),
  };
  const bound = Object.fromEntries(Object.entries(tensors).filter((e): e is [string, TensorArg] => e[1] !== undefined));
  const k = instantiateKernel(source, {
    label: `${norm ? `cross_entropy.head.${norm.kind}norm` : head ? 'cross_entropy.head' : 'cross_entropy'}${grouped ? '.grouped' : ''}`,
    uniforms: {
      rows: u32(rows), classes: u32(classes), lossScale: f32(lossScale), heads: u32(head?.heads ?? 1), k_dim: u32(head?.inputs ?? 0),
      eps: f32(NORM_EPS), seq_len: u32(norm?.seqLen ?? 0), start: u32(norm?.start ?? 0), count: u32(norm?.count ?? 1),
    },
    tensors: bound,
    fills: {
      HEAD: String(!!head), NORM: String(!!norm), SHARED_INPUT: String((head?.heads ?? 1) > 1), GROUPED: String(grouped), INPUTS: `${grouped ? head!.inputs : 1}u`,
      STAND_INS: standIns(tensors, ACCESSORS), ...normRowFills(rt.adapter, norm?.kind ?? 'layer', norm?.kernel),
    },
  });
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [grouped ? inputRows : groups(rows, WG)] });
}
