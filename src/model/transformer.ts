// The pre-LN transformer on the GPU for one batch shape: activation buffers and the forward and backward
// dispatch lists, built once and replayed every step. Mirrors src/reference/model.ts. Both model kinds are a
// list of stacks (src/model/config.ts: modelStacks): the encoder-only model has one, the encoder-decoder model
// an encoder and a decoder whose blocks cross-attend to the encoder's output ("memory").
//
// Forward (per layer l of a stack, rows = batch * the stack's length):
//   x[0] = embed(tokens)
//   qkv  = LN1(x[l]) Wqkv^T + bqkv;  att = attention(qkv)            (causal in a decoder)
//   mid[l] = x[l] + att Wo^T + bo                                  (residual fused into the matmul)
//   decoder only:  q = LN_cross(mid[l]) Wq'^T + bq';  kv = memory Wkv'^T + bkv'
//                  cross[l] = mid[l] + crossAttention(q, kv) Wo'^T + bo'
//   pre  = LN2(cross[l] or mid[l]) W1^T + b1;  act = gelu(pre)     (bias + GELU fused)
//   x[l+1] = that + act W2^T + b2
//   stack output = LNf(x[L]); logits = the last stack's output at the readout positions, Wh^T + bh;
//   cross-entropy + dlogits in one kernel
// Backward runs the same list in reverse; each stack's residual-stream gradient lives in one buffer `dx` that
// the LayerNorm backward kernels update in place, and every linear layer's bias gradient comes out of its dW
// matmul. The memory's gradient sums every decoder layer's K/V-projection contribution in a fixed order
// (two buffers used in turn, each layer adding the previous sum through the matmul's residual), so it is
// deterministic, and then enters the encoder as the gradient of its output.
import type { Dispatch, GpuRuntime, TensorRef } from '../gpu/runtime';
import { type Allocated, allocate } from '../gpu/plan';
import { at } from '../gpu/runtime';
import { type AnyModelConfig, headDim, modelStacks, type StackSpec, taskHeadCount, validateShape } from './config';
import { checkBatch, keyValidMask, stackLengths, stackTokens, type Batch, type BatchShape } from './batch';
import type { ParamState } from './state';
import { matmul } from './ops/matmul';
import { layerNormBackward, layerNormForward } from './ops/layernorm';
import { embeddingBackward, embeddingForward } from './ops/embedding';
import { gatherRows, scatterRows } from './ops/rows';
import { attentionBackward, attentionForward, crossAttentionBackward, crossAttentionForward } from './ops/attention';
import { crossEntropy } from './ops/cross_entropy';

export interface TransformerGraph {
  config: AnyModelConfig;
  shape: BatchShape;
  forward: Dispatch[];
  /** Empty for a forward-only (evaluation) graph. */
  backward: Dispatch[];
  /** Per-target loss (0 where the target is ignored), [batch * readout.count * taskHeads]. */
  losses: GPUBuffer;
  /** [batch * readout.count * taskHeads, nClasses]. */
  logits: GPUBuffer;
  /**
   * The residual stream after the last block, before the final LayerNorm, of the last stack (the decoder's in the
   * encoder-decoder model): [batch * seqLen, dModel], every position (probes read it after a forward pass).
   */
  residual: GPUBuffer;
  /**
   * The attention probabilities of every attention layer, as the last forward pass left them: for each stack in
   * modelStacks order (encoder, then decoder), for each of its layers, the self-attention and then (a decoder
   * layer) the cross-attention. Each is [batch, heads, queries, keys] row-major from element `offset` of `buffer`;
   * hidden keys (causal mask, PAD keys) hold exact zeros, and a query that sees no key a row of zeros. Queries come
   * from stack `stack`, keys from the same stack (self) or from the stack before it (cross: the memory).
   */
  attentionProbs: AttentionProbs[];
  /** Uploads a batch's tokens, targets and key masks (queued before the next submit). */
  setBatch(batch: Batch): void;
}

/** One attention layer's probabilities in a graph's activations (TransformerGraph.attentionProbs). */
export interface AttentionProbs {
  buffer: GPUBuffer;
  offset: number;
  heads: number;
  queries: number;
  keys: number;
  /** Index in modelStacks of the stack the queries belong to, and the layer within it. */
  stack: number;
  layer: number;
  /** Cross-attention (keys: the previous stack's output) rather than self-attention. */
  cross: boolean;
}

type Plan = ReturnType<typeof planActivations>;
type Buffers = Allocated<Plan>;
type StackBuffers = Buffers['stacks'][number];
type Scratch = NonNullable<Buffers['grad']>;

/** What every block builder needs: the runtime, named parameter and gradient slices, and the model's sizes. */
interface Context {
  rt: GpuRuntime;
  P: (name: string, offset?: number) => TensorRef;
  G: (name: string, offset?: number) => TensorRef;
  batch: number;
  d: number;
  dFF: number;
  nHeads: number;
  dh: number;
}

/** The previous stack's output, as a decoder's cross-attention reads it. */
interface Memory {
  y: GPUBuffer;
  seqLen: number;
  keyValid?: GPUBuffer;
}

async function stackForward(ctx: Context, s: StackSpec, seqLen: number, buf: StackBuffers, memory: Memory | null): Promise<Dispatch[]> {
  const { rt, P, batch, d, dFF, nHeads, dh } = ctx;
  const rows = batch * seqLen;
  const S = s.prefix;
  const attn = { keyValid: buf.keyValid, batch, seqLen, nHeads, headDim: dh, causal: s.causal };
  const out: Dispatch[] = [];
  out.push(await embeddingForward(rt, { tokens: buf.tokens, tokEmb: P(`${S}tok_emb`), posEmb: P(`${S}pos_emb`), out: at(buf.xs[0]), batch, seqLen, d, vocab: s.vocabSize }));
  for (let l = 0; l < s.nLayers; l++) {
    const L = `${S}layers.${l}`;
    const c = buf.layers[l];
    out.push(
      await layerNormForward(rt, { x: at(buf.xs[l]), gamma: P(`${L}.ln1.g`), beta: P(`${L}.ln1.b`), y: at(c.ln1.y), mean: at(c.ln1.mean), rstd: at(c.ln1.rstd), rows, d }),
      await matmul(rt, { M: rows, N: 3 * d, K: d, a: at(c.ln1.y), b: P(`${L}.attn.wq`), transB: true, bias: P(`${L}.attn.bqkv`), c: at(c.qkv) }),
      await attentionForward(rt, { qkv: at(c.qkv), out: at(c.att), probs: at(c.probs), ...attn }),
      await matmul(rt, { M: rows, N: d, K: d, a: at(c.att), b: P(`${L}.attn.wo`), transB: true, bias: P(`${L}.attn.bo`), residual: at(buf.xs[l]), c: at(c.mid) }),
    );
    const x = c.cross;
    if (x) {
      if (!memory) throw new Error(`stack ${S} cross-attends but has no memory`);
      const memRows = batch * memory.seqLen;
      out.push(
        await layerNormForward(rt, { x: at(c.mid), gamma: P(`${L}.ln_cross.g`), beta: P(`${L}.ln_cross.b`), y: at(x.ln.y), mean: at(x.ln.mean), rstd: at(x.ln.rstd), rows, d }),
        await matmul(rt, { M: rows, N: d, K: d, a: at(x.ln.y), b: P(`${L}.cross.wq`), transB: true, bias: P(`${L}.cross.bqkv`), c: at(x.q) }),
        await matmul(rt, { M: memRows, N: 2 * d, K: d, a: at(memory.y), b: P(`${L}.cross.wk`), transB: true, bias: P(`${L}.cross.bqkv`, d), c: at(x.kv) }),
        await crossAttentionForward(rt, { q: at(x.q), kv: at(x.kv), out: at(x.att), probs: at(x.probs), keyValid: memory.keyValid, batch, tq: seqLen, tk: memory.seqLen, nHeads, headDim: dh }),
        await matmul(rt, { M: rows, N: d, K: d, a: at(x.att), b: P(`${L}.cross.wo`), transB: true, bias: P(`${L}.cross.bo`), residual: at(c.mid), c: at(x.mid) }),
      );
    }
    const mlpIn = x ? x.mid : c.mid;
    out.push(
      await layerNormForward(rt, { x: at(mlpIn), gamma: P(`${L}.ln2.g`), beta: P(`${L}.ln2.b`), y: at(c.ln2.y), mean: at(c.ln2.mean), rstd: at(c.ln2.rstd), rows, d }),
      await matmul(rt, { M: rows, N: dFF, K: d, a: at(c.ln2.y), b: P(`${L}.mlp.w1`), transB: true, bias: P(`${L}.mlp.b1`), gelu: { preact: at(c.pre) }, c: at(c.act) }),
      await matmul(rt, { M: rows, N: d, K: dFF, a: at(c.act), b: P(`${L}.mlp.w2`), transB: true, bias: P(`${L}.mlp.b2`), residual: at(mlpIn), c: at(buf.xs[l + 1]) }),
    );
  }
  const xL = buf.xs[s.nLayers];
  out.push(await layerNormForward(rt, { x: at(xL), gamma: P(`${S}lnf.g`), beta: P(`${S}lnf.b`), y: at(buf.lnf.y), mean: at(buf.lnf.mean), rstd: at(buf.lnf.rstd), rows, d }));
  return out;
}

/**
 * Backward through a stack from dY (the gradient of its output LNf(x)): parameter gradients into the gradient
 * buffer, and for a stack with memory the memory's gradient into one of its two dMemory buffers, which is
 * returned (null for a stack without memory).
 */
async function stackBackward(
  ctx: Context,
  s: StackSpec,
  seqLen: number,
  buf: StackBuffers,
  scratch: Scratch,
  dY: GPUBuffer,
  memory: Memory | null,
): Promise<{ dispatches: Dispatch[]; dMemory: GPUBuffer | null }> {
  const { rt, P, G, batch, d, dFF, nHeads, dh } = ctx;
  const rows = batch * seqLen;
  const S = s.prefix;
  const attn = { keyValid: buf.keyValid, batch, seqLen, nHeads, headDim: dh, causal: s.causal };
  const { dPre, dLnY, dAtt, dQkv, dKv } = scratch;
  const { dx, dMemory: dMemoryPair } = buf.grad!;
  const out: Dispatch[] = [];
  out.push(
    await layerNormBackward(rt, { dy: at(dY), x: at(buf.xs[s.nLayers]), gamma: P(`${S}lnf.g`), mean: at(buf.lnf.mean), rstd: at(buf.lnf.rstd), dx: at(dx), dGamma: G(`${S}lnf.g`), dBeta: G(`${S}lnf.b`), rows, d }),
  );
  let dMemory: GPUBuffer | null = null;
  for (let l = s.nLayers - 1; l >= 0; l--) {
    const L = `${S}layers.${l}`;
    const c = buf.layers[l];
    const x = c.cross;
    const mlpIn = x ? x.mid : c.mid;
    out.push(
      await matmul(rt, { M: d, N: dFF, K: rows, a: at(dx), transA: true, b: at(c.act), c: G(`${L}.mlp.w2`), biasGrad: G(`${L}.mlp.b2`) }),
      await matmul(rt, { M: rows, N: dFF, K: d, a: at(dx), b: P(`${L}.mlp.w2`), geluGrad: { preact: at(c.pre) }, c: at(dPre) }),
      await matmul(rt, { M: dFF, N: d, K: rows, a: at(dPre), transA: true, b: at(c.ln2.y), c: G(`${L}.mlp.w1`), biasGrad: G(`${L}.mlp.b1`) }),
      await matmul(rt, { M: rows, N: d, K: dFF, a: at(dPre), b: P(`${L}.mlp.w1`), c: at(dLnY) }),
      await layerNormBackward(rt, { dy: at(dLnY), x: at(mlpIn), gamma: P(`${L}.ln2.g`), mean: at(c.ln2.mean), rstd: at(c.ln2.rstd), dx: at(dx), residualGrad: at(dx), dGamma: G(`${L}.ln2.g`), dBeta: G(`${L}.ln2.b`), rows, d }),
    );
    if (x) {
      if (!memory || !dMemoryPair || !dKv) throw new Error(`stack ${S} cross-attends but has no memory`);
      const memRows = batch * memory.seqLen;
      // dQ lives in the dQkv scratch (free until the self-attention below).
      const dQ = dQkv;
      const next: GPUBuffer = dMemoryPair[dMemory === dMemoryPair[0] ? 1 : 0];
      out.push(
        await matmul(rt, { M: d, N: d, K: rows, a: at(dx), transA: true, b: at(x.att), c: G(`${L}.cross.wo`), biasGrad: G(`${L}.cross.bo`) }),
        await matmul(rt, { M: rows, N: d, K: d, a: at(dx), b: P(`${L}.cross.wo`), c: at(dAtt) }),
        ...(await crossAttentionBackward(rt, { q: at(x.q), kv: at(x.kv), probs: at(x.probs), dOut: at(dAtt), dQ: at(dQ), dKv: at(dKv), keyValid: memory.keyValid, batch, tq: seqLen, tk: memory.seqLen, nHeads, headDim: dh })),
        await matmul(rt, { M: d, N: d, K: rows, a: at(dQ), transA: true, b: at(x.ln.y), c: G(`${L}.cross.wq`), biasGrad: G(`${L}.cross.bqkv`) }),
        await matmul(rt, { M: 2 * d, N: d, K: memRows, a: at(dKv), transA: true, b: at(memory.y), c: G(`${L}.cross.wk`), biasGrad: G(`${L}.cross.bqkv`, d) }),
        await matmul(rt, { M: memRows, N: d, K: 2 * d, a: at(dKv), b: P(`${L}.cross.wk`), residual: dMemory ? at(dMemory) : undefined, c: at(next) }),
        await matmul(rt, { M: rows, N: d, K: d, a: at(dQ), b: P(`${L}.cross.wq`), c: at(dLnY) }),
        await layerNormBackward(rt, { dy: at(dLnY), x: at(c.mid), gamma: P(`${L}.ln_cross.g`), mean: at(x.ln.mean), rstd: at(x.ln.rstd), dx: at(dx), residualGrad: at(dx), dGamma: G(`${L}.ln_cross.g`), dBeta: G(`${L}.ln_cross.b`), rows, d }),
      );
      dMemory = next;
    }
    out.push(
      await matmul(rt, { M: d, N: d, K: rows, a: at(dx), transA: true, b: at(c.att), c: G(`${L}.attn.wo`), biasGrad: G(`${L}.attn.bo`) }),
      await matmul(rt, { M: rows, N: d, K: d, a: at(dx), b: P(`${L}.attn.wo`), c: at(dAtt) }),
      ...(await attentionBackward(rt, { qkv: at(c.qkv), probs: at(c.probs), dOut: at(dAtt), dQkv: at(dQkv), ...attn })),
      await matmul(rt, { M: 3 * d, N: d, K: rows, a: at(dQkv), transA: true, b: at(c.ln1.y), c: G(`${L}.attn.wq`), biasGrad: G(`${L}.attn.bqkv`) }),
      await matmul(rt, { M: rows, N: d, K: 3 * d, a: at(dQkv), b: P(`${L}.attn.wq`), c: at(dLnY) }),
      await layerNormBackward(rt, { dy: at(dLnY), x: at(buf.xs[l]), gamma: P(`${L}.ln1.g`), mean: at(c.ln1.mean), rstd: at(c.ln1.rstd), dx: at(dx), residualGrad: at(dx), dGamma: G(`${L}.ln1.g`), dBeta: G(`${L}.ln1.b`), rows, d }),
    );
  }
  out.push(await embeddingBackward(rt, { tokens: buf.tokens, dOut: at(dx), dTok: G(`${S}tok_emb`), dPos: G(`${S}pos_emb`), batch, seqLen, d, vocab: s.vocabSize }));
  return { dispatches: out, dMemory };
}

export async function buildTransformerGraph(
  rt: GpuRuntime,
  config: AnyModelConfig,
  state: ParamState,
  shape: BatchShape,
  opts: { backward: boolean },
): Promise<TransformerGraph> {
  const { dModel: d, nClasses } = config;
  const { batch, seqLen, readout } = shape;
  const stacks = modelStacks(config);
  const lengths = stackLengths(config, shape);
  const outRows = batch * readout.count;
  // Task heads (multitask): each readout row's logits are `heads` rows of nClasses to the cross-entropy, whose
  // gradient is scaled by `heads` so the loss is the sum of the heads' means (every head scores every row).
  const heads = taskHeadCount(config);
  const headOutputs = heads * nClasses;
  const ctx: Context = {
    rt,
    P: (name, offset = 0) => at(state.params, state.table.get(name).offset + offset),
    G: (name, offset = 0) => at(state.grads, state.table.get(name).offset + offset),
    batch,
    d,
    dFF: config.dFF,
    nHeads: config.nHeads,
    dh: headDim(config),
  };
  // When every position is read out, the head reads LNf's output directly and no gather is needed.
  const readsAllRows = readout.start === 0 && readout.count === seqLen;

  const buf = allocate(rt, planActivations(config, shape, opts.backward));
  const { targets, logits, losses, dLogits } = buf;
  const memoryOf = (i: number): Memory | null =>
    i === 0 ? null : { y: buf.stacks[i - 1].lnf.y, seqLen: lengths[i - 1], keyValid: buf.stacks[i - 1].keyValid };
  const top = buf.stacks[stacks.length - 1];
  const headIn = readsAllRows ? top.lnf.y : buf.headIn;
  const rowMap = { batch, seqLen, start: readout.start, count: readout.count, d };
  const P = ctx.P;
  const G = ctx.G;

  const forward: Dispatch[] = [];
  for (let i = 0; i < stacks.length; i++) forward.push(...(await stackForward(ctx, stacks[i], lengths[i], buf.stacks[i], memoryOf(i))));
  if (!readsAllRows) forward.push(await gatherRows(rt, { src: at(top.lnf.y), dst: at(headIn), ...rowMap }));
  forward.push(
    await matmul(rt, { M: outRows, N: headOutputs, K: d, a: at(headIn), b: P('head.w'), transB: true, bias: P('head.b'), c: at(logits) }),
    await crossEntropy(rt, { logits: at(logits), targets, losses: at(losses), dLogits: at(dLogits), rows: outRows * heads, classes: nClasses, lossScale: heads }),
  );

  const backward: Dispatch[] = [];
  if (opts.backward) {
    const scratch = buf.grad!;
    // Rows of dLnfY outside the readout are never written and stay zero: those positions do not reach the loss.
    const dLnfY = readsAllRows ? scratch.dHeadIn : scratch.dLnfY;
    backward.push(
      await matmul(rt, { M: headOutputs, N: d, K: outRows, a: at(dLogits), transA: true, b: at(headIn), c: G('head.w'), biasGrad: G('head.b') }),
      await matmul(rt, { M: outRows, N: d, K: headOutputs, a: at(dLogits), b: P('head.w'), c: at(scratch.dHeadIn) }),
    );
    if (!readsAllRows) backward.push(await scatterRows(rt, { src: at(scratch.dHeadIn), dst: at(dLnfY), ...rowMap }));
    let dY: GPUBuffer | null = dLnfY;
    for (let i = stacks.length - 1; i >= 0; i--) {
      if (!dY) throw new Error(`stack ${stacks[i].prefix} feeds the next stack, which did not read it`);
      const b = await stackBackward(ctx, stacks[i], lengths[i], buf.stacks[i], scratch, dY, memoryOf(i));
      backward.push(...b.dispatches);
      dY = b.dMemory;
    }
  }

  return {
    config,
    shape,
    forward,
    backward,
    losses,
    logits,
    residual: top.xs[stacks[stacks.length - 1].nLayers],
    attentionProbs: buf.stacks.flatMap((b, i) =>
      b.layers.flatMap((c, layer) => {
        const self = { buffer: c.probs, offset: 0, heads: config.nHeads, queries: lengths[i], keys: lengths[i], stack: i, layer, cross: false };
        return c.cross ? [self, { ...self, buffer: c.cross.probs, keys: lengths[i - 1], cross: true }] : [self];
      }),
    ),
    setBatch(data: Batch) {
      checkBatch(config, shape, data);
      stackTokens(config, data).forEach((tokens, i) => {
        const b = buf.stacks[i];
        rt.write(b.tokens, tokens);
        const mask = keyValidMask(config, tokens);
        if (b.keyValid && mask) rt.write(b.keyValid, mask);
      });
      rt.write(targets, data.targets);
    },
  };
}

/**
 * Every activation buffer of the graph, in floats (or u32 elements), before anything is allocated: `allocate`
 * checks the whole plan against the adapter's limits first, so a model that does not fit is rejected before
 * any GPU work, with the name of the buffer and the limit. Backward scratch is shared by the stacks.
 */
export function planActivations(config: AnyModelConfig, shape: BatchShape, backward: boolean) {
  validateShape(config, shape);
  const { dModel: d, dFF, nHeads, nClasses } = config;
  const { batch, seqLen, readout } = shape;
  const lengths = stackLengths(config, shape);
  const outRows = batch * readout.count;
  const scoredRows = outRows * taskHeadCount(config);
  const ln = (rows: number) => ({ y: rows * d, mean: rows, rstd: rows });
  const stacks = modelStacks(config).map((s, i) => {
    const T = lengths[i];
    const rows = batch * T;
    const memLen = i > 0 ? lengths[i - 1] : 0;
    return {
      tokens: rows,
      keyValid: config.padToken === undefined ? undefined : rows,
      xs: Array.from({ length: s.nLayers + 1 }, () => rows * d),
      layers: Array.from({ length: s.nLayers }, () => ({
        ln1: ln(rows),
        qkv: rows * 3 * d,
        att: rows * d,
        probs: batch * nHeads * T * T,
        mid: rows * d,
        cross: s.cross
          ? { ln: ln(rows), q: rows * d, kv: batch * memLen * 2 * d, att: rows * d, probs: batch * nHeads * T * memLen, mid: rows * d }
          : undefined,
        ln2: ln(rows),
        pre: rows * dFF,
        act: rows * dFF,
      })),
      lnf: ln(rows),
      grad: backward ? { dx: rows * d, dMemory: s.cross ? [batch * memLen * d, batch * memLen * d] : undefined } : undefined,
    };
  });
  const maxRows = batch * Math.max(...lengths);
  const crossKeys = modelStacks(config).map((s, i) => (s.cross ? batch * lengths[i - 1] : 0));
  const maxMemRows = Math.max(...crossKeys);
  return {
    stacks,
    targets: scoredRows,
    headIn: outRows * d,
    logits: scoredRows * nClasses,
    losses: scoredRows,
    dLogits: scoredRows * nClasses,
    grad: backward
      ? {
          dHeadIn: outRows * d,
          dLnfY: batch * seqLen * d,
          dPre: maxRows * dFF,
          dLnY: maxRows * d,
          dAtt: maxRows * d,
          dQkv: maxRows * 3 * d,
          dKv: maxMemRows > 0 ? maxMemRows * 2 * d : undefined,
        }
      : undefined,
  };
}
