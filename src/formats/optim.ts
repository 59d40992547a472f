// The optimiser's settings as plain data, with their ranges: AdamW's hyperparameters (PyTorch semantics) and the
// weight decay a run applies (docs/science.md §4):
//   'l2'  (default): AdamW's decoupled decay theta <- theta (1 - lr wd) on every parameter (docs/science.md §1).
//   'lrd' Low-Rank Decay: after each optimiser step, W <- W - rate * polar(W) for the chosen matrices of every
//         attention module (W_Q and W_K unless told otherwise; polar by five Newton-Schulz iterations,
//         src/model/ops/polar.ts); those matrices get no AdamW decay, every other parameter keeps it at the run's
//         weight decay. The rate is absolute (not multiplied by the learning rate) and fixed for the run.
// The AdamW kernel takes the "which elements decay" part as a bit mask over the flat buffer (DecayMask, built by
// src/model/decay-mask.ts).
import { ConfigError } from './model-config';

export interface OptimConfig {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global grad-norm clipping threshold (PyTorch clip_grad_norm_). */
  clipNorm: number;
}

export function validateOptimConfig(o: OptimConfig): void {
  const finite = (field: keyof OptimConfig, min: number, minInclusive: boolean) => {
    const v = o[field];
    if (!Number.isFinite(v)) throw new ConfigError(field, `must be a finite number, got ${v}`);
    if (minInclusive ? v < min : v <= min) throw new ConfigError(field, `must be ${minInclusive ? '>=' : '>'} ${min}, got ${v}`);
  };
  finite('lr', 0, true);
  finite('weightDecay', 0, true);
  finite('eps', 0, false);
  finite('clipNorm', 0, false);
  for (const field of ['beta1', 'beta2'] as const) {
    finite(field, 0, true);
    if (o[field] >= 1) throw new ConfigError(field, `must be < 1, got ${o[field]}`);
  }
}

export type HyperParams = Pick<OptimConfig, 'lr' | 'weightDecay'>;

export type DecayKind = 'l2' | 'lrd';

export const DECAY_KINDS: readonly DecayKind[] = ['l2', 'lrd'];

/** The attention matrices Low-Rank Decay can act on, by their name in the parameter table (in every module). */
export type LrdParam = 'wq' | 'wk' | 'wv' | 'wo';

export const LRD_PARAMS: readonly LrdParam[] = ['wq', 'wk', 'wv', 'wo'];

export const DEFAULT_LRD_PARAMS: readonly LrdParam[] = ['wq', 'wk'];

export type DecayConfig = { kind: 'l2' } | { kind: 'lrd'; rate: number; params: LrdParam[] };

export const L2_DECAY: DecayConfig = { kind: 'l2' };

/** A run's decay: the configured one, or L2 for configurations written before the option existed. */
export const decayOf = (config: { decay?: DecayConfig }): DecayConfig => config.decay ?? L2_DECAY;

export function validateDecayConfig(d: DecayConfig): void {
  if (!DECAY_KINDS.includes(d.kind)) throw new ConfigError('decay', `must be one of ${DECAY_KINDS.join(', ')}, got ${String(d.kind)}`);
  if (d.kind === 'l2') return;
  if (!Number.isFinite(d.rate) || d.rate < 0) throw new ConfigError('lrdRate', `must be a finite number >= 0, got ${d.rate}`);
  if (!Array.isArray(d.params) || d.params.length === 0) throw new ConfigError('lrdParams', 'must name at least one matrix');
  for (const p of d.params) {
    if (!LRD_PARAMS.includes(p)) throw new ConfigError('lrdParams', `unknown matrix "${String(p)}"; choose from ${LRD_PARAMS.join(', ')}`);
  }
  if (new Set(d.params).size !== d.params.length) throw new ConfigError('lrdParams', `names a matrix twice: ${d.params.join(', ')}`);
}

/** Bit i of the mask (word i >> 5, bit i & 31) is set when AdamW decays parameter i (bits past the last parameter are unused). */
export type DecayMask = Uint32Array;

/** Whether the mask decays parameter i. */
export const decays = (mask: DecayMask, i: number): boolean => ((mask[i >>> 5] >>> (i & 31)) & 1) === 1;
