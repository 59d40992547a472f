// A run's whole resumable state: the engine's (parameters, Adam moments, step, hyperparameters), the batch
// sampler's generator, the spectral edge's window ring (when the run tracks it) and its place in the run's history.
// Restoring one and training on gives bit-identical losses, because every batch and every update then repeats exactly.
// Taking one copies no history: the run's metric lists only ever grow, so a checkpoint keeps the run's metrics object
// and the lengths they had (`mark`); restoring copies that prefix.
import type { EngineState, TrainingEngine } from '../model/engine';
import type { RngState } from '../util/random';
import { markOf } from './metrics';
import type { HistoryMark } from '../formats/checkpoint-file';
import type { RunMetrics } from '../formats/metrics';
import type { SpectralMonitor, SpectralState } from '../spectral/monitor';

export interface Checkpoint {
  /** Optimiser steps taken. */
  step: number;
  engine: EngineState;
  /** The minibatch sampler's generator state (null where batches are not drawn: full-batch runs). */
  sampler: RngState | null;
  /** The spectral edge's ring and previous window (runs that track it). */
  spectral?: SpectralState;
  /** The run's metrics (shared with the run, append-only): the checkpoint's history is their first `mark` entries. */
  metrics: RunMetrics;
  mark: HistoryMark;
}

/** Anything that draws batches from a generator whose state can be saved and put back. */
export interface ResumableSampler {
  state(): RngState | null;
  restore(state: RngState | null): void;
}

/** A checkpoint of an engine state already read back, with the sampler, at the metrics' present length (nothing copied). */
export function checkpointOf(engine: EngineState, sampler: ResumableSampler, metrics: RunMetrics, spectral?: SpectralState): Checkpoint {
  return { step: engine.step, engine, sampler: sampler.state(), ...(spectral && { spectral }), metrics, mark: markOf(metrics) };
}

/**
 * Reads the engine's state back from the GPU (three buffer reads: parameters, m and v). Take it between steps:
 * the engine must not step until this resolves.
 */
export async function captureCheckpoint(engine: TrainingEngine, sampler: ResumableSampler, metrics: RunMetrics, monitor: SpectralMonitor | null): Promise<Checkpoint> {
  const [state, spectral] = await Promise.all([engine.exportState(), monitor?.exportState()]);
  return checkpointOf(state, sampler, metrics, spectral);
}

/** Puts a checkpoint's training state back into the engine, sampler and monitor (its metrics are the caller's to take). */
export function restoreCheckpoint(checkpoint: Checkpoint, engine: TrainingEngine, sampler: ResumableSampler, monitor: SpectralMonitor | null): void {
  if (!!monitor !== !!checkpoint.spectral) throw new Error(`the checkpoint ${checkpoint.spectral ? 'tracks' : 'does not track'} the spectral edge and this run ${monitor ? 'does' : 'does not'}`);
  engine.importState(checkpoint.engine);
  sampler.restore(checkpoint.sampler);
  if (monitor && checkpoint.spectral) monitor.importState(checkpoint.spectral);
}
