// One model being trained on the GPU (either model kind: encoder-only or encoder-decoder): parameter state,
// the training graph and the optimiser, stepped with one command buffer per submission of one or more steps.
// Nothing here waits on the GPU unless the caller asks for a readback.
//
// Several steps in one submission: each step needs its own batch and its own AdamW uniform (step number, bias
// corrections, lr, wd), but queue writes all land before a command buffer runs. So a submission's inputs are
// staged together in one buffer (one write), and the command buffer copies each step's slice into the graph's
// input buffers and the optimiser's uniform before that step's compute pass. A step whose batch is the step
// before's (full-batch runs) copies only its uniform. The GPU then does exactly what K submissions of one step do.
// With Low-Rank Decay (src/formats/optim.ts) the step also runs, after AdamW (which then does not decay those
// matrices), the Newton-Schulz update W <- W - rate polar(W) of each chosen matrix, in the same command buffer.
import { at, type Dispatch, type GpuRuntime } from '../gpu/runtime';
import { taskHeadCount, validateModelConfig } from './config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { IGNORE_TARGET, type Batch } from './batch';
import { buildParamTable, initParams, type ParamTable } from './params';
import { createParamState, type ParamState } from './state';
import { buildTransformerGraph, planActivations, type Fusion, type TransformerGraph } from './transformer';
import { packParams } from '../gpu/runtime';
import { checkPlan } from '../gpu/plan';
import { adamw, type OptimizerOp, type SplitAccumulator } from './ops/adamw';
import { validateOptimConfig, L2_DECAY, validateDecayConfig, type OptimConfig, type DecayConfig } from '../formats/optim';
import { decayMask, lowRankDecaySlices } from './decay-mask';
import { lowRankDecay } from './ops/polar';

export interface StepStats {
  step: number;
  /** Mean cross-entropy over the batch's scored targets, summed in float64 (multitask: summed over task heads). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** The optimiser's whole state: with the same batches, restoring it continues a run bit for bit. */
export interface EngineState {
  step: number;
  optim: OptimConfig;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** The most steps one submission holds (their batches are staged on the GPU together). */
export const MAX_STEPS_PER_SUBMISSION = 32;

export interface StepOptions {
  /** Copy the last step's per-row losses and gradient norm out and resolve to them. */
  readback?: boolean;
  /** Work on the updated parameters after the last step, in the same command buffer (the spectral edge's snapshot). */
  after?: readonly Dispatch[];
  /** GPU timestamps at the start of the first step's pass and the end of the last step's (benchmarks). */
  timestamps?: { querySet: GPUQuerySet; begin: number; end: number };
}

/** One copy the command buffer makes before step `step`'s pass: `data`, staged at `offset`, into `dst`. */
interface StagedCopy {
  step: number;
  offset: number;
  data: Uint8Array;
  dst: GPUBuffer;
}

export class TrainingEngine {
  /** Optimiser steps taken so far. */
  stepCount = 0;
  /** Everything one training step runs, in order: forward, backward, optimiser, Low-Rank Decay (if any). */
  readonly dispatches: readonly Dispatch[];

  private constructor(
    private readonly rt: GpuRuntime,
    readonly config: AnyModelConfig,
    readonly table: ParamTable,
    readonly state: ParamState,
    readonly graph: TransformerGraph,
    private readonly optimizer: OptimizerOp,
    private readonly gradNorm: GPUBuffer,
    private hyper: OptimConfig,
    /** Where the optimiser accumulates the tracked slice's gradient/decay split (when asked for at creation). */
    readonly splitAccumulator: SplitAccumulator | null,
    /** The weight decay, fixed at creation (L2 unless asked for). */
    readonly decay: DecayConfig,
    lowRankDecayDispatches: readonly Dispatch[],
    /** Where a submission's batches and uniforms are staged (MAX_STEPS_PER_SUBMISSION steps' worth). */
    private readonly staging: GPUBuffer,
  ) {
    this.dispatches = [...graph.forward, ...graph.backward, ...optimizer.dispatches, ...lowRankDecayDispatches];
  }

  static async create(
    rt: GpuRuntime,
    opts: {
      config: AnyModelConfig;
      shape: BatchShape;
      optim: OptimConfig;
      seed: number;
      /** A parameter slice (e.g. theta_attn) whose gradient and decay parts the optimiser accumulates (spectral edge). */
      splitSlice?: { offset: number; size: number };
      /** L2 (AdamW decay on every parameter) unless given. */
      decay?: DecayConfig;
      /** false: the unfused graph (src/model/transformer.ts), for comparisons in tests and benchmarks; 'all': every fusion. */
      fused?: Fusion;
    },
  ): Promise<TrainingEngine> {
    validateModelConfig(opts.config);
    validateOptimConfig(opts.optim);
    const decay = structuredClone(opts.decay ?? L2_DECAY);
    validateDecayConfig(decay);
    const table = buildParamTable(opts.config);
    const n = table.total;
    checkPlan(rt, { params: n, grads: n, 'adam.m': n, 'adam.v': n, ...planActivations(opts.config, opts.shape, true) });
    const state = createParamState(rt, table, initParams(table, opts.seed));
    const graph = await buildTransformerGraph(rt, opts.config, state, opts.shape, { backward: true, fused: opts.fused });
    const gradNorm = rt.storage('gradNorm', 4);
    const slice = opts.splitSlice;
    const split = slice ? { buffer: rt.storage('optimizer.split', slice.size * 8), start: slice.offset, count: slice.size } : undefined;
    const optimizer = await adamw(rt, {
      params: state.params, grads: state.grads, m: state.m, v: state.v, gradNorm: at(gradNorm), n: table.total, split,
      decayMask: decayMask(table, decay),
    });
    const lowRank: Dispatch[] = [];
    if (decay.kind === 'lrd') {
      for (const s of lowRankDecaySlices(table, decay)) {
        const [rows, cols] = s.shape;
        lowRank.push(...(await lowRankDecay(rt, { w: at(state.params, s.offset), rows, cols, rate: decay.rate, split })).dispatches);
      }
    }
    // A step's staged bytes at most: its batch (every input buffer of the graph) and the AdamW uniform.
    const plan = planActivations(opts.config, opts.shape, true);
    const batchFloats = plan.stacks.reduce((sum, s) => sum + s.tokens + (s.keyValid ?? 0) + (s.tokenOrder ?? 0), plan.targets);
    const stepBytes = batchFloats * 4 + optimizer.stepParams(1, opts.optim).length * 4;
    const staging = rt.buffer('engine.staging', MAX_STEPS_PER_SUBMISSION * stepBytes, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    return new TrainingEngine(rt, opts.config, table, state, graph, optimizer, gradNorm, { ...opts.optim }, split ?? null, decay, lowRank, staging);
  }

  /** The runtime this engine dispatches on (for probes that run its graph: src/spectral/param-probe.ts). */
  get runtime(): GpuRuntime {
    return this.rt;
  }

  get dispatchesPerStep(): number {
    return this.dispatches.length;
  }

  /** Model FLOPs of one step: the matmuls and attention of forward and backward. */
  get flopsPerStep(): number {
    return this.dispatches.reduce((sum, d) => sum + (d.flops ?? 0), 0);
  }

  get optim(): OptimConfig {
    return { ...this.hyper };
  }

  /** Changes hyperparameters from the next step on (e.g. the weight-decay slider). */
  setOptim(changes: Partial<OptimConfig>): void {
    const next = { ...this.hyper, ...changes };
    validateOptimConfig(next);
    this.hyper = next;
  }

  /**
   * Encodes and submits one training step. With `readback`, also copies the per-row losses and the gradient
   * norm out and returns a promise of them; otherwise returns undefined and never waits on the GPU.
   */
  step(batch: Batch, opts: StepOptions & { readback: true }): Promise<StepStats>;
  step(batch: Batch, opts?: StepOptions & { readback?: false }): undefined;
  step(batch: Batch, opts: StepOptions = {}): Promise<StepStats> | undefined {
    return this.submit([batch], opts);
  }

  /**
   * Encodes `batches.length` training steps (at most MAX_STEPS_PER_SUBMISSION) into one command buffer and
   * submits it: the same updates as one `step` per batch, bit for bit. `after` and `readback` apply to the last step.
   */
  steps(batches: readonly Batch[], opts: StepOptions & { readback: true }): Promise<StepStats>;
  steps(batches: readonly Batch[], opts?: StepOptions & { readback?: false }): undefined;
  steps(batches: readonly Batch[], opts: StepOptions = {}): Promise<StepStats> | undefined {
    return this.submit(batches, opts);
  }

  private submit(batches: readonly Batch[], opts: StepOptions): Promise<StepStats> | undefined {
    const k = batches.length;
    if (!(k >= 1 && k <= MAX_STEPS_PER_SUBMISSION)) throw new Error(`a submission holds 1 to ${MAX_STEPS_PER_SUBMISSION} steps, got ${k}`);
    const first = this.stepCount + 1;
    // Stage every step's inputs (checked before anything is encoded or counted).
    const copies: StagedCopy[] = [];
    let bytes = 0;
    const stage = (step: number, dst: GPUBuffer, data: Uint8Array) => {
      copies.push({ step, offset: bytes, data, dst });
      bytes += data.byteLength;
    };
    batches.forEach((batch, i) => {
      if (i === 0 || batch !== batches[i - 1]) {
        for (const u of this.graph.batchUploads(batch)) stage(i, u.buffer, new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength));
      }
      stage(i, this.optimizer.uniform, packParams(this.optimizer.stepParams(first + i, this.hyper)));
    });
    if (bytes > this.staging.size) throw new Error(`engine: a submission stages ${bytes} bytes, its buffer holds ${this.staging.size}`);
    const packed = new Uint8Array(bytes);
    for (const c of copies) packed.set(c.data, c.offset);
    this.rt.write(this.staging, new Uint32Array(packed.buffer));
    this.stepCount += k;

    const encoder = this.rt.device.createCommandEncoder({ label: k === 1 ? `step ${first}` : `steps ${first}-${first + k - 1}` });
    const ts = opts.timestamps;
    for (let i = 0; i < k; i++) {
      for (const c of copies) if (c.step === i) encoder.copyBufferToBuffer(this.staging, c.offset, c.dst, 0, c.data.byteLength);
      const last = i === k - 1;
      const timestampWrites = ts && (i === 0 || last) ? { querySet: ts.querySet, ...(i === 0 && { beginningOfPassWriteIndex: ts.begin }), ...(last && { endOfPassWriteIndex: ts.end }) } : undefined;
      this.rt.encode(encoder, last ? [...this.dispatches, ...(opts.after ?? [])] : this.dispatches, timestampWrites);
    }
    if (!opts.readback) {
      this.rt.device.queue.submit([encoder.finish()]);
      return undefined;
    }
    const targets = batches[k - 1].targets;
    const rows = targets.length;
    const readLosses = this.rt.scheduleRead(encoder, this.graph.losses, 0, rows * 4);
    const readNorm = this.rt.scheduleRead(encoder, this.gradNorm, 0, 4);
    this.rt.device.queue.submit([encoder.finish()]);
    const step = this.stepCount;
    const heads = taskHeadCount(this.config);
    return Promise.all([readLosses(), readNorm()]).then(([losses, norm]) => ({
      step,
      // Multitask: the sum of the task heads' mean losses (each head scores every example).
      loss: heads * meanScoredLoss(new Float32Array(losses), targets),
      gradNorm: new Float32Array(norm)[0],
    }));
  }

  /** Everything the optimiser carries from step to step, read back exactly (for checkpoints). */
  async exportState(): Promise<EngineState> {
    const n = this.table.total;
    const [params, m, v] = await Promise.all([this.state.params, this.state.m, this.state.v].map((b) => this.rt.readF32(b, 0, n)));
    return { step: this.stepCount, optim: this.optim, params, m, v };
  }

  /** Restores a state from `exportState` (of an engine with the same parameter table). */
  importState(saved: EngineState): void {
    const n = this.table.total;
    for (const [name, values] of [['params', saved.params], ['m', saved.m], ['v', saved.v]] as const) {
      if (values.length !== n) throw new Error(`checkpoint ${name} has ${values.length} values, this model ${n}`);
    }
    this.rt.write(this.state.params, saved.params);
    this.rt.write(this.state.m, saved.m);
    this.rt.write(this.state.v, saved.v);
    this.stepCount = saved.step;
    this.setOptim(saved.optim);
  }

  /** The current parameters (flat, in the table's layout). */
  readParams(): Promise<Float32Array> {
    return this.rt.readF32(this.state.params, 0, this.table.total);
  }

  readGrads(): Promise<Float32Array> {
    return this.rt.readF32(this.state.grads, 0, this.table.total);
  }
}

/** Sum of per-row losses in float64 over the scored rows, divided by their number (0 when none is scored). */
export function meanScoredLoss(losses: Float32Array, targets: Int32Array): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] === IGNORE_TARGET) continue;
    sum += losses[i];
    n += 1;
  }
  return n === 0 ? 0 : sum / n;
}
