// The typed protocol between the page and the training worker (DESIGN: "a typed command/event protocol", after
// Sequence Toy): the commands the page calls (LabWorkerApi, exposed by Comlink), the batches the worker streams
// back through one long-lived callback, and what the run store keeps of a saved run. Plain data only: the worker
// (src/worker/), its Node-driven tests and the page's store all share it; src/worker/protocol.ts packs the rows.
import type { HyperParams } from './optim';
import type { RunEvent, StopReason } from './metrics';
import type { RunConfig, RunFile, RunOverrides } from './run-file';
import type { SpectralRecord } from './spectral';
import type { ExperimentName } from './experiments';
import type { AnalysisFile } from './analysis-file';
import type { CausalRecord } from './live-causal';
import type { HistoryDelta } from './history';

/** A hyperparameter change applied after `step` optimiser steps (the 'hyper' event's step): replayable from a URL. */
export interface HyperChange {
  step: number;
  lr: number;
  weightDecay: number;
}

export interface StartRequest {
  preset: string;
  seed: number;
  overrides: RunOverrides;
  /** Changes to apply when the run reaches their steps (a shared link's), sorted by step. */
  schedule?: HyperChange[];
  /** Create the run and stop at step 0 (paused) instead of training. */
  paused?: boolean;
}

export interface LoadRequest {
  /** A run file (JSON text or parsed); validated with parseRunFile. */
  runFile: string | RunFile;
  /**
   * The checkpoint bytes (src/train/checkpoint-file.ts) saved with it: with them the run can be resumed (it needs
   * the GPU); without, the run is shown only.
   */
  checkpoint?: Uint8Array;
  /**
   * The checkpoint taken at the run's grok step (saved with it): experiments can then analyse the model as it was at
   * the grok as well as as it is.
   */
  grokCheckpoint?: Uint8Array;
  /** The saved run's id in the page's run store (a resumed run keeps saving under it). */
  runId?: string;
  /** The run's full schedule of hyperparameter changes (the saved run's); entries not yet applied are replayed. */
  schedule?: HyperChange[];
}

export type RunPhase =
  /** No run. */
  | 'idle'
  /** Acquiring the GPU, building data and pipelines. */
  | 'preparing'
  | 'running'
  | 'paused'
  /** Ended (status.stopReason says how); can be exported, not continued. */
  | 'finished'
  /** A run loaded from a file without a checkpoint: shown, not trainable. */
  | 'viewing'
  /** A recorded run being played back (its evaluations released in step order); then 'viewing'. */
  | 'playing'
  /** The GPU device was lost: reacquiring it and restoring the last checkpoint. */
  | 'recovering'
  | 'failed';

export interface WorkerStatus {
  phase: RunPhase;
  runId: string | null;
  /** Optimiser steps taken, and the run's length. */
  step: number;
  totalSteps: number;
  /** The engine's hyperparameters now (null without a trainer): what the next step uses. */
  optim: HyperParams | null;
  /** Training speed over the last few seconds (null when not running). */
  stepsPerSecond: number | null;
  stopReason: StopReason | null;
  /** The adapter training runs on (null before the GPU is acquired). */
  adapter: string | null;
  /** What went wrong (phase 'failed'), or what just happened (a recovery, a divergence). */
  message: string | null;
  /** The run's hyperparameter schedule: changes applied so far (live or replayed) and those still to come. */
  schedule: HyperChange[];
  /** Failures caused by WebGPU itself (no adapter, device request refused): the page shows its WebGPU help. */
  webGpuUnavailable: boolean;
  /** The experiment running now (null when none). */
  experiment: ExperimentProgress | null;
  /** The step of the checkpoint kept from the run's grok evaluation (null: none, e.g. it has not grokked). */
  grokCheckpointStep: number | null;
  /** The run on show is a recording played back (phase 'playing', then 'viewing'), not a run training here. */
  recording: RecordingInfo | null;
}

export interface RecordingInfo {
  /** What the page calls it. */
  title: string;
  /** The adapter that recorded it (the run file's). */
  adapter: string;
}

export interface PlayRequest {
  /** A run file (JSON text or parsed), validated with parseRunFile. */
  runFile: string | RunFile;
  title: string;
  /** How long the playback takes (default PLAYBACK_MS, src/worker/playback.ts); 0 shows it whole at once. */
  durationMs?: number;
}

/** Evaluation rows packed row-major in METRIC_KEYS order: rows * METRIC_KEYS.length values. */
export interface MetricRows {
  rows: number;
  data: Float64Array;
}

/** Multitask head rows: for each evaluation, for each HEAD_METRIC_KEYS key, one value per head. */
export interface HeadRows {
  rows: number;
  data: Float64Array;
}

export interface LabBatch {
  /** Everything shown so far is replaced: a new run, a reset, a loaded file or a restored checkpoint. */
  reset?: { config: RunConfig | null; headNames: string[] | null };
  status: WorkerStatus;
  metrics?: MetricRows;
  heads?: HeadRows;
  events?: RunEvent[];
  spectral?: SpectralRecord[];
  /** Live causal probes' records (runs with them on): new ones, or (with `reset`) all of the run's, oldest first. */
  causal?: CausalRecord[];
  /** Causal-experiment results of the run on show: new ones, or (with `reset`) all of the run's, oldest first. */
  analyses?: AnalysisFile[];
}

export type LabListener = (batch: LabBatch) => void;

/** Causal experiments (docs/science.md §3) on the current run's model as it is now (paused or finished). */
export interface ExperimentRequest {
  experiments: ExperimentName[];
  /** Seed of the random control directions and probe splits (default: the run's). */
  seed?: number;
  /**
   * The model to analyse: as it is now ('current', the default), or as it was at the grok step ('grok': from the
   * checkpoint kept there; the analysis is added to the run all the same).
   */
  at?: 'current' | 'grok';
  /** Weight-decay intervention: steps per branch (default 3,000) and decay values (default 0, 0.5, 1, 2). */
  interventionSteps?: number;
  interventionDecays?: number[];
}

/** Progress of a running experiment (status.experiment). */
export interface ExperimentProgress {
  name: ExperimentName;
  done: number;
  total: number;
  what: string;
}

/** What the page can ask of the training worker. Every command resolves with the status it leaves behind. */
export interface LabWorkerApi {
  /** Registers the one listener that receives every batch (the page calls it once, with Comlink.proxy). */
  subscribe(listener: LabListener): void;
  /** Starts a new run (a running one is stopped and kept in the run store). */
  start(request: StartRequest): Promise<WorkerStatus>;
  pause(): Promise<WorkerStatus>;
  resume(): Promise<WorkerStatus>;
  /** While paused: trains exactly `n` more steps, then pauses again. */
  step(n: number): Promise<WorkerStatus>;
  /** Ends the current run (kept in the run store) and clears the page: back to idle. */
  reset(): Promise<WorkerStatus>;
  /** Changes lr and/or weight decay of the live run from its next step; resolves with the recorded 'hyper' event. */
  setHyper(changes: Partial<HyperParams>): Promise<Extract<RunEvent, { type: 'hyper' }>>;
  /** The current run as a versioned run file (src/train/run.ts). */
  exportRun(): Promise<RunFile>;
  /** Shows a saved or exported run; with its checkpoint, makes it resumable (paused at the checkpoint). */
  loadRun(request: LoadRequest): Promise<WorkerStatus>;
  /** Plays a recorded run back through the page's charts (no GPU needed): phase 'playing', then 'viewing'. */
  playRun(request: PlayRequest): Promise<WorkerStatus>;
  /** Plays the rest of the recording at once (resolves with the status, 'viewing'; a no-op when none is playing). */
  skipPlayback(): Promise<WorkerStatus>;
  /** Runs causal experiments (docs/science.md §3) on the paused or finished run's model; progress in status.experiment. */
  runExperiment(request: ExperimentRequest): Promise<AnalysisFile>;
  /**
   * Cancels the experiments running now (not queued behind them): runExperiment then rejects with an
   * ExperimentCancelledError at the next experiment or branch step, the model as it was. Resolves with whether any
   * were running.
   */
  cancelExperiment(): Promise<boolean>;
}

export const IDLE_STATUS: WorkerStatus = {
  phase: 'idle',
  runId: null,
  step: 0,
  totalSteps: 0,
  optim: null,
  stepsPerSecond: null,
  stopReason: null,
  adapter: null,
  message: null,
  schedule: [],
  webGpuUnavailable: false,
  experiment: null,
  grokCheckpointStep: null,
  recording: null,
};

/** What the run list shows of a saved run (kept apart from its run file and checkpoint, so listing stays cheap). */
export interface SavedRunSummary {
  id: string;
  title: string;
  preset: string;
  seed: number;
  createdAt: number;
  updatedAt: number;
  step: number;
  totalSteps: number;
  /** The step of the saved checkpoint (the latest evaluation): where a resumed run continues. */
  checkpointStep: number;
  /** The step of the checkpoint saved at the grok (null or absent: none). */
  grokCheckpointStep?: number | null;
  grokStep: number | null;
  finished: boolean;
  stopReason: StopReason | null;
  /** The run's hyperparameter schedule (applied changes and any still to come). */
  schedule: HyperChange[];
}

/**
 * What a run file gained since its last save: the history after the mark that save ended at, and the analyses after
 * its first `analyses.from`. One that starts from nothing (the empty history, no analyses) is the whole run.
 */
export interface RunDelta {
  history: HistoryDelta;
  analyses: { from: number; added: AnalysisFile[] };
}

/** One save of a run: what costs the same at every save, and what is new since the last one. */
export interface RunSave {
  summary: SavedRunSummary;
  /** The run file's configuration and summary (neither grows with the run). */
  run: Pick<RunFile, 'config' | 'summary'>;
  delta: RunDelta;
  /** The latest checkpoint's bytes (a mark into the history, not a copy of it: src/train/checkpoint-file.ts). */
  checkpoint: Uint8Array;
  /** The grok step's checkpoint, given once (the first save after the grok); the store keeps it until the run is deleted. */
  grokCheckpoint?: Uint8Array;
}

/** Where the worker saves runs (IndexedDB in the page: src/worker/run-db.ts). */
export interface RunSink {
  /**
   * Adds a save to the run's saved record: the store's copy of the run file becomes the one it held cut back to
   * the delta's marks, with the delta appended (a delta from nothing replaces it).
   */
  save(save: RunSave): Promise<void>;
  /**
   * Claims a run for this worker's saves while it holds the run: resolves to the function that gives the claim
   * back, or to null when another tab holds the run (it may then only be viewed). None: every claim succeeds.
   */
  claim?(id: string): Promise<(() => void) | null>;
}
