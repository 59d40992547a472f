// The lab's training service: what the worker exposes (LabWorkerApi), written against an injected GPU and run
// store so the same class runs in the browser's module worker (lab-worker.ts) and, driven directly, in Node tests.
//
// Training runs in chunks: `Trainer.run` with `until` ends each chunk after a few steps (sized to about
// CHUNK_TARGET_MS of GPU work; inside a chunk the trainer puts several steps in each submission and keeps at most
// two in flight), the loop then waits for the GPU queue and yields a macrotask, so commands (pause,
// setHyper) are handled between chunks and the GPU never holds more than one chunk of queued work. Hyperparameter
// changes and saves happen only between chunks, where the trainer is at rest. Batches for the page are collected
// and flushed on a timer (FLUSH_MS), metric rows as packed Float64Arrays, spectral and live causal records as they come.
//
// A run's hyperparameter schedule (HyperChange[], sorted by step) is the single record of its mid-run changes:
// live changes are inserted into it, a shared link or a saved run supplies it, and the loop stops chunks at its
// steps to apply each entry exactly there, so a replay repeats the run bit for bit.
import { GpuRuntime } from '../gpu/runtime';
import { WebGpuUnavailableError, type AcquiredDevice } from '../gpu/device';
import type { Trainer } from '../train/trainer';
import { createTrainer } from '../analysis/live-causal';
import { parseRunFile, resolveRunConfig } from '../train/run';
import type { RunConfig, RunFile } from '../formats/run-file';
import type { StopReason, RunEvent } from '../formats/metrics';
import { decodeCheckpoint, encodeCheckpoint } from '../train/checkpoint-file';
import type { Checkpoint } from '../train/checkpoint';
import { commonMark, emptyMetrics } from '../train/metrics';
import type { HyperParams } from '../formats/optim';
import { runAnalysis } from '../analysis/run-analysis';
import { parseAnalysisFile, type AnalysisFile } from '../formats/analysis-file';
import { NOTHING_SAVED, deltaSince, type SavedMark } from './saved-mark';
import { batchOfMetrics, packHeadRows, packMetricRows, scheduleOfEvents, validateSchedule } from './protocol';
import {
  IDLE_STATUS, type ExperimentRequest, type HyperChange, type LabBatch, type LabListener, type LabWorkerApi, type LoadRequest, type PlayRequest, type RunSink,
  type SavedRunSummary, type StartRequest, type WorkerStatus,
} from '../formats/worker';
import { StudyService, type StudyApi, type StudyListener, type StudyRequest, type StudyUnitStore, type StudyView } from './study-service';
import type { StudyStop } from '../reproduce/runner';
import { PLAYBACK_MS, PLAYBACK_START, playbackEnd, playbackSlice, playbackStep, type PlaybackCursor } from './playback';

/** How often a playback releases what its clock has passed. */
const PLAYBACK_TICK_MS = 100;

/** GPU work per chunk: small enough that a command waits at most about this long, large enough to keep the GPU busy. */
const CHUNK_TARGET_MS = 30;
const MAX_CHUNK_STEPS = 256;
/** Batches to the page at most this often (20 Hz). */
const FLUSH_MS = 50;
/** How long a failed step waits for the device to report a loss before counting as a failure of its own. */
const LOSS_GRACE_MS = 500;
/** Training speed is averaged over this window. */
const RATE_WINDOW_MS = 3000;

export interface LabApiOptions {
  /** Gets a GPU device: navigator.gpu in the worker, Dawn in Node. Called again after a device loss. */
  acquire(): Promise<AcquiredDevice>;
  /** Where runs and their latest checkpoints are saved (IndexedDB in the page); none: nothing is saved. */
  store?: RunSink;
  /** Where the Reproduce panel's finished units are kept between visits (IndexedDB in the page); none: for the worker's life. */
  studyUnits?: StudyUnitStore;
  newRunId?(): string;
}

type HyperEvent = Extract<RunEvent, { type: 'hyper' }>;

interface HyperRequest {
  changes: Partial<HyperParams>;
  resolve(event: HyperEvent): void;
  reject(error: unknown): void;
}

/** A run with a trainer: live, paused or finished. */
interface LiveRun {
  id: string;
  createdAt: number;
  trainer: Trainer;
  schedule: HyperChange[];
  /** Schedule entries applied so far (always a prefix: entries are sorted by step and applied in order). */
  applied: number;
  mode: 'running' | 'paused' | 'finished';
  stopReason: StopReason | null;
  /** step(n): train until this step, then pause. */
  stepTarget: number | null;
  hyperRequests: HyperRequest[];
  /** Metric rows already sent to the page. */
  sentRows: number;
  /** The GPU device went away under this run (the loop ends quietly, recovery takes over). */
  lost: boolean;
  /** Why training stopped with an error (phase 'failed'). */
  failure: string | null;
  /** What just happened to the run (a device loss it recovered from). */
  notice: string | null;
  rate: { t: number; step: number }[];
  /** Evaluations (new checkpoints) or events since the last save. */
  dirty: boolean;
  saving: boolean;
  /**
   * How much of this run's history and analyses the store holds (the next save sends what follows): nothing for a
   * new run, the checkpoint's place in the saved history for a reopened or recovered one.
   */
  saved: SavedMark;
  /** The checkpoint of the run's grok evaluation (null: it has not grokked, or it was not kept), and whether it is in the store. */
  grok: { checkpoint: Checkpoint; saved: boolean } | null;
  /** Gives back this worker's claim on the run in the store (src/worker/run-db.ts: claim). */
  release: () => void;
}

const macrotask = (): Promise<void> =>
  new Promise((resolve) => {
    if (typeof setImmediate === 'function') {
      setImmediate(resolve); // Node
      return;
    }
    const { port1, port2 } = new MessageChannel(); // a worker: no 4 ms clamp, unlike nested setTimeout
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });

/** Whether `promise` settles within `ms`. */
const settlesWithin = (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });

/** loadRun of a saved run that another tab holds (it continues and saves it there). */
export class RunOpenElsewhereError extends Error {
  override name = 'RunOpenElsewhereError';

  constructor() {
    super('this run is open in another tab of the lab, which continues and saves it; close it there to continue it here');
  }
}

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export class LabApi implements LabWorkerApi, StudyApi {
  private listener: LabListener | null = null;
  private rt: GpuRuntime | null = null;
  private acquiring: Promise<GpuRuntime> | null = null;
  private run: LiveRun | null = null;
  private loop: Promise<void> | null = null;
  /** A run file shown without a trainer (phase 'viewing'). */
  private viewed: RunFile | null = null;
  private status: WorkerStatus = { ...IDLE_STATUS };
  private outbox: Omit<LabBatch, 'status'> = {};
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  /** Commands run one at a time, in the order they arrive. */
  private commands: Promise<unknown> = Promise.resolve();
  /** The recording being played back (null: none). */
  private playback: { file: RunFile; started: number; durationMs: number; cursor: PlaybackCursor; timer: ReturnType<typeof setTimeout> | null } | null = null;
  /** The experiments running now (null: none), and whether the page asked to cancel them. */
  private experiment: { cancelled: boolean } | null = null;
  private readonly studies: StudyService;
  /** The reproduction study running now, if any: training runs wait until it ends or is cancelled. */
  private study: { cancelled: boolean } | null = null;

  constructor(private readonly options: LabApiOptions) {
    this.studies = new StudyService(options.studyUnits);
  }

  subscribe(listener: LabListener): void {
    this.listener = listener;
    this.scheduleFlush();
  }

  start(request: StartRequest): Promise<WorkerStatus> {
    return this.command(async () => {
      this.refuseDuringStudy();
      const schedule = [...(request.schedule ?? [])];
      validateSchedule(schedule);
      const config = resolveRunConfig(request.preset, request.seed, request.overrides);
      await this.retireCurrent();
      this.viewed = null;
      this.setStatus({ ...IDLE_STATUS, phase: 'preparing', totalSteps: config.steps, adapter: this.status.adapter });
      const id = this.options.newRunId?.() ?? crypto.randomUUID();
      const release = await this.claim(id);
      if (!release) throw new Error(`the run id ${id} is taken by a run open in another tab`);
      const trainer = await this.createTrainer(config).catch((error: unknown) => {
        release();
        throw error;
      });
      const run = this.adopt(trainer, schedule, id, Date.now(), release, NOTHING_SAVED);
      this.emitReset(run, null);
      this.applySchedule(run);
      this.markDirty(run);
      if (!request.paused) run.mode = 'running';
      this.kick(run);
      return this.refreshStatus();
    });
  }

  pause(): Promise<WorkerStatus> {
    return this.command(async () => {
      const run = this.requireRun('pause');
      if (run.mode === 'running') run.mode = 'paused';
      await this.loop;
      return this.refreshStatus();
    });
  }

  resume(): Promise<WorkerStatus> {
    return this.command(async () => {
      this.refuseDuringStudy();
      const run = this.requireRun('resume');
      if (run.mode === 'finished') throw new Error(`the run has ended (${run.stopReason}); start a new one`);
      run.mode = 'running';
      this.kick(run);
      return this.refreshStatus();
    });
  }

  step(n: number): Promise<WorkerStatus> {
    return this.command(async () => {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`step(n): n must be a positive integer, got ${n}`);
      this.refuseDuringStudy();
      const run = this.requireRun('step');
      if (run.mode === 'running') throw new Error('step(n) needs a paused run; pause it first');
      if (run.mode === 'finished') throw new Error(`the run has ended (${run.stopReason}); start a new one`);
      run.stepTarget = Math.min(run.trainer.step + n, run.trainer.config.steps);
      this.kick(run);
      await this.loop;
      return this.refreshStatus();
    });
  }

  reset(): Promise<WorkerStatus> {
    return this.command(async () => {
      await this.retireCurrent();
      this.viewed = null;
      this.outbox = { reset: { config: null, headNames: null } };
      this.setStatus({ ...IDLE_STATUS, adapter: this.status.adapter });
      return this.status;
    });
  }

  setHyper(changes: Partial<HyperParams>): Promise<HyperEvent> {
    return this.command(async () => {
      for (const [key, value] of Object.entries(changes)) {
        if (key !== 'lr' && key !== 'weightDecay') throw new RangeError(`setHyper: unknown field "${key}" (lr, weightDecay)`);
        if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`setHyper: ${key} must be a finite number >= 0, got ${value}`);
      }
      const run = this.requireRun('change hyperparameters of');
      if (run.mode === 'finished') throw new Error(`the run has ended (${run.stopReason}); its hyperparameters can no longer change`);
      const applied = new Promise<HyperEvent>((resolve, reject) => run.hyperRequests.push({ changes, resolve, reject }));
      // A paused run is at rest: apply now. A running one applies it at its next chunk boundary.
      if (!this.loop) this.applyHyperRequests(run);
      return applied;
    });
  }

  exportRun(): Promise<RunFile> {
    return this.command(async () => {
      if (this.run) return this.run.trainer.toRunFile();
      if (this.viewed) return structuredClone(this.viewed);
      throw new Error('there is no run to export: start one or open a saved run');
    });
  }

  loadRun(request: LoadRequest): Promise<WorkerStatus> {
    return this.command(async () => {
      const file = parseRunFile(request.runFile);
      const analyses = (file.analyses ?? []).map((a, i) => {
        try {
          return parseAnalysisFile(a);
        } catch (error) {
          throw new Error(`analyses[${i}]: ${(error as Error).message}`);
        }
      });
      // The checkpoints must be this run's (its configuration and history); they take their history from the run file.
      const history = { run: { config: file.config, metrics: file } };
      const decoded = request.checkpoint ? decodeCheckpoint(request.checkpoint, history) : null;
      const grok = request.grokCheckpoint ? decodeCheckpoint(request.grokCheckpoint, history).checkpoint : null;
      const schedule = [...(request.schedule ?? scheduleOfEvents(file.events))];
      validateSchedule(schedule);
      // Only one tab continues a saved run (and saves it); another may view it. The claim is asked for before this
      // tab's current run is put away, so a refusal leaves it as it was (unless it is this run: given back first).
      const id = request.runId ?? crypto.randomUUID();
      let release = decoded && this.run?.id !== id ? await this.claim(id) : null;
      if (decoded && this.run?.id !== id && !release) throw new RunOpenElsewhereError();
      await this.retireCurrent();
      this.viewed = null;
      if (!decoded) {
        this.viewed = file;
        this.setStatus({
          ...IDLE_STATUS, phase: 'viewing', runId: request.runId ?? null, step: file.summary.steps, totalSteps: file.config.steps,
          optim: lastHyper(file), stopReason: file.summary.stopReason, adapter: this.status.adapter, schedule,
        });
        this.outbox = batchOfMetrics(file.config, file, this.status, analyses);
        this.scheduleFlush();
        return this.status;
      }
      release ??= await this.claim(id);
      if (!release) throw new RunOpenElsewhereError();
      let trainer: Trainer;
      try {
        this.setStatus({ ...IDLE_STATUS, phase: 'preparing', totalSteps: decoded.config.steps, adapter: this.status.adapter });
        trainer = await this.createTrainer(decoded.config);
        trainer.restore(decoded.checkpoint);
      } catch (error) {
        release();
        throw error;
      }
      for (const analysis of analyses) trainer.addAnalysis(analysis);
      // The store holds the run file this run was opened from (when it came from the store): the restored history is its prefix.
      const saved = request.runId ? { history: decoded.checkpoint.mark, analyses: analyses.length } : NOTHING_SAVED;
      const run = this.adopt(trainer, schedule, id, Date.now(), release, saved);
      run.applied = hyperCount(trainer.events);
      if (grok && grok.step <= trainer.step) run.grok = { checkpoint: grok, saved: true };
      // A run that ended (its length, an early stop, a divergence) at this checkpoint stays ended: it is analysed, not continued.
      const { stopReason } = file.summary;
      if (trainer.step >= decoded.config.steps || stopReason === 'diverged' || (stopReason === 'early-stop' && trainer.step >= file.summary.steps)) {
        run.mode = 'finished';
        run.stopReason = file.summary.stopReason;
      }
      this.emitReset(run, decoded.checkpoint);
      this.applySchedule(run);
      return this.refreshStatus();
    });
  }

  playRun(request: PlayRequest): Promise<WorkerStatus> {
    return this.command(async () => {
      const file = parseRunFile(request.runFile);
      const durationMs = request.durationMs ?? PLAYBACK_MS;
      if (!(Number.isFinite(durationMs) && durationMs >= 0)) throw new RangeError(`playRun: durationMs must be a finite number >= 0, got ${durationMs}`);
      await this.retireCurrent();
      this.viewed = file;
      const recording = { title: request.title, adapter: file.summary.adapter };
      this.setStatus({
        ...IDLE_STATUS, phase: 'playing', totalSteps: file.config.steps, optim: { lr: file.config.optim.lr, weightDecay: file.config.optim.weightDecay },
        adapter: this.status.adapter, schedule: scheduleOfEvents(file.events), recording,
      });
      this.outbox = { reset: batchOfMetrics(file.config, emptyMetrics(), this.status).reset! };
      this.playback = { file, started: performance.now(), durationMs, cursor: PLAYBACK_START, timer: null };
      this.playbackTick();
      return this.status;
    });
  }

  /** Releases what the playback clock has passed; at the end, the run stays on show (phase 'viewing'). */
  private playbackTick(): void {
    const playback = this.playback;
    if (!playback) return;
    const { file } = playback;
    const step = playbackStep(file, performance.now() - playback.started, playback.durationMs);
    const { batch, cursor } = playbackSlice(file, playback.cursor, step);
    playback.cursor = cursor;
    // Rows not flushed yet (no listener) are kept: the new ones go after them.
    for (const key of ['metrics', 'heads'] as const) {
      const rows = batch[key];
      const queued = this.outbox[key];
      if (rows) this.outbox[key] = queued ? { rows: queued.rows + rows.rows, data: Float64Array.of(...queued.data, ...rows.data) } : rows;
    }
    for (const event of batch.events ?? []) this.queue('events', event);
    for (const record of batch.spectral ?? []) this.queue('spectral', record);
    for (const record of batch.causal ?? []) this.queue('causal', record);
    const done = step >= playbackEnd(file);
    const optim = lastHyper({ ...file, events: file.events.slice(0, cursor.events) });
    this.setStatus({ ...this.status, step, optim, ...(done && { phase: 'viewing', step: file.summary.steps, stopReason: file.summary.stopReason }) });
    if (done) {
      this.playback = null;
      for (const analysis of file.analyses ?? []) this.queue('analyses', analysis);
      return;
    }
    playback.timer = setTimeout(() => this.playbackTick(), PLAYBACK_TICK_MS);
  }

  skipPlayback(): Promise<WorkerStatus> {
    return this.command(async () => {
      const playback = this.playback;
      if (playback) {
        if (playback.timer) clearTimeout(playback.timer);
        playback.durationMs = 0;
        this.playbackTick();
      }
      return this.status;
    });
  }

  private stopPlayback(): void {
    if (this.playback?.timer) clearTimeout(this.playback.timer);
    this.playback = null;
  }

  runExperiment(request: ExperimentRequest): Promise<AnalysisFile> {
    return this.command(async () => {
      const run = this.requireRun('analyse');
      if (run.mode === 'running') throw new Error('pause the run first: the experiments run on the model as it is now');
      await this.loop;
      const { trainer } = run;
      const atGrok = request.at === 'grok';
      if (atGrok && !run.grok) throw new Error('this run has no checkpoint of its grok step (it has not grokked, or it grokked before this page kept one)');
      const experiment = { cancelled: false };
      this.experiment = experiment;
      // At the grok: a second model, restored from the grok's checkpoint, freed when the experiments end.
      const analysed = atGrok ? await this.trainerAt(trainer.config, run.grok!.checkpoint) : trainer;
      try {
        const analysis = await runAnalysis(analysed, trainer.toRunFile(), {
          shouldStop: () => experiment.cancelled,
          experiments: request.experiments,
          requested: atGrok ? 'grok' : String(trainer.step),
          ...(request.seed !== undefined && { seed: request.seed }),
          ...(request.interventionSteps !== undefined && { interventionSteps: request.interventionSteps }),
          ...(request.interventionDecays && { interventionDecays: request.interventionDecays }),
          onProgress: (name, done, total, what) => this.setStatus({ ...this.status, experiment: { name, done, total, what } }),
        });
        trainer.addAnalysis(analysis);
        this.queue('analyses', analysis);
        this.markDirty(run);
        return analysis;
      } finally {
        if (analysed !== trainer) analysed.destroy();
        this.experiment = null;
        this.setStatus({ ...this.status, experiment: null });
      }
    });
  }

  /** Not a queued command: it must reach the experiments while they run. */
  async cancelExperiment(): Promise<boolean> {
    if (!this.experiment) return false;
    this.experiment.cancelled = true;
    return true;
  }

  // ---- Runs -----------------------------------------------------------------------------------------------------

  async planStudy(request: StudyRequest): Promise<StudyView> {
    return this.studies.view(request);
  }

  /** Not a queued command (it would hold training back for its whole length): it refuses while a run trains. */
  async runStudy(request: StudyRequest, listener: StudyListener): Promise<StudyStop> {
    if (this.study) throw new Error('a reproduction study is running already');
    if (this.loop) throw new Error('pause the training run first: the study needs the GPU to itself');
    const study = { cancelled: false };
    this.study = study;
    try {
      return await this.studies.run(await this.runtime(), request, listener, () => study.cancelled);
    } finally {
      this.study = null;
    }
  }

  async cancelStudy(): Promise<boolean> {
    if (!this.study) return false;
    this.study.cancelled = true;
    return true;
  }

  async discardStudy(request: StudyRequest): Promise<StudyView> {
    if (this.study) throw new Error('a reproduction study is running: cancel it before discarding its units');
    return this.studies.discard(request);
  }

  private refuseDuringStudy(): void {
    if (this.study) throw new Error('a reproduction study is running: cancel it first');
  }

  private command<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.commands.then(fn);
    this.commands = result.catch(() => undefined);
    return result;
  }

  private requireRun(what: string): LiveRun {
    if (!this.run) throw new Error(`there is no run to ${what}: start one first`);
    return this.run;
  }

  private async runtime(): Promise<GpuRuntime> {
    if (this.rt) return this.rt;
    this.acquiring ??= this.options.acquire().then((device) => {
      const rt = new GpuRuntime(device);
      this.rt = rt;
      void rt.device.lost.then((info) => this.onDeviceLost(rt, info));
      return rt;
    });
    try {
      return await this.acquiring;
    } finally {
      this.acquiring = null;
    }
  }

  /** Acquires the GPU if needed and builds a trainer; failures leave the status 'failed' with the reason. */
  private async createTrainer(config: RunConfig): Promise<Trainer> {
    try {
      const rt = await this.runtime();
      this.setStatus({ ...this.status, adapter: rt.adapter.description });
      return await createTrainer(rt, config);
    } catch (error) {
      this.setStatus({
        ...IDLE_STATUS, phase: 'failed', adapter: this.status.adapter, message: describe(error),
        webGpuUnavailable: error instanceof WebGpuUnavailableError,
      });
      throw error;
    }
  }

  /** A trainer of `config` restored to `checkpoint` (the caller destroys it). */
  private async trainerAt(config: RunConfig, checkpoint: Checkpoint): Promise<Trainer> {
    const trainer = await createTrainer(await this.runtime(), config);
    trainer.restore(checkpoint);
    return trainer;
  }

  /** This worker's claim on a run id in the store (always granted without a store or a claim method). */
  private async claim(id: string): Promise<(() => void) | null> {
    const store = this.options.store;
    return store?.claim ? store.claim(id) : () => {};
  }

  private adopt(trainer: Trainer, schedule: HyperChange[], id: string, createdAt: number, release: () => void, saved: SavedMark): LiveRun {
    const run: LiveRun = {
      id, createdAt, trainer, schedule, applied: 0, mode: 'paused', stopReason: null, stepTarget: null, hyperRequests: [], sentRows: 0,
      lost: false, failure: null, notice: null, rate: [], dirty: false, saving: false, release, saved, grok: null,
    };
    this.run = run;
    return run;
  }

  /** Stops the loop of the current run (if any) at its next step, saves the run and frees its GPU buffers; then there is no current run. */
  private async retireCurrent(): Promise<void> {
    this.stopPlayback();
    const run = this.run;
    if (!run) return;
    if (run.mode === 'running') run.mode = 'paused';
    run.stepTarget = null;
    await this.loop;
    this.rejectHyperRequests(run, new Error('the run was replaced before the change was applied'));
    await this.save(run);
    run.release();
    run.trainer.destroy();
    this.run = null;
  }

  private kick(run: LiveRun): void {
    if (this.loop || !wantsSteps(run)) return;
    this.loop = this.trainLoop(run).finally(() => {
      this.loop = null;
      this.refreshStatus();
    });
  }

  private async trainLoop(run: LiveRun): Promise<void> {
    const { trainer } = run;
    let chunk = 1;
    try {
      while (this.run === run && !run.lost && wantsSteps(run)) {
        const limit = this.chunkLimit(run, chunk);
        const started = performance.now();
        const stepBefore = trainer.step;
        let evaluated = false;
        const reason = await trainer.run({
          shouldStop: () => this.run !== run || run.lost || !wantsSteps(run),
          until: limit,
          onEvaluation: () => {
            evaluated = true;
            run.dirty = true;
          },
          onEvent: (event) => {
            // The trainer has just made this evaluation its last good checkpoint: keep it as the grok's.
            if (event.type === 'grok' && event.head === undefined) run.grok = { checkpoint: trainer.lastGoodCheckpoint, saved: false };
            this.queue('events', event);
          },
          onSpectral: (record) => this.queue('spectral', record),
          onCausal: (record) => this.queue('causal', record),
        });
        const { device } = trainer.engine.runtime;
        await Promise.race([device.queue.onSubmittedWorkDone(), device.lost]);
        if (run.lost) return;
        const elapsed = performance.now() - started;
        const steps = trainer.step - stepBefore;
        // Size the next chunk from a chunk without an evaluation (evaluations would make steps look slow).
        if (!evaluated && steps > 0) chunk = Math.max(1, Math.min(MAX_CHUNK_STEPS, Math.floor((CHUNK_TARGET_MS * steps) / Math.max(elapsed, 1e-3))));
        run.rate.push({ t: performance.now(), step: trainer.step });
        this.applySchedule(run);
        this.applyHyperRequests(run);
        if (reason !== 'interrupted') {
          run.mode = 'finished';
          run.stopReason = reason;
          run.stepTarget = null;
          run.dirty = true;
        }
        if (run.stepTarget !== null && trainer.step >= run.stepTarget) run.stepTarget = null;
        if (run.dirty) void this.save(run);
        this.refreshStatus();
        await macrotask();
      }
    } catch (error) {
      // A device loss can fail a readback before `device.lost` resolves: give it a moment to say so.
      if (run.lost || (await settlesWithin(trainer.engine.runtime.device.lost, LOSS_GRACE_MS))) return; // recovery restores the last checkpoint
      run.mode = 'finished';
      run.stepTarget = null;
      run.failure = `training stopped: ${describe(error)}`;
      this.rejectHyperRequests(run, error);
    } finally {
      if (!run.lost) this.applyHyperRequests(run);
    }
  }

  /** The chunk ends after `chunk` steps, at the next scheduled change, or at a step(n) target, whichever is first. */
  private chunkLimit(run: LiveRun, chunk: number): number {
    let limit = run.trainer.step + chunk;
    const next = run.schedule[run.applied];
    if (next) limit = Math.min(limit, Math.max(next.step, run.trainer.step + 1));
    if (run.stepTarget !== null) limit = Math.min(limit, run.stepTarget);
    return limit;
  }

  /** Applies every scheduled change due at the trainer's current step (in schedule order). */
  private applySchedule(run: LiveRun): void {
    while (run.applied < run.schedule.length && run.schedule[run.applied].step <= run.trainer.step) {
      const { lr, weightDecay } = run.schedule[run.applied];
      run.applied += 1;
      this.recordHyper(run, run.trainer.setHyper({ lr, weightDecay }));
    }
  }

  /** Live changes from the page: applied now (the trainer is at rest), inserted into the schedule as applied. */
  private applyHyperRequests(run: LiveRun): void {
    for (const request of run.hyperRequests.splice(0)) {
      try {
        const event = hyperEvent(run.trainer.setHyper(request.changes));
        run.schedule.splice(run.applied, 0, { step: event.step, lr: event.after.lr, weightDecay: event.after.weightDecay });
        run.applied += 1;
        this.recordHyper(run, event);
        request.resolve(event);
      } catch (error) {
        request.reject(error);
      }
    }
  }

  private rejectHyperRequests(run: LiveRun, error: unknown): void {
    for (const request of run.hyperRequests.splice(0)) request.reject(error);
  }

  private recordHyper(run: LiveRun, event: RunEvent): void {
    this.queue('events', event);
    this.markDirty(run);
  }

  private markDirty(run: LiveRun): void {
    run.dirty = true;
    if (!this.loop) void this.save(run);
  }

  /**
   * Saves what the run file gained since the last save (new history and analyses, its summary) and the last good
   * checkpoint (the latest evaluation's state), so a save costs what changed, not the whole run; one save at a time.
   * After a failed save the next one sends the whole run again.
   */
  private async save(run: LiveRun): Promise<void> {
    const store = this.options.store;
    if (!store || run.saving || !run.dirty || run.lost) return;
    run.dirty = false;
    run.saving = true;
    try {
      const { trainer } = run;
      // Taken before the first await: the loop may train on (and append to the history) while the store writes.
      const { delta, end } = deltaSince(run.saved, trainer.history, trainer.analysisFiles);
      const checkpoint: Checkpoint = trainer.lastGoodCheckpoint;
      const bytes = encodeCheckpoint(checkpoint, trainer.config);
      const grok = run.grok && !run.grok.saved ? run.grok : null;
      const summary: SavedRunSummary = {
        id: run.id,
        title: runTitle(trainer.config),
        preset: trainer.config.preset,
        seed: trainer.config.seed,
        createdAt: run.createdAt,
        updatedAt: Date.now(),
        step: trainer.step,
        totalSteps: trainer.config.steps,
        checkpointStep: checkpoint.step,
        grokCheckpointStep: run.grok?.checkpoint.step ?? null,
        grokStep: trainer.grokStep,
        finished: run.mode === 'finished',
        stopReason: run.stopReason,
        schedule: structuredClone(run.schedule),
      };
      await store.save({
        summary, run: { config: trainer.config, summary: trainer.runSummary() }, delta, checkpoint: bytes,
        ...(grok && { grokCheckpoint: encodeCheckpoint(grok.checkpoint, trainer.config) }),
      });
      run.saved = end;
      if (grok) grok.saved = true;
    } catch (error) {
      run.notice = `could not save the run: ${describe(error)}`;
      run.saved = NOTHING_SAVED;
    } finally {
      run.saving = false;
    }
    if (run.dirty && !this.loop) await this.save(run);
  }

  // ---- Device loss ----------------------------------------------------------------------------------------------

  /** The GPU went away (driver reset, another tab, the OS): get a new device and continue from the last checkpoint. */
  private async onDeviceLost(rt: GpuRuntime, info: GPUDeviceLostInfo): Promise<void> {
    if (this.rt !== rt) return;
    this.rt = null;
    const run = this.run;
    if (!run) return;
    run.lost = true;
    const wasRunning = run.mode === 'running';
    const checkpoint = run.trainer.lastGoodCheckpoint;
    const what = `the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`;
    run.notice = `${what}; restoring the checkpoint of step ${checkpoint.step}…`;
    this.refreshStatus();
    await this.command(async () => {
      await this.loop;
      if (this.run !== run) return;
      try {
        const trainer = await this.createTrainer(run.trainer.config);
        trainer.restore(checkpoint);
        for (const analysis of run.trainer.analysisFiles) trainer.addAnalysis(analysis);
        // The store's copy and the restored history are two continuations of the old run's: they share the shorter.
        const saved = { history: commonMark(run.saved.history, checkpoint.mark), analyses: run.saved.analyses };
        const next = this.adopt(trainer, run.schedule, run.id, run.createdAt, run.release, saved);
        run.trainer.destroy();
        next.applied = hyperCount(trainer.events);
        if (run.grok && run.grok.checkpoint.step <= checkpoint.step) next.grok = run.grok;
        this.rejectHyperRequests(run, new Error(`${what} before the change was applied; set it again`));
        this.emitReset(next, checkpoint);
        this.applySchedule(next);
        next.mode = wasRunning ? 'running' : 'paused';
        next.notice = `${what}; resumed from the checkpoint of step ${checkpoint.step}`;
        this.kick(next);
        this.refreshStatus();
      } catch (error) {
        run.lost = false;
        run.mode = 'finished';
        run.failure = `${what} and could not be replaced: ${describe(error)}`;
        this.refreshStatus();
      }
    });
  }

  // ---- Batches --------------------------------------------------------------------------------------------------

  /** Replaces the page's view with this run (from step 0, or from a restored checkpoint's metrics). */
  private emitReset(run: LiveRun, from: Checkpoint | null): void {
    const { config } = run.trainer;
    // After a restore the trainer's metrics are the checkpoint's history.
    const metrics = from ? run.trainer.toRunFile() : { series: run.trainer.series, events: [...run.trainer.events] };
    const records = { spectral: [...run.trainer.spectralRecords], ...(config.causal?.enabled && { causal: [...run.trainer.causalRecords] }) };
    this.outbox = batchOfMetrics(config, { ...metrics, ...records }, this.computeStatus(), run.trainer.analysisFiles);
    run.sentRows = metrics.series.step.length;
    this.scheduleFlush();
  }

  private queue<K extends 'events' | 'spectral' | 'causal' | 'analyses'>(key: K, item: NonNullable<LabBatch[K]>[number]): void {
    const list = (this.outbox[key] ??= []) as unknown[];
    list.push(item);
    this.scheduleFlush();
  }

  private setStatus(status: WorkerStatus): void {
    this.status = status;
    this.scheduleFlush();
  }

  private refreshStatus(): WorkerStatus {
    this.setStatus(this.computeStatus());
    return this.status;
  }

  private computeStatus(): WorkerStatus {
    const run = this.run;
    if (!run) return this.status;
    const { trainer } = run;
    const { lr, weightDecay } = trainer.engine.optim;
    const phase = run.lost ? 'recovering' : run.failure ? 'failed' : run.mode === 'finished' ? 'finished' : run.mode === 'running' || this.loop ? 'running' : 'paused';
    return {
      phase,
      runId: run.id,
      step: trainer.step,
      totalSteps: trainer.config.steps,
      optim: { lr, weightDecay },
      stepsPerSecond: phase === 'running' ? stepsPerSecond(run) : null,
      stopReason: run.stopReason,
      adapter: this.status.adapter,
      message: run.failure ?? divergenceMessage(trainer.events) ?? run.notice,
      schedule: run.schedule.map((c) => ({ ...c })),
      webGpuUnavailable: false,
      experiment: this.status.experiment,
      grokCheckpointStep: run.grok?.checkpoint.step ?? null,
      recording: null,
    };
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null || !this.listener) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, FLUSH_MS);
  }

  /** Sends what changed since the last batch: new metric rows (read from the trainer's series), events, status. */
  private flush(): void {
    const listener = this.listener;
    if (!listener) return;
    const batch: LabBatch = { ...this.outbox, status: this.run ? this.computeStatus() : this.status };
    this.outbox = {};
    const run = this.run;
    if (run) {
      const { series } = run.trainer;
      const n = series.step.length;
      if (n > run.sentRows && !batch.metrics) {
        batch.metrics = packMetricRows(series, run.sentRows, n);
        const heads = run.trainer.config.task.kind === 'multitask' ? run.trainer.toRunFile().heads : undefined;
        if (heads) batch.heads = packHeadRows(heads, run.sentRows, n);
        run.sentRows = n;
      }
    }
    listener(batch);
  }
}

function wantsSteps(run: LiveRun): boolean {
  return run.mode === 'running' || (run.mode === 'paused' && run.stepTarget !== null && run.trainer.step < run.stepTarget);
}

function stepsPerSecond(run: LiveRun): number | null {
  const now = performance.now();
  run.rate = run.rate.filter((s) => now - s.t <= RATE_WINDOW_MS);
  if (run.rate.length < 2) return null;
  const first = run.rate[0];
  const last = run.rate.at(-1)!;
  return last.t > first.t ? ((last.step - first.step) * 1000) / (last.t - first.t) : null;
}

function hyperEvent(event: RunEvent): HyperEvent {
  if (event.type !== 'hyper') throw new Error(`expected a hyper event from setHyper, got ${event.type}`);
  return event;
}

const hyperCount = (events: readonly RunEvent[]) => events.filter((e) => e.type === 'hyper').length;

function lastHyper(file: RunFile): HyperParams {
  const last = [...file.events].reverse().find((e) => e.type === 'hyper');
  return last ? last.after : { lr: file.config.optim.lr, weightDecay: file.config.optim.weightDecay };
}

function divergenceMessage(events: readonly RunEvent[]): string | null {
  const last = events.at(-1);
  return last?.type === 'divergence' ? last.message : null;
}

export function runTitle(config: RunConfig): string {
  const op = config.task.kind === 'modarith' && config.task.op !== 'add' ? ` ${config.task.op}` : '';
  return `${config.preset}${op} · seed ${config.seed} · lr ${config.optim.lr} · wd ${config.optim.weightDecay}`;
}
