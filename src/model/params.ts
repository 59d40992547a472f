// The parameter table: every parameter lives in one flat float32 buffer (gradients and the two Adam
// moments use the same layout), described by named slices with shapes, as in llm.c.
//
// Layout, in order (weights are [out, in] row-major, as torch.nn.Linear stores them), for the model's stacks
// (src/model/config.ts: modelStacks; S is a stack's name prefix: '' for the encoder-only model, 'encoder.'
// and 'decoder.' for the encoder-decoder model):
//   theta_attn  for each stack S, for each layer l:  S.layers.l.attn.wq, wk, wv, wo     (each dModel x dModel)
//                                   and in a decoder: S.layers.l.cross.wq, wk, wv, wo
//               -> one contiguous slice (encoder self-attention, then decoder layer by layer: self, cross);
//               wq|wk|wv of an attention module together are its fused [3d, d] in_proj weight
//   for each stack S:
//     S.tok_emb  [vocabSize, dModel]
//     S.pos_emb  [maxPositions, dModel]
//     for each layer l: ln1.g, ln1.b, attn.bqkv [3d], attn.bo, [attn.q_norm.g, attn.k_norm.g],
//                       (decoder) ln_cross.g, ln_cross.b, cross.bqkv [3d], cross.bo, [cross.q_norm.g, cross.k_norm.g],
//                       ln2.g, ln2.b, mlp.w1 [dFF, d], mlp.b1, mlp.w2 [d, dFF], mlp.b2
//     S.lnf.g, S.lnf.b
//   head.w [taskHeads * nClasses, dModel], head.b
// The architecture options (src/model/config.ts) only remove or add slices, so the defaults keep this layout:
// with norm 'rms' there is no `.b` of any norm (ln1, ln_cross, ln2, lnf); with qkNorm each attention module has
// its q and k gains [headDim] (ones) after its `bo`, adjacent, so q_norm.g with 2 headDim floats is the gain
// vector pair the QK-norm kernel reads.
import { hasQkNorm, headDim, modelStacks, normKind, taskHeadCount, validateModelConfig } from './config';
import type { AnyModelConfig } from '../formats/model-config';
import { Rng } from '../util/random';

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; bound: number };

export interface ParamSlice {
  name: string;
  shape: number[];
  /** Offset in floats into the flat buffer. */
  offset: number;
  size: number;
  init: Init;
}

export interface ParamTable {
  slices: ParamSlice[];
  /** Total number of parameters (the flat buffer's length). */
  total: number;
  /** theta_attn: every attention module's W_Q, W_K, W_V, W_O, contiguous at the start of the buffer. */
  attn: { offset: number; size: number };
  get(name: string): ParamSlice;
}

/** PyTorch's kaiming_uniform_(a=sqrt 5) for a Linear weight and its bias: both U(-1/sqrt(fan_in), +). */
function linearBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}

export function buildParamTable(config: AnyModelConfig): ParamTable {
  validateModelConfig(config);
  const { dModel: d, dFF, nClasses } = config;
  const stacks = modelStacks(config);
  const slices: ParamSlice[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: Init) => {
    const size = shape.reduce((a, b) => a * b, 1);
    slices.push({ name, shape, offset, size, init });
    offset += size;
  };
  const layerPrefixes = (s: (typeof stacks)[number]) => Array.from({ length: s.nLayers }, (_, l) => `${s.prefix}layers.${l}`);
  // A LayerNorm's gain and bias, or an RMSNorm's gain.
  const centred = normKind(config) === 'layer';
  const addNorm = (name: string) => {
    add(`${name}.g`, [d], { kind: 'ones' });
    if (centred) add(`${name}.b`, [d], { kind: 'zeros' });
  };
  const qkNorm = hasQkNorm(config);
  const dh = headDim(config);

  // The fused in_proj weight [3d, d] is xavier-uniform: bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 4d).
  const qkvBound = Math.sqrt(6 / (d + 3 * d));
  for (const stack of stacks) {
    for (const L of layerPrefixes(stack)) {
      for (const module of stack.cross ? ['attn', 'cross'] : ['attn']) {
        for (const w of ['wq', 'wk', 'wv'] as const) add(`${L}.${module}.${w}`, [d, d], { kind: 'uniform', bound: qkvBound });
        add(`${L}.${module}.wo`, [d, d], { kind: 'uniform', bound: linearBound(d) });
      }
    }
  }
  const attn = { offset: 0, size: offset };

  for (const stack of stacks) {
    add(`${stack.prefix}tok_emb`, [stack.vocabSize, d], { kind: 'normal', std: 1 });
    add(`${stack.prefix}pos_emb`, [stack.maxPositions, d], { kind: 'normal', std: config.posInitStd });
    for (const L of layerPrefixes(stack)) {
      for (const [ln, module] of stack.cross ? [['ln1', 'attn'], ['ln_cross', 'cross']] : [['ln1', 'attn']]) {
        addNorm(`${L}.${ln}`);
        add(`${L}.${module}.bqkv`, [3 * d], { kind: 'zeros' });
        add(`${L}.${module}.bo`, [d], { kind: 'zeros' });
        if (qkNorm) {
          add(`${L}.${module}.q_norm.g`, [dh], { kind: 'ones' });
          add(`${L}.${module}.k_norm.g`, [dh], { kind: 'ones' });
        }
      }
      addNorm(`${L}.ln2`);
      add(`${L}.mlp.w1`, [dFF, d], { kind: 'uniform', bound: linearBound(d) });
      add(`${L}.mlp.b1`, [dFF], { kind: 'uniform', bound: linearBound(d) });
      add(`${L}.mlp.w2`, [d, dFF], { kind: 'uniform', bound: linearBound(dFF) });
      add(`${L}.mlp.b2`, [d], { kind: 'uniform', bound: linearBound(dFF) });
    }
    addNorm(`${stack.prefix}lnf`);
  }
  // Multitask: the task heads stacked, head h in rows h * nClasses .. (h + 1) * nClasses - 1.
  const headOutputs = nClasses * taskHeadCount(config);
  add('head.w', [headOutputs, d], { kind: 'uniform', bound: linearBound(d) });
  add('head.b', [headOutputs], { kind: 'uniform', bound: linearBound(d) });

  const byName = new Map(slices.map((s) => [s.name, s]));
  return {
    slices,
    total: offset,
    attn,
    get(name) {
      const s = byName.get(name);
      if (!s) throw new Error(`no parameter named ${name}`);
      return s;
    },
  };
}

/** Draws initial parameters from the table's init specs with a seeded generator (slices in table order). */
export function initParams(table: ParamTable, seed: number): Float32Array {
  const rng = Rng.derive(seed, 'init');
  const out = new Float32Array(table.total);
  for (const s of table.slices) {
    const view = out.subarray(s.offset, s.offset + s.size);
    const init = s.init;
    switch (init.kind) {
      case 'zeros':
        break;
      case 'ones':
        view.fill(1);
        break;
      case 'normal':
        for (let i = 0; i < view.length; i++) view[i] = rng.normal() * init.std;
        break;
      case 'uniform':
        for (let i = 0; i < view.length; i++) view[i] = (2 * rng.uniform() - 1) * init.bound;
        break;
    }
  }
  return out;
}

/**
 * The named slice of a flat array in the table's layout (params, grads or moments, any precision).
 * `size` extends the view past the slice, e.g. `layers.0.attn.wq` with 3 d^2 floats is the fused QKV weight.
 */
export function paramView<T extends Float32Array | Float64Array>(table: ParamTable, flat: T, name: string, size?: number): T {
  const s = table.get(name);
  return flat.subarray(s.offset, s.offset + (size ?? s.size)) as T;
}

/**
 * The name prefix of every attention module, in theta_attn's order (e.g. 'layers.0.attn', 'decoder.layers.1.cross'):
 * its projections are the slices `${prefix}.wq`, `.wk`, `.wv` and `.wo`.
 */
export function attentionModules(table: ParamTable): string[] {
  return table.slices.filter((s) => s.name.endsWith('.wq')).map((s) => s.name.slice(0, -'.wq'.length));
}
