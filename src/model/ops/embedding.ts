// Token + position embedding dispatches (shaders/embedding.wgsl). Token ids >= vocab contribute nothing
// and receive no gradient.
import source from '../../../shaders/embedding.wgsl?raw';
import { at, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { instantiateKernel, read, write, type KernelSpec } from '../../gpu/kernel-template';
import { gainSumsHost, gainSumsWorkgroups, type NormGainSums } from './layernorm';

const WG = 64;

function embeddingSource(spec: Omit<KernelSpec, 'fills'>, fills: Record<string, string> = {}) {
  return instantiateKernel(source, { ...spec, fills: { WG: `${WG}u`, ...fills } });
}

/**
 * out[b*T + t, :] = tokEmb[tokens[b*T + t], :] + posEmb[t, :]. `vocab` (the rows of tokEmb) bounds the ids
 * the kernel looks up; without it, every row that fits in tokEmb's buffer counts as a token row.
 */
export function embeddingForward(
  rt: GpuRuntime,
  a: { tokens: GPUBuffer; tokEmb: TensorRef; posEmb: TensorRef; out: TensorRef; batch: number; seqLen: number; d: number; vocab?: number },
): Promise<Dispatch> {
  const { batch, seqLen, d } = a;
  const vocab = a.vocab ?? Math.floor((a.tokEmb.buffer.size / 4 - a.tokEmb.offset) / d);
  const k = embeddingSource({
    label: 'embedding.forward',
    section: 'forward',
    uniforms: { seq_len: u32(seqLen), d: u32(d), vocab: u32(vocab) },
    tensors: {
      tokens: read(at(a.tokens), batch * seqLen, 'u32'),
      tok_emb: read(a.tokEmb, vocab * d),
      pos_emb: read(a.posEmb, seqLen * d),
      emb: write(a.out, batch * seqLen * d),
    },
  });
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [Math.ceil(d / WG), batch * seqLen] });
}

/**
 * The backward's view of a batch's tokens (shaders/embedding.wgsl): offsets [vocab + 1], then the positions holding
 * each token v < vocab, token by token, each in increasing order (a stable counting sort); ids >= vocab are left out.
 * [vocab + 1 + tokens.length] u32, the tail past the listed positions zero.
 */
export function tokenOrder(tokens: Uint32Array, vocab: number): Uint32Array {
  const order = new Uint32Array(tokenOrderLength(tokens.length, vocab));
  for (const t of tokens) if (t < vocab) order[t + 1] += 1;
  for (let v = 0; v < vocab; v++) order[v + 1] += order[v];
  const next = order.slice(0, vocab);
  tokens.forEach((t, n) => {
    if (t < vocab) order[vocab + 1 + next[t]++] = n;
  });
  return order;
}

export function tokenOrderLength(positions: number, vocab: number): number {
  return vocab + 1 + positions;
}

/** Threads that share each sum of the backward (SUM_LANES, a power of two up to WG). */
export type SumLanes = 1 | 2 | 4 | 8 | 16 | 32 | 64;

/**
 * The backward's lanes on this adapter: one on a software adapter, where a barrier-synchronised workgroup is dear;
 * 16 on GPUs, where one thread's chain of dependent loads over a Dyck token's ~600 positions or a modarith position's
 * batch of 512 would set the dispatch's time.
 */
export const chooseSumLanes = (adapter: { isSoftware: boolean }): SumLanes => (adapter.isSoftware ? 1 : 16);

/**
 * dTok[v, :] = sum of dOut over the positions holding token v (v < vocab), in increasing order of position; dPos[t, :]
 * = sum over the batch of dOut[b*T + t, :] (t < seqLen; later rows of dPos are left as they are). Written, not
 * accumulated. The tokens come as `tokenOrder` of them. With `gainSums` (of a norm of batch * seqLen rows of d),
 * those too. `sumLanes` overrides the adapter's (tests): each sum is split over that many lanes, then a tree.
 */
export function embeddingBackward(
  rt: GpuRuntime,
  a: { tokenOrder: GPUBuffer; dOut: TensorRef; dTok: TensorRef; dPos: TensorRef; batch: number; seqLen: number; d: number; vocab: number; gainSums?: NormGainSums; sumLanes?: SumLanes },
): Promise<Dispatch> {
  const { batch, seqLen, d, vocab, gainSums } = a;
  const sumLanes = a.sumLanes ?? chooseSumLanes(rt.adapter);
  if (gainSums && (gainSums.rows !== batch * seqLen || gainSums.d !== d || gainSums.window)) throw new Error(`embedding: gain sums of ${gainSums.rows} x ${gainSums.d} beside ${batch * seqLen} rows of ${d}`);
  const gains = gainSumsHost(rt.adapter, gainSums);
  const k = embeddingSource({
    label: 'embedding.backward',
    section: 'backward',
    uniforms: { batch: u32(batch), seq_len: u32(seqLen), d: u32(d), vocab: u32(vocab) },
    tensors: {
      token_order: read(at(a.tokenOrder), tokenOrderLength(batch * seqLen, vocab), 'u32'),
      d_out: read(a.dOut, batch * seqLen * d),
      d_tok: write(a.dTok, vocab * d),
      d_pos: write(a.dPos, seqLen * d),
      ...gains.tensors,
    },
  }, { ...gains.fills, SUM_LANES: `${sumLanes}u` });
  const columnGroups = Math.ceil(d / (WG / sumLanes));
  const gainRows = Math.ceil(gainSumsWorkgroups(rt.adapter, gainSums, WG) / columnGroups);
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [columnGroups, vocab + seqLen + gainRows] });
}
