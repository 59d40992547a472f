// Multi-head attention on the GPU (shaders/attention.wgsl): a fused forward (scores, masked max-subtracted
// softmax, P V) that also stores the probabilities, and a barrier-free backward in two dispatches producing
// dQ, and then dK and dV; for short sequences (SHORT_SEQUENCE) in one, an invocation per (batch, head) running
// both, bit for bit the same. The float64 oracle is src/reference/attention.ts.
//
// The kernels read Q, K and V through separate windows with their own row strides, and Q and K/V with their own
// lengths (tq, tk). Self-attention fills them from one fused qkv tensor; cross-attention (Q from the decoder, K/V
// from the encoder output) from a q tensor and a fused kv tensor. With QK-norm, Q and K come from the tensors
// the norm wrote (self: one q|k tensor; cross: q and k) while V stays in qkv or kv. Both go through the same two
// dispatch builders.
import source from '../../../shaders/attention.wgsl?raw';
import attentionRow from '../../../shaders/attention_row.wgsl?raw';
import { f32, u32, type Dispatch, type GpuRuntime, type Scalar, type TensorRef } from '../../gpu/runtime';
import { instantiateKernel, read, write, type TensorArg } from '../../gpu/kernel-template';
import { gainSumsHost, gainSumsWorkgroups, type NormGainSums } from './layernorm';

/** What self- and cross-attention share: the heads, the causal flag and the key mask. */
interface Heads {
  /**
   * [batch * tk] u32, 0 = PAD key, hidden from every query. Only the forward reads it: the backward sees every
   * hidden key as an exact 0 in `probs`.
   */
  keyValid?: GPUBuffer;
  batch: number;
  nHeads: number;
  headDim: number;
  causal: boolean;
}

export interface AttentionShape extends Heads {
  seqLen: number;
}

/** Cross-attention: tq decoder queries attend to tk encoder keys (bidirectionally; keyValid masks the source). */
export interface CrossAttentionShape extends Omit<Heads, 'causal'> {
  tq: number;
  tk: number;
}

/**
 * Invocations per workgroup (a multiple of 4; see the decomposition in the .wgsl). No kernel has a barrier or
 * workgroup memory, so the size only sets how the 1-D grid is cut.
 */
const WG = 64;

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/**
 * Queries and keys up to which the backward runs as one dispatch of one invocation per (batch, head) (4: one group of
 * rows, as the two-dispatch kernels hand them out). Longer sequences keep a row or a key per invocation.
 */
export const SHORT_SEQUENCE = 4;

/** Where Q, K, V live and how their rows are laid out; dQ/dK/dV and dOut mirror Q/K/V and out. */
interface Windows {
  tq: number;
  tk: number;
  qStride: number;
  kStride: number;
  vStride: number;
  outStride: number;
  q: TensorRef;
  k: TensorRef;
  v: TensorRef;
}

/** Elements spanned by `rows` rows of `width` values `stride` apart. */
const span = (rows: number, stride: number, width: number) => (rows - 1) * stride + width;

function checkPositive(values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`attention: ${name} must be a positive integer, got ${v}`);
  }
}

const column = (t: TensorRef, c: number): TensorRef => ({ buffer: t.buffer, offset: t.offset + c });

/**
 * Self-attention: Q, K and V are the three column blocks of a fused qkv tensor [batch * seqLen, 3d], or (QK-norm)
 * Q and K the two column blocks of a q|k tensor [batch * seqLen, 2d] and V the third block of qkv.
 */
function selfWindows(qkv: TensorRef, s: AttentionShape, qk?: TensorRef): Windows {
  checkPositive({ batch: s.batch, seqLen: s.seqLen, nHeads: s.nHeads, headDim: s.headDim });
  const d = s.nHeads * s.headDim;
  const [qkSource, qkStride] = qk ? [qk, 2 * d] : [qkv, 3 * d];
  return {
    tq: s.seqLen, tk: s.seqLen, qStride: qkStride, kStride: qkStride, vStride: 3 * d, outStride: d,
    q: column(qkSource, 0), k: column(qkSource, d), v: column(qkv, 2 * d),
  };
}

/**
 * Cross-attention: Q is a [batch * tq, d] tensor, K and V the two column blocks of a fused kv [batch * tk, 2d], or
 * (QK-norm) K a [batch * tk, d] tensor of its own.
 */
function crossWindows(q: TensorRef, kv: TensorRef, s: CrossAttentionShape, k?: TensorRef): Windows {
  checkPositive({ batch: s.batch, tq: s.tq, tk: s.tk, nHeads: s.nHeads, headDim: s.headDim });
  const d = s.nHeads * s.headDim;
  return { tq: s.tq, tk: s.tk, qStride: d, kStride: k ? d : 2 * d, vStride: 2 * d, outStride: d, q, k: k ?? kv, v: column(kv, d) };
}

/** `<name>4(row, c)`: columns c .. c+3 of a head row of q, k, v and dout. */
const HEAD_LOADERS = ['q', 'k', 'v', 'dout']
  .map((n) => {
    const at = (k: number) => `read_${n}(row + col(c${k ? ` + ${k}u` : ''}))`;
    return `fn ${n}4(row: u32, c: u32) -> vec4f {\n  return vec4f(${[0, 1, 2, 3].map(at).join(', ')});\n}`;
  })
  .join('\n');

/** The accessors the shared code of shaders/attention.wgsl calls, and stand-ins for those a section does not bind. */
function absentAccessors(tensors: Record<string, TensorArg>): string {
  const reads = ['q', 'k', 'v', 'dout', 'probs', 'ds'].filter((n) => !tensors[n]).map((n) => `fn read_${n}(i: u32) -> f32 { return 0.0; }`);
  const writes = ['out', 'probs', 'dq', 'ds', 'dk', 'dv'].filter((n) => !tensors[n]?.writes).map((n) => `fn write_${n}(i: u32, v: f32) {}`);
  return [...reads, ...writes].join('\n');
}

/** The tensors of a section, and the fills every section takes. */
function section(name: string, tensors: Record<string, TensorArg>, fills: Record<string, string>) {
  return { label: `attention.${name}`, section: name, tensors, fills: { KEY_VALID: 'return true;', ...fills, WG: `${WG}u`, HEAD_LOADERS, ABSENT_ACCESSORS: absentAccessors(tensors), ATTENTION_ROW: attentionRow } };
}

/** The uniforms both kernels start with, and the element counts of the windows, for the template's bounds check. */

function common(w: Windows, s: Heads) {
  const d = s.nHeads * s.headDim;
  const uniforms: Record<string, Scalar> = {
    batch: u32(s.batch),
    tq: u32(w.tq),
    tk: u32(w.tk),
    n_heads: u32(s.nHeads),
    head_dim: u32(s.headDim),
    scale: f32(1 / Math.sqrt(s.headDim)),
    causal: u32(s.causal ? 1 : 0),
    q_stride: u32(w.qStride),
    k_stride: u32(w.kStride),
    v_stride: u32(w.vStride),
    out_stride: u32(w.outStride),
  };
  const lengths = {
    q: span(s.batch * w.tq, w.qStride, d),
    k: span(s.batch * w.tk, w.kStride, d),
    v: span(s.batch * w.tk, w.vStride, d),
    out: span(s.batch * w.tq, w.outStride, d),
    probs: s.batch * s.nHeads * w.tq * w.tk,
  };
  // Private-array capacities, rounded up so that nearby shapes share a pipeline.
  const fills = { KEY_CAP: `${roundUp(w.tk, 8)}u`, DH_CAP: `${roundUp(s.headDim, 8)}u` };
  // Useful flops per (batch, head, query, key, column), causal masking ignored: forward QK^T and PV (4),
  // backward dP, dQ, dK, dV (8).
  const flopsPerUnit = s.batch * s.nHeads * w.tq * w.tk * s.headDim;
  return { uniforms, lengths, fills, flopsPerUnit };
}

/** The tensors and the body of key_valid(b, j) of the forward through windows `w` (forward_row's). */
function forwardTensors(w: Windows, s: Heads, a: { out: TensorRef; probs: TensorRef }, n: ReturnType<typeof common>['lengths']) {
  const keyValid: Record<string, TensorArg> = s.keyValid ? { key_valid: read({ buffer: s.keyValid, offset: 0 }, s.batch * w.tk, 'u32') } : {};
  const tensors = { q: read(w.q, n.q), k: read(w.k, n.k), v: read(w.v, n.v), ...keyValid, probs: write(a.probs, n.probs), out: write(a.out, n.out) };
  return { tensors, keyValid: s.keyValid ? 'return read_key_valid(b * p.tk + j) != 0u;' : 'return true;' };
}

/** out = softmax(scale Q K^T + masks) V per head, through windows `w`; also writes probs [batch, nHeads, tq, tk]. */
async function forwardDispatch(rt: GpuRuntime, w: Windows, s: Heads, a: { out: TensorRef; probs: TensorRef }): Promise<Dispatch> {
  const { uniforms, lengths: n, fills, flopsPerUnit } = common(w, s);
  const { tensors, keyValid } = forwardTensors(w, s, a, n);
  const k = instantiateKernel(source, { uniforms, ...section('forward', tensors, { ...fills, KEY_VALID: keyValid }) });
  const rows = s.batch * s.nHeads * roundUp(w.tq, 4);
  const d = await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [Math.ceil(rows / WG)] });
  return { ...d, flops: 4 * flopsPerUnit };
}

/**
 * Self-attention's rows as a kernel that computes them for its own use binds them (the fused graph's output projection,
 * shaders/matmul.wgsl): the forward's (forward_row, before the product, whose A is `shared`: the output) or the first
 * half of the backward's (backward_row, after the product, whose C is `shared`: dOut). Its uniforms, tensors (named as
 * shaders/attention.wgsl names them), WGSL (the constants, loaders, key_valid and stand-ins that
 * shaders/attention_row.wgsl needs, and that file) and useful flops; the same bits as the attention kernels.
 */
export interface AttentionRows {
  pass: 'forward' | 'backward';
  /** batch * seqLen rows of d = nHeads * headDim. */
  rows: number;
  d: number;
  shared: 'out' | 'dout';
  uniforms: Record<string, Scalar>;
  tensors: Record<string, TensorArg>;
  code: string;
  flops: number;
}

function attentionRows(pass: AttentionRows['pass'], w: Windows, s: Heads, tensors: Record<string, TensorArg>, keyValid: string): AttentionRows {
  const { uniforms, fills, flopsPerUnit } = common(w, s);
  const code = [
    `const KEY_CAP: u32 = ${fills.KEY_CAP};`,
    `const DH_CAP: u32 = ${fills.DH_CAP};`,
    HEAD_LOADERS,
    absentAccessors(tensors),
    `fn key_valid(b: u32, j: u32) -> bool {\n  ${keyValid}\n}`,
    attentionRow,
  ].join('\n');
  return { pass, rows: s.batch * w.tq, d: s.nHeads * s.headDim, shared: pass === 'forward' ? 'out' : 'dout', uniforms, tensors, code, flops: 4 * flopsPerUnit };
}

/** attentionForward's work, for a product whose A is `out` to compute first (AttentionRows). */
export function attentionForwardRows(a: AttentionShape & { qkv: TensorRef; qk?: TensorRef; out: TensorRef; probs: TensorRef }): AttentionRows {
  const w = selfWindows(a.qkv, a, a.qk);
  const { tensors, keyValid } = forwardTensors(w, a, a, common(w, a).lengths);
  return attentionRows('forward', w, a, tensors, keyValid);
}

/**
 * attentionBackward (two halves, as for a sequence longer than SHORT_SEQUENCE) with its first half (dQ and the scratch
 * scale * dS) left to the product whose C is dOut (AttentionRows, `rows`), and the dispatch of its second (dK, dV),
 * which reads what the first wrote: run after that product. `gainSums` (of a norm whose dy nothing here writes) go
 * into that dispatch too.
 */
export async function attentionBackwardAfterProduct(
  rt: GpuRuntime,
  a: AttentionShape & BackwardInputs & { qkv: TensorRef; dQkv: TensorRef } & NormedQk,
  gainSums?: NormGainSums,
): Promise<{ rows: AttentionRows; keys: Dispatch }> {
  const [w, dw] = [selfWindows(a.qkv, a, a.qk), selfWindows(a.dQkv, a, a.dQk)];
  const halves = backwardHalves(w, dw, common(w, a).lengths, a);
  return { rows: attentionRows('backward', w, a, halves.rows, 'return true;'), keys: await backwardKeys(rt, w, a, halves.keys, gainSums) };
}

/**
 * The tensors of the backward's two halves through windows `w` into `dw`: the query rows' (dQ, and scale * dS into the
 * scratch ds) and the keys' (dK and dV, from that ds).
 */
function backwardHalves(w: Windows, dw: Windows, n: ReturnType<typeof common>['lengths'], a: BackwardInputs) {
  const inputs = { probs: read(a.probs, n.probs), dout: read(a.dOut, n.out) };
  return {
    rows: { k: read(w.k, n.k), v: read(w.v, n.v), ...inputs, dq: write(dw.q, n.q), ds: write(a.ds, n.probs) },
    keys: { q: read(w.q, n.q), ...inputs, ds: read(a.ds, n.probs), dk: write(dw.k, n.k), dv: write(dw.v, n.v) },
  };
}

/**
 * dQ, dK, dV into windows `dw` (laid out like `w`; overwritten, not accumulated) from dOut and the probs the
 * forward stored: two barrier-free dispatches, one invocation per query row (dQ, and scale * dS into the scratch ds)
 * and then one per key (dK, dV); for sequences of at most SHORT_SEQUENCE queries and keys (unless `split`), one
 * dispatch doing both per (batch, head). The gradient windows must not overlap q, k, v, probs, ds or dOut.
 */
async function backwardDispatches(
  rt: GpuRuntime, w: Windows, dw: Windows, s: Heads, a: BackwardInputs & { split?: boolean },
): Promise<Dispatch[]> {
  const { uniforms, lengths: n, fills, flopsPerUnit } = common(w, s);
  const halves = backwardHalves(w, dw, n, a);
  const build = async (name: string, tensors: Record<string, TensorArg>, invocations: number, flops: number): Promise<Dispatch> => {
    const k = instantiateKernel(source, { uniforms, ...section(name, tensors, fills) });
    const d = await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [Math.ceil(invocations / WG)] });
    return { ...d, flops };
  };
  const heads = s.batch * s.nHeads;
  if (!a.split && Math.max(w.tq, w.tk) <= SHORT_SEQUENCE) {
    // Both halves in one dispatch: the rows' tensors, and what the keys' add (ds stays the rows' scratch, written).
    const { q, dk, dv } = halves.keys;
    return [await build('backward_heads', { ...halves.rows, q, dk, dv }, heads, 8 * flopsPerUnit)];
  }
  // dP and dQ in the first, dK and dV in the second.
  return [
    await build('backward_rows', halves.rows, heads * roundUp(w.tq, 4), 4 * flopsPerUnit),
    await backwardKeys(rt, w, s, halves.keys),
  ];
}

/** The backward's second dispatch (backward_keys): dK and dV from the scratch ds the first wrote; `gainSums` too. */
async function backwardKeys(rt: GpuRuntime, w: Windows, s: Heads, tensors: Record<string, TensorArg>, gainSums?: NormGainSums): Promise<Dispatch> {
  const { uniforms, fills, flopsPerUnit } = common(w, s);
  const gains = gainSumsHost(rt.adapter, gainSums);
  const k = instantiateKernel(source, { uniforms, ...section('backward_keys', { ...tensors, ...gains.tensors }, { ...fills, ...gains.fills }) });
  const keyGroups = Math.ceil((s.batch * s.nHeads * roundUp(w.tk, 4)) / WG);
  const d = await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [keyGroups + gainSumsWorkgroups(rt.adapter, gainSums, WG)] });
  return { ...d, flops: 4 * flopsPerUnit };
}

/**
 * What every backward reads besides Q, K and V: dOut, the probs the forward stored, and ds, the scratch [batch, nHeads,
 * tq, tk] (like probs) for scale * dS that its first half writes and its second reads. Put ds beside probs in one buffer,
 * and a dispatch that binds both binds one storage buffer (the fused graph's keys dispatch with a norm's gain sums then
 * fits WebGPU's guaranteed 8).
 */
interface BackwardInputs {
  probs: TensorRef;
  ds: TensorRef;
  dOut: TensorRef;
}

/**
 * Q and K after QK-norm, where the norm wrote them: self-attention reads them from `qk` [batch * seqLen, 2d] and V
 * from qkv, and its backward writes dQ and dK to `dQk` (same layout) and only dV into dQkv. Absent: no QK-norm.
 */
type NormedQk = { qk?: undefined; dQk?: undefined } | { qk: TensorRef; dQk: TensorRef };
/** The same for cross-attention: K after QK-norm in `k` [batch * tk, d] (V still in kv), its gradient in `dK`. */
type NormedK = { k?: undefined; dK?: undefined } | { k: TensorRef; dK: TensorRef };

/**
 * out [batch * seqLen, d] = self-attention over a fused qkv (Q and K from `qk` when given); also writes probs
 * [batch, nHeads, seqLen, seqLen].
 */
export function attentionForward(
  rt: GpuRuntime,
  a: AttentionShape & { qkv: TensorRef; qk?: TensorRef; out: TensorRef; probs: TensorRef },
): Promise<Dispatch> {
  return forwardDispatch(rt, selfWindows(a.qkv, a, a.qk), a, a);
}

/**
 * dQkv [batch * seqLen, 3d] (dQ, dK, dV in the qkv layout, or with `qk` dQ and dK into dQk and dV into dQkv;
 * overwritten, not accumulated) from dOut [batch * seqLen, d] and the probs the forward stored. The gradient
 * tensors must not overlap qkv, qk, probs, ds or dOut. `split`: two dispatches even for a short sequence.
 */
export function attentionBackward(
  rt: GpuRuntime,
  a: AttentionShape & BackwardInputs & { qkv: TensorRef; dQkv: TensorRef; split?: boolean } & NormedQk,
): Promise<Dispatch[]> {
  return backwardDispatches(rt, selfWindows(a.qkv, a, a.qk), selfWindows(a.dQkv, a, a.dQk), a, a);
}

/**
 * out [batch * tq, d] = cross-attention of q [batch * tq, d] over kv [batch * tk, 2d] (K from `k` when given);
 * probs [batch, nHeads, tq, tk].
 */
export function crossAttentionForward(
  rt: GpuRuntime,
  a: CrossAttentionShape & { q: TensorRef; kv: TensorRef; k?: TensorRef; out: TensorRef; probs: TensorRef },
): Promise<Dispatch> {
  return forwardDispatch(rt, crossWindows(a.q, a.kv, a, a.k), { ...a, causal: false }, a);
}

/**
 * dQ [batch * tq, d] and dKv [batch * tk, 2d] (with `k`: dK into dK [batch * tk, d] and only dV into dKv;
 * overwritten, not accumulated) from dOut [batch * tq, d] and the probs the forward stored. The gradient tensors
 * must not overlap each other, q, kv, k, probs, ds or dOut.
 */
export function crossAttentionBackward(
  rt: GpuRuntime,
  a: CrossAttentionShape & BackwardInputs & { q: TensorRef; kv: TensorRef; dQ: TensorRef; dKv: TensorRef; split?: boolean } & NormedK,
): Promise<Dispatch[]> {
  return backwardDispatches(rt, crossWindows(a.q, a.kv, a, a.k), crossWindows(a.dQ, a.dKv, a, a.dK), { ...a, causal: false }, a);
}
