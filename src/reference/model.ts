// The float64 reference transformer: the same pre-LN model, parameter layout and batch format as the GPU
// engine, written for clarity from the per-layer oracles. It is the oracle for every GPU gradient test.
// Both model kinds run as a list of stacks (src/model/config.ts: modelStacks):
//
//   x = tok_emb[tokens] + pos_emb[t]
//   per layer:  x = x + Wo . attention(LN1(x) Wqkv^T + bqkv) + bo                   (causal in a decoder)
//               x = x + Wo' . attention(LN_cross(x) Wq'^T + bq', memory Wkv'^T + bkv') + bo'   (decoder only)
//               x = x + W2 . gelu(W1 . LN2(x) + b1) + b2
//   stack output = LNf(x); a decoder's memory is the encoder stack's output
//   logits = head(last stack's output at the readout positions); loss = mean cross-entropy over scored targets
//   (multitask: the sum over task heads of each head's mean)
// Architecture options (src/model/config.ts): with norm 'rms' every LN above is an RMSNorm; with qkNorm every
// attention RMS-normalises each head of q (and of k) with the gain q_norm.g (k_norm.g) before its dot products.
import { hasQkNorm, headDim, modelStacks, normKind, taskHeadCount, type StackSpec } from '../model/config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { keyValidMask, stackLengths, stackTokens, type Batch } from '../model/batch';
import { paramView, type ParamTable } from '../model/params';
import { embeddingBackward, embeddingForward } from './embedding';
import { headRmsNormBackward, headRmsNormForward, layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward, type HeadColumns } from './layernorm';
import { gelu, geluBackward, linearBackward, linearForward } from './linear';
import { attentionBackward, attentionForward, crossAttentionBackward, crossAttentionForward } from './attention';
import { crossEntropy } from './cross_entropy';
import { gatherRows, scatterRows } from './rows';

export interface ReferenceResult {
  loss: number;
  logits: Float64Array;
  /** Gradient of the loss in the flat parameter layout. */
  grad: Float64Array;
}

function addInto(dst: Float64Array, src: Float64Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

/** The model, the batch size and named views of the flat parameters. */
interface Context {
  config: AnyModelConfig;
  batch: number;
  p: (name: string, size?: number) => Float64Array;
}

/** A stack's output as the next stack's cross-attention reads it. */
interface Memory {
  y: Float64Array;
  seqLen: number;
  keyValid: Uint32Array | null;
}

type Grads = (name: string, size?: number) => Float64Array;

/** The model's norm `name` (LayerNorm with name.g and name.b, or RMSNorm with name.g) of a [rows, d] array. */
function normForward(ctx: Context, name: string, x: Float64Array, rows: number) {
  const d = ctx.config.dModel;
  if (normKind(ctx.config) === 'rms') return { ...rmsNormForward(x, ctx.p(`${name}.g`), rows, d), mean: null };
  return layerNormForward(x, ctx.p(`${name}.g`), ctx.p(`${name}.b`), rows, d);
}

type NormTape = ReturnType<typeof normForward>;

/** Backward of normForward: writes the norm's parameter gradients and returns dx. */
function normBackward(ctx: Context, name: string, dy: Float64Array, x: Float64Array, t: NormTape, rows: number, g: Grads): Float64Array {
  const d = ctx.config.dModel;
  if (!t.mean) {
    const r = rmsNormBackward(dy, x, ctx.p(`${name}.g`), t.rstd, rows, d);
    g(`${name}.g`).set(r.dg);
    return r.dx;
  }
  const r = layerNormBackward(dy, x, ctx.p(`${name}.g`), t.mean, t.rstd, rows, d);
  g(`${name}.g`).set(r.dg);
  g(`${name}.b`).set(r.db);
  return r.dx;
}

/** QK-norm of the q (`which` 'q') or k heads at `columns` of `data`, with the module's gain (the data as is without QK-norm). */
function qkNormForward(ctx: Context, module: string, which: 'q' | 'k', data: Float64Array, columns: HeadColumns) {
  if (!hasQkNorm(ctx.config)) return { out: data, rstd: null };
  return headRmsNormForward(data, ctx.p(`${module}.${which}_norm.g`), columns);
}

/** Backward of qkNormForward: the gradient of `data`, given that of its output; writes the gain's gradient. */
function qkNormBackward(
  ctx: Context,
  module: string,
  which: 'q' | 'k',
  dOut: Float64Array,
  data: Float64Array,
  t: { rstd: Float64Array | null },
  columns: HeadColumns,
  g: Grads,
): Float64Array {
  if (!t.rstd) return dOut;
  const r = headRmsNormBackward(dOut, data, ctx.p(`${module}.${which}_norm.g`), t.rstd, columns);
  g(`${module}.${which}_norm.g`).set(r.dg);
  return r.dData;
}

function crossShape(ctx: Context, seqLen: number, memory: Memory) {
  const { batch, config } = ctx;
  return { batch, tq: seqLen, tk: memory.seqLen, nHeads: config.nHeads, headDim: headDim(config), keyValid: memory.keyValid };
}

function stackForward(ctx: Context, stack: StackSpec, tokens: Uint32Array, seqLen: number, memory: Memory | null) {
  const { config, batch, p } = ctx;
  const { dModel: d, dFF, nHeads } = config;
  const dh = headDim(config);
  const rows = batch * seqLen;
  const S = stack.prefix;
  const keyValid = keyValidMask(config, tokens);
  const heads = (n: number, stride: number, column: number): HeadColumns => ({ rows: n, stride, column, nHeads, headDim: dh });
  let x = embeddingForward(tokens, p(`${S}tok_emb`), p(`${S}pos_emb`), batch, seqLen, d);
  const layers = [];
  for (let l = 0; l < stack.nLayers; l++) {
    const L = `${S}layers.${l}`;
    const xIn = x;
    const ln1 = normForward(ctx, `${L}.ln1`, xIn, rows);
    const qkv = linearForward(ln1.y, p(`${L}.attn.wq`, 3 * d * d), p(`${L}.attn.bqkv`), rows, d, 3 * d);
    const qNorm = qkNormForward(ctx, `${L}.attn`, 'q', qkv, heads(rows, 3 * d, 0));
    const kNorm = qkNormForward(ctx, `${L}.attn`, 'k', qNorm.out, heads(rows, 3 * d, d));
    const att = attentionForward(kNorm.out, batch, seqLen, nHeads, dh, stack.causal, keyValid);
    const attOut = linearForward(att.out, p(`${L}.attn.wo`), p(`${L}.attn.bo`), rows, d, d);
    const xMid = xIn.map((v, i) => v + attOut[i]);
    let cross = null;
    let xCross = xMid;
    if (stack.cross) {
      if (!memory) throw new Error(`stack ${S} cross-attends but has no memory`);
      const ln = normForward(ctx, `${L}.ln_cross`, xMid, rows);
      const bias = p(`${L}.cross.bqkv`);
      const q = linearForward(ln.y, p(`${L}.cross.wq`), bias.subarray(0, d), rows, d, d);
      const kv = linearForward(memory.y, p(`${L}.cross.wk`, 2 * d * d), bias.subarray(d), batch * memory.seqLen, d, 2 * d);
      const qNorm = qkNormForward(ctx, `${L}.cross`, 'q', q, heads(rows, d, 0));
      const kNorm = qkNormForward(ctx, `${L}.cross`, 'k', kv, heads(batch * memory.seqLen, 2 * d, 0));
      const catt = crossAttentionForward(qNorm.out, kNorm.out, crossShape(ctx, seqLen, memory));
      const out = linearForward(catt.out, p(`${L}.cross.wo`), p(`${L}.cross.bo`), rows, d, d);
      xCross = xMid.map((v, i) => v + out[i]);
      cross = { ln, q, kv, qNorm, kNorm, att: catt };
    }
    const ln2 = normForward(ctx, `${L}.ln2`, xCross, rows);
    const pre = linearForward(ln2.y, p(`${L}.mlp.w1`), p(`${L}.mlp.b1`), rows, d, dFF);
    const act = gelu(pre);
    const mlpOut = linearForward(act, p(`${L}.mlp.w2`), p(`${L}.mlp.b2`), rows, dFF, d);
    x = xCross.map((v, i) => v + mlpOut[i]);
    layers.push({ xIn, ln1, qkv, qNorm, kNorm, att, xMid, cross, xCross, ln2, pre, act });
  }
  const lnf = normForward(ctx, `${S}lnf`, x, rows);
  return { stack, tokens, seqLen, keyValid, layers, x, lnf, memory, heads };
}

type StackTape = ReturnType<typeof stackForward>;

/**
 * Backward through a stack from dY, the gradient of its output LNf(x); writes its parameters' gradients into
 * `grad` and returns the gradient of its memory (summed over the blocks that read it; null without one).
 */
function stackBackward(ctx: Context, tape: StackTape, dY: Float64Array, g: Grads): Float64Array | null {
  const { config, batch, p } = ctx;
  const { dModel: d, dFF, nHeads } = config;
  const dh = headDim(config);
  const { stack, seqLen, keyValid, layers, memory, heads } = tape;
  const rows = batch * seqLen;
  const S = stack.prefix;
  const dMemory = memory ? new Float64Array(memory.y.length) : null;
  const dx = normBackward(ctx, `${S}lnf`, dY, tape.x, tape.lnf, rows, g);
  for (let l = stack.nLayers - 1; l >= 0; l--) {
    const L = `${S}layers.${l}`;
    const c = layers[l];
    const mlp2 = linearBackward(dx, c.act, p(`${L}.mlp.w2`), rows, dFF, d);
    g(`${L}.mlp.w2`).set(mlp2.dw);
    g(`${L}.mlp.b2`).set(mlp2.db);
    const mlp1 = linearBackward(geluBackward(c.pre, mlp2.dx), c.ln2.y, p(`${L}.mlp.w1`), rows, d, dFF);
    g(`${L}.mlp.w1`).set(mlp1.dw);
    g(`${L}.mlp.b1`).set(mlp1.db);
    addInto(dx, normBackward(ctx, `${L}.ln2`, mlp1.dx, c.xCross, c.ln2, rows, g)); // dx now flows into xCross = xMid + cross-attention branch (= xMid in an encoder)
    if (c.cross && memory && dMemory) {
      const out = linearBackward(dx, c.cross.att.out, p(`${L}.cross.wo`), rows, d, d);
      g(`${L}.cross.wo`).set(out.dw);
      g(`${L}.cross.bo`).set(out.db);
      const { qNorm, kNorm } = c.cross;
      const att = crossAttentionBackward(out.dx, qNorm.out, kNorm.out, c.cross.att.probs, crossShape(ctx, seqLen, memory));
      const dq = qkNormBackward(ctx, `${L}.cross`, 'q', att.dq, c.cross.q, qNorm, heads(rows, d, 0), g);
      const dkv = qkNormBackward(ctx, `${L}.cross`, 'k', att.dkv, c.cross.kv, kNorm, heads(batch * memory.seqLen, 2 * d, 0), g);
      const q = linearBackward(dq, c.cross.ln.y, p(`${L}.cross.wq`), rows, d, d);
      const kv = linearBackward(dkv, memory.y, p(`${L}.cross.wk`, 2 * d * d), batch * memory.seqLen, d, 2 * d);
      g(`${L}.cross.wq`).set(q.dw);
      g(`${L}.cross.wk`, 2 * d * d).set(kv.dw);
      g(`${L}.cross.bqkv`).set([...q.db, ...kv.db]);
      addInto(dMemory, kv.dx);
      addInto(dx, normBackward(ctx, `${L}.ln_cross`, q.dx, c.xMid, c.cross.ln, rows, g)); // dx now flows into xMid = xIn + self-attention branch
    }
    const out = linearBackward(dx, c.att.out, p(`${L}.attn.wo`), rows, d, d);
    g(`${L}.attn.wo`).set(out.dw);
    g(`${L}.attn.bo`).set(out.db);
    const dQkvNormed = attentionBackward(out.dx, c.kNorm.out, c.att.probs, batch, seqLen, nHeads, dh, stack.causal, keyValid);
    const dQkvK = qkNormBackward(ctx, `${L}.attn`, 'k', dQkvNormed, c.qkv, c.kNorm, heads(rows, 3 * d, d), g);
    const dQkv = qkNormBackward(ctx, `${L}.attn`, 'q', dQkvK, c.qkv, c.qNorm, heads(rows, 3 * d, 0), g);
    const qkv = linearBackward(dQkv, c.ln1.y, p(`${L}.attn.wq`, 3 * d * d), rows, d, 3 * d);
    g(`${L}.attn.wq`, 3 * d * d).set(qkv.dw);
    g(`${L}.attn.bqkv`).set(qkv.db);
    addInto(dx, normBackward(ctx, `${L}.ln1`, qkv.dx, c.xIn, c.ln1, rows, g));
  }
  const emb = embeddingBackward(dx, tape.tokens, batch, seqLen, d, stack.vocabSize, stack.maxPositions);
  g(`${S}tok_emb`).set(emb.dTok);
  g(`${S}pos_emb`).set(emb.dPos);
  return dMemory;
}

/** Forward through the whole model; `params` in the flat layout of `table`. */
export function referenceForward(config: AnyModelConfig, table: ParamTable, params: Float64Array, shape: BatchShape, data: Batch) {
  const { batch, seqLen, readout } = shape;
  const ctx: Context = { config, batch, p: (name, size) => paramView(table, params, name, size) };
  const lengths = stackLengths(config, shape);
  const tokens = stackTokens(config, data);
  const stacks: StackTape[] = [];
  let memory: Memory | null = null;
  modelStacks(config).forEach((spec, i) => {
    const tape = stackForward(ctx, spec, tokens[i], lengths[i], memory);
    stacks.push(tape);
    memory = { y: tape.lnf.y, seqLen: lengths[i], keyValid: tape.keyValid };
  });
  const outRows = batch * readout.count;
  const readoutIn = gatherRows(stacks[stacks.length - 1].lnf.y, batch, seqLen, readout.start, readout.count, config.dModel);
  const heads = taskHeadCount(config);
  const logits = linearForward(readoutIn, ctx.p('head.w'), ctx.p('head.b'), outRows, config.dModel, heads * config.nClasses);
  const ce = taskHeadsCrossEntropy(logits, data.targets, outRows, heads, config.nClasses);
  return { loss: ce.loss, logits, tape: { ctx, table, shape, stacks, readoutIn, dLogits: ce.dLogits } };
}

/**
 * The loss of `heads` task heads: the sum over heads of each head's mean cross-entropy, each computed on its own
 * logits (columns h * classes ... of every row) and targets (every heads-th target); one head is plain cross-entropy.
 */
function taskHeadsCrossEntropy(logits: Float64Array, targets: Int32Array, rows: number, heads: number, classes: number) {
  if (heads === 1) return crossEntropy(logits, targets, rows, classes);
  const dLogits = new Float64Array(logits.length);
  let loss = 0;
  for (let h = 0; h < heads; h++) {
    const headLogits = new Float64Array(rows * classes);
    const headTargets = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      headLogits.set(logits.subarray((r * heads + h) * classes, (r * heads + h + 1) * classes), r * classes);
      headTargets[r] = targets[r * heads + h];
    }
    const ce = crossEntropy(headLogits, headTargets, rows, classes);
    loss += ce.loss;
    for (let r = 0; r < rows; r++) dLogits.set(ce.dLogits.subarray(r * classes, (r + 1) * classes), (r * heads + h) * classes);
  }
  return { loss, dLogits };
}

type Tape = ReturnType<typeof referenceForward>['tape'];

/** Backward from a forward's tape: the gradient of the mean loss in the flat parameter layout. */
export function referenceBackward(tape: Tape): Float64Array {
  const { ctx, table, shape, stacks, readoutIn } = tape;
  const { config, batch } = ctx;
  const d = config.dModel;
  const { seqLen, readout } = shape;
  const grad = new Float64Array(table.total);
  const g = (name: string, size?: number) => paramView(table, grad, name, size);
  const outRows = batch * readout.count;
  const head = linearBackward(tape.dLogits, readoutIn, ctx.p('head.w'), outRows, d, taskHeadCount(config) * config.nClasses);
  g('head.w').set(head.dw);
  g('head.b').set(head.db);
  let dY: Float64Array | null = scatterRows(head.dx, batch, seqLen, readout.start, readout.count, d);
  for (let i = stacks.length - 1; i >= 0; i--) {
    if (!dY) throw new Error(`stack ${stacks[i].stack.prefix} feeds the next stack, which did not read it`);
    dY = stackBackward(ctx, stacks[i], dY, g);
  }
  return grad;
}

/** Forward and backward through the whole model. */
export function referenceLossAndGrad(
  config: AnyModelConfig,
  table: ParamTable,
  params: Float64Array,
  shape: BatchShape,
  data: Batch,
): ReferenceResult {
  const { loss, logits, tape } = referenceForward(config, table, params, shape, data);
  return { loss, logits, grad: referenceBackward(tape) };
}
