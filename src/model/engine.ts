// One model being trained on the GPU (either model kind: encoder-only or encoder-decoder): parameter state,
// the training graph and the optimiser, stepped with one command buffer per step. Nothing here waits on the GPU unless the caller asks for a readback.
// With Low-Rank Decay (src/formats/optim.ts) the step also runs, after AdamW (which then does not decay those
// matrices), the Newton-Schulz update W <- W - rate polar(W) of each chosen matrix, in the same command buffer.
import { at, type Dispatch, type GpuRuntime } from '../gpu/runtime';
import { taskHeadCount, validateModelConfig } from './config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { IGNORE_TARGET, type Batch } from './batch';
import { buildParamTable, initParams, type ParamTable } from './params';
import { createParamState, type ParamState } from './state';
import { buildTransformerGraph, planActivations, type TransformerGraph } from './transformer';
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
      /** false: the unfused graph (src/model/transformer.ts), for comparisons in tests and benchmarks. */
      fused?: boolean;
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
    return new TrainingEngine(rt, opts.config, table, state, graph, optimizer, gradNorm, { ...opts.optim }, split ?? null, decay, lowRank);
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
  step(batch: Batch, opts: { readback: true; after?: readonly Dispatch[] }): Promise<StepStats>;
  step(batch: Batch, opts?: { readback?: false; after?: readonly Dispatch[] }): undefined;
  step(batch: Batch, opts: { readback?: boolean; after?: readonly Dispatch[] } = {}): Promise<StepStats> | undefined {
    this.graph.setBatch(batch);
    this.stepCount += 1;
    this.optimizer.setStep(this.stepCount, this.hyper);
    const encoder = this.rt.device.createCommandEncoder({ label: `step ${this.stepCount}` });
    // `after`: work on the updated parameters in the same command buffer (the spectral edge's snapshot).
    this.rt.encode(encoder, [...this.dispatches, ...(opts.after ?? [])]);
    if (!opts.readback) {
      this.rt.device.queue.submit([encoder.finish()]);
      return undefined;
    }
    const rows = batch.targets.length;
    const readLosses = this.rt.scheduleRead(encoder, this.graph.losses, 0, rows * 4);
    const readNorm = this.rt.scheduleRead(encoder, this.gradNorm, 0, 4);
    this.rt.device.queue.submit([encoder.finish()]);
    const step = this.stepCount;
    const heads = taskHeadCount(this.config);
    return Promise.all([readLosses(), readNorm()]).then(([losses, norm]) => ({
      step,
      // Multitask: the sum of the task heads' mean losses (each head scores every example).
      loss: heads * meanScoredLoss(new Float32Array(losses), batch.targets),
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
