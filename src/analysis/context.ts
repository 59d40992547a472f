// What every causal experiment (docs/science.md §3.1) runs on: a trained model on the GPU, the spectral edge at the analysed
// step, the held-out set and a seed. The experiments read and perturb `engine.state` through the parameter probe
// (src/spectral/param-probe.ts) and leave the parameters, Adam moments and gradients exactly as they found them.
import type { Batch } from '../model/batch';
import type { BatchShape } from '../formats/model-config';
import { taskHeadCount } from '../model/config';
import type { EdgeVectors } from '../spectral/monitor';
import type { TrainingEngine } from '../model/engine';
import type { Trainer } from '../train/trainer';

/** An experiment that does not apply to this task or model (the analysis records the reason instead of a result). */
export class NotApplicableError extends Error {
  override name = 'NotApplicableError';
}

/** The user cancelled the experiments (the model is left as it was; nothing of the request is kept). */
export class ExperimentCancelledError extends Error {
  override name = 'ExperimentCancelledError';
  constructor() {
    super('the experiments were cancelled');
  }
}

/** Reports progress of a long experiment: `done` of `total` units, and what is running now. */
export type Progress = (done: number, total: number, what: string) => void;

export interface AnalysisContext {
  /** The model at the analysed step (its training graph, parameters and table). */
  engine: TrainingEngine;
  /** v_1..v_K of the last window at or before the analysed step: unit vectors over theta_attn, on the GPU. */
  edges: EdgeVectors;
  /** The held-out sequences (the task's test set). */
  test: Batch;
  /** Seeds the random control directions and the probes' splits. */
  seed: number;
  progress?: Progress;
}

/** The sequences of `data` at `indices` (in that order), as a batch of the same layout. */
export function sequencesAt(data: Batch, shape: Pick<BatchShape, 'seqLen' | 'readout' | 'sourceLen'>, heads: number, indices: readonly number[]): Batch {
  const available = data.tokens.length / shape.seqLen;
  const perSequence = shape.readout.count * heads;
  const gather = <T extends Int32Array | Uint32Array>(from: T, width: number): T => {
    const out = from.slice(0, indices.length * width) as T;
    indices.forEach((s, i) => {
      if (!(Number.isInteger(s) && s >= 0 && s < available)) throw new Error(`sequence ${s} is not in a batch of ${available}`);
      out.set(from.subarray(s * width, (s + 1) * width), i * width);
    });
    return out;
  };
  return {
    tokens: gather(data.tokens, shape.seqLen),
    targets: gather(data.targets, perSequence),
    ...(data.source && shape.sourceLen !== undefined && { source: gather(data.source, shape.sourceLen) }),
  };
}

/** The first `count` sequences of `data` (every sequence when it holds fewer), as a batch of the same layout. */
export function firstSequences(data: Batch, shape: Pick<BatchShape, 'seqLen' | 'readout' | 'sourceLen'>, heads: number, count: number): Batch {
  const available = data.tokens.length / shape.seqLen;
  return sequencesAt(data, shape, heads, Array.from({ length: Math.min(count, available) }, (_, i) => i));
}

/** The context's first `count` test sequences (docs/science.md §3.2: 200 for the perturbation sweep). */
export function testSubset(ctx: AnalysisContext, count: number): Batch {
  const { engine } = ctx;
  return firstSequences(ctx.test, engine.graph.shape, taskHeadCount(engine.config), count);
}

/** The analysis context of a trainer at its current step (it must track the spectral edge and have a full window). */
export function contextOfTrainer(trainer: Trainer, options: { seed?: number; progress?: Progress } = {}): AnalysisContext {
  const edges = trainer.edgeVectors;
  if (!edges) throw new Error('the causal experiments need a run that tracks the spectral edge (spectral.enabled)');
  if (!trainer.spectralRecords.length) throw new Error(`the run has no spectral window yet at step ${trainer.step}`);
  return { engine: trainer.engine, edges, test: trainer.taskData.test, seed: options.seed ?? trainer.config.seed, ...(options.progress && { progress: options.progress }) };
}
