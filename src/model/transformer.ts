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
// the LayerNorm backwards update in place, and every linear layer's bias gradient comes out of its dW
// matmul. The memory's gradient sums every decoder layer's K/V-projection contribution in a fixed order
// (two buffers used in turn, each layer adding the previous sum through the matmul's residual), so it is
// deterministic, and then enters the encoder as the gradient of its output.
//
// Architecture options (src/model/config.ts): norm 'rms' makes every LN above an RMSNorm (the same kernel,
// shaders/layernorm.wgsl, without the mean and bias). qkNorm adds one RMSNorm dispatch per attention between the
// projections and the attention kernel, which then reads the normalised Q and K from where it wrote them:
//   self:   qk = per-head RMSNorm of qkv's Q and K columns, [rows, 2d];  att = attention(Q, K from qk, V from qkv)
//   cross:  qn = per-head RMSNorm of q, [rows, d];  kn = per-head RMSNorm of kv's K columns, [memRows, d]
// and in the backward the attention kernels write dQ, dK for the normalised tensors to scratch (dQk, dKn) and dV
// in place, and the norm's backward takes dQ, dK through it into the projection's gradient (dQkv, dQ, dKv).
//
// Fusion (the default; `fused: false` builds the graph above, one dispatch per op, kept to compare against): a real
// GPU's small step costs about one fixed overhead per dispatch, so the fused graph (1) runs independent products as
// jobs of one matmul dispatch: each Linear layer's dW and dX, the cross-attention's Q and K/V projections and its
// four backward products, (2) computes x[0] = embed(tokens) inside each stack's first norm, which writes x[0],
// (3) runs the norm before the Q/K/V projection and the one before W1 inside those products, which normalise their
// input on load (statistics in each tile's prologue; they write the norm's output and statistics for the backward),
// (4) runs the top stack's final norm inside the cross-entropy kernel, which normalises only the readout rows,
// straight into the head's input (no gather; the norm's backward reads the head's gradient there, no scatter),
// (5) runs the attention backward of sequences of at most SHORT_SEQUENCE in one dispatch, (6) computes the head's
// logits inside the cross-entropy kernel, and (7) runs more inside products, each workgroup of the tiled matmul taking
// a strip of whole rows where a row-wise step needs them (shaders/matmul.wgsl):
//   - the self-attention forward inside its output projection, which computes its rows' attention first (the attention
//     kernel's own forward_row, shaders/attention_row.wgsl) and writes att and probs as that kernel would;
//   - LN1's, LN2's and the top stack's final norm's backward: dx in the epilogue of the product that computes the
//     norm's dy (Q/K/V dX, W1 dX, the head's dX; the final norm under its readout window, zeroing the other rows), the
//     gain gradients (which need every row) beside the next dispatch: the next layer's W2 products or the output
//     projection's, the attention's keys dispatch, or the embedding backward (shaders/norm_grad.wgsl: the norm
//     backward kernel's sums in its order on this adapter);
//   - for sequences past SHORT_SEQUENCE, the attention backward's query rows in the epilogue of the product computing
//     dOut (backward_row, shared likewise), its keys in the next dispatch.
// The cross-attention's norm and an encoder's final norm keep their backward dispatch. (3) and (7) are left out on a
// software adapter (fusesIntoProducts), where they cost more than the dispatches they save; `fused: 'all'` makes them
// anyway. On an adapter that binds too few storage buffers for a fused kernel, the attention's part of (7), then (3)
// and (7), are left out (fusionLevels; the Context's switches attentionInProducts and intoProducts). Each fused
// kernel computes every value with the same float32 operations in the same order (a norm's statistics and gradient
// sums in the order of the norm kernel variant the adapter runs: shaders/norm_row.wgsl and norm_grad.wgsl), so
// training is bit for bit the same (test/transformer.test.ts).
import { at, BindingLimitError, type Dispatch, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import { allocate, packed, type Allocated } from '../gpu/plan';
import { hasQkNorm, headDim, modelStacks, normKind, taskHeadCount, validateShape, type StackSpec } from './config';
import type { AnyModelConfig, NormKind, BatchShape } from '../formats/model-config';
import { checkBatch, keyValidMask, stackLengths, stackTokens, type Batch } from './batch';
import type { ParamState } from './state';
import { matmul, matmulGroups, type MatmulArgs, type MatmulNorm, type MatmulNormGrad } from './ops/matmul';
import { normBackward, normForward, type NormEmbedding, type NormGainSums, type NormLayout, type NormWindow } from './ops/layernorm';
import { embeddingBackward, embeddingForward, tokenOrder, tokenOrderLength } from './ops/embedding';
import { gatherRows, scatterRows } from './ops/rows';
import { attentionBackward, attentionBackwardAfterProduct, attentionForward, attentionForwardRows, crossAttentionBackward, crossAttentionForward, SHORT_SEQUENCE } from './ops/attention';
import { crossEntropy, type HeadNorm } from './ops/cross_entropy';

export interface BatchUpload {
  buffer: GPUBuffer;
  data: Uint32Array | Int32Array;
}

export interface TransformerGraph {
  config: AnyModelConfig;
  shape: BatchShape;
  /** The fusions this graph makes: those asked for, less what the adapter's bindings cannot hold (fusionLevels). */
  fusion: FusionLevel;
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
  /** Where a batch goes (checked first): each input buffer with its data, the uploads setBatch makes. */
  batchUploads(batch: Batch): BatchUpload[];
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
type LayerBuffers = StackBuffers['layers'][number];
type Scratch = NonNullable<Buffers['grad']>;
/** A norm's output and the statistics its backward reads, in one buffer (stats.mean: LayerNorm only). */
type NormBuffers = LayerBuffers['ln1'];
/** QK-norm's output (Q, K or both, normalised) and its rstd per (row, head). */
type HeadNormBuffers = NonNullable<LayerBuffers['qk']>;

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
  norm: NormKind;
  /** Fused dispatches (the default); false builds the unfused graph, for comparisons in tests and benchmarks. */
  fused: boolean;
  /**
   * Fused graph: the norms before the Q/K/V and W1 products and the final norm run inside products, forward and
   * backward (see Fusion).
   */
  intoProducts: boolean;
  /**
   * With intoProducts: the self-attention forward runs inside its output projection, and the query rows of its
   * backward (sequences longer than SHORT_SEQUENCE) in the epilogue of the product computing their dOut.
   */
  attentionInProducts: boolean;
}

/** Which fusions a graph makes (the Context's switches of the same names). */
export type FusionLevel = Pick<Context, 'fused' | 'intoProducts' | 'attentionInProducts'>;

/**
 * Which graph to build: false, one dispatch per op (kept for comparisons); true (the default), every fusion that
 * pays on this adapter; 'all', every fusion even where it costs more than the dispatch it saves (tests, benchmarks).
 */
export type Fusion = boolean | 'all';

/**
 * Whether the fused graph runs norms and attention inside products (see Fusion (3) and (7)). Not on a CPU
 * implementation of WebGPU (SwiftShader): there a dispatch costs next to nothing, the direct tiled kernel, whose every
 * invocation computes the statistics of its own rows, takes about three times as long with the norm inside (measured
 * on quick-add), and the strips' storage barriers are what the direct kernel exists to avoid (a barrier-synchronised
 * workgroup costs ~0.3 ms there).
 */
export function fusesIntoProducts(fusion: Fusion, adapter: { isSoftware: boolean }): boolean {
  return fusion === 'all' || (fusion && !adapter.isSoftware);
}

/**
 * The graphs to try for a fusion, most fused first. A fused kernel binds more storage buffers than the op it replaces
 * (up to 9: with QK-norm, the attention's keys beside a norm's gain sums, writing dK and dV to two buffers), and WebGPU
 * guarantees only 8 per shader stage (maxStorageBuffersPerShaderStage; the lab asks for the adapter's own, and some
 * adapters, Firefox's on Metal among them, have no more): where a kernel does not fit, the next graph leaves the
 * attention out of the products, then the norms too. Every kernel of that last graph binds at most 8, and every graph
 * trains to the same bits.
 */
export function fusionLevels(fusion: Fusion, adapter: { isSoftware: boolean }): FusionLevel[] {
  if (fusion === false) return [{ fused: false, intoProducts: false, attentionInProducts: false }];
  const level = (intoProducts: boolean, attentionInProducts: boolean): FusionLevel => ({ fused: true, intoProducts, attentionInProducts });
  return [...(fusesIntoProducts(fusion, adapter) ? [level(true, true), level(true, false)] : []), level(false, false)];
}

/**
 * Independent products (no job reads what another writes): one dispatch in the fused graph (more only where the
 * adapter binds too few storage buffers), one each unfused. The results are the same bits either way: unfused, each
 * sums its K in order as the group's tiled kernel does (serialK: no split-K for a small side on a GPU); where the
 * products split into dispatches of one (an adapter with 8 bindings), such a one may split K and differ in the last
 * bits.
 */
async function products(ctx: Context, jobs: MatmulArgs[], gainSums?: NormGainSums): Promise<Dispatch[]> {
  if (ctx.fused) return matmulGroups(ctx.rt, jobs, gainSums);
  if (gainSums) throw new Error('gain sums beside products in the unfused graph');
  const out: Dispatch[] = [];
  // Each product summed in the order of the group's tiled kernel (no split-K), so the two graphs give the same bits.
  for (const job of jobs) out.push(await matmul(ctx.rt, { ...job, serialK: true }));
  return out;
}

/**
 * The model's norm `name` (LayerNorm with name.g and name.b, or RMSNorm with name.g) of x [rows, d] into ln: only the
 * rows of `layout`'s window, when given (the final norm of a model read out at some positions); with `embed`, of the
 * embeddings, which it writes to x (the stack's first norm, in the fused graph).
 */
function blockNorm(ctx: Context, name: string, x: GPUBuffer, ln: NormBuffers, rows: number, opts: { layout?: NormLayout; embed?: NormEmbedding } = {}): Promise<Dispatch> {
  const { rt, P, d } = ctx;
  const a = { x: at(x), gamma: P(`${name}.g`), y: at(ln.y), rstd: ln.stats.rstd, rows, d, ...opts };
  return ctx.norm === 'rms' ? normForward(rt, { ...a, kind: 'rms' }) : normForward(rt, { ...a, beta: P(`${name}.b`), mean: ln.stats.mean! });
}

/**
 * The product `job` (M = rows, K = d) of the norm `name` of x, normalised into ln.y: in the fused graph one dispatch,
 * the matmul normalising its A on load (and writing ln.y and the statistics as the norm would); unfused, blockNorm
 * and then the product of ln.y. With `embed`, x is computed from the embeddings and written (blockNorm's `embed`).
 */
async function normedProduct(ctx: Context, name: string, x: GPUBuffer, ln: NormBuffers, rows: number, job: Omit<MatmulArgs, 'M' | 'K' | 'a'>, embed?: NormEmbedding): Promise<Dispatch[]> {
  const { rt, P, d } = ctx;
  const product = { ...job, M: rows, K: d, a: at(ln.y) };
  if (!ctx.intoProducts) return [await blockNorm(ctx, name, x, ln, rows, { embed }), await matmul(rt, product)];
  const a = { x: at(x), gamma: P(`${name}.g`), rstd: ln.stats.rstd, embed };
  const norm: MatmulNorm = ctx.norm === 'rms' ? { ...a, kind: 'rms' } : { ...a, kind: 'layer', beta: P(`${name}.b`), mean: ln.stats.mean! };
  return [await matmul(rt, { ...product, norm })];
}

/** Backward of blockNorm from dy into dx, adding dx's own contents (the residual stream's gradient) when `residual`. */
function blockNormBackward(ctx: Context, name: string, dy: GPUBuffer, x: GPUBuffer, ln: NormBuffers, rows: number, dx: GPUBuffer, residual: boolean, layout?: NormLayout): Promise<Dispatch> {
  const { rt, P, G, d } = ctx;
  const a = { dy: at(dy), x: at(x), gamma: P(`${name}.g`), rstd: ln.stats.rstd, dx: at(dx), dGamma: G(`${name}.g`), residualGrad: residual ? at(dx) : undefined, rows, d, layout };
  return ctx.norm === 'rms' ? normBackward(rt, { ...a, kind: 'rms' }) : normBackward(rt, { ...a, mean: ln.stats.mean!, dBeta: G(`${name}.b`) });
}

/**
 * The backward of the norm `name` (row-major [rows, d] of x, or of the window's rows of x) inside products (the fused
 * graph on GPUs): `grad` goes to the product whose C is its dy [rows, d], which computes dx from it, added to dx's
 * contents (the residual stream's gradient) when `residual`; `gains`, with dy, to the next dispatch, which sums the gain
 * gradients.
 */
function normInProducts(
  ctx: Context, name: string, dy: GPUBuffer, x: GPUBuffer, ln: NormBuffers, rows: number, dx: GPUBuffer, residual = true, window?: NormWindow,
): { grad: MatmulNormGrad; gains: NormGainSums } {
  const { P, G, d } = ctx;
  const a = { x: at(x), gamma: P(`${name}.g`), rstd: ln.stats.rstd, dx: at(dx), residual, window };
  const sums = { dy: at(dy), x: at(x), rstd: ln.stats.rstd, dGamma: G(`${name}.g`), rows, d, window };
  return ctx.norm === 'rms'
    ? { grad: { ...a, kind: 'rms' }, gains: { ...sums, kind: 'rms' } }
    : { grad: { ...a, kind: 'layer', mean: ln.stats.mean! }, gains: { ...sums, kind: 'layer', mean: ln.stats.mean!, dBeta: G(`${name}.b`) } };
}

/**
 * QK-norm's layout (shaders/layernorm.wgsl) for `heads` head vectors per row (one or both of Q and K, nHeads of each
 * sharing one gain) read at row stride xStride and written at yStride.
 */
function headLayout(ctx: Context, heads: number, xStride: number, yStride: number): NormLayout {
  return { segments: heads, segmentsPerGain: ctx.nHeads, xStride, yStride };
}

/** QK-norm of `tokens` rows: RMSNorm of each head in `layout` from x into n.y, with gains from `gain` (q_norm.g or k_norm.g). */
function headNorm(ctx: Context, gain: string, x: TensorRef, n: HeadNormBuffers, tokens: number, layout: NormLayout): Promise<Dispatch> {
  return normForward(ctx.rt, { kind: 'rms', x, gamma: ctx.P(gain), y: at(n.y), rstd: at(n.rstd), rows: tokens * layout.segments, d: ctx.dh, layout });
}

/** Backward of headNorm: dy (laid out like n.y) into dx (laid out like x); the gains' gradient into G(gain). */
function headNormBackward(ctx: Context, gain: string, dy: TensorRef, x: TensorRef, n: HeadNormBuffers, dx: TensorRef, tokens: number, layout: NormLayout): Promise<Dispatch> {
  return normBackward(ctx.rt, { kind: 'rms', dy, x, gamma: ctx.P(gain), rstd: at(n.rstd), dx, dGamma: ctx.G(gain), rows: tokens * layout.segments, d: ctx.dh, layout });
}

/**
 * The final norm's layout when only the readout positions [start, start + count) of each sequence reach the head
 * (fused graph): it normalises those rows alone, straight into the head's input [batch * count, d].
 */
function readoutLayout(ctx: Context, seqLen: number, readout: { start: number; count: number }): NormLayout {
  return { segments: seqLen, segmentsPerGain: seqLen, xStride: seqLen * ctx.d, yStride: readout.count * ctx.d, window: readout };
}

/** The previous stack's output, as a decoder's cross-attention reads it. */
interface Memory {
  y: GPUBuffer;
  seqLen: number;
  keyValid?: GPUBuffer;
}

async function stackForward(ctx: Context, s: StackSpec, seqLen: number, buf: StackBuffers, memory: Memory | null, top: boolean, lnfLayout?: NormLayout): Promise<Dispatch[]> {
  const { rt, P, batch, d, dFF, nHeads, dh } = ctx;
  const rows = batch * seqLen;
  const S = s.prefix;
  const attn = { keyValid: buf.keyValid, batch, seqLen, nHeads, headDim: dh, causal: s.causal };
  const out: Dispatch[] = [];
  const embed: NormEmbedding = { tokens: buf.tokens, tokEmb: P(`${S}tok_emb`), posEmb: P(`${S}pos_emb`), seqLen, vocab: s.vocabSize };
  if (!ctx.fused) out.push(await embeddingForward(rt, { ...embed, out: at(buf.xs[0]), batch, d }));
  // x[0] = the embeddings: in the fused graph the first norm computes them (and writes x[0]) itself, inside the Q/K/V
  // product or before it.
  for (let l = 0; l < s.nLayers; l++) {
    const L = `${S}layers.${l}`;
    const c = buf.layers[l];
    out.push(...(await normedProduct(ctx, `${L}.ln1`, buf.xs[l], c.ln1, rows, { N: 3 * d, b: P(`${L}.attn.wq`), transB: true, bias: P(`${L}.attn.bqkv`), c: at(c.qkv) }, ctx.fused && l === 0 ? embed : undefined)));
    // QK-norm: the q gain then the k gain, read as one vector pair from q_norm.g.
    if (c.qk) out.push(await headNorm(ctx, `${L}.attn.q_norm.g`, at(c.qkv), c.qk, rows, headLayout(ctx, 2 * nHeads, 3 * d, 2 * d)));
    // The output projection of the attention, which in the fused graph on GPUs computes the attention itself.
    const attention = { qkv: at(c.qkv), qk: c.qk && at(c.qk.y), out: at(c.att), probs: c.attention.probs, ...attn };
    const wo: MatmulArgs = { M: rows, N: d, K: d, a: at(c.att), b: P(`${L}.attn.wo`), transB: true, bias: P(`${L}.attn.bo`), residual: at(buf.xs[l]), c: at(c.mid) };
    if (ctx.attentionInProducts) out.push(await matmul(rt, { ...wo, attention: attentionForwardRows(attention) }));
    else out.push(await attentionForward(rt, attention), await matmul(rt, wo));
    const x = c.cross;
    if (x) {
      if (!memory) throw new Error(`stack ${S} cross-attends but has no memory`);
      const memRows = batch * memory.seqLen;
      out.push(
        await blockNorm(ctx, `${L}.ln_cross`, c.mid, x.ln, rows),
        ...(await products(ctx, [
          { M: rows, N: d, K: d, a: at(x.ln.y), b: P(`${L}.cross.wq`), transB: true, bias: P(`${L}.cross.bqkv`), c: at(x.q) },
          { M: memRows, N: 2 * d, K: d, a: at(memory.y), b: P(`${L}.cross.wk`), transB: true, bias: P(`${L}.cross.bqkv`, d), c: at(x.kv) },
        ])),
      );
      if (x.qn && x.kn) {
        out.push(
          await headNorm(ctx, `${L}.cross.q_norm.g`, at(x.q), x.qn, rows, headLayout(ctx, nHeads, d, d)),
          await headNorm(ctx, `${L}.cross.k_norm.g`, at(x.kv), x.kn, memRows, headLayout(ctx, nHeads, 2 * d, d)),
        );
      }
      out.push(
        await crossAttentionForward(rt, { q: at(x.qn?.y ?? x.q), kv: at(x.kv), k: x.kn && at(x.kn.y), out: at(x.att), probs: x.attention.probs, keyValid: memory.keyValid, batch, tq: seqLen, tk: memory.seqLen, nHeads, headDim: dh }),
        await matmul(rt, { M: rows, N: d, K: d, a: at(x.att), b: P(`${L}.cross.wo`), transB: true, bias: P(`${L}.cross.bo`), residual: at(c.mid), c: at(x.mid) }),
      );
    }
    const mlpIn = x ? x.mid : c.mid;
    out.push(
      ...(await normedProduct(ctx, `${L}.ln2`, mlpIn, c.ln2, rows, { N: dFF, b: P(`${L}.mlp.w1`), transB: true, bias: P(`${L}.mlp.b1`), gelu: { preact: at(c.pre) }, c: at(c.act) })),
      await matmul(rt, { M: rows, N: d, K: dFF, a: at(c.act), b: P(`${L}.mlp.w2`), transB: true, bias: P(`${L}.mlp.b2`), residual: at(mlpIn), c: at(buf.xs[l + 1]) }),
    );
  }
  // In the fused graph the top stack's final norm runs inside the cross-entropy kernel (buildTransformerGraph).
  if (!(ctx.fused && top)) out.push(await blockNorm(ctx, `${S}lnf`, buf.xs[s.nLayers], buf.lnf, rows, { layout: lnfLayout }));
  return out;
}

/**
 * Backward through a stack from dY (the gradient of its output LNf(x)): parameter gradients into the gradient
 * buffer, and for a stack with memory the memory's gradient into one of its two dMemory buffers, which is
 * returned (null for a stack without memory). `lnfGains`: the final norm's dx is computed already (in the product that
 * computed dY), its gain sums are left to this stack's first dispatch.
 */
async function stackBackward(
  ctx: Context,
  s: StackSpec,
  seqLen: number,
  buf: StackBuffers,
  scratch: Scratch,
  dY: GPUBuffer,
  memory: Memory | null,
  lnfLayout?: NormLayout,
  lnfGains?: NormGainSums,
): Promise<{ dispatches: Dispatch[]; dMemory: GPUBuffer | null }> {
  const { rt, P, G, batch, d, dFF, nHeads, dh } = ctx;
  const rows = batch * seqLen;
  const S = s.prefix;
  const attn = { keyValid: buf.keyValid, batch, seqLen, nHeads, headDim: dh, causal: s.causal };
  const { dPre, dLnY, dAtt, dQkv, dKv, dQk, dKn } = scratch;
  const { dx, dMemory: dMemoryPair } = buf.grad!;
  const out: Dispatch[] = [];
  if (!lnfGains) out.push(await blockNormBackward(ctx, `${S}lnf`, dY, buf.xs[s.nLayers], buf.lnf, rows, dx, false, lnfLayout));
  // With the norms in products, LN2's and LN1's dx come out of the product that computes their dy, and their gain sums
  // (and the final norm's) wait here for the next dispatch (nextGains takes them).
  let gains: NormGainSums | undefined = lnfGains;
  const nextGains = () => {
    const g = gains;
    gains = undefined;
    return g;
  };
  // The product job `job` computing dy of the norm `name`, with the norm's backward after it or inside it.
  const normGradProducts = async (jobs: MatmulArgs[], job: Omit<MatmulArgs, 'c'>, name: string, x: GPUBuffer, ln: NormBuffers): Promise<Dispatch[]> => {
    if (!ctx.intoProducts) return [...(await products(ctx, [...jobs, { ...job, c: at(dLnY) }], nextGains())), await blockNormBackward(ctx, name, dLnY, x, ln, rows, dx, true)];
    const norm = normInProducts(ctx, name, dLnY, x, ln, rows, dx);
    const dispatches = await products(ctx, [...jobs, { ...job, c: at(dLnY), normGrad: norm.grad }], nextGains());
    gains = norm.gains;
    return dispatches;
  };
  let dMemory: GPUBuffer | null = null;
  for (let l = s.nLayers - 1; l >= 0; l--) {
    const L = `${S}layers.${l}`;
    const c = buf.layers[l];
    const x = c.cross;
    const mlpIn = x ? x.mid : c.mid;
    out.push(
      ...(await products(ctx, [
        { M: d, N: dFF, K: rows, a: at(dx), transA: true, b: at(c.act), c: G(`${L}.mlp.w2`), biasGrad: G(`${L}.mlp.b2`) },
        { M: rows, N: dFF, K: d, a: at(dx), b: P(`${L}.mlp.w2`), geluGrad: { preact: at(c.pre) }, c: at(dPre) },
      ], nextGains())),
      ...(await normGradProducts(
        [{ M: dFF, N: d, K: rows, a: at(dPre), transA: true, b: at(c.ln2.y), c: G(`${L}.mlp.w1`), biasGrad: G(`${L}.mlp.b1`) }],
        { M: rows, N: d, K: dFF, a: at(dPre), b: P(`${L}.mlp.w1`) },
        `${L}.ln2`, mlpIn, c.ln2,
      )),
    );
    if (x) {
      if (!memory || !dMemoryPair || !dKv) throw new Error(`stack ${S} cross-attends but has no memory`);
      const memRows = batch * memory.seqLen;
      // dQ lives in the dQkv scratch (free until the self-attention below).
      const dQ = dQkv;
      const next: GPUBuffer = dMemoryPair[dMemory === dMemoryPair[0] ? 1 : 0];
      const crossShape = { ...backwardScratch(x.attention), dOut: at(dAtt), keyValid: memory.keyValid, batch, tq: seqLen, tk: memory.seqLen, nHeads, headDim: dh, split: !ctx.fused };
      out.push(
        ...(await products(ctx, [
          { M: d, N: d, K: rows, a: at(dx), transA: true, b: at(x.att), c: G(`${L}.cross.wo`), biasGrad: G(`${L}.cross.bo`) },
          { M: rows, N: d, K: d, a: at(dx), b: P(`${L}.cross.wo`), c: at(dAtt) },
        ], nextGains())),
      );
      if (x.qn && x.kn) {
        if (!dQk || !dKn) throw new Error(`stack ${S} has QK-norm but no scratch for it`);
        // dQ and dK of the normalised q and k (dQk, dKn), dV into dKv; then through the norms into dQ and dKv's K columns.
        out.push(
          ...(await crossAttentionBackward(rt, { q: at(x.qn.y), kv: at(x.kv), k: at(x.kn.y), dQ: at(dQk), dKv: at(dKv), dK: at(dKn), ...crossShape })),
          await headNormBackward(ctx, `${L}.cross.q_norm.g`, at(dQk), at(x.q), x.qn, at(dQ), rows, headLayout(ctx, nHeads, d, d)),
          await headNormBackward(ctx, `${L}.cross.k_norm.g`, at(dKn), at(x.kv), x.kn, at(dKv), memRows, headLayout(ctx, nHeads, 2 * d, d)),
        );
      } else {
        out.push(...(await crossAttentionBackward(rt, { q: at(x.q), kv: at(x.kv), dQ: at(dQ), dKv: at(dKv), ...crossShape })));
      }
      out.push(
        ...(await products(ctx, [
          { M: d, N: d, K: rows, a: at(dQ), transA: true, b: at(x.ln.y), c: G(`${L}.cross.wq`), biasGrad: G(`${L}.cross.bqkv`) },
          { M: 2 * d, N: d, K: memRows, a: at(dKv), transA: true, b: at(memory.y), c: G(`${L}.cross.wk`), biasGrad: G(`${L}.cross.bqkv`, d) },
          { M: memRows, N: d, K: 2 * d, a: at(dKv), b: P(`${L}.cross.wk`), residual: dMemory ? at(dMemory) : undefined, c: at(next) },
          { M: rows, N: d, K: d, a: at(dQ), b: P(`${L}.cross.wq`), c: at(dLnY) },
        ])),
        await blockNormBackward(ctx, `${L}.ln_cross`, dLnY, c.mid, x.ln, rows, dx, true),
      );
      dMemory = next;
    }
    const woGrad: MatmulArgs[] = [
      { M: d, N: d, K: rows, a: at(dx), transA: true, b: at(c.att), c: G(`${L}.attn.wo`), biasGrad: G(`${L}.attn.bo`) },
      { M: rows, N: d, K: d, a: at(dx), b: P(`${L}.attn.wo`), c: at(dAtt) },
    ];
    if (c.qk && !dQk) throw new Error(`stack ${S} has QK-norm but no scratch for it`);
    // With QK-norm: dQ and dK of the normalised q|k into dQk, dV into dQkv; then through the norm into dQkv's Q and K columns.
    const normed = c.qk ? { qk: at(c.qk.y), dQk: at(dQk!) } : {};
    const selfAttn = { qkv: at(c.qkv), ...backwardScratch(c.attention), dOut: at(dAtt), dQkv: at(dQkv), ...attn, ...normed };
    if (ctx.attentionInProducts && seqLen > SHORT_SEQUENCE) {
      // The first half of the attention's backward in the epilogue of the product computing its dOut.
      // The gain sums waiting (LN2's) go with its second half: beside the product and the first half, the dispatch
      // would bind more buffers than an adapter may allow.
      const after = await attentionBackwardAfterProduct(rt, selfAttn, nextGains());
      out.push(...(await products(ctx, [woGrad[0], { ...woGrad[1], attention: after.rows }])), after.keys);
    } else {
      out.push(...(await products(ctx, woGrad, nextGains())), ...(await attentionBackward(rt, { ...selfAttn, split: !ctx.fused })));
    }
    if (c.qk) out.push(await headNormBackward(ctx, `${L}.attn.q_norm.g`, at(dQk!), at(c.qkv), c.qk, at(dQkv), rows, headLayout(ctx, 2 * nHeads, 3 * d, 2 * d)));
    out.push(
      ...(await normGradProducts(
        [{ M: 3 * d, N: d, K: rows, a: at(dQkv), transA: true, b: at(c.ln1.y), c: G(`${L}.attn.wq`), biasGrad: G(`${L}.attn.bqkv`) }],
        { M: rows, N: d, K: 3 * d, a: at(dQkv), b: P(`${L}.attn.wq`) },
        `${L}.ln1`, buf.xs[l], c.ln1,
      )),
    );
  }
  out.push(await embeddingBackward(rt, { tokenOrder: buf.tokenOrder!, dOut: at(dx), dTok: G(`${S}tok_emb`), dPos: G(`${S}pos_emb`), batch, seqLen, d, vocab: s.vocabSize, gainSums: nextGains() }));
  return { dispatches: out, dMemory };
}

/** An attention's probs and the scratch its backward needs (planned only with the backward). */
function backwardScratch(a: { probs: TensorRef; ds: TensorRef | undefined }): { probs: TensorRef; ds: TensorRef } {
  if (!a.ds) throw new Error('attention backward in a graph planned without the backward');
  return { probs: a.probs, ds: a.ds };
}

export async function buildTransformerGraph(
  rt: GpuRuntime,
  config: AnyModelConfig,
  state: ParamState,
  shape: BatchShape,
  opts: { backward: boolean; fused?: Fusion },
): Promise<TransformerGraph> {
  const levels = fusionLevels(opts.fused ?? true, rt.adapter);
  for (const [i, level] of levels.entries()) {
    // A graph that does not fit the adapter's bindings leaves nothing behind: the buffers it allocated are destroyed,
    // and only those (other work may allocate on this runtime meanwhile).
    const attempt = rt.tracking();
    try {
      return await buildGraph(attempt.rt, config, state, shape, opts.backward, level);
    } catch (err) {
      attempt.release();
      if (!(err instanceof BindingLimitError) || i === levels.length - 1) throw err;
    }
  }
  throw new Error('unreachable: fusionLevels gives at least one graph');
}

async function buildGraph(rt: GpuRuntime, config: AnyModelConfig, state: ParamState, shape: BatchShape, withBackward: boolean, level: FusionLevel): Promise<TransformerGraph> {
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
    norm: normKind(config),
    ...level,
  };
  // When every position is read out, the head reads LNf's output directly. Otherwise the cross-entropy kernel that
  // runs the final norm (the fused graph) normalises only the readout rows, into the head's input (lnfLayout), and
  // unfused they are gathered after LNf.
  const readsAllRows = readout.start === 0 && readout.count === seqLen;
  const gathers = !readsAllRows && !ctx.fused;
  const lnfLayout = readsAllRows || gathers ? undefined : readoutLayout(ctx, seqLen, readout);

  const buf = allocate(rt, planActivations(config, shape, withBackward, ctx.fused));
  const { targets, logits, losses, dLogits } = buf;
  const memoryOf = (i: number): Memory | null =>
    i === 0 ? null : { y: buf.stacks[i - 1].lnf.y, seqLen: lengths[i - 1], keyValid: buf.stacks[i - 1].keyValid };
  const top = buf.stacks[stacks.length - 1];
  const headIn = gathers ? buf.headIn! : top.lnf.y;
  const rowMap = { batch, seqLen, start: readout.start, count: readout.count, d };
  const P = ctx.P;
  const G = ctx.G;

  const forward: Dispatch[] = [];
  const isTop = (i: number) => i === stacks.length - 1;
  for (let i = 0; i < stacks.length; i++) forward.push(...(await stackForward(ctx, stacks[i], lengths[i], buf.stacks[i], memoryOf(i), isTop(i), isTop(i) ? lnfLayout : undefined)));
  if (gathers) forward.push(await gatherRows(rt, { src: at(top.lnf.y), dst: at(headIn), ...rowMap }));
  // The top stack's final norm, the head's logits, then softmax + cross-entropy + dlogits; in the fused graph one
  // dispatch computes all three.
  const scoring = { logits: at(logits), targets, losses: at(losses), dLogits: at(dLogits), rows: outRows * heads, classes: nClasses, lossScale: heads };
  if (ctx.fused) {
    const topSpec = stacks[stacks.length - 1];
    const lnf = { x: at(top.xs[topSpec.nLayers]), gamma: P(`${topSpec.prefix}lnf.g`), rstd: top.lnf.stats.rstd, seqLen, ...readout };
    const norm: HeadNorm = ctx.norm === 'rms' ? { ...lnf, kind: 'rms' } : { ...lnf, kind: 'layer', beta: P(`${topSpec.prefix}lnf.b`), mean: top.lnf.stats.mean! };
    forward.push(await crossEntropy(rt, { ...scoring, head: { input: at(headIn), w: P('head.w'), bias: P('head.b'), inputs: d, heads, norm } }));
  } else {
    forward.push(
      // Summed as the fused graph's cross-entropy kernel sums the logits (no split-K).
      await matmul(rt, { M: outRows, N: headOutputs, K: d, a: at(headIn), b: P('head.w'), transB: true, bias: P('head.b'), c: at(logits), serialK: true }),
      await crossEntropy(rt, scoring),
    );
  }

  const backward: Dispatch[] = [];
  if (withBackward) {
    const scratch = buf.grad!;
    // Rows of dLnfY outside the readout are never written and stay zero: those positions do not reach the loss.
    const dLnfY = gathers ? scratch.dLnfY! : scratch.dHeadIn;
    // With the norms in products, the top stack's final norm takes its backward to dx in the head's dX product.
    const topSpec = stacks[stacks.length - 1];
    const window = readsAllRows ? undefined : { seqLen, ...readout };
    const lnf = ctx.intoProducts ? normInProducts(ctx, `${topSpec.prefix}lnf`, scratch.dHeadIn, top.xs[topSpec.nLayers], top.lnf, outRows, top.grad!.dx, false, window) : undefined;
    backward.push(
      ...(await products(ctx, [
        { M: headOutputs, N: d, K: outRows, a: at(dLogits), transA: true, b: at(headIn), c: G('head.w'), biasGrad: G('head.b') },
        { M: outRows, N: d, K: headOutputs, a: at(dLogits), b: P('head.w'), c: at(scratch.dHeadIn), normGrad: lnf?.grad },
      ])),
    );
    if (gathers) backward.push(await scatterRows(rt, { src: at(scratch.dHeadIn), dst: at(dLnfY), ...rowMap }));
    let dY: GPUBuffer | null = dLnfY;
    for (let i = stacks.length - 1; i >= 0; i--) {
      if (!dY) throw new Error(`stack ${stacks[i].prefix} feeds the next stack, which did not read it`);
      const b = await stackBackward(ctx, stacks[i], lengths[i], buf.stacks[i], scratch, dY, memoryOf(i), isTop(i) ? lnfLayout : undefined, isTop(i) ? lnf?.gains : undefined);
      backward.push(...b.dispatches);
      dY = b.dMemory;
    }
  }

  const batchUploads = (data: Batch): BatchUpload[] => {
    checkBatch(config, shape, data);
    const uploads: BatchUpload[] = stackTokens(config, data).flatMap((tokens, i) => {
      const b = buf.stacks[i];
      const mask = keyValidMask(config, tokens);
      return [
        { buffer: b.tokens, data: tokens },
        ...(b.keyValid && mask ? [{ buffer: b.keyValid, data: mask }] : []),
        ...(b.tokenOrder ? [{ buffer: b.tokenOrder, data: tokenOrder(tokens, stacks[i].vocabSize) }] : []),
      ];
    });
    uploads.push({ buffer: targets, data: data.targets });
    return uploads;
  };

  return {
    config,
    shape,
    fusion: level,
    forward,
    backward,
    losses,
    logits,
    residual: top.xs[stacks[stacks.length - 1].nLayers],
    attentionProbs: buf.stacks.flatMap((b, i) =>
      b.layers.flatMap((c, layer) => {
        const self = { ...c.attention.probs, heads: config.nHeads, queries: lengths[i], keys: lengths[i], stack: i, layer, cross: false };
        return c.cross ? [self, { ...self, ...c.cross.attention.probs, keys: lengths[i - 1], cross: true }] : [self];
      }),
    ),
    batchUploads,
    setBatch(data: Batch) {
      for (const u of batchUploads(data)) rt.write(u.buffer, u.data);
    },
  };
}

/**
 * Every activation buffer of the graph, in floats (or u32 elements), before anything is allocated: `allocate`
 * checks the whole plan against the adapter's limits first, so a model that does not fit is rejected before
 * any GPU work, with the name of the buffer and the limit. Backward scratch is shared by the stacks.
 */
export function planActivations(config: AnyModelConfig, shape: BatchShape, backward: boolean, fused = true) {
  validateShape(config, shape);
  const { dModel: d, dFF, nHeads, nClasses } = config;
  const { batch, seqLen, readout } = shape;
  const lengths = stackLengths(config, shape);
  const outRows = batch * readout.count;
  const scoredRows = outRows * taskHeadCount(config);
  // The top stack's final norm writes the readout rows only (fused: inside the cross-entropy kernel) or every row,
  // then gathered (headIn).
  const gathers = !fused && !(readout.start === 0 && readout.count === seqLen);
  // A norm's statistics share one buffer (one binding where a kernel reads or writes both).
  const ln = (rows: number, yRows = rows) => ({ y: yRows * d, stats: packed({ mean: normKind(config) === 'layer' ? rows : undefined, rstd: rows }) });
  // An attention's probabilities and, with the backward, its scratch ds laid out like them (shaders/attention.wgsl), in
  // one buffer: the backward's keys dispatch reads both, beside a norm's gain sums in the fused graph, within 8 bindings.
  const attentionScratch = (probs: number) => packed({ probs, ds: backward ? probs : undefined });
  const nStacks = modelStacks(config).length;
  // QK-norm's output for `rows` rows of `heads` head vectors (one or both of Q and K).
  const qkNorm = hasQkNorm(config);
  const headNormed = (rows: number, heads: number) => (qkNorm ? { y: rows * heads * headDim(config), rstd: rows * heads } : undefined);
  const stacks = modelStacks(config).map((s, i) => {
    const T = lengths[i];
    const rows = batch * T;
    const memLen = i > 0 ? lengths[i - 1] : 0;
    return {
      tokens: rows,
      keyValid: config.padToken === undefined ? undefined : rows,
      // The embedding backward's view of the tokens, uploaded with them.
      tokenOrder: backward ? tokenOrderLength(rows, s.vocabSize) : undefined,
      xs: Array.from({ length: s.nLayers + 1 }, () => rows * d),
      layers: Array.from({ length: s.nLayers }, () => ({
        ln1: ln(rows),
        qkv: rows * 3 * d,
        qk: headNormed(rows, 2 * nHeads),
        att: rows * d,
        attention: attentionScratch(batch * nHeads * T * T),
        mid: rows * d,
        cross: s.cross
          ? {
              ln: ln(rows),
              q: rows * d,
              kv: batch * memLen * 2 * d,
              qn: headNormed(rows, nHeads),
              kn: headNormed(batch * memLen, nHeads),
              att: rows * d,
              attention: attentionScratch(batch * nHeads * T * memLen),
              mid: rows * d,
            }
          : undefined,
        ln2: ln(rows),
        pre: rows * dFF,
        act: rows * dFF,
      })),
      lnf: ln(rows, i === nStacks - 1 && !gathers ? outRows : rows),
      grad: backward ? { dx: rows * d, dMemory: s.cross ? [batch * memLen * d, batch * memLen * d] : undefined } : undefined,
    };
  });
  const maxRows = batch * Math.max(...lengths);
  const crossKeys = modelStacks(config).map((s, i) => (s.cross ? batch * lengths[i - 1] : 0));
  const maxMemRows = Math.max(...crossKeys);
  return {
    stacks,
    targets: scoredRows,
    headIn: gathers ? outRows * d : undefined,
    logits: scoredRows * nClasses,
    losses: scoredRows,
    dLogits: scoredRows * nClasses,
    grad: backward
      ? {
          dHeadIn: outRows * d,
          dLnfY: gathers ? batch * seqLen * d : undefined,
          dPre: maxRows * dFF,
          dLnY: maxRows * d,
          dAtt: maxRows * d,
          dQkv: maxRows * 3 * d,
          dKv: maxMemRows > 0 ? maxMemRows * 2 * d : undefined,
          // QK-norm: the gradient of the normalised q|k (self) or q (cross), and of the normalised cross-attention k.
          dQk: qkNorm ? maxRows * 2 * d : undefined,
          dKn: qkNorm && maxMemRows > 0 ? maxMemRows * d : undefined,
        }
      : undefined,
  };
}
