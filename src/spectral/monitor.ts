// The spectral edge, live (SPEC §2): a ring of the last W deltas of a parameter slice on the GPU, with their
// exact gradient and decay parts, and the analysis of each full window into a SpectralRecord.
//
// Per step nothing is read back: the optimiser accumulates the split (TrainingEngine `splitSlice`), and every
// `snapshotEvery` steps the snapshot dispatch, encoded into that step's command buffer, writes the window's new
// row. At a snapshot step the trainer then calls `analyse`, which reads back only small matrices: the W x W Gram
// and cross-Gram partial sums (added in float64), then, after the edge vectors are formed on the GPU, their dot
// products with the previous window's edge vectors and with theta. With `gapFlow` on, it then probes the curvature
// and gradient along v_k* and v_k*+1 on the step's batch (src/spectral/hessian.ts: probeModes, which restores the
// parameters exactly) and records the gap-flow terms (src/spectral/gap-flow.ts).
//
// The edge vectors stay on the GPU for other code (`edgeVectors`): vector k (0-based) is P floats from element
// k * P of one buffer, over the parameter slice that starts at element `paramOffset` of the flat parameters.
import source from '../../shaders/spectral.wgsl?raw';
import { at, groups, u32, type Dispatch, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import { instantiateKernel, read, write } from '../gpu/kernel-template';
import { VectorOp, combineCall } from './vector-ops';
import type { TrainingEngine } from '../train/engine';
import type { OptimConfig } from '../train/optim-config';
import type { Batch } from '../model/batch';
import type { SpectralOptions } from './options';
import type { GapFlowRecord, SpectralRecord } from './record';
import { probeModes, type DirectionSet } from './hessian';
import { gapFlowTerms, observedGapRate } from './gap-flow';
import {
  centreBoth, davisKahan, edgeCoefficients, edgeGap, energySplit, frobenius, g23, projections, trapezoidDecay, windowSpectrum,
  type Square,
} from './window-math';

const WG = 64;
/** Elements per partial dot product: each partial is an f32 sum of this many products. */
const CHUNK = 1024;
/** Grid cap for the element-striding kernels. */
const MAX_WORKGROUPS = 1024;

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

  private constructor(
    private readonly rt: GpuRuntime,
    private readonly engine: TrainingEngine,
    readonly options: SpectralOptions,
    /** The tracked slice of the flat parameters. */
    readonly slice: { offset: number; size: number },
    private readonly buffers: { prev: GPUBuffer; split: GPUBuffer; ringX: GPUBuffer; ringG: GPUBuffer; ringD: GPUBuffer; edges: GPUBuffer; prevEdges: GPUBuffer; coeff: GPUBuffer; partials: GPUBuffer },
    /** One snapshot dispatch per ring slot. */
    private readonly snapshotBySlot: Dispatch[],
    private readonly gramOps: { xx: DotsOp; gx: DotsOp; dx: DotsOp },
    private readonly combine: Dispatch,
    private readonly edgeOps: { rotation: DotsOp; theta: DotsOp },
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
    const { window: W, k: K } = options;
    const floats = (label: string, n: number) => rt.storage(`spectral.${label}`, n * 4);
    const numChunks = groups(P, CHUNK);
    const b = {
      prev: floats('prev', P),
      split: split.buffer,
      ringX: floats('ringX', W * P),
      ringG: floats('ringG', W * P),
      ringD: floats('ringD', W * P),
      edges: floats('edges', K * P),
      prevEdges: floats('prevEdges', K * P),
      coeff: floats('coeff', K * W),
      partials: floats('partials', (3 * W * W + K * K + K) * numChunks),
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
      const k = kernel('dots', { n: u32(P), rowsB: u32(rowsB), chunk: u32(CHUNK), numChunks: u32(numChunks), count: u32(count) }, {
        a: read(a, rowsA * P), b: read(bRef, rowsB * P), partials: write(at(b.partials, partialsUsed), count),
      });
      const op = { dispatch: await rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [groups(count, WG)] }), rowsA, rowsB, offset: partialsUsed };
      partialsUsed += count;
      return op;
    };
    const gramOps = { xx: await dots(at(b.ringX), W, at(b.ringX), W), gx: await dots(at(b.ringG), W, at(b.ringX), W), dx: await dots(at(b.ringD), W, at(b.ringX), W) };
    // Edge vectors: the Lanczos solver's row-combination kernel, edges[k] = sum_j coeff[k, j] ringX[j].
    const combine = (await VectorOp.create(rt, combineCall({ src: at(b.ringX), coeff: at(b.coeff), out: at(b.edges), n: P, rows: W, outRows: K, keep: false }))).dispatch;
    const edgeOps = { rotation: await dots(at(b.edges), K, at(b.prevEdges), K), theta: await dots(at(b.edges), K, at(b.prev), 1) };

    // The first delta starts from the parameters as they are now.
    const encoder = rt.device.createCommandEncoder({ label: 'spectral.init' });
    encoder.copyBufferToBuffer(engine.state.params, slice.offset * 4, b.prev, 0, P * 4);
    encoder.clearBuffer(b.split);
    rt.device.queue.submit([encoder.finish()]);
    return new SpectralMonitor(rt, engine, options, slice, b, snapshotBySlot, gramOps, combine, edgeOps, numChunks);
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
    // Ring slot of the i-th oldest delta.
    const slotOf = (i: number) => (this.snapshots + i) % W;
    const { xx, gx, dx } = this.gramOps;
    const [xxRing, gxRing, dxRing] = await this.runDots([xx, gx, dx]);
    const timeOrder = (m: Square) => Array.from({ length: W }, (_, i) => Array.from({ length: W }, (_, j) => m[slotOf(i)][slotOf(j)]));
    const rawGram = timeOrder(xxRing);
    const gram = centred ? centreBoth(rawGram) : rawGram;
    const spectrum = windowSpectrum(gram);
    const coeffs = edgeCoefficients(spectrum, K, centred);

    // Edge vectors on the GPU from the coefficients in ring order; then their overlaps with the previous ones.
    const ringCoeffs = new Float32Array(K * W);
    coeffs.forEach((c, k) => c.forEach((x, i) => (ringCoeffs[k * W + slotOf(i)] = x)));
    this.rt.write(this.buffers.coeff, ringCoeffs);
    const hasPrevious = this.prevGram !== null;
    const [overlaps, thetaDots] = await this.runDots([this.edgeOps.rotation, this.edgeOps.theta], [this.combine]);
    const encoder = this.rt.device.createCommandEncoder({ label: 'spectral.keep-edges' });
    encoder.copyBufferToBuffer(this.buffers.edges, 0, this.buffers.prevEdges, 0, K * this.size * 4);
    this.rt.device.queue.submit([encoder.finish()]);

    const grad = projections(timeOrder(gxRing), coeffs, centred);
    const decay = projections(timeOrder(dxRing), coeffs, centred);
    const exact = energySplit(grad, decay);
    const xProj = projections(rawGram, coeffs, centred);
    const trapDecayRaw = trapezoidDecay(projections(rawGram, coeffs, false), thetaDots.map((row) => row[0]), optim.lr * optim.weightDecay * snapshotEvery);
    const trapDecay = centred ? trapDecayRaw.map((row) => row.map((x, k) => x - trapDecayRaw.reduce((s, r) => s + r[k], 0) / W)) : trapDecayRaw;
    const trapezoid = energySplit(xProj.map((row, i) => row.map((x, k) => x - trapDecay[i][k])), trapDecay);

    const gap = edgeGap(spectrum.sigma);
    const deltaGramNorm = this.prevGram ? frobenius(gram.map((row, i) => row.map((x, j) => x - this.prevGram![i][j]))) : null;
    const gSingular = gap ? spectrum.sigma[gap.kStar - 1] - spectrum.sigma[gap.kStar] : null;
    const prevSigma = this.prevGram && windowSpectrum(this.prevGram).sigma;
    this.prevGram = gram;
    const gapFlow = this.options.gapFlow && gap && gap.kStar < K ? await this.gapFlow(batch!, spectrum.sigma, gap.kStar, prevSigma, optim) : undefined;
    return {
      step,
      sigma: spectrum.sigma,
      g23: g23(spectrum.sigma),
      kStar: gap?.kStar ?? null,
      gapRatio: gap?.gapRatio ?? null,
      rotationDeg: hasPrevious ? Array.from({ length: Math.min(4, K) }, (_, k) => (Math.acos(Math.min(1, Math.abs(overlaps[k][k]))) * 180) / Math.PI) : [],
      gradEnergyFraction: exact.fraction,
      alignment: exact.alignment,
      trapezoidGradEnergyFraction: trapezoid.fraction,
      deltaGramNorm,
      davisKahanAlpha: deltaGramNorm === null ? [] : davisKahan(spectrum.sigma, deltaGramNorm),
      adiabatic: deltaGramNorm !== null && gSingular ? deltaGramNorm / (optim.lr * gSingular ** 2) : null,
      ...(gapFlow && { gapFlow }),
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
    this.snapshots = state.snapshots;
    this.prevGram = state.prevGram && state.prevGram.map((row) => [...row]);
  }
}

/** The parameter slice the options track: theta_attn, or every parameter. */
export function sliceOf(engine: Pick<TrainingEngine, 'table'>, options: Pick<SpectralOptions, 'subset'>): { offset: number; size: number } {
  return options.subset === 'attn' ? engine.table.attn : { offset: 0, size: engine.table.total };
}
