// The loss and gradient at perturbed parameters theta + eps d on the GPU, where d is a direction over a slice of
// the flat parameters (theta_attn by default): the primitive behind curvature along edge directions, Hessian-
// vector products (src/spectral/hessian.ts) and the causal experiments (docs/science.md §3).
//
// Training must continue bit for bit afterwards, so a probe never computes theta - eps d back: it saves the slice
// (and the whole gradient buffer, which a probe's backward overwrites) into backup buffers, writes each perturbed
// slice as backup + eps d, and finally copies the backups back. The Adam moments, the step count and the
// optimiser's gradient/decay accumulator are never touched (only the graph's forward and backward run).
//
// The GPU work is recorded into the caller's command encoder, so many evaluations share one submit:
//   encodeSave, then any number of (encodeDirection, encodeEvaluate), then encodeRestore, all in one encoder
//   (or in encoders submitted in that order). The step eps is a uniform: one value per submit (`setStep`).
import { NonFiniteError } from '../util/non-finite';
import { at, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import type { Batch } from '../model/batch';
import { taskHeadCount } from '../model/config';
import type { TransformerGraph } from '../model/transformer';
import { meanScoredLoss, type TrainingEngine } from '../model/engine';
import { axpyCall, dotsCall, partsFor, scheduleSums, VectorOp } from './vector-ops';

export interface ParamSlice {
  offset: number;
  size: number;
}

export interface ProbeOptions {
  /** The parameter slice the directions live in; default theta_attn (`engine.table.attn`). */
  slice?: ParamSlice;
  /**
   * The graph to evaluate: one built on `engine.state` (e.g. for a test batch of another shape); default the
   * engine's training graph. Gradients need a graph with a backward pass.
   */
  graph?: TransformerGraph;
}

export class ParamProbe {
  private constructor(
    private readonly rt: GpuRuntime,
    readonly engine: TrainingEngine,
    readonly slice: ParamSlice,
    readonly graph: TransformerGraph,
    private readonly b: { backup: GPUBuffer; gradsBackup: GPUBuffer; direction: GPUBuffer; partials: GPUBuffer },
    private readonly ops: { plus: VectorOp; minus: VectorOp; norm: VectorOp },
  ) {}

  static async create(engine: TrainingEngine, options: ProbeOptions = {}): Promise<ParamProbe> {
    const rt = engine.runtime;
    const slice = options.slice ?? engine.table.attn;
    const total = engine.table.total;
    if (!Number.isInteger(slice.offset) || !Number.isInteger(slice.size) || slice.offset < 0 || slice.size < 1 || slice.offset + slice.size > total) {
      throw new Error(`param probe: slice [${slice.offset}, ${slice.offset + slice.size}) is not inside the ${total} parameters`);
    }
    const graph = options.graph ?? engine.graph;
    if (graph.config !== engine.config) throw new Error('param probe: the graph must be built for the engine\'s model (on engine.state)');
    const b = {
      backup: rt.storage('probe.backup', slice.size * 4),
      gradsBackup: rt.storage('probe.gradsBackup', total * 4),
      direction: rt.storage('probe.direction', slice.size * 4),
      partials: rt.storage('probe.partials', partsFor(slice.size) * 4),
    };
    const theta = at(engine.state.params, slice.offset);
    const perturb = (beta: number) => axpyCall({ x: at(b.backup), y: at(b.direction), out: theta, n: slice.size, alpha: 1, beta });
    const ops = {
      plus: await VectorOp.create(rt, perturb(1)),
      minus: await VectorOp.create(rt, perturb(-1)),
      norm: await VectorOp.create(rt, dotsCall({ a: theta, b: theta, partials: at(b.partials), n: slice.size, rows: 1 })),
    };
    return new ParamProbe(rt, engine, slice, graph, b, ops);
  }

  /** The gradient of the slice in the engine's gradient buffer (what a backward just wrote). */
  get gradient(): TensorRef {
    return at(this.engine.state.grads, this.slice.offset);
  }

  /** The probe's own copy of the current direction (what encodeDirection last copied). */
  get direction(): TensorRef {
    return at(this.b.direction);
  }

  /** ||theta_slice|| at the current parameters (a read back, summed in float64). */
  async sliceNorm(): Promise<number> {
    const encoder = this.rt.device.createCommandEncoder({ label: 'probe.norm' });
    this.rt.encode(encoder, [this.ops.norm.dispatch]);
    const read = scheduleSums(this.rt, encoder, at(this.b.partials), this.slice.size, 1);
    this.rt.device.queue.submit([encoder.finish()]);
    const [square] = await read();
    return Math.sqrt(square);
  }

  /** The step eps of the following evaluations (theta_slice = backup +- eps d), from the next submit on. */
  setStep(eps: number): void {
    if (!Number.isFinite(eps)) throw new Error(`param probe: the step must be finite, got ${eps}`);
    const theta = at(this.engine.state.params, this.slice.offset);
    const { backup, direction } = this.b;
    for (const [op, sign] of [[this.ops.plus, 1], [this.ops.minus, -1]] as const) {
      op.retarget(axpyCall({ x: at(backup), y: at(direction), out: theta, n: this.slice.size, alpha: 1, beta: sign * eps }));
    }
  }

  /** Saves the slice and the gradient buffer: record before any evaluation. */
  encodeSave(encoder: GPUCommandEncoder): void {
    const { params, grads } = this.engine.state;
    encoder.copyBufferToBuffer(params, this.slice.offset * 4, this.b.backup, 0, this.slice.size * 4);
    encoder.copyBufferToBuffer(grads, 0, this.b.gradsBackup, 0, this.engine.table.total * 4);
  }

  /** Copies direction d (slice.size floats) into the probe's own direction buffer. */
  encodeDirection(encoder: GPUCommandEncoder, d: TensorRef): void {
    if (d.buffer === this.b.direction && d.offset === 0) return;
    encoder.copyBufferToBuffer(d.buffer, d.offset * 4, this.b.direction, 0, this.slice.size * 4);
  }

  /**
   * Sets theta_slice = saved + sign * eps * direction (sign 0: the saved slice itself, copied), then runs the
   * forward pass (per-target losses in `graph.losses`) and, with `gradient`, the backward pass (the engine's
   * gradient buffer, so `this.gradient` for the slice).
   */
  encodeEvaluate(encoder: GPUCommandEncoder, sign: -1 | 0 | 1, gradient: boolean): void {
    if (gradient && this.graph.backward.length === 0) throw new Error('param probe: gradients need a graph with a backward pass');
    if (sign === 0) {
      encoder.copyBufferToBuffer(this.b.backup, 0, this.engine.state.params, this.slice.offset * 4, this.slice.size * 4);
    }
    const perturb = sign === 0 ? [] : [(sign > 0 ? this.ops.plus : this.ops.minus).dispatch];
    this.rt.encode(encoder, [...perturb, ...this.graph.forward, ...(gradient ? this.graph.backward : [])]);
  }

  /** Copies the saved slice and gradients back, exactly. */
  encodeRestore(encoder: GPUCommandEncoder): void {
    const { params, grads } = this.engine.state;
    encoder.copyBufferToBuffer(this.b.backup, 0, params, this.slice.offset * 4, this.slice.size * 4);
    encoder.copyBufferToBuffer(this.b.gradsBackup, 0, grads, 0, this.engine.table.total * 4);
  }

  /** The loss as the engine reports it (sum over task heads of each head's mean), from read-back per-target losses. */
  meanLoss(losses: Float32Array, batch: Batch): number {
    const loss = taskHeadCount(this.graph.config) * meanScoredLoss(losses, batch.targets);
    if (!Number.isFinite(loss)) throw new NonFiniteError('the loss at a probed point', [loss]);
    return loss;
  }

  /**
   * L(theta + eps d) on `batch` (theta itself without a direction), and with `gradient` the slice of
   * grad L(theta + eps d) copied there; theta and the gradient buffer are then restored exactly.
   */
  async lossAndGradient(batch: Batch, point: { direction?: TensorRef; eps?: number; gradient?: TensorRef } = {}): Promise<number> {
    const { direction, eps = 0, gradient } = point;
    this.graph.setBatch(batch);
    const encoder = this.rt.device.createCommandEncoder({ label: 'probe' });
    this.encodeSave(encoder);
    if (direction) {
      this.setStep(eps);
      this.encodeDirection(encoder, direction);
    }
    this.encodeEvaluate(encoder, direction ? 1 : 0, gradient !== undefined);
    const read = this.rt.scheduleRead(encoder, this.graph.losses, 0, batch.targets.length * 4);
    if (gradient) encoder.copyBufferToBuffer(this.engine.state.grads, this.slice.offset * 4, gradient.buffer, gradient.offset * 4, this.slice.size * 4);
    this.encodeRestore(encoder);
    this.rt.device.queue.submit([encoder.finish()]);
    return this.meanLoss(new Float32Array(await read()), batch);
  }

  destroy(): void {
    for (const buffer of Object.values(this.b)) buffer.destroy();
  }
}
