// The spectral edge, live (docs/science.md §2): a ring of the last W deltas of a parameter slice on the GPU, with their
// exact gradient and decay parts, and the analysis of each full window into a SpectralRecord.
//
// Per step nothing is read back: the optimiser accumulates the split (TrainingEngine `splitSlice`), and every
// `snapshotEvery` steps the snapshot dispatch, encoded into that step's command buffer, writes the window's new
// row. At a snapshot step the trainer then calls `analyse`, which reads back only small matrices, by one of two
// solvers (SpectralOptions.solver):
//   gram (default): the W x W Gram and cross-Gram partial sums (added in float64), eigen-decomposed on the CPU
//     (window-math.ts); the edge vectors v_k = X^T u_k / sigma_k are then formed on the GPU, and their dot products
//     with the previous window's edge vectors and with theta read back.
//   lanczos: block Lanczos on X^T X (lanczos.ts, operators.ts: windowGramOperator; on the centred copy C X when the
//     run centres) finds the top n = min(W, K + 1) eigenpairs on the GPU; the Ritz vectors y_j are the edge vectors
//     up to order and sign. One round trip then reads the dot products of every window row (delta, gradient part,
//     decay part) and of theta and the previous edge vectors with each y_j (float64 sums), and from them
//     sigma_j = ||(C) X y_j|| (the Rayleigh quotient, more accurate for small sigma_j than sqrt of the Ritz value),
//     the order (sigma descending), the sign (window-math.ts: the largest-magnitude component of (C) X v_k is
//     positive, the same rule as the Gram path's, so both give the same v_k up to rounding) and every projection
//     the record needs; v_k = +-y_j is written into the edge buffer by one row combination. sigma then has n
//     entries, so k* and R are taken over j <= K, davisKahanAlpha has n - 1 entries and g23 is null when n < 3.
//     ||Delta G||_F (hence Davis-Kahan and the adiabatic parameter) needs the time-ordered W x W Gram matrix: it is
//     kept up to date from the newest delta's W dot products with the window (the other entries are the previous
//     window's, shifted by one; the dots kernel gives bit-identical values either way), and computed whole (W^2
//     dots) only for the first window and the first after a checkpoint restore. The record also carries the
//     Lanczos residuals (`lanczos`).
// With `gapFlow` on, it then probes the curvature and gradient along v_k* and v_k*+1 on the step's batch
// (src/spectral/hessian.ts: probeModes, which restores the parameters exactly) and records the gap-flow terms
// (src/spectral/gap-flow.ts); the observed rate's previous gap comes from the previous window's Gram matrix (the
// checkpointed state), which with solver 'lanczos' agrees with that window's recorded sigma to rounding.
// Each record also holds the stable ranks of every attention module's W_Q and W_K (docs/science.md §4), from those matrices
// read back at the window's step (2 d^2 floats per module) and computed in float64 (src/spectral/stable-rank.ts).
//
// The edge vectors stay on the GPU for other code (`edgeVectors`): vector k (0-based) is P floats from element
// k * P of one buffer, over the parameter slice that starts at element `paramOffset` of the flat parameters.
import source from '../../shaders/spectral.wgsl?raw';
import { at, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import { instantiateKernel, read, write } from '../gpu/kernel-template';
import { VectorOp, combineCall } from './vector-ops';
import { LanczosSolver, type GpuOperator } from './lanczos';
import { windowGramOperator } from './operators';
import type { TrainingEngine } from '../model/engine';
import type { OptimConfig } from '../formats/optim';
import type { Batch } from '../model/batch';
import { solverOf } from './options';
import type { SpectralOptions, GapFlowRecord, LanczosRecord, SpectralRecord, StableRankRecord } from '../formats/spectral';
import { stableRankOrNaN } from './stable-rank';
import { attentionModules } from '../model/params';
import { probeModes, type DirectionSet } from './hessian';
import { assertFinite } from '../util/non-finite';
import { gapFlowTerms, observedGapRate } from './gap-flow';
import { centreBoth, centreRows, davisKahan, edgeCoefficients, edgeGap, energySplit, frobenius, g23, numericalRank, projections, signOfLargest, trapezoidDecay, windowSpectrum, type Square } from './window-math';

const WG = 64;
/** Elements per partial dot product: each partial is an f32 sum of this many products. */
const CHUNK = 1024;
/** Grid cap for the element-striding kernels. */
const MAX_WORKGROUPS = 1024;
/** Seed of the Lanczos start vectors (fixed: the analysis is deterministic, and restores exactly). */
const LANCZOS_SEED = 1;
/**
 * Krylov dimension beyond W + 2 b (b the block size): X^T X has rank <= W, so in exact arithmetic W + b operator
 * applications find every nonzero eigenpair; the margin absorbs float32 rounding.
 */
const LANCZOS_MARGIN = 4;

/** Everything the monitor carries between windows, for checkpoints (restoring it continues the records exactly). */
export interface SpectralState {
  snapshots: number;
  prevGram: Square | null;
  /** prev, split accumulator, ringX, ringG, ringD, previous edge vectors: the GPU buffers, read back. */
  buffers: Float32Array[];
}

/** The current window's edge vectors v_1..v_K on the GPU (valid after `analyse`, until the next one). */
export interface EdgeVectors extends DirectionSet {
  /** K: vectors in the buffer. */
  count: number;
  /** Where the slice the vectors live in starts in the flat parameters. */
  paramOffset: number;
}

/** What one window's analysis gives the record, from either solver (W x K matrices have rows in time order). */
interface WindowParts {
  sigma: number[];
  /** The time-ordered Gram matrix (centred when the run centres), for ||Delta G||_F. */
  gram: Square;
  /** <g_i, v_k>, <w_i, v_k>, <x_i, v_k>, each centred over i when the window is; <x_i, v_k> uncentred; <theta, v_k>. */
  grad: Square;
  decay: Square;
  xProj: Square;
  xRaw: Square;
  thetaDots: number[];
  /** <v_k, previous v_l>, K x K (meaningful when a previous window exists). */
  overlaps: Square;
  lanczos?: LanczosRecord;
}

/** The Lanczos solver's parts (solver 'lanczos'). */
interface LanczosParts {
  solver: LanczosSolver;
  operator: GpuOperator;
  /** ringC = C ringX before each solve (centred runs; null otherwise). */
  centre: Dispatch | null;
  /** Pairs computed: min(W, K + 1). */
  count: number;
  /** The Ritz vectors' dot products with the window's rows, the previous edge vectors and theta. */
  dots: { x: DotsOp; g: DotsOp; d: DotsOp; rotation: DotsOp; theta: DotsOp };
  /** The newest delta (ring slot s) against every row: one op per slot. */
  gramRow: DotsOp[];
  /** edges[k] = +-ritz[j]: the order and signs of the edge vectors (coefficients in `selectCoeff`). */
  select: Dispatch;
}

interface DotsOp {
  dispatch: Dispatch;
  rowsA: number;
  rowsB: number;
  /** Offset of this op's partial sums in the shared partials buffer (floats). */
  offset: number;
}

export class SpectralMonitor {
  private snapshots = 0;
  private prevGram: Square | null = null;
  /** Solver 'lanczos': the raw time-ordered Gram of the window analysed at `snapshots` (not checkpointed). */
  private rawGram: { snapshots: number; matrix: Square } | null = null;

  private constructor(
    private readonly rt: GpuRuntime,
    private readonly engine: TrainingEngine,
    readonly options: SpectralOptions,
    /** The tracked slice of the flat parameters. */
    readonly slice: { offset: number; size: number },
    private readonly buffers: MonitorBuffers,
    /** One snapshot dispatch per ring slot. */
    private readonly snapshotBySlot: Dispatch[],
    /** The Gram matrix (both solvers); gradient and decay cross-Grams, edge formation and overlaps (solver 'gram'). */
    private readonly gramOps: { xx: DotsOp; gx?: DotsOp; dx?: DotsOp; combine?: Dispatch; rotation?: DotsOp; theta?: DotsOp },
    private readonly lanczos: LanczosParts | null,
    private readonly numChunks: number,
  ) {}

  /** The engine must have been created with `splitSlice` equal to the slice the options select (`sliceOf`). */
  static async create(rt: GpuRuntime, engine: TrainingEngine, options: SpectralOptions): Promise<SpectralMonitor> {
    const split = engine.splitAccumulator;
    const slice = sliceOf(engine, options);
    if (!split || split.start !== slice.offset || split.count !== slice.size) {
      throw new Error('the engine must accumulate the gradient/decay split of the slice the spectral options select');
    }
    const P = slice.size;
    const { window: W, k: K, centred } = options;
    const lanczos = solverOf(options) === 'lanczos';
    const n = lanczos ? Math.min(W, K + 1) : 0;
    const floats = (label: string, count: number) => rt.storage(`spectral.${label}`, count * 4);
    const numChunks = groups(P, CHUNK);
    // Dot-product pairs per window: Gram (+ W ops of one row each), cross-Grams and overlaps, or the Ritz vectors' dots.
    const pairs = lanczos ? 2 * W * W + 3 * W * n + n * K + n : 3 * W * W + K * K + K;
    const b: MonitorBuffers = {
      prev: floats('prev', P),
      split: split.buffer,
      ringX: floats('ringX', W * P),
      ringG: floats('ringG', W * P),
      ringD: floats('ringD', W * P),
      edges: floats('edges', K * P),
      prevEdges: floats('prevEdges', K * P),
      coeff: floats('coeff', K * Math.max(W, n)),
      partials: floats('partials', pairs * numChunks),
    };
    const theta = at(engine.state.params, slice.offset);
    const stride = [Math.min(MAX_WORKGROUPS, groups(P, WG))] as const;
    const kernel = (section: string, uniforms: Record<string, ReturnType<typeof u32>>, tensors: Parameters<typeof instantiateKernel>[1]['tensors']) =>
      instantiateKernel(source, { label: `spectral.${section}`, section, uniforms, tensors, fills: { WG: `${WG}u` } });

    const snapshotBySlot = await Promise.all(
      Array.from({ length: W }, (_, slot) => {
        const row = (buffer: GPUBuffer) => write(at(buffer, slot * P), P);
        const k = kernel('snapshot', { n: u32(P) }, {
          theta: read(theta, P), prev: write(at(b.prev), P), acc: write(at(b.split), 2 * P),
          ringX: row(b.ringX), ringG: row(b.ringG), ringD: row(b.ringD),
        });
        return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: stride });
      }),
    );
    let partialsUsed = 0;
    const dots = async (a: TensorRef, rowsA: number, bRef: TensorRef, rowsB: number): Promise<DotsOp> => {
      const count = rowsA * rowsB * numChunks;
      const offset = partialsUsed;
      partialsUsed += count;
      const k = kernel('dots', { n: u32(P), rowsB: u32(rowsB), chunk: u32(CHUNK), numChunks: u32(numChunks), count: u32(count) }, {
        a: read(a, rowsA * P), b: read(bRef, rowsB * P), partials: write(at(b.partials, offset), count),
      });
      return { dispatch: await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [groups(count, WG)] }), rowsA, rowsB, offset };
    };
    const xx = await dots(at(b.ringX), W, at(b.ringX), W);
    let gramOps: SpectralMonitor['gramOps'] = { xx };
    let parts: LanczosParts | null = null;
    if (!lanczos) {
      gramOps = {
        xx,
        gx: await dots(at(b.ringG), W, at(b.ringX), W),
        dx: await dots(at(b.ringD), W, at(b.ringX), W),
        // Edge vectors: the Lanczos solver's row-combination kernel, edges[k] = sum_j coeff[k, j] ringX[j].
        combine: (await VectorOp.create(rt, combineCall({ src: at(b.ringX), coeff: at(b.coeff), out: at(b.edges), n: P, rows: W, outRows: K, keep: false }))).dispatch,
        rotation: await dots(at(b.edges), K, at(b.prevEdges), K),
        theta: await dots(at(b.edges), K, at(b.prev), 1),
      };
    } else {
      parts = await createLanczosParts(rt, b, { P, W, K, n, centred }, dots);
    }
    if (partialsUsed !== pairs * numChunks) throw new Error(`spectral: ${partialsUsed} partial sums used, ${pairs * numChunks} allocated`);

    // The first delta starts from the parameters as they are now.
    const encoder = rt.device.createCommandEncoder({ label: 'spectral.init' });
    encoder.copyBufferToBuffer(engine.state.params, slice.offset * 4, b.prev, 0, P * 4);
    encoder.clearBuffer(b.split);
    rt.device.queue.submit([encoder.finish()]);
    return new SpectralMonitor(rt, engine, options, slice, b, snapshotBySlot, gramOps, parts, numChunks);
  }

  /** The dispatches to encode after optimiser step `step`: the snapshot, at the snapshot cadence. */
  afterStep(step: number): Dispatch[] {
    if (step % this.options.snapshotEvery !== 0) return [];
    const slot = this.snapshots % this.options.window;
    this.snapshots += 1;
    return [this.snapshotBySlot[slot]];
  }

  /** Whether the step just taken wrote a snapshot that completes a full window (then call `analyse`). */
  windowReady(step: number): boolean {
    return step % this.options.snapshotEvery === 0 && this.snapshots >= this.options.window;
  }

  /** Elements of the tracked slice. */
  get size(): number {
    return this.slice.size;
  }

  get edgeVectors(): EdgeVectors {
    const P = this.slice.size;
    return { buffer: this.buffers.edges, P, count: this.options.k, paramOffset: this.slice.offset, vectorOffset: (k) => k * P };
  }

  /**
   * Analyses the current window (after the snapshot step was submitted). `optim`: lr and wd of the window; `batch`:
   * the snapshot step's batch, needed when the options ask for the gap flow.
   */
  async analyse(step: number, optim: Pick<OptimConfig, 'lr' | 'weightDecay'>, batch?: Batch): Promise<SpectralRecord> {
    const { window: W, k: K, centred, snapshotEvery } = this.options;
    if (this.options.gapFlow && !batch) throw new Error('spectral analysis with gapFlow needs the snapshot step\'s batch');
    const hasPrevious = this.prevGram !== null;
    const parts = this.lanczos ? await this.lanczosWindow() : await this.gramWindow();
    const encoder = this.rt.device.createCommandEncoder({ label: 'spectral.keep-edges' });
    encoder.copyBufferToBuffer(this.buffers.edges, 0, this.buffers.prevEdges, 0, K * this.size * 4);
    this.rt.device.queue.submit([encoder.finish()]);

    const { sigma, gram, overlaps } = parts;
    const exact = energySplit(parts.grad, parts.decay);
    const trapDecayRaw = trapezoidDecay(parts.xRaw, parts.thetaDots, optim.lr * optim.weightDecay * snapshotEvery);
    const trapDecay = centred ? trapDecayRaw.map((row) => row.map((x, k) => x - trapDecayRaw.reduce((s, r) => s + r[k], 0) / W)) : trapDecayRaw;
    const trapezoid = energySplit(parts.xProj.map((row, i) => row.map((x, k) => x - trapDecay[i][k])), trapDecay);

    const gap = edgeGap(sigma);
    const deltaGramNorm = this.prevGram ? frobenius(gram.map((row, i) => row.map((x, j) => x - this.prevGram![i][j]))) : null;
    const gSingular = gap ? sigma[gap.kStar - 1] - sigma[gap.kStar] : null;
    const prevSigma = this.prevGram && windowSpectrum(this.prevGram).sigma;
    this.prevGram = gram;
    const gapFlow = this.options.gapFlow && gap && gap.kStar < K ? await this.gapFlow(batch!, sigma, gap.kStar, prevSigma, optim) : undefined;
    const stableRanks = await this.qkStableRanks();
    return assertFiniteRecord({
      step,
      sigma,
      g23: g23(sigma),
      kStar: gap?.kStar ?? null,
      gapRatio: gap?.gapRatio ?? null,
      rotationDeg: hasPrevious ? Array.from({ length: Math.min(4, K) }, (_, k) => (Math.acos(Math.min(1, Math.abs(overlaps[k][k]))) * 180) / Math.PI) : [],
      gradEnergyFraction: exact.fraction,
      alignment: exact.alignment,
      trapezoidGradEnergyFraction: trapezoid.fraction,
      deltaGramNorm,
      davisKahanAlpha: deltaGramNorm === null ? [] : davisKahan(sigma, deltaGramNorm),
      adiabatic: deltaGramNorm !== null && gSingular ? deltaGramNorm / (optim.lr * gSingular ** 2) : null,
      ...(gapFlow && { gapFlow }),
      ...(parts.lanczos && { lanczos: parts.lanczos }),
      stableRank: stableRanks,
    });
  }

  /** The stable rank of W_Q and W_K of every attention module as the parameters are now (one round trip). */
  private async qkStableRanks(): Promise<StableRankRecord> {
    const { table, state } = this.engine;
    const slices = attentionModules(table).map((m) => [table.get(`${m}.wq`), table.get(`${m}.wk`)]);
    const encoder = this.rt.device.createCommandEncoder({ label: 'spectral.qk' });
    const reads = slices.map((pair) => pair.map((s) => this.rt.scheduleRead(encoder, state.params, s.offset * 4, s.size * 4)));
    this.rt.device.queue.submit([encoder.finish()]);
    const ranks = await Promise.all(
      reads.map((pair, i) =>
        Promise.all(
          pair.map(async (read, j) => {
            const [rows, cols] = slices[i][j].shape;
            return stableRankOrNaN(new Float32Array(await read()), rows, cols);
          }),
        ),
      ),
    );
    return { q: ranks.map(([q]) => q), k: ranks.map(([, k]) => k) };
  }

  /** Ring slot of the i-th oldest delta of the current window. */
  private slotOf(i: number): number {
    return (this.snapshots + i) % this.options.window;
  }

  /** A W x W matrix over ring slots in time order. */
  private timeOrder(m: Square): Square {
    const W = this.options.window;
    return Array.from({ length: W }, (_, i) => Array.from({ length: W }, (_, j) => m[this.slotOf(i)][this.slotOf(j)]));
  }

  /** Solver 'gram': the Gram and cross-Gram matrices, their eigen-decomposition, and the edge vectors from it. */
  private async gramWindow(): Promise<WindowParts> {
    const { window: W, k: K, centred } = this.options;
    const { xx, gx, dx, combine, rotation, theta } = this.gramOps;
    const [xxRing, gxRing, dxRing] = await this.runDots([xx, gx!, dx!]);
    // A diverging step makes the window non-finite: say so here, before the eigensolver meets it.
    assertFinite("the spectral window's Gram matrix", xxRing.flat());
    assertFinite("the spectral window's gradient and decay cross-Grams", [...gxRing.flat(), ...dxRing.flat()]);
    const rawGram = this.timeOrder(xxRing);
    const gram = centred ? centreBoth(rawGram) : rawGram;
    const spectrum = windowSpectrum(gram);
    const coeffs = edgeCoefficients(spectrum, K, centred);

    // Edge vectors on the GPU from the coefficients in ring order; then their overlaps with the previous ones.
    const ringCoeffs = new Float32Array(K * W);
    coeffs.forEach((c, k) => c.forEach((x, i) => (ringCoeffs[k * W + this.slotOf(i)] = x)));
    this.rt.write(this.buffers.coeff, ringCoeffs);
    const [overlaps, thetaDots] = await this.runDots([rotation!, theta!], [combine!]);
    assertFinite("the edge vectors' dot products with the previous edge and theta", [...overlaps.flat(), ...thetaDots.flat()]);
    return {
      sigma: spectrum.sigma,
      gram,
      grad: projections(this.timeOrder(gxRing), coeffs, centred),
      decay: projections(this.timeOrder(dxRing), coeffs, centred),
      xProj: projections(rawGram, coeffs, centred),
      xRaw: projections(rawGram, coeffs, false),
      thetaDots: thetaDots.map((row) => row[0]),
      overlaps,
    };
  }

  /** Solver 'lanczos': the top min(W, K + 1) pairs of X^T X by Lanczos on the GPU, and every projection on them. */
  private async lanczosWindow(): Promise<WindowParts> {
    const { window: W, k: K, centred } = this.options;
    const L = this.lanczos!;
    const n = L.count;
    const P = this.size;
    if (L.centre) this.rt.run([L.centre]);
    const result = await L.solver.solve(L.operator, { seed: LANCZOS_SEED });
    const copy = this.rt.device.createCommandEncoder({ label: 'spectral.ritz' });
    copy.copyBufferToBuffer(result.vectors, 0, this.buffers.ritz!, 0, n * P * 4);
    this.rt.device.queue.submit([copy.finish()]);

    // The Gram matrix from the newest delta's row when the previous window's is at hand, else whole.
    const newest = (this.snapshots - 1) % W;
    const incremental = this.rawGram !== null && this.rawGram.snapshots === this.snapshots - 1;
    const { x, g, d, rotation, theta } = L.dots;
    const [gramPart, xp, gp, dp, rot, th] = await this.runDots([incremental ? L.gramRow[newest] : this.gramOps.xx, x, g, d, rotation, theta]);
    assertFinite("the spectral window's Gram matrix", gramPart.flat());
    assertFinite("the spectral window's projections on the Lanczos vectors", [...xp, ...gp, ...dp, ...rot, ...th].flat());
    let rawGram: Square;
    if (incremental) {
      const [row] = gramPart;
      const old = this.rawGram!.matrix;
      rawGram = Array.from({ length: W }, (_, i) =>
        Array.from({ length: W }, (_, j) => (i === W - 1 ? row[this.slotOf(j)] : j === W - 1 ? row[this.slotOf(i)] : old[i + 1][j + 1])),
      );
    } else {
      rawGram = this.timeOrder(gramPart);
    }
    this.rawGram = { snapshots: this.snapshots, matrix: rawGram };

    // Projections in time order (W x n), sigma_j = ||(C) X y_j||, then order (sigma descending) and signs.
    const inTime = (m: Square) => Array.from({ length: W }, (_, i) => m[this.slotOf(i)]);
    const xTime = inTime(xp);
    const xCentred = centred ? centreRows(xTime) : xTime;
    const norms = Array.from({ length: n }, (_, j) => Math.sqrt(xCentred.reduce((s, row) => s + row[j] ** 2, 0)));
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b2) => norms[b2] - norms[a]);
    const sigma = order.map((j) => norms[j]);
    const rank = numericalRank(sigma);
    // A numerically zero sigma_k has no direction: its edge vector is zero, as in the Gram path.
    const sign = Array.from({ length: K }, (_, k) => (k < rank ? signOfLargest(xCentred.map((row) => row[order[k]])) : 0));
    const pick = (m: Square) => m.map((row) => sign.map((s, k) => s * row[order[k]]));

    const select = new Float32Array(K * n);
    sign.forEach((s, k) => (select[k * n + order[k]] = s));
    this.rt.write(this.buffers.coeff, select);
    this.rt.run([L.select]);
    const gTime = inTime(gp);
    const dTime = inTime(dp);
    return {
      sigma,
      gram: centred ? centreBoth(rawGram) : rawGram,
      grad: pick(centred ? centreRows(gTime) : gTime),
      decay: pick(centred ? centreRows(dTime) : dTime),
      xProj: pick(xCentred),
      xRaw: pick(xTime),
      thetaDots: sign.map((s, k) => s * th[order[k]][0]),
      overlaps: sign.map((s, k) => rot[order[k]].map((c) => s * c)),
      lanczos: {
        residual: order.map((j) => result.pairs[j].residual ?? Number.NaN),
        iterations: result.iterations,
        converged: result.pairs.every((p) => p.converged),
      },
    };
  }

  /** The gap-flow terms at k* from the curvature and gradient along v_1..v_k*+1, and the observed rate. */
  private async gapFlow(batch: Batch, sigma: number[], kStar: number, prevSigma: number[] | null, optim: Pick<OptimConfig, 'lr' | 'weightDecay'>): Promise<GapFlowRecord> {
    const modes = await probeModes(this.engine, batch, this.edgeVectors, kStar + 1, { slice: this.slice });
    const terms = gapFlowTerms({ sigma, kStar, curvature: modes.curvature, gradientProjection: modes.gradientProjection, lr: optim.lr, weightDecay: optim.weightDecay, window: this.options.window });
    const gapAt = (s: number[]) => s[kStar - 1] - s[kStar];
    return {
      ...terms,
      curvature: modes.curvature,
      gradientProjection: modes.gradientProjection,
      observed: prevSigma ? observedGapRate(gapAt(prevSigma), gapAt(sigma), this.options.snapshotEvery) : null,
    };
  }

  /** Runs `before` then the dot-product ops, and returns each op's rowsA x rowsB matrix summed in float64. */
  private async runDots(ops: DotsOp[], before: Dispatch[] = []): Promise<Square[]> {
    const encoder = this.rt.device.createCommandEncoder({ label: 'spectral.dots' });
    this.rt.encode(encoder, [...before, ...ops.map((o) => o.dispatch)]);
    const reads = ops.map((o) => this.rt.scheduleRead(encoder, this.buffers.partials, o.offset * 4, o.rowsA * o.rowsB * this.numChunks * 4));
    this.rt.device.queue.submit([encoder.finish()]);
    const results = await Promise.all(reads.map((r) => r()));
    return ops.map((o, n) => {
      const partials = new Float32Array(results[n]);
      return Array.from({ length: o.rowsA }, (_, i) =>
        Array.from({ length: o.rowsB }, (_, j) => {
          let sum = 0;
          const base = (i * o.rowsB + j) * this.numChunks;
          for (let c = 0; c < this.numChunks; c++) sum += partials[base + c];
          return sum;
        }),
      );
    });
  }

  private get stateBuffers(): GPUBuffer[] {
    const b = this.buffers;
    return [b.prev, b.split, b.ringX, b.ringG, b.ringD, b.prevEdges];
  }

  async exportState(): Promise<SpectralState> {
    const buffers = await Promise.all(this.stateBuffers.map((buf) => this.rt.readF32(buf, 0, buf.size / 4)));
    return { snapshots: this.snapshots, prevGram: this.prevGram && this.prevGram.map((row) => [...row]), buffers };
  }

  importState(state: SpectralState): void {
    const targets = this.stateBuffers;
    if (state.buffers.length !== targets.length || state.buffers.some((b, i) => b.length * 4 !== targets[i].size)) {
      throw new Error('the saved spectral state does not match this run\'s window and parameter slice');
    }
    state.buffers.forEach((data, i) => this.rt.write(targets[i], data));
    // The last window's edge vectors are kept as prevEdges (analyse copies them there): they are the edge again.
    const encoder = this.rt.device.createCommandEncoder({ label: 'spectral.restore-edges' });
    encoder.copyBufferToBuffer(this.buffers.prevEdges, 0, this.buffers.edges, 0, this.buffers.prevEdges.size);
    this.rt.device.queue.submit([encoder.finish()]);
    this.snapshots = state.snapshots;
    this.prevGram = state.prevGram && state.prevGram.map((row) => [...row]);
    this.rawGram = null;
  }
}

interface MonitorBuffers {
  prev: GPUBuffer;
  split: GPUBuffer;
  ringX: GPUBuffer;
  ringG: GPUBuffer;
  ringD: GPUBuffer;
  edges: GPUBuffer;
  prevEdges: GPUBuffer;
  /** Edge coefficients (K x W, solver 'gram') or the signed selection of Ritz vectors (K x n, solver 'lanczos'). */
  coeff: GPUBuffer;
  partials: GPUBuffer;
  /** Solver 'lanczos': the n Ritz vectors, copied out of the solver; the centred window C X (centred runs). */
  ritz?: GPUBuffer;
  ringC?: GPUBuffer;
}

/** The solver, its operator, and the dot products and row combinations of the Lanczos path. */
async function createLanczosParts(
  rt: GpuRuntime,
  b: MonitorBuffers,
  { P, W, K, n, centred }: { P: number; W: number; K: number; n: number; centred: boolean },
  dots: (a: TensorRef, rowsA: number, b: TensorRef, rowsB: number) => Promise<DotsOp>,
): Promise<LanczosParts> {
  const blockSize = Math.min(n, 2);
  const maxIterations = Math.min(P - blockSize, W + 2 * blockSize + LANCZOS_MARGIN);
  if (maxIterations < n) throw new Error(`spectral: solver 'lanczos' needs a parameter slice of at least ${n + blockSize} elements, got ${P}`);
  b.ritz = rt.storage('spectral.ritz', n * P * 4);
  let centre: Dispatch | null = null;
  if (centred) {
    b.ringC = rt.storage('spectral.ringC', W * P * 4);
    const C = Float32Array.from({ length: W * W }, (_, e) => (Math.floor(e / W) === e % W ? 1 : 0) - 1 / W);
    const coeff = rt.storageFrom('spectral.centring', C);
    centre = (await VectorOp.create(rt, combineCall({ src: at(b.ringX), coeff: at(coeff), out: at(b.ringC), n: P, rows: W, outRows: W, keep: false }))).dispatch;
  }
  const solver = await LanczosSolver.create(rt, P, { k: n, blockSize, maxIterations });
  const operator = await windowGramOperator(rt, at(centred ? b.ringC! : b.ringX), W, P);
  const ritz = at(b.ritz);
  // One after another: each op takes the next region of the shared partials buffer.
  const gramRow: DotsOp[] = [];
  for (let slot = 0; slot < W; slot++) gramRow.push(await dots(at(b.ringX, slot * P), 1, at(b.ringX), W));
  return {
    solver,
    operator,
    centre,
    count: n,
    gramRow,
    dots: {
      x: await dots(at(b.ringX), W, ritz, n),
      g: await dots(at(b.ringG), W, ritz, n),
      d: await dots(at(b.ringD), W, ritz, n),
      rotation: await dots(ritz, n, at(b.prevEdges), K),
      theta: await dots(ritz, n, at(b.prev), 1),
    },
    select: (await VectorOp.create(rt, combineCall({ src: ritz, coeff: at(b.coeff), out: at(b.edges), n: P, rows: n, outRows: K, keep: false }))).dispatch,
  };
}

/**
 * The record, once every edge scalar is known to be finite (NonFiniteError otherwise). Not checked: the stable
 * ranks, NaN for a zero matrix, and the Lanczos residuals, NaN when not measured.
 */
function assertFiniteRecord(record: SpectralRecord): SpectralRecord {
  const { sigma, rotationDeg, gradEnergyFraction, alignment, trapezoidGradEnergyFraction, davisKahanAlpha, gapFlow } = record;
  const scalars = [record.g23, record.gapRatio, record.deltaGramNorm, record.adiabatic].filter((x) => x !== null);
  const flow = gapFlow ? [gapFlow.gap, gapFlow.curvatureAsymmetry, gapFlow.damping, gapFlow.gradientDriving, gapFlow.predicted, ...(gapFlow.observed === null ? [] : [gapFlow.observed])] : [];
  assertFinite(`the spectral window's edge scalars at step ${record.step}`, [
    ...sigma, ...rotationDeg, ...gradEnergyFraction, ...alignment, ...trapezoidGradEnergyFraction, ...davisKahanAlpha, ...scalars, ...flow,
  ]);
  return record;
}

/** The parameter slice the options track: theta_attn, or every parameter. */
export function sliceOf(engine: Pick<TrainingEngine, 'table'>, options: Pick<SpectralOptions, 'subset'>): { offset: number; size: number } {
  return options.subset === 'attn' ? engine.table.attn : { offset: 0, size: engine.table.total };
}
