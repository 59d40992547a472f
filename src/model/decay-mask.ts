// Which weight decay a run applies (docs/science.md §4), and what that means for the flat parameter buffer:
//   'l2'  (default): AdamW's decoupled decay theta <- theta (1 - lr wd) on every parameter (docs/science.md §1).
//   'lrd' Low-Rank Decay: after each optimiser step, W <- W - rate * polar(W) for the chosen matrices of every
//         attention module (W_Q and W_K unless told otherwise; polar by five Newton-Schulz iterations,
//         src/model/ops/polar.ts); those matrices get no AdamW decay, every other parameter keeps it at the run's
//         weight decay. The rate is absolute (not multiplied by the learning rate) and fixed for the run.
// The AdamW kernel takes the "which elements decay" part as a bit mask over the flat buffer (`decayMask`).
import { attentionModules, type ParamSlice, type ParamTable } from './params';
import { DecayConfig, DecayMask } from '../formats/optim';

/**
 * The matrices Low-Rank Decay updates, in table order: the chosen W_* of every attention module (self-attention
 * and, in a decoder, cross-attention). None under L2 decay.
 */
export function lowRankDecaySlices(table: ParamTable, decay: DecayConfig): ParamSlice[] {
  if (decay.kind === 'l2') return [];
  return attentionModules(table)
    .flatMap((module) => decay.params.map((p) => table.get(`${module}.${p}`)))
    .sort((a, b) => a.offset - b.offset);
}

/** The AdamW decay mask of a decay config: every parameter but the matrices Low-Rank Decay takes over. */
export function decayMask(table: ParamTable, decay: DecayConfig): DecayMask {
  const mask = new Uint32Array(Math.ceil(table.total / 32)).fill(0xffffffff);
  for (const s of lowRankDecaySlices(table, decay)) {
    for (let i = s.offset; i < s.offset + s.size; i++) mask[i >>> 5] &= ~(1 << (i & 31));
  }
  return mask;
}
