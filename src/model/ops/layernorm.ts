// LayerNorm and RMSNorm dispatches (shaders/layernorm.wgsl): the forward saves rstd (and LayerNorm's mean)
// per vector; the backward computes dx and the dGamma (and dBeta) sums in one dispatch, optionally adding the
// residual gradient that joins at a pre-norm block's input. A layout spreads the normalised vectors over a
// tensor: the model's norms are row-major [rows, d] (the default); QK-norm normalises each head's slice of Q and
// K where the projection wrote them (src/model/transformer.ts).
import source from '../../../shaders/layernorm.wgsl?raw';
import normRow from '../../../shaders/norm_row.wgsl?raw';
import normGradRow from '../../../shaders/norm_grad.wgsl?raw';
import { at, f32, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { instantiateKernel, read, standIns, write, type KernelSpec, type StandIn, type TensorArg } from '../../gpu/kernel-template';
import { NORM_EPS } from '../config';
import type { NormKind } from '../../formats/model-config';

export type LayerNormKernel =
  /** One workgroup of 64 invocations per row, tree reductions in workgroup memory (GPUs). */
  | { kind: 'tree' }
  /** One invocation per row (and per column of dGamma/dBeta): no workgroup memory, no barrier. */
  | { kind: 'serial' };

const WG = 64;
/** Invocations per row (LANES in the shader), by variant. */
const LANES = { tree: WG, serial: 1 } as const;
/** Invocations per gain column of the backward (GAIN_LANES in shaders/norm_row.wgsl: LANES, at most 8), by variant. */
const GAIN_LANES = { tree: 8, serial: 1 } as const;

/** Workgroups of `workgroupSize` invocations for `columns` gain columns, GAIN_LANES invocations each. */
function gainGroups(kernel: LayerNormKernel, columns: number, workgroupSize: number): number {
  return Math.ceil(columns / (workgroupSize / GAIN_LANES[kernel.kind]));
}

/**
 * Which variant runs on this adapter. On a CPU implementation of WebGPU (SwiftShader) every workgroup that
 * meets a barrier is run as coroutines at a cost of ~0.3 ms, so there each invocation owns a whole row
 * instead (as chooseMatmulKernel does for the matmuls): measured 30-60x faster on SwiftShader.
 */
export function chooseLayerNormKernel(adapter: { isSoftware: boolean }): LayerNormKernel {
  return { kind: adapter.isSoftware ? 'serial' : 'tree' };
}

/**
 * Where the `rows` normalised vectors of d elements lie (shaders/layernorm.wgsl): vector r is segment r % segments
 * of outer row r / segments, at (r / segments) * stride + (r % segments) * d in x and dx (xStride) or y and dy
 * (yStride). Runs of `segmentsPerGain` consecutive segments share one gain vector of d, so gamma (beta, dGamma,
 * dBeta) holds segments / segmentsPerGain of them.
 */
export interface NormLayout {
  segments: number;
  segmentsPerGain: number;
  xStride: number;
  yStride: number;
  /**
   * y and dy hold only segments [start, start + count) of each outer row, at yStride (one gain vector only): the
   * forward normalises those vectors alone, the backward takes dy = 0 for the others (the final LayerNorm of a model
   * read out at some positions, its y the head's input).
   */
  window?: { start: number; count: number };
}

/**
 * The fills of shaders/norm_row.wgsl for a kernel that normalises its own input with the bits this adapter's norm
 * kernel would give (its lanes' order of summation): NORM_ROW (the functions), NORM_LANES and CENTRED.
 */
export function normRowFills(adapter: { isSoftware: boolean }, kind: NormKind, kernel = chooseLayerNormKernel(adapter)): Record<string, string> {
  return { NORM_ROW: normRow, NORM_LANES: `${LANES[kernel.kind]}u`, CENTRED: String(kind === 'layer') };
}

/** The accessors a kernel that normalises its own input reads and writes, with their stand-ins when it binds none. */
export const NORM_ROW_ACCESSORS: readonly StandIn[] = [
  { signature: 'read_x(i: u32) -> f32', tensor: 'x', body: 'return 0.0;' },
  { signature: 'read_gamma(i: u32) -> f32', tensor: 'gamma', body: 'return 0.0;' },
  { signature: 'read_beta(i: u32) -> f32', tensor: 'beta', body: 'return 0.0;' },
  { signature: 'write_mean(i: u32, v: f32)', tensor: 'mean', body: '' },
  { signature: 'write_rstd(i: u32, v: f32)', tensor: 'rstd', body: '' },
];

/**
 * The fill of shaders/norm_grad.wgsl (NORM_GRAD_ROW) for a kernel that folds a row-major norm's backward into its own
 * work, with the bits of this kernel's backward; it takes normRowFills' NORM_LANES and CENTRED, and NORM_ROW before it.
 */
export function normGradFills(): Record<string, string> {
  return { NORM_GRAD_ROW: normGradRow };
}

/**
 * The accessors shaders/norm_grad.wgsl reads (besides NORM_ROW_ACCESSORS' read_gamma) and the gain sums' writes, with
 * their stand-ins when a kernel binds none.
 */
export const NORM_GRAD_ACCESSORS: readonly StandIn[] = [
  { signature: 'read_dy(i: u32) -> f32', tensor: 'dy', body: 'return 0.0;' },
  { signature: 'read_mean(i: u32) -> f32', tensor: 'mean', body: 'return 0.0;' },
  { signature: 'read_rstd(i: u32) -> f32', tensor: 'rstd', body: 'return 0.0;' },
  { signature: 'write_dgamma(i: u32, v: f32)', tensor: 'dgamma', body: '' },
  { signature: 'write_dbeta(i: u32, v: f32)', tensor: 'dbeta', body: '' },
];

/**
 * A norm of only positions [start, start + count) of each sequence of seqLen rows (the final norm of a model read out at
 * some): row r of its output (and dy) is row (r / count) * seqLen + start + r % count of x (and dx, and the statistics).
 */
export interface NormWindow {
  seqLen: number;
  start: number;
  count: number;
}

/** Rows of x under a norm of `rows` output rows. */
export function normInputRows(rows: number, window?: NormWindow): number {
  return window ? (rows / window.count) * window.seqLen : rows;
}

/**
 * shaders/norm_grad.wgsl's window functions: x_row(r), the row of x under dy row r; dy_row(xr), the dy row of x row
 * xr (0xffffffff outside the window); x_rows(rows), the rows of x under `rows` rows of dy.
 */
export function windowFunctions(window?: NormWindow): string {
  const w = window;
  return [
    `fn x_row(r: u32) -> u32 { ${w ? `return (r / ${w.count}u) * ${w.seqLen}u + ${w.start}u + r % ${w.count}u;` : 'return r;'} }`,
    `fn dy_row(xr: u32) -> u32 { ${w ? `let t = xr % ${w.seqLen}u - ${w.start}u;\n  return select(0xffffffffu, (xr / ${w.seqLen}u) * ${w.count}u + t, t < ${w.count}u);` : 'return xr;'} }`,
    `fn x_rows(rows: u32) -> u32 { ${w ? `return (rows / ${w.count}u) * ${w.seqLen}u;` : 'return rows;'} }`,
  ].join('\n');
}

/**
 * The gain gradients of a row-major norm of `rows` rows of d: dGamma [d] = sum over rows of dy * xhat (LayerNorm: dBeta
 * [d] = sum of dy), as normBackward sums them, from dy [rows, d] (written by an earlier dispatch: a product's C), x, mean
 * and rstd (under `window`, at the rows it maps to).
 */
export type NormGainSums = { dy: TensorRef; x: TensorRef; rstd: TensorRef; dGamma: TensorRef; rows: number; d: number; window?: NormWindow; kernel?: LayerNormKernel } & (
  | { kind: 'layer'; mean: TensorRef; dBeta: TensorRef }
  | { kind: 'rms' }
);

/** The tensors a kernel summing `s` binds (shaders/norm_grad.wgsl's names). */
export function gainSumsTensors(s: NormGainSums): Record<string, TensorArg | undefined> {
  const { rows, d } = s;
  const xRows = normInputRows(rows, s.window);
  return {
    dy: read(s.dy, rows * d),
    x: read(s.x, xRows * d),
    mean: s.kind === 'layer' ? read(s.mean, xRows) : undefined,
    rstd: read(s.rstd, xRows),
    dgamma: write(s.dGamma, d),
    dbeta: s.kind === 'layer' ? write(s.dBeta, d) : undefined,
  };
}

/**
 * Workgroups of `workgroupSize` invocations that sum `s`'s gain columns beside other work (shaders/norm_grad.wgsl's
 * norm_gain_sums): GAIN_LANES invocations a column, as many as the norm kernel's backward gives a column on this
 * adapter. None without gain sums.
 */
export function gainSumsWorkgroups(adapter: { isSoftware: boolean }, s: NormGainSums | undefined, workgroupSize: number): number {
  return s ? gainGroups(s.kernel ?? chooseLayerNormKernel(adapter), s.d, workgroupSize) : 0;
}

/**
 * What a kernel that sums a norm's gain gradients beside its own work (shaders/norm_grad.wgsl's norm_gain_sums: the
 * embedding and attention backwards in the fused graph on GPUs) binds and fills: the gain sums' tensors, and the fills
 * NORM_ROW, NORM_GRAD_ROW, NORM_LANES, CENTRED and GAIN_FUNCTIONS: stand-ins for the tensors it does not bind, x_at,
 * the window functions (windowFunctions), and gain_dims() -> (rows of dy, d), zeros without gain sums.
 */
export function gainSumsHost(adapter: { isSoftware: boolean }, s?: NormGainSums): { tensors: Record<string, TensorArg>; fills: Record<string, string> } {
  const tensors = s ? gainSumsTensors(s) : {};
  const functions = [
    standIns(tensors, [...NORM_ROW_ACCESSORS, ...NORM_GRAD_ACCESSORS]),
    `fn x_at(r: u32, i: u32) -> f32 { return read_x(r * ${s?.d ?? 0}u + i); }`,
    windowFunctions(s?.window),
    `fn gain_dims() -> vec2<u32> { return vec2(${s?.rows ?? 0}u, ${s?.d ?? 0}u); }`,
  ];
  return {
    tensors: Object.fromEntries(Object.entries(tensors).filter((e): e is [string, TensorArg] => e[1] !== undefined)),
    fills: { ...normRowFills(adapter, s?.kind ?? 'layer', s?.kernel), ...normGradFills(), GAIN_FUNCTIONS: functions.join('\n') },
  };
}

/** Row-major [rows, d], one gain vector: the model's LayerNorms and RMSNorms. */
const rowMajor = (d: number): NormLayout => ({ segments: 1, segmentsPerGain: 1, xStride: d, yStride: d });

/** LayerNorm's own tensors: beta and dBeta, and the means the forward saves for the backward. RMSNorm has none. */
type Centring<T> = ({ kind?: 'layer' } & T) | { kind: 'rms' };

interface Shape {
  rows: number;
  d: number;
  /** Default: row-major [rows, d] with one gain vector. */
  layout?: NormLayout;
  /** Overrides the adapter-based choice (tests and benchmarks). */
  kernel?: LayerNormKernel;
}

/** The segments of each outer row that y holds. */
const window = (l: NormLayout) => l.window ?? { start: 0, count: l.segments };

function checkLayout(rows: number, d: number, l: NormLayout): void {
  const w = window(l);
  const windowOk = !l.window || (Number.isInteger(w.start) && Number.isInteger(w.count) && w.start >= 0 && w.count > 0 &&
    w.start + w.count <= l.segments && l.segmentsPerGain === l.segments);
  const ok = Number.isInteger(rows) && rows > 0 && Number.isInteger(d) && d > 0 && l.segments > 0 && l.segmentsPerGain > 0 &&
    rows % l.segments === 0 && l.segments % l.segmentsPerGain === 0 && l.xStride >= l.segments * d && l.yStride >= w.count * d && windowOk;
  if (!ok) throw new Error(`norm: bad layout for ${rows} vectors of ${d}: ${JSON.stringify(l)}`);
}

/** Elements spanned in x (and dx), in y (and dy), and by the gain vectors. */
function extents(rows: number, d: number, l: NormLayout) {
  const outer = rows / l.segments;
  return { x: (outer - 1) * l.xStride + l.segments * d, y: (outer - 1) * l.yStride + window(l).count * d, gain: (l.segments / l.segmentsPerGain) * d };
}

/**
 * The model's first norm may take the token and position embeddings as its input (shaders/layernorm.wgsl), which
 * it then also writes to x: [rows, d] row-major, rows = batch * seqLen, as src/model/ops/embedding.ts defines them.
 */
export interface NormEmbedding {
  tokens: GPUBuffer;
  tokEmb: TensorRef;
  posEmb: TensorRef;
  seqLen: number;
  vocab: number;
}

/**
 * The body of x_at(r, i) for a norm whose input is the embeddings, rows of `width` (a WGSL expression): the same sum,
 * in the same order, as shaders/embedding.wgsl. It reads what embeddingBindings binds.
 */
export function embeddingAt(width: string): string {
  return `let token = read_tokens(r);\n  var v = read_pos_emb((r % p.seq_len) * ${width} + i);\n  if (token < p.vocab) {\n    v += read_tok_emb(token * ${width} + i);\n  }\n  return v;`;
}

/** The uniforms and tensors embeddingAt reads, for `rows` rows of d. */
export function embeddingBindings(embed: NormEmbedding, rows: number, d: number) {
  return {
    uniforms: { seq_len: u32(embed.seqLen), vocab: u32(embed.vocab) },
    tensors: { tokens: read(at(embed.tokens), rows, 'u32'), tok_emb: read(embed.tokEmb, embed.vocab * d), pos_emb: read(embed.posEmb, embed.seqLen * d) },
  };
}

function normSource(kernel: LayerNormKernel, kind: NormKind, layout: NormLayout, spec: Omit<KernelSpec, 'fills'>, hasResidual = false, embeds = false) {
  const centred = kind === 'layer';
  return instantiateKernel(source, {
    ...spec,
    label: `${spec.label}.${kind}.${kernel.kind}`,
    fills: {
      WG: `${WG}u`,
      LANES: `${LANES[kernel.kind]}u`,
      SEGS: `${layout.segments}u`,
      SET_SEGS: `${layout.segmentsPerGain}u`,
      Y_FIRST: `${window(layout).start}u`,
      Y_SEGS: `${window(layout).count}u`,
      CENTRED: String(centred),
      NORM_ROW: normRow,
      BETA: centred ? 'return read_beta(i);' : 'return 0.0;',
      MEAN: centred ? 'return read_mean(r);' : 'return 0.0;',
      SAVE_MEAN: centred ? 'write_mean(r, v);' : '',
      SAVE_DBETA: centred ? 'write_dbeta(i, v);' : '',
      RESIDUAL_GRAD: hasResidual ? 'return read_residual(i);' : 'return 0.0;',
      X_AT: embeds ? embeddingAt('p.d') : 'return read_x(x_base(r) + i);',
      SAVE_X: embeds ? 'write_x(i, v);' : '',
    },
  });
}

/** Workgroups over the vectors (WG / LANES each), as the shader lays them out. */
function rowGroups(kernel: LayerNormKernel, rows: number): number {
  return Math.ceil(rows / (WG / LANES[kernel.kind]));
}

/**
 * y = norm(x) * gamma (+ beta); saves rstd (and the LayerNorm means) per vector. With `embed`, x is not read but
 * computed from the embeddings and written (row-major layout only).
 */
export function normForward(
  rt: GpuRuntime,
  a: Shape & { x: TensorRef; gamma: TensorRef; y: TensorRef; rstd: TensorRef; embed?: NormEmbedding } & Centring<{ beta: TensorRef; mean: TensorRef }>,
): Promise<Dispatch> {
  const { rows, d, embed } = a;
  const layout = a.layout ?? rowMajor(d);
  checkLayout(rows, d, layout);
  if (embed && (a.layout || rows % embed.seqLen !== 0)) throw new Error(`norm: an embedding input is ${rows} row-major rows of whole sequences of ${embed.seqLen}`);
  const n = extents(rows, d, layout);
  const kernel = a.kernel ?? chooseLayerNormKernel(rt.adapter);
  const embedding = embed && embeddingBindings(embed, rows, d);
  const k = normSource(kernel, a.kind ?? 'layer', layout, {
    label: embed ? 'layernorm.forward.embedded' : 'layernorm.forward',
    section: 'forward',
    uniforms: { rows: u32(rows), d: u32(d), eps: f32(NORM_EPS), x_stride: u32(layout.xStride), y_stride: u32(layout.yStride), ...embedding?.uniforms },
    tensors: {
      ...embedding?.tensors,
      x: embed ? write(a.x, n.x) : read(a.x, n.x),
      gamma: read(a.gamma, n.gain),
      ...(a.kind !== 'rms' && { beta: read(a.beta, n.gain) }),
      y: write(a.y, n.y),
      ...(a.kind !== 'rms' && { mean: write(a.mean, rows) }),
      rstd: write(a.rstd, rows),
    },
  }, false, !!embed);
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [rowGroups(kernel, rows)] });
}

/**
 * dx = norm-backward(dy) (+ residualGrad), dGamma = sum dy * xhat (and LayerNorm's dBeta = sum dy) over the
 * vectors each gain scales; all are written, not accumulated. residualGrad (laid out like x) may be the very
 * tensor dx (updated in place) or any other; dx must not overlap dy or x.
 */
export function normBackward(
  rt: GpuRuntime,
  a: Shape & {
    dy: TensorRef;
    x: TensorRef;
    gamma: TensorRef;
    rstd: TensorRef;
    dx: TensorRef;
    dGamma: TensorRef;
    residualGrad?: TensorRef;
  } & Centring<{ mean: TensorRef; dBeta: TensorRef }>,
): Promise<Dispatch> {
  const { rows, d } = a;
  const layout = a.layout ?? rowMajor(d);
  checkLayout(rows, d, layout);
  const n = extents(rows, d, layout);
  const kernel = a.kernel ?? chooseLayerNormKernel(rt.adapter);
  const k = normSource(
    kernel,
    a.kind ?? 'layer',
    layout,
    {
      label: 'layernorm.backward',
      section: 'backward',
      uniforms: { rows: u32(rows), d: u32(d), x_stride: u32(layout.xStride), y_stride: u32(layout.yStride) },
      tensors: {
        dy: read(a.dy, n.y),
        x: read(a.x, n.x),
        gamma: read(a.gamma, n.gain),
        ...(a.kind !== 'rms' && { mean: read(a.mean, rows) }),
        rstd: read(a.rstd, rows),
        ...(a.residualGrad && { residual: read(a.residualGrad, n.x) }),
        dx: write(a.dx, n.x),
        dgamma: write(a.dGamma, n.gain),
        ...(a.kind !== 'rms' && { dbeta: write(a.dBeta, n.gain) }),
      },
    },
    a.residualGrad !== undefined,
  );
  return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [rowGroups(kernel, rows) + gainGroups(kernel, n.gain, WG)] });
}
