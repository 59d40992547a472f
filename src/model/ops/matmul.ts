// The matmul family: C = epilogue(op(A) op(B)) with optional bias, residual, GELU (storing the pre-activation),
// GELU backward and bias gradient, fused into one dispatch (shaders/matmul.wgsl documents the semantics).
// The three uses in a Linear layer y = x W^T + b (x [rows, in], W [out, in]):
//   forward  Y  = X W^T   M = rows, N = out, K = in,   a = X,  b = W, transB
//   dX       dX = dY W    M = rows, N = in,  K = out,  a = dY, b = W
//   dW       dW = dY^T X  M = out,  N = in,  K = rows, a = dY, transA, b = X   (+ biasGrad: db = column sums of dY)
// Kernels are picked by shape, as tfjs-backend-webgpu does: a register-blocked tiled kernel, and a skinny
// kernel for products with at most 16 rows or columns, where a 64 x 64 tile would leave most invocations idle;
// and by adapter: CPU implementations of WebGPU get variants without workgroup memory (chooseMatmulKernel).
// With `norm` (the fused graph) the product's A is a LayerNorm or RMSNorm of its input, computed on load; with
// `normGrad` the norm whose output gradient is this product's C takes its backward to dx in the epilogue, and a later
// dispatch of products sums that norm's gain gradients (NormGainSums) beside them.
import source from '../../../shaders/matmul.wgsl?raw';
import { instantiateKernel, read, standIns, write, type StandIn, type TensorArg } from '../../gpu/kernel-template';
import { f32, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../../gpu/runtime';
import { embeddingAt, embeddingBindings, NORM_GRAD_ACCESSORS, NORM_ROW_ACCESSORS, normGradFills, normRowFills, type LayerNormKernel, type NormEmbedding, type NormGainSums, type NormWindow, gainSumsTensors, gainSumsWorkgroups, normInputRows, windowFunctions } from './layernorm';
import { NORM_EPS } from '../config';
import type { AttentionRows } from './attention';

export interface MatmulArgs {
  M: number;
  N: number;
  K: number;
  /** [M, K], or [K, M] when transA; with `norm`, written: the normalised rows. */
  a: TensorRef;
  /** [K, N], or [N, K] when transB. */
  b: TensorRef;
  /** [M, N], written (never read). */
  c: TensorRef;
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row. */
  bias?: TensorRef;
  /** [M, N], added last; must not overlap C. */
  residual?: TensorRef;
  /** Store preact = acc (+ bias) [M, N] and write C = gelu(preact). */
  gelu?: { preact: TensorRef };
  /** Multiply acc by gelu'(preact) [M, N] (the backward of `gelu`). */
  geluGrad?: { preact: TensorRef };
  /** Also write db [M] = sum_k op(A)[m, k]: with transA and A = dY this is the bias gradient. */
  biasGrad?: TensorRef;
  /** A = this norm of x, computed on load and written to `a` (one job of the tiled kernel, A not transposed). */
  norm?: MatmulNorm;
  /** C [M, N] is the output gradient of this norm of rows of N: its dx is computed too (tiled kernel, A not transposed). */
  normGrad?: MatmulNormGrad;
  /**
   * Self-attention's rows computed in this dispatch (tiled kernel, A not transposed): the forward's, whose output is A
   * (`a`), computed first; or the first half of the backward's, from dOut = C, after the product.
   */
  attention?: AttentionRows;
  /**
   * Sum each output's K products in order in one invocation, as the tiled kernel and the kernels that compute products
   * inside their own work do: no split-K on a small side (the unfused graph, to give the fused graph's bits).
   */
  serialK?: boolean;
  /** Overrides the shape-based kernel choice (tests and benchmarks). */
  kernel?: MatmulKernel;
}

/**
 * The model's LayerNorm or RMSNorm of x [M, K] row-major with gamma (and beta) [K], as normForward computes it; the
 * product writes what normForward would: A (to `a`), rstd (and mean) [M], and with `embed` x, computed from the
 * embeddings. `kernel`: the norm kernel variant whose order of summation to follow (default: this adapter's).
 */
export type MatmulNorm = { x: TensorRef; gamma: TensorRef; rstd: TensorRef; embed?: NormEmbedding; kernel?: LayerNormKernel } & (
  | { kind: 'layer'; beta: TensorRef; mean: TensorRef }
  | { kind: 'rms' }
);

/**
 * The model's LayerNorm or RMSNorm of x [M, N] row-major (gamma [N]; mean (LayerNorm) and rstd [M], the forward's), whose
 * output gradient is the product's C: writes dx [M, N] as normBackward would, added to dx's own contents (the residual
 * stream's gradient) when `residual`. Its gain gradients are left to a NormGainSums in a later dispatch. Under `window`
 * x, dx and the statistics have rows for every position, C only for the window's: the other rows of dx are left as they
 * are with `residual`, zeroed without. `kernel`: the norm kernel variant whose order of summation to follow (default:
 * this adapter's).
 */
export type MatmulNormGrad = { x: TensorRef; gamma: TensorRef; rstd: TensorRef; dx: TensorRef; residual: boolean; window?: NormWindow; kernel?: LayerNormKernel } & (
  | { kind: 'layer'; mean: TensorRef }
  | { kind: 'rms' }
);

export type MatmulKernel =
  /**
   * C in square tiles of side 4 * quads * wgDim, each computed by wgDim x wgDim invocations holding
   * (4 quads) x (4 quads) outputs; `staged` stages K slabs in workgroup memory, otherwise invocations read
   * the operands directly.
   */
  | { kind: 'tiled'; wgDim: 8 | 16; quads: 1 | 2; staged: boolean }
  /** Each invocation holds the (at most 16) outputs along the small side for one index of the long side. */
  | { kind: 'skinny'; smallSide: 'M' | 'N'; slices: number };

/** Outputs along the small side that one skinny invocation keeps in registers (four vec4 accumulators). */
const SKINNY_MAX = 16;
const SKINNY_WORKGROUP = 64;
/** On a GPU a skinny invocation walks about this many k before K is split over more invocations. */
const SKINNY_K_PER_SLICE = 64;

type Shape = { M: number; N: number; K: number; biasGrad?: unknown };

/** Rows or columns of C as the skinny kernel computes it: db comes out as one more column. */
function outputExtent(shape: Shape, side: 'M' | 'N'): number {
  return side === 'M' ? shape.M : shape.N + (shape.biasGrad ? 1 : 0);
}

/**
 * Which kernel runs a product of this shape. On a CPU implementation of WebGPU (SwiftShader) workgroup
 * memory and barriers are emulated (invocations become coroutines that switch at every barrier), so there
 * the kernels avoid them and hold bigger register blocks instead: measured 4-5x faster on SwiftShader.
 */
export function chooseMatmulKernel(shape: Shape & { norm?: unknown; normGrad?: unknown; attention?: unknown; serialK?: boolean }, adapter: { isSoftware: boolean }): MatmulKernel {
  const columns = outputExtent(shape, 'N');
  if (Math.min(shape.M, columns) <= SKINNY_MAX && !shape.norm && !shape.normGrad && !shape.attention) {
    const wantedSlices = 2 ** Math.ceil(Math.log2(Math.max(1, shape.K / SKINNY_K_PER_SLICE)));
    const slices = adapter.isSoftware || shape.serialK ? 1 : Math.min(SKINNY_WORKGROUP, wantedSlices);
    return { kind: 'skinny', smallSide: shape.M <= columns ? 'M' : 'N', slices };
  }
  return chooseTiledKernel([shape], adapter);
}

/** The tiled kernel for products computed together (one dispatch): tiles sized for all of them. */
export function chooseTiledKernel(shapes: Shape[], adapter: { isSoftware: boolean }): Extract<MatmulKernel, { kind: 'tiled' }> {
  if (adapter.isSoftware) return { kind: 'tiled', wgDim: 8, quads: 2, staged: false };
  // 64 x 64 tiles unless that leaves fewer than 32 workgroups to spread over the GPU.
  const bigTiles = shapes.reduce((sum, s) => sum + Math.ceil(s.M / 64) * Math.ceil(s.N / 64), 0);
  return { kind: 'tiled', wgDim: bigTiles >= 32 ? 16 : 8, quads: 1, staged: true };
}

function checkArgs(args: MatmulArgs, kernel: MatmulKernel): void {
  for (const dim of ['M', 'N', 'K'] as const) {
    if (!Number.isInteger(args[dim]) || args[dim] < 1) throw new RangeError(`matmul: ${dim} must be a positive integer, got ${args[dim]}`);
  }
  if (args.gelu && args.geluGrad) throw new Error('matmul: gelu and geluGrad cannot be combined');
  if (args.norm && (args.transA || kernel.kind !== 'tiled')) throw new Error('matmul: a norm on load needs the tiled kernel and A not transposed');
  if (args.normGrad && (args.transA || kernel.kind !== 'tiled')) throw new Error('matmul: a norm backward in the epilogue needs the tiled kernel and A not transposed');
  if (args.attention && (args.transA || kernel.kind !== 'tiled')) throw new Error('matmul: attention in a product needs the tiled kernel and A not transposed');
  const att = args.attention;
  if (att && (args.M !== att.rows || (att.pass === 'forward' ? args.K : args.N) !== att.d)) {
    throw new Error(`matmul: attention rows of ${att.rows} x ${att.d} do not fit the ${att.pass === 'forward' ? 'A' : 'C'} of ${args.M} x ${args.K} x ${args.N}`);
  }
  if (args.norm?.embed && args.M % args.norm.embed.seqLen !== 0) throw new Error(`matmul: an embedding input is ${args.M} rows of whole sequences of ${args.norm.embed.seqLen}`);
  if (kernel.kind === 'skinny') {
    const small = outputExtent(args, kernel.smallSide);
    if (small > SKINNY_MAX) throw new RangeError(`matmul: the skinny kernel holds at most ${SKINNY_MAX} outputs per line, not ${small}`);
    if (!Number.isInteger(Math.log2(kernel.slices)) || kernel.slices > SKINNY_WORKGROUP) {
      throw new RangeError(`matmul: skinny slices must be a power of two up to ${SKINNY_WORKGROUP}, got ${kernel.slices}`);
    }
  }
}

/**
 * Rejects a written tensor that overlaps another operand, of its own job or another, in the same buffer (the result
 * would race). Keys are display names.
 */
function checkNoOverlap(tensors: Map<string, TensorArg>): void {
  for (const [name, t] of tensors) {
    if (!t.writes) continue;
    for (const [other, u] of tensors) {
      const overlap = other !== name && u.ref.buffer === t.ref.buffer &&
        u.ref.offset < t.ref.offset + t.length && t.ref.offset < u.ref.offset + u.length;
      if (overlap) throw new Error(`matmul: ${name} overlaps ${other} in buffer ${t.ref.buffer.label || '(unnamed)'}`);
    }
  }
}

/** Short name of a kernel variant, for labels and benchmark output. */
export function kernelName(kernel: MatmulKernel): string {
  if (kernel.kind === 'skinny') return `skinny${kernel.smallSide}/${kernel.slices}`;
  return `tiled${4 * kernel.quads * kernel.wgDim}${kernel.staged ? 'staged' : 'direct'}`;
}

/** The per-job flags the shader tests (shaders/matmul.wgsl), as functions of the job. */
const FLAGS = {
  transA: (a: MatmulArgs) => a.transA,
  transB: (a: MatmulArgs) => a.transB,
  hasBias: (a: MatmulArgs) => a.bias,
  hasResidual: (a: MatmulArgs) => a.residual,
  gelu: (a: MatmulArgs) => a.gelu,
  geluGrad: (a: MatmulArgs) => a.geluGrad,
  biasGrad: (a: MatmulArgs) => a.biasGrad,
};

/** The accessors the shader calls with the job first, and what a job that does not bind the tensor gets instead. */
const ACCESSORS: { name: string; tensor: string; write: boolean; absent: string }[] = [
  { name: 'read_a', tensor: 'a', write: false, absent: '' },
  { name: 'read_b', tensor: 'b', write: false, absent: '' },
  { name: 'write_a', tensor: 'a', write: true, absent: '' },
  { name: 'write_c', tensor: 'c', write: true, absent: '' },
  { name: 'read_bias', tensor: 'bias', write: false, absent: 'return 0.0;' },
  { name: 'read_residual', tensor: 'residual', write: false, absent: 'return 0.0;' },
  { name: 'read_preact', tensor: 'preact', write: false, absent: 'return 0.0;' },
  { name: 'write_preact', tensor: 'preact', write: true, absent: '' },
  { name: 'write_db', tensor: 'db', write: true, absent: '' },
];

/** `fn name(job: u32, ...) -> type` returning body(j) for job j: one `switch` over the jobs (none for one job). */
function perJob(signature: string, jobs: number, body: (j: number) => string): string {
  if (jobs === 1) return `fn ${signature} { ${body(0)} }`;
  const cases = Array.from({ length: jobs }, (_, j) => `    ${j === jobs - 1 ? 'default' : `case ${j}u`}: { ${body(j)} }`);
  return `fn ${signature} {\n  switch job {\n${cases.join('\n')}\n  }\n}`;
}

/** The tensors of one job, named <tensor><job>. */
function jobTensors(args: MatmulArgs): Record<string, TensorArg | undefined> {
  const { M, N, K } = args;
  return {
    a: args.norm || args.attention?.pass === 'forward' ? write(args.a, M * K) : read(args.a, M * K),
    b: read(args.b, K * N),
    c: write(args.c, M * N),
    bias: args.bias && read(args.bias, N),
    residual: args.residual && read(args.residual, M * N),
    preact: args.gelu ? write(args.gelu.preact, M * N) : args.geluGrad ? read(args.geluGrad.preact, M * N) : undefined,
    db: args.biasGrad && write(args.biasGrad, M),
  };
}

/** The norm's accessors (shaders/matmul.wgsl, NORM and the norm backward), with the stand-ins a kernel that does not bind them gets. */
const NORM_ACCESSORS: StandIn[] = [
  ...NORM_ROW_ACCESSORS,
  ...NORM_GRAD_ACCESSORS,
  { signature: 'write_x(i: u32, v: f32)', tensor: 'x', body: '' },
  { signature: 'read_dx(i: u32) -> f32', tensor: 'dx', body: 'return 0.0;' },
  { signature: 'write_dx(i: u32, v: f32)', tensor: 'dx', body: '' },
];

/** The tensors of a norm backward in job `args`'s epilogue (dy: its C). */
function normGradTensors(args: MatmulArgs, g: MatmulNormGrad): Record<string, TensorArg | undefined> {
  const { M, N } = args;
  const xRows = normInputRows(M, g.window);
  if (g.window && M % g.window.count !== 0) throw new Error(`matmul: a norm backward of ${M} rows under a window of ${g.window.count} positions`);
  return {
    x: read(g.x, xRows * N),
    gamma: read(g.gamma, N),
    mean: g.kind === 'layer' ? read(g.mean, xRows) : undefined,
    rstd: read(g.rstd, xRows),
    dy: read(args.c, M * N),
    dx: write(g.dx, xRows * N),
  };
}

/**
 * The tensors, uniforms and fills of the one norm part a dispatch may hold: job 0's norm on load, one job's norm
 * backward, or a norm's gain sums; none: stand-ins only.
 */
function normBindings(jobs: MatmulArgs[], adapter: { isSoftware: boolean }, gainSums?: NormGainSums) {
  const norm = jobs[0]?.norm;
  const gradJob = jobs.find((a) => a.normGrad);
  const parts = [norm, ...jobs.map((a) => a.normGrad), gainSums].filter(Boolean).length;
  if (parts > 1) throw new Error('matmul: a dispatch holds one norm part at most (a norm on load, a norm backward or gain sums)');
  const embedding = norm?.embed && embeddingBindings(norm.embed, jobs[0].M, jobs[0].K);
  let tensors: Record<string, TensorArg | undefined> = {};
  if (norm) {
    const { M, K } = jobs[0];
    tensors = {
      ...embedding?.tensors,
      x: norm.embed ? write(norm.x, M * K) : read(norm.x, M * K),
      gamma: read(norm.gamma, K),
      beta: norm.kind === 'layer' ? read(norm.beta, K) : undefined,
      mean: norm.kind === 'layer' ? write(norm.mean, M) : undefined,
      rstd: write(norm.rstd, M),
    };
  } else if (gradJob) {
    tensors = normGradTensors(gradJob, gradJob.normGrad!);
  } else if (gainSums) {
    tensors = gainSumsTensors(gainSums);
  }
  const backward = gradJob ? { rows: gradJob.M, d: gradJob.N, ...gradJob.normGrad! } : gainSums;
  const w = backward?.window;
  // clear_outside(r, d): dx's rows of r's sequence outside the window, zeroed by the thread of its first row in it.
  const clearOutside = w && gradJob && !gradJob.normGrad!.residual
    ? `if (r % ${w.count}u != 0u) { return; }\n  let first = (r / ${w.count}u) * ${w.seqLen}u;\n  for (var t = 0u; t < ${w.seqLen}u; t++) {\n    if (t - ${w.start}u < ${w.count}u) { continue; }\n    for (var i = 0u; i < d; i++) { write_dx((first + t) * d + i, 0.0); }\n  }`
    : '';
  const kind = norm?.kind ?? backward?.kind ?? 'layer';
  return {
    tensors,
    uniforms: { eps: f32(NORM_EPS), ...embedding?.uniforms, ...(backward && { norm_rows: u32(backward.rows), norm_d: u32(backward.d) }) },
    // norm_dims(): the backward's rows and d (shaders/matmul.wgsl).
    standIns: [
      standIns(tensors, NORM_ACCESSORS),
      `fn norm_dims() -> vec2<u32> { return ${backward ? 'vec2(p.norm_rows, p.norm_d)' : 'vec2(0u)'}; }`,
      windowFunctions(w),
      `fn clear_outside(r: u32, d: u32) {\n  ${clearOutside}\n}`,
    ].join('\n'),
    fills: {
      NORM: String(!!norm),
      NORM_RESIDUAL: String(!!gradJob?.normGrad!.residual),
      X_AT: norm?.embed ? embeddingAt('dims(0u).z') : backward ? 'return read_x(r * norm_dims().y + i);' : 'return read_x(r * dims(0u).z + i);',
      ...normRowFills(adapter, kind, norm?.kernel ?? backward?.kernel),
      ...normGradFills(),
    },
  };
}

/** Workgroups of one job in the tiled kernel: a tile of C each, or with a norm backward or attention a strip of TILE whole rows. */
function jobTiles(args: MatmulArgs, kernel: Extract<MatmulKernel, { kind: 'tiled' }>): number {
  const tile = 4 * kernel.quads * kernel.wgDim;
  return (args.normGrad || args.attention ? 1 : Math.ceil(args.N / tile)) * Math.ceil(args.M / tile);
}

/** The kernel source and bindings for one variant running `jobs`: fills the constants of shaders/matmul.wgsl. */
function matmulKernel(jobs: MatmulArgs[], kernel: MatmulKernel, adapter: { isSoftware: boolean }, gainSums?: NormGainSums) {
  if (jobs.length > 1 && jobs.some((a) => a.norm)) throw new Error('matmul: a norm on load runs as the only job of its dispatch');
  const norm = normBindings(jobs, adapter, gainSums);
  const tensors: Record<string, TensorArg> = {};
  const named = new Map<string, TensorArg>();
  const gradJob = jobs.findIndex((a) => a.normGrad);
  for (const [name, arg] of Object.entries(norm.tensors)) {
    if (!arg) continue;
    tensors[name] = arg;
    // A norm backward's dy is its job's C, read back.
    if (!(gradJob >= 0 && name === 'dy')) named.set(name, arg);
  }
  const attention = jobs.find((a) => a.attention)?.attention;
  if (jobs.filter((a) => a.attention).length > 1) throw new Error('matmul: attention rows in one job of a dispatch at most');
  for (const [name, arg] of Object.entries(attention?.tensors ?? {})) {
    if (tensors[name]) throw new Error(`matmul: the attention's ${name} and the norm's share a name`);
    tensors[name] = arg;
    // The attention's output is its job's A, its dOut its job's C.
    if (name !== attention!.shared) named.set(name, arg);
  }
  const perJobTensors = jobs.map((args, j) => {
    const t = jobTensors(args);
    for (const [name, arg] of Object.entries(t)) {
      if (!arg) continue;
      tensors[`${name}${j}`] = arg;
      named.set(jobs.length === 1 ? name : `job ${j}'s ${name}`, arg);
    }
    return t;
  });
  checkNoOverlap(named);
  const uniforms = { ...Object.fromEntries(jobs.flatMap((a, j) => [[`M${j}`, u32(a.M)], [`N${j}`, u32(a.N)], [`K${j}`, u32(a.K)]])), ...norm.uniforms, ...attention?.uniforms };
  const functions = [
    perJob('dims(job: u32) -> vec3<u32>', jobs.length, (j) => `return vec3(p.M${j}, p.N${j}, p.K${j});`),
    ...Object.entries(FLAGS).map(([name, flag]) => perJob(`${name}(job: u32) -> bool`, jobs.length, (j) => `return ${!!flag(jobs[j])};`)),
    ...ACCESSORS.map(({ name, tensor, write: writes, absent }) => {
      const signature = writes ? `${name}(job: u32, i: u32, v: f32)` : `${name}(job: u32, i: u32) -> f32`;
      return perJob(signature, jobs.length, (j) => {
        const t = perJobTensors[j][tensor];
        if (!t || (writes && !t.writes)) return absent;
        return writes ? `${name}${j}(i, v);` : `return ${name}${j}(i);`;
      });
    }),
  ];
  const skinny = kernel.kind === 'skinny';
  const flags = (a: MatmulArgs) =>
    [a.norm && `${a.norm.kind}norm${a.norm.embed ? '+embed' : ''}`, a.normGrad && `${a.normGrad.kind}norm.backward`, a.attention && 'attention', a.transA && 'tA', a.transB && 'tB', a.bias && 'bias', a.residual && 'res', a.gelu && 'gelu', a.geluGrad && 'geluGrad', a.biasGrad && 'db']
      .filter(Boolean)
      .join(',');
  const tileCounts = kernel.kind === 'tiled' ? jobs.map((a) => jobTiles(a, kernel)) : [];
  // tile(j, t - first, lid) for the job whose range holds t; nothing past the last.
  let first = 0;
  const calls = tileCounts.map((n, j) => {
    const strip = jobs[j].normGrad ? 'normGradStrip' : jobs[j].attention ? (jobs[j].attention!.pass === 'forward' ? 'attentionStrip' : 'attentionGradStrip') : 'tile';
    const call = `if (t < ${first + n}u) { ${strip}(${j}u, t - ${first}u, lid); return; }`;
    first += n;
    return call;
  });
  if (kernel.kind === 'tiled' && gainSums) {
    const groups = gainSumsWorkgroups(adapter, gainSums, kernel.wgDim ** 2);
    calls.push(`if (t < ${first + groups}u) { norm_gain_sums(t - ${first}u, lid, norm_dims().x, norm_dims().y); return; }`);
  }
  const gainLabel = gainSums ? ` + [${gainSums.kind}norm.gains] ${gainSums.rows}x${gainSums.d}` : '';
  return instantiateKernel(source, {
    label: `matmul.${kernelName(kernel)}${jobs.map((a) => `[${flags(a)}] ${a.M}x${a.N}x${a.K}`).join(' + ')}${gainLabel}`,
    section: kernel.kind,
    uniforms,
    tensors,
    fills: {
      ONES_COLUMN: String(!!(jobs[0].biasGrad && skinny)),
      JOB_FUNCTIONS: [...functions, norm.standIns].join('\n'),
      // attention_rows(first, end, lid): rows [first, end) of the attention, every head, spread over the workgroup
      // (forward_row or backward_row, shaders/attention_row.wgsl, included with what it needs); nothing without one.
      ATTENTION: attention
        ? `${attention.code}\nfn attention_rows(first: u32, end: u32, lid: u32) {\n  for (var e = lid; e < (end - first) * p.n_heads; e += WORKGROUP_SIZE) {\n    let r = first + e / p.n_heads;\n    ${attention.pass}_row(r / p.tq, e % p.n_heads, r % p.tq);\n  }\n}`
        : 'fn attention_rows(first: u32, end: u32, lid: u32) {}',
      ...norm.fills,
      ...(skinny
        ? {
            WORKGROUP_SIZE: String(SKINNY_WORKGROUP),
            SMALL_IS_M: String(kernel.smallSide === 'M'),
            SMALL_VEC4S: String(Math.ceil(outputExtent(jobs[0], kernel.smallSide) / 4)),
            SLICES: String(kernel.slices),
          }
        : {
            WORKGROUP_SIZE: String(kernel.wgDim ** 2),
            WG_DIM: String(kernel.wgDim),
            QUADS: String(kernel.quads),
            STAGED: String(kernel.staged),
            JOB_TILES: calls.join('\n  '),
          }),
    },
  });
}

/** The grid: skinny, lines over x; tiled, every job's tiles in one sequence, x first, spilling into y past maxDim. */
function workgroups(jobs: MatmulArgs[], kernel: MatmulKernel, adapter: { isSoftware: boolean }, maxDim: number, gainSums?: NormGainSums): [number, number] {
  if (kernel.kind === 'tiled') {
    const total = jobs.reduce((sum, a) => sum + jobTiles(a, kernel), gainSumsWorkgroups(adapter, gainSums, kernel.wgDim ** 2));
    return total <= maxDim ? [total, 1] : [maxDim, Math.ceil(total / maxDim)];
  }
  const lines = outputExtent(jobs[0], kernel.smallSide === 'M' ? 'N' : 'M');
  return [Math.ceil(lines / (SKINNY_WORKGROUP / kernel.slices)), 1];
}

/** Builds the dispatch once; replay it every step. */
export async function matmul(rt: GpuRuntime, args: MatmulArgs): Promise<Dispatch> {
  const kernel = args.kernel ?? chooseMatmulKernel(args, rt.adapter);
  return jobsDispatch(rt, [args], kernel);
}

/**
 * Several independent products in one dispatch of the tiled kernel (a Linear layer's dW and dX, say): no job may
 * write what another reads or writes. Each output is computed exactly as `matmul` with the same tiled kernel would.
 * The tile is the one chooseMatmulKernel picks for all the jobs' tiles together; `kernel` overrides it.
 */
export async function matmuls(rt: GpuRuntime, jobs: MatmulArgs[], kernel?: Extract<MatmulKernel, { kind: 'tiled' }>, gainSums?: NormGainSums): Promise<Dispatch> {
  if (jobs.length === 0) throw new Error('matmuls: no jobs');
  if (jobs.length === 1 && !kernel && !gainSums) return matmul(rt, jobs[0]);
  return jobsDispatch(rt, jobs, kernel ?? chooseTiledKernel(jobs, rt.adapter), gainSums);
}

const buffersOf = (tensors: Record<string, TensorArg | undefined>) => Object.values(tensors).flatMap((t) => (t ? [t.ref.buffer] : []));

/** The storage buffers a job binds (one binding each, whatever the number of tensors in it). */
function jobBuffers(args: MatmulArgs): Set<GPUBuffer> {
  const extra = [...(args.normGrad ? buffersOf(normGradTensors(args, args.normGrad)) : []), ...buffersOf(args.attention?.tensors ?? {})];
  return new Set([...buffersOf(jobTensors(args)), ...extra]);
}

/**
 * Independent products in as few dispatches of the tiled kernel as the adapter's storage-buffer bindings allow
 * (maxStorageBuffersPerShaderStage): `groupJobs` packs them in order. One dispatch when they fit, as they usually do.
 * `gainSums` (read nothing the jobs write) go with the first.
 */
export async function matmulGroups(rt: GpuRuntime, jobs: MatmulArgs[], gainSums?: NormGainSums): Promise<Dispatch[]> {
  const out: Dispatch[] = [];
  const initial = gainSums && new Set(buffersOf(gainSumsTensors(gainSums)));
  for (const [i, group] of groupJobs(jobs, rt.limits.maxStorageBuffersPerShaderStage, initial).entries()) out.push(await matmuls(rt, group, undefined, i === 0 ? gainSums : undefined));
  return out;
}

/**
 * Consecutive runs of `jobs` whose bound buffers together number at most `maxBuffers` (a job alone always fits), the
 * first counting `initial` too.
 */
export function groupJobs(jobs: MatmulArgs[], maxBuffers: number, initial = new Set<GPUBuffer>()): MatmulArgs[][] {
  const groups: MatmulArgs[][] = [];
  let buffers = initial;
  for (const job of jobs) {
    const mine = jobBuffers(job);
    const merged = new Set([...buffers, ...mine]);
    if (groups.length === 0 || merged.size <= maxBuffers) {
      if (groups.length === 0) groups.push([]);
      groups[groups.length - 1].push(job);
      buffers = merged;
    } else {
      groups.push([job]);
      buffers = mine;
    }
  }
  return groups;
}

async function jobsDispatch(rt: GpuRuntime, jobs: MatmulArgs[], kernel: MatmulKernel, gainSums?: NormGainSums): Promise<Dispatch> {
  for (const args of jobs) checkArgs(args, kernel);
  const { kernel: k, params, buffers } = matmulKernel(jobs, kernel, rt.adapter, gainSums);
  const d = await rt.dispatch(k, { params, buffers, workgroups: workgroups(jobs, kernel, rt.adapter, rt.limits.maxComputeWorkgroupsPerDimension, gainSums) });
  return { ...d, flops: jobs.reduce((sum, a) => sum + 2 * a.M * a.N * a.K + (a.attention?.flops ?? 0), 0) };
}

export interface MatmulBenchmarkOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  residual?: boolean;
  gelu?: boolean;
  geluGrad?: boolean;
  biasGrad?: boolean;
  kernel?: MatmulKernel;
  /** Dispatches per submit; by default enough for about 200 ms of GPU work. */
  iterations?: number;
  /** Timed submits; the median is reported. */
  repetitions?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Time per matmul of the given shape and epilogue on random operands: `iterations` dispatches in one submit,
 * waited for with rt.finish(), median over `repetitions` submits; gflops counts 2 M N K per product.
 */
export async function benchmarkMatmul(
  rt: GpuRuntime,
  M: number,
  N: number,
  K: number,
  opts: MatmulBenchmarkOptions = {},
): Promise<{ ms: number; gflops: number }> {
  const created: GPUBuffer[] = [];
  const tensor = (label: string, count: number): TensorRef => {
    const buffer = rt.storageFrom(label, Float32Array.from({ length: count }, (_, i) => Math.sin(i + count) * 0.5));
    created.push(buffer);
    return { buffer, offset: 0 };
  };
  try {
    const d = await matmul(rt, {
      M, N, K, transA: opts.transA, transB: opts.transB, kernel: opts.kernel,
      a: tensor('bench.a', M * K), b: tensor('bench.b', K * N), c: tensor('bench.c', M * N),
      bias: opts.bias ? tensor('bench.bias', N) : undefined,
      residual: opts.residual ? tensor('bench.residual', M * N) : undefined,
      gelu: opts.gelu ? { preact: tensor('bench.preact', M * N) } : undefined,
      geluGrad: opts.geluGrad ? { preact: tensor('bench.preact', M * N) } : undefined,
      biasGrad: opts.biasGrad ? tensor('bench.db', M) : undefined,
    });
    const timeSubmit = async (iterations: number) => {
      const start = performance.now();
      rt.run(Array.from({ length: iterations }, () => d));
      await rt.finish();
      return (performance.now() - start) / iterations;
    };
    const warmMs = await timeSubmit(1);
    const iterations = opts.iterations ?? Math.min(1000, Math.max(1, Math.ceil(200 / Math.max(warmMs, 1e-3))));
    const times: number[] = [];
    for (let r = 0; r < (opts.repetitions ?? 5); r++) times.push(await timeSubmit(iterations));
    const ms = median(times);
    return { ms, gflops: (2 * M * N * K) / (ms * 1e6) };
  } finally {
    for (const b of created) b.destroy();
  }
}
