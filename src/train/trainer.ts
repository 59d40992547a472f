// One training run of a preset: steps the engine, and at the evaluation cadence reads the step's loss and
// gradient norm back, evaluates the whole train and test sets, computes ||theta|| and ||theta_attn||, records
// events and keeps the last good checkpoint. Between evaluations it never waits on the GPU for a result: steps go
// in groups of several per submission (src/train/submissions.ts: a group ends where the trainer must read
// something back or take a snapshot), their batches drawn in order before the group is encoded, so a run is
// bit for bit the run of one step per submission; at most two submissions are in flight (src/gpu/in-flight.ts).
//
// Runs unchanged in Node (CLI, tests) and in a Web Worker: no Node imports here.
//
// Divergence: a NaN or infinite value found while taking a step (at an evaluation: step loss, gradient norm,
// train/test loss, norms; in a spectral window's Gram, Lanczos or edge scalars; in a gap-flow or causal probe)
// is a NonFiniteError (src/util/non-finite.ts), thrown by whoever finds it before any solver sees the value. The
// run catches it, stops, puts the engine back to the last good checkpoint (the previous evaluation, or step 0)
// and records a 'divergence' event saying what went non-finite. It can only be seen at the evaluation and
// window cadences, since nothing is read back in between.
import type { AllocationScope, GpuRuntime } from '../gpu/runtime';
import type { Batch } from '../model/batch';
import { Rng, type RngState } from '../util/random';
import { NonFiniteError } from '../util/non-finite';
import { TrainingEngine, type StepStats } from '../model/engine';
import { SubmissionWindow } from '../gpu/in-flight';
import { stepsPerSubmission, submissionCadences } from './submissions';
import { decayOf, type HyperParams } from '../formats/optim';
import { buildParamTable } from '../model/params';
import { SpectralMonitor, sliceOf, type EdgeVectors } from '../spectral/monitor';
import type { SpectralRecord } from '../formats/spectral';
import type { AnalysisFile } from '../formats/analysis-file';
import type { CausalRecord } from '../formats/live-causal';
import { Evaluator } from './evaluator';
import { PRESETS, buildTaskData, grokMetric, taskHeadNames, type TaskData } from './presets';
import { captureCheckpoint, checkpointOf, restoreCheckpoint, type Checkpoint, type ResumableSampler } from './checkpoint';
import { appendHeadPoint, appendPoint, copyMetrics, historyUpTo, emptyMetrics, grokEvent, grokStep, headGrokEvents, nonFiniteKeys, paramNorms, pointAt, shouldStopEarly } from './metrics';
import type { MetricPoint, RunEvent, RunMetrics, StopReason } from '../formats/metrics';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunConfig, type RunFile, type RunSummary } from '../formats/run-file';

export interface TrainerProgress {
  /** The evaluation just taken. */
  point: MetricPoint;
  /** The step the run ends at (unless it stops early). */
  totalSteps: number;
  /** Steps taken and wall time spent by the current `run` call, for rates and ETAs. */
  stepsThisCall: number;
  elapsedMs: number;
  /** The latest spectral record (null before the first full window, or when the edge is not tracked). */
  edge: SpectralRecord | null;
  /** The latest live causal record (null before the first probe, or when the run takes none). */
  causal: CausalRecord | null;
}

export interface RunCallbacks {
  /** After every evaluation. */
  onEvaluation?(progress: TrainerProgress): void;
  /** For each event recorded during the call (grok, divergence). */
  onEvent?(event: RunEvent): void;
  /** For each analysed window of the spectral edge. */
  onSpectral?(record: SpectralRecord): void;
  /** For each live causal probe (runs with config.causal enabled). */
  onCausal?(record: CausalRecord): void;
  /**
   * Checked before every submission (a group of steps); true ends the call with stopReason 'interrupted' (a later
   * `run` continues). In a worker, messages are only handled while the trainer waits on the GPU: for the
   * submission two back, or at the evaluation cadence.
   */
  shouldStop?(): boolean;
  /** The call ends (interrupted) once this step is taken; no submission runs past it (the page's chunks). */
  until?: number;
  /** The most steps one submission holds (default MAX_STEPS_PER_SUBMISSION; 1 submits each step on its own). */
  maxStepsPerSubmission?: number;
}

interface BatchSampler extends ResumableSampler {
  next(): Batch;
}

/** Full batch: the same batch (every training sequence) each step; nothing is drawn, so there is no state. */
function fullBatchSampler(data: TaskData): BatchSampler {
  return {
    next: () => data.train,
    state: () => null,
    restore(state) {
      if (state !== null) throw new Error('a full-batch run has no sampler state to restore');
    },
  };
}

/** `size` training sequences drawn uniformly with replacement. */
function minibatchSampler(data: TaskData, size: number, seed: number): BatchSampler {
  let rng = Rng.derive(seed, 'batches');
  return {
    next() {
      const indices = new Uint32Array(size);
      for (let i = 0; i < size; i++) indices[i] = rng.int(data.trainCount);
      return data.trainBatch(indices);
    },
    state: () => rng.state(),
    restore(state: RngState | null) {
      if (state === null) throw new Error('a minibatch run needs its sampler state to restore');
      rng = new Rng(state);
    },
  };
}

const now = () => performance.now();

/**
 * Measures the edge's function at a window step (src/analysis/live-causal.ts builds it; the trainer only calls it).
 * It must leave the parameters, moments, gradients and every generator exactly as it found them.
 */
export type CausalProbe = (step: number) => Promise<CausalRecord>;

export class Trainer {
  private metrics: RunMetrics;
  private wallMs = 0;
  private stopReason: StopReason = 'interrupted';
  /** Causal experiments run on this run's model (kept in its run file). */
  private readonly analyses: AnalysisFile[] = [];
  /** The live causal probe (runs whose config enables it; attached by src/analysis/live-causal.ts). */
  private causalProbe: CausalProbe | null = null;
  /** At most two submissions in flight. */
  private readonly inFlight: SubmissionWindow;
  /** Submissions made and steps they held. */
  private readonly submissionCount = { submissions: 0, steps: 0 };

  private constructor(
    private readonly rt: GpuRuntime,
    readonly config: RunConfig,
    readonly engine: TrainingEngine,
    private readonly data: TaskData,
    private readonly trainEval: Evaluator,
    private readonly testEval: Evaluator,
    private readonly sampler: BatchSampler,
    /** The spectral edge (null when the run does not track it). */
    private readonly monitor: SpectralMonitor | null,
    /** The state after the last evaluation with finite values (step 0 before the first): where a divergence returns to. */
    private lastGood: Checkpoint,
    /** The buffers of the engine, evaluators and monitor, allocated in create(). */
    private readonly allocations: AllocationScope,
  ) {
    this.metrics = historyUpTo(lastGood.metrics, lastGood.mark);
    this.inFlight = new SubmissionWindow(rt, 2);
  }

  /** Builds the data, engine and evaluators of a run (`resolveRunConfig` makes the config from a preset). */
  static async create(rt: GpuRuntime, config: RunConfig): Promise<Trainer> {
    const allocations = rt.openScope();
    try {
      return await Trainer.build(rt, config, allocations);
    } catch (error) {
      allocations.release();
      throw error;
    } finally {
      allocations.close();
    }
  }

  private static async build(rt: GpuRuntime, config: RunConfig, allocations: AllocationScope): Promise<Trainer> {
    const data = buildTaskData(config.task, config.seed);
    const tracksEdge = config.spectral.enabled;
    const engine = await TrainingEngine.create(rt, {
      config: config.model,
      shape: config.shape,
      optim: config.optim,
      decay: decayOf(config),
      seed: config.seed,
      ...(tracksEdge && { splitSlice: sliceOf({ table: buildParamTable(config.model) }, config.spectral) }),
    });
    const monitor = tracksEdge ? await SpectralMonitor.create(rt, engine, config.spectral) : null;
    const { seqLen, readout, sourceLen } = config.shape;
    // One evaluator per set, each no larger than its set, so a 50-sequence train set is not padded to a big chunk.
    const evaluator = (set: Batch) =>
      Evaluator.create(rt, config.model, engine.state, { seqLen, readout, sourceLen }, Math.min(PRESETS[config.preset].evalChunk, set.targets.length / readout.count));
    const trainEval = await evaluator(data.train);
    const testEval = await evaluator(data.test);
    const sampler = config.batchMode === 'full' ? fullBatchSampler(data) : minibatchSampler(data, config.shape.batch, config.seed);
    const initial = await captureCheckpoint(engine, sampler, emptyMetrics(taskHeadNames(config.task), tracksEdge, !!config.causal?.enabled), monitor);
    return new Trainer(rt, config, engine, data, trainEval, testEval, sampler, monitor, initial, allocations);
  }

  /** Frees the GPU buffers of the engine, evaluators and monitor at once; the trainer must not be used after. */
  destroy(): void {
    this.allocations.release();
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.engine.stepCount;
  }

  get series(): RunMetrics['series'] {
    return this.metrics.series;
  }

  get events(): readonly RunEvent[] {
    return this.metrics.events;
  }

  get grokStep(): number | null {
    return grokStep(this.metrics.events);
  }

  /** The task's train and test sets. */
  get taskData(): TaskData {
    return this.data;
  }

  /** The spectral records so far (empty when the run does not track the edge). */
  get spectralRecords(): readonly SpectralRecord[] {
    return this.metrics.spectral ?? [];
  }

  /** The live causal records so far (empty when the run takes none). */
  get causalRecords(): readonly CausalRecord[] {
    return this.metrics.causal ?? [];
  }

  /** Attaches the live causal probe of a run whose config enables the probes (createTrainer does this). */
  attachCausalProbe(probe: CausalProbe): void {
    if (!this.config.causal?.enabled) throw new Error('this run does not take live causal probes (config.causal is off)');
    this.causalProbe = probe;
  }

  /** The spectral edge of the last analysed window (v_1..v_K on the GPU); null when the run does not track it. */
  get edgeVectors(): EdgeVectors | null {
    return this.monitor?.edgeVectors ?? null;
  }

  /** The checkpoint a divergence would return to. */
  get lastGoodCheckpoint(): Checkpoint {
    return this.lastGood;
  }

  /** The analyses kept so far, oldest first. */
  get analysisFiles(): readonly AnalysisFile[] {
    return this.analyses;
  }

  /** Keeps an analysis of this run's model in its run file. */
  addAnalysis(analysis: AnalysisFile): void {
    this.analyses.push(structuredClone(analysis));
  }

  /** Changes lr and/or weight decay from the next step on, and records the change as a 'hyper' event. */
  setHyper(changes: Partial<HyperParams>): RunEvent {
    const pick = ({ lr, weightDecay }: HyperParams): HyperParams => ({ lr, weightDecay });
    const before = pick(this.engine.optim);
    this.engine.setOptim(changes);
    const event: RunEvent = { type: 'hyper', step: this.step, before, after: pick(this.engine.optim) };
    this.metrics.events.push(event);
    return event;
  }

  /**
   * Trains until `config.steps`, an early stop, a divergence or `shouldStop`. Can be called again after an
   * interruption to continue. Resolves with the reason it stopped.
   */
  async run(callbacks: RunCallbacks = {}): Promise<StopReason> {
    const start = now();
    const startStep = this.step;
    const { steps, earlyStop } = this.config;
    let reason: StopReason = 'completed';
    if (this.config.causal?.enabled && !this.causalProbe) throw new Error('this run takes live causal probes: create it with createTrainer (src/analysis/live-causal.ts), which attaches them');
    try {
      const end = Math.min(steps, callbacks.until ?? steps);
      while (this.step < steps) {
        if (callbacks.shouldStop?.() || this.step >= end) {
          reason = 'interrupted';
          break;
        }
        const first = this.step + 1;
        const last = first - 1 + stepsPerSubmission(first, { end, every: submissionCadences(this.config), max: callbacks.maxStepsPerSubmission });
        let point: MetricPoint | null;
        try {
          point = await this.advance(first, last, callbacks);
        } catch (error) {
          if (!(error instanceof NonFiniteError)) throw error;
          callbacks.onEvent?.(this.diverge(last, error));
          reason = 'diverged';
          break;
        }
        if (!point) continue;
        const edge = this.metrics.spectral?.at(-1) ?? null;
        const causal = this.metrics.causal?.at(-1) ?? null;
        callbacks.onEvaluation?.({ point, totalSteps: steps, stepsThisCall: this.step - startStep, elapsedMs: now() - start, edge, causal });
        if (earlyStop && shouldStopEarly(this.metrics, earlyStop, grokMetric(this.config.task))) {
          reason = 'early-stop';
          break;
        }
      }
    } finally {
      this.wallMs += now() - start;
    }
    this.stopReason = reason;
    return reason;
  }

  /** Submissions and steps so far in this trainer's life (steps per submission = steps / submissions). */
  get submissionStats(): { submissions: number; steps: number } {
    return { ...this.submissionCount };
  }

  /**
   * Optimiser steps `first`..`last` in one submission, with everything the trainer waits on after the last: the
   * spectral window it completes (and its live causal probe), and at the evaluation cadence the evaluation
   * (returned; null when the step has none). Throws NonFiniteError when any of them finds a value that is not finite.
   */
  private async advance(first: number, last: number, callbacks: RunCallbacks): Promise<MetricPoint | null> {
    const batches = Array.from({ length: last - first + 1 }, () => this.sampler.next());
    const batch = batches[batches.length - 1];
    // Only the group's last step can be a snapshot step (snapshots end groups).
    const after = this.monitor?.afterStep(last) ?? [];
    this.submissionCount.submissions += 1;
    this.submissionCount.steps += batches.length;
    if (last % this.config.evalEvery !== 0 && last !== this.config.steps) {
      await this.inFlight.ready();
      this.engine.steps(batches, { after });
      this.inFlight.submitted();
      await this.analyseWindow(last, batch, callbacks);
      return null;
    }
    await this.inFlight.ready();
    const stats = await this.engine.steps(batches, { readback: true, after });
    await this.analyseWindow(last, batch, callbacks);
    const eventsBefore = this.metrics.events.length;
    const point = await this.evaluate(stats);
    for (const event of this.metrics.events.slice(eventsBefore)) callbacks.onEvent?.(event);
    return point;
  }

  /**
   * After a snapshot step that completes a window: its spectral record (the gap flow, if asked for, on `batch`), and
   * at the live causal cadence the probe's record on the window's edge.
   */
  private async analyseWindow(step: number, batch: Batch, callbacks: RunCallbacks): Promise<void> {
    if (!this.monitor?.windowReady(step)) return;
    const record = await this.monitor.analyse(step, this.engine.optim, batch);
    this.metrics.spectral!.push(record);
    callbacks.onSpectral?.(record);
    const causal = this.config.causal;
    if (this.causalProbe && causal?.enabled && step % causal.every === 0) {
      const measured = await this.causalProbe(step);
      (this.metrics.causal ??= []).push(measured);
      callbacks.onCausal?.(measured);
    }
  }

  /** A value went non-finite during step `step`: back to the last good checkpoint, with a 'divergence' event. */
  private diverge(step: number, cause: NonFiniteError): RunEvent {
    const good = this.lastGood;
    restoreCheckpoint(good, this.engine, this.sampler, this.monitor);
    const event: RunEvent = {
      type: 'divergence',
      step,
      restoredStep: good.step,
      message:
        `training diverged at step ${step} (${cause.message}); stopped and restored the last good checkpoint ` +
        `(step ${good.step}, lr ${good.engine.optim.lr}, weight decay ${good.engine.optim.weightDecay})`,
    };
    this.metrics.events.push(event);
    return event;
  }

  /**
   * The evaluation after a step: whole-set metrics, norms, grok detection and the last-good checkpoint. Throws
   * NonFiniteError (recording nothing) when any value is not finite.
   */
  private async evaluate(stats: StepStats): Promise<MetricPoint> {
    const train = await this.trainEval.evaluate(this.data.train);
    const test = await this.testEval.evaluate(this.data.test);
    // Only a generative task (SCAN) feeds predictions back; elsewhere greedy decoding is the forced prediction.
    const { decoderTokens } = this.data;
    const greedyAcc = decoderTokens ? (await this.testEval.greedy(this.data.test, decoderTokens)).sequenceAccuracy : test.sequenceAccuracy;
    const state = await this.engine.exportState();
    const norms = paramNorms(state.params, this.engine.table.attn);
    const point: MetricPoint = {
      step: stats.step,
      batchLoss: stats.loss,
      gradNorm: stats.gradNorm,
      trainLoss: train.loss,
      trainAcc: train.accuracy,
      testLoss: test.loss,
      testAcc: test.accuracy,
      trainSeqAcc: train.sequenceAccuracy,
      testSeqAcc: test.sequenceAccuracy,
      testGreedyAcc: greedyAcc,
      thetaNorm: norms.theta,
      attnNorm: norms.attn,
    };
    const bad = nonFiniteKeys(point);
    if (bad.length > 0) throw new NonFiniteError(`the evaluation's ${bad.join(', ')}`, bad.map((k) => point[k]));
    appendPoint(this.metrics.series, point);
    const { heads, events } = this.metrics;
    if (heads) {
      appendHeadPoint(heads, { trainLoss: train.headLoss, trainAcc: train.headAccuracy, testLoss: test.headLoss, testAcc: test.headAccuracy });
      events.push(...headGrokEvents(point.step, heads.names, test.headAccuracy, events));
    }
    const grok = grokEvent(this.metrics, grokMetric(this.config.task));
    if (grok) events.push(grok);
    this.lastGood = checkpointOf(state, this.sampler, this.metrics, await this.monitor?.exportState());
    return point;
  }

  /** The run's whole state; take it between `run` calls (the engine must not step while it is read back). */
  checkpoint(): Promise<Checkpoint> {
    return captureCheckpoint(this.engine, this.sampler, this.metrics, this.monitor);
  }

  /** Goes back (or forward) to a checkpoint of this run: the next `run` continues from it bit for bit. */
  restore(checkpoint: Checkpoint): void {
    restoreCheckpoint(checkpoint, this.engine, this.sampler, this.monitor);
    this.metrics = historyUpTo(checkpoint.metrics, checkpoint.mark);
    this.lastGood = checkpointOf(checkpoint.engine, this.sampler, this.metrics, checkpoint.spectral);
  }

  /** The run's history as it grows: its lists only ever grow by appending (read it, never change it). */
  get history(): RunMetrics {
    return this.metrics;
  }

  /** The run file's summary now. */
  runSummary(): RunSummary {
    const { series } = this.metrics;
    const n = series.step.length;
    return {
      steps: this.step,
      grokStep: this.grokStep,
      stopReason: this.stopReason,
      final: n > 0 ? pointAt(series, n - 1) : null,
      wallMs: Math.round(this.wallMs),
      adapter: this.rt.adapter.description,
    };
  }

  toRunFile(): RunFile {
    const { series, events, heads, spectral, causal } = copyMetrics(this.metrics);
    return {
      version: RUN_FILE_VERSION,
      kind: RUN_FILE_KIND,
      config: structuredClone(this.config),
      series,
      events,
      ...(heads && { heads }),
      ...(spectral && { spectral }),
      ...(causal && { causal }),
      ...(this.analyses.length > 0 && { analyses: structuredClone(this.analyses) }),
      summary: this.runSummary(),
    };
  }
}
