// The docs/science.md §1 presets: each one's task and model size (PRESET_TASKS, PRESET_SIZES; taskModel builds the
// model of any task at any size), model and optimiser settings (PRESET_SHAPES), and the same wired to their tasks,
// batching and run defaults (PRESETS). The task generators themselves live in src/tasks/.
import type { AnyModelConfig, EncoderDecoderConfig, ModelConfig, ModelSize, BatchShape } from '../formats/model-config';
import type { Batch } from '../model/batch';
import type { OptimConfig } from '../formats/optim';
import type { GrokMetric } from '../formats/metrics';
import type { DecoderTokens } from './predictions';
import { modArithBatch, modArithSplit } from '../tasks/modarith';
import type { PresetName, TaskSpec } from '../formats/task';
import { dyckBatch, dyckSplit } from '../tasks/dyck';
import { MULTITASK_OPS, multitaskBatch, multitaskSplit } from '../tasks/multitask';
import { SCAN_ACTION_VOCAB, SCAN_COMMAND_VOCAB, SCAN_DECODER_LEN, SCAN_SOURCE_LEN, SCAN_SPECIAL, scanBatch, scanPaperSubset } from '../tasks/scan';

export interface PresetShape {
  model: AnyModelConfig;
  optim: OptimConfig;
  shape: BatchShape;
}

const adamw = (lr: number, weightDecay: number): OptimConfig => ({ lr, weightDecay, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 });

const size = (nLayers: number, dModel: number, dFF: number): ModelSize => ({ nLayers, dModel, nHeads: 4, dFF });

/** Each preset's model size (docs/science.md §1; a run may change any of it: RunOverrides). */
export const PRESET_SIZES: Record<PresetName, ModelSize> = {
  modarith: size(2, 128, 256),
  dyck: size(2, 128, 256),
  'quick-add': size(1, 64, 128),
  'quick-dyck': size(2, 64, 128),
  scan: size(3, 256, 512),
  // Sized for SwiftShader (a step 0.2-0.4 s, the SCAN model's 166 s); it does not memorise in 1,000 steps (§1.8).
  'quick-scan': size(1, 32, 64),
  multitask: size(2, 128, 256),
  'quick-multitask': size(1, 64, 128),
};

type TaskOf<K extends TaskSpec['kind']> = Extract<TaskSpec, { kind: K }>;
const modArithTask = (p: number, trainFraction: number): TaskOf<'modarith'> => ({ kind: 'modarith', p, op: 'add', trainFraction });
const multitaskTask = (p: number, trainFraction: number): TaskOf<'multitask'> => ({ kind: 'multitask', p, ops: [...MULTITASK_OPS], trainFraction });
const dyckTask: TaskOf<'dyck'> = { kind: 'dyck' };
const scanTask: TaskOf<'scan'> = { kind: 'scan' };

/** Each preset's task (docs/science.md §1; a run may change the operation, the modulus and the train fraction). */
export const PRESET_TASKS = {
  modarith: modArithTask(97, 0.5),
  dyck: dyckTask,
  'quick-add': modArithTask(31, 0.6),
  'quick-dyck': dyckTask,
  scan: scanTask,
  'quick-scan': scanTask,
  multitask: multitaskTask(97, 0.5),
  // Four heads share a 1-layer trunk: at the quick-add fraction 0.6 it groks late or not at all in 4,000 steps
  // (seeds 1, 42 on an H100), at 0.8 around step 1,000-1,250 (seed 1 on SwiftShader: heads x^2+y^2, sub, mul, add
  // at 780, 920, 1,020, 1,140; the run at 1,140).
  'quick-multitask': multitaskTask(31, 0.8),
} satisfies Record<PresetName, TaskSpec>;

/** (a op b) mod p from the two tokens [a, b], bidirectional, read out at position 0. */
function modArithModel(p: number, { nLayers, dModel, nHeads, dFF }: ModelSize): ModelConfig {
  return {
    nLayers, dModel, nHeads, dFF, vocabSize: p, maxPositions: 2, nClasses: p, causal: false,
    posInitStd: 1 / Math.sqrt(dModel),
  };
}

/** Dyck-1 depth per position: tokens "(", ")", PAD (= 2), causal, 13 depth classes. */
function dyckModel({ nLayers, dModel, nHeads, dFF }: ModelSize): ModelConfig {
  return { nLayers, dModel, nHeads, dFF, vocabSize: 3, maxPositions: 48, nClasses: 13, causal: true, padToken: 2, posInitStd: 1 };
}

/**
 * SCAN: an encoder-decoder (the paper's 3+3 layers of width 256; quick-scan's 1+1 of width 32) over the encoded
 * command (PAD, SOS, EOS + 13 words) and the teacher-forced actions (PAD, SOS, EOS + 6 actions; the head predicts the
 * same ids). PAD = 0 in both vocabularies. nLayers is each stack's.
 */
function scanModel({ nLayers, dModel, nHeads, dFF }: ModelSize): EncoderDecoderConfig {
  return {
    kind: 'encoder-decoder', dModel, nHeads, dFF, nClasses: SCAN_ACTION_VOCAB.length, padToken: SCAN_SPECIAL.pad, posInitStd: 1,
    encoder: { nLayers, vocabSize: SCAN_COMMAND_VOCAB.length, maxPositions: SCAN_SOURCE_LEN },
    decoder: { nLayers, vocabSize: SCAN_ACTION_VOCAB.length, maxPositions: SCAN_DECODER_LEN },
  };
}

/** The model of a task at a size: its vocabulary, classes, positions and heads come from the task. */
export function taskModel(task: TaskOf<'scan'>, modelSize: ModelSize): EncoderDecoderConfig;
export function taskModel(task: Exclude<TaskSpec, { kind: 'scan' }>, modelSize: ModelSize): ModelConfig;
export function taskModel(task: TaskSpec, modelSize: ModelSize): AnyModelConfig;
export function taskModel(task: TaskSpec, modelSize: ModelSize): AnyModelConfig {
  switch (task.kind) {
    case 'modarith':
      return modArithModel(task.p, modelSize);
    case 'multitask':
      // One trunk, one task head per op.
      return { ...modArithModel(task.p, modelSize), taskHeads: task.ops.length };
    case 'dyck':
      return dyckModel(modelSize);
    case 'scan':
      return scanModel(modelSize);
  }
}

const scanShape = (batch: number) => ({ batch, seqLen: SCAN_DECODER_LEN, sourceLen: SCAN_SOURCE_LEN, readout: { start: 0, count: SCAN_DECODER_LEN } });
const pairShape = (batch: number) => ({ batch, seqLen: 2, readout: { start: 0, count: 1 } });
const dyckShape = { batch: 50, seqLen: 24, readout: { start: 0, count: 24 } };

export const PRESET_SHAPES = {
  modarith: { model: taskModel(PRESET_TASKS.modarith, PRESET_SIZES.modarith), optim: adamw(1e-3, 1), shape: pairShape(512) },
  dyck: { model: taskModel(PRESET_TASKS.dyck, PRESET_SIZES.dyck), optim: adamw(1e-3, 1), shape: dyckShape },
  'quick-add': { model: taskModel(PRESET_TASKS['quick-add'], PRESET_SIZES['quick-add']), optim: adamw(1e-2, 1), shape: pairShape(576) },
  'quick-dyck': { model: taskModel(PRESET_TASKS['quick-dyck'], PRESET_SIZES['quick-dyck']), optim: adamw(1e-3, 1), shape: dyckShape },
  scan: { model: taskModel(PRESET_TASKS.scan, PRESET_SIZES.scan), optim: adamw(1e-4, 1), shape: scanShape(256) },
  'quick-scan': { model: taskModel(PRESET_TASKS['quick-scan'], PRESET_SIZES['quick-scan']), optim: adamw(1e-2, 1), shape: scanShape(16) },
  multitask: { model: taskModel(PRESET_TASKS.multitask, PRESET_SIZES.multitask), optim: adamw(1e-3, 1), shape: pairShape(512) },
  'quick-multitask': { model: taskModel(PRESET_TASKS['quick-multitask'], PRESET_SIZES['quick-multitask']), optim: adamw(1e-2, 1), shape: pairShape(720) },
} satisfies Record<PresetName, PresetShape>;

// ---- Presets wired to their tasks ------------------------------------------------------------------------

/** A task's training and test sets, ready for the engine and the evaluator. */
export interface TaskData {
  /** Number of training sequences. */
  trainCount: number;
  /** Every training sequence, as one batch (full-batch training, train-set evaluation). */
  train: Batch;
  test: Batch;
  /** The batch of the training sequences at `indices` (minibatches). */
  trainBatch(indices: ArrayLike<number>): Batch;
  /** For generative tasks (the decoder's predictions are its next inputs): the tokens greedy decoding uses. */
  decoderTokens?: DecoderTokens;
}

export interface Preset extends PresetShape {
  name: PresetName;
  task: TaskSpec;
  /** 'full': every training sequence every step (shape.batch = the train set's size); 'minibatch': shape.batch
   * sequences drawn with replacement from a seeded generator. */
  batchMode: 'full' | 'minibatch';
  /** Default length of a run. */
  steps: number;
  /** Default evaluation cadence (train and test metrics, norms, divergence check), in steps. */
  evalEvery: number;
  /** Sequences per evaluation forward pass (bounds the evaluator's activation memory). */
  evalChunk: number;
  /** The spectral edge's window: W deltas of snapshotEvery steps each (docs/science.md §1-2). */
  spectral: { window: number; snapshotEvery: number };
}

export const PRESETS: Record<PresetName, Preset> = {
  modarith: {
    name: 'modarith', ...PRESET_SHAPES.modarith, task: PRESET_TASKS.modarith, batchMode: 'minibatch', steps: 10_000, evalEvery: 100, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 100 },
  },
  dyck: {
    name: 'dyck', ...PRESET_SHAPES.dyck, task: PRESET_TASKS.dyck, batchMode: 'minibatch', steps: 3000, evalEvery: 100, evalChunk: 1000,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  'quick-add': {
    name: 'quick-add', ...PRESET_SHAPES['quick-add'], task: PRESET_TASKS['quick-add'], batchMode: 'full', steps: 1200, evalEvery: 20, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 20 },
  },
  'quick-dyck': {
    name: 'quick-dyck', ...PRESET_SHAPES['quick-dyck'], task: PRESET_TASKS['quick-dyck'], batchMode: 'minibatch', steps: 1000, evalEvery: 50, evalChunk: 1000,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  scan: {
    name: 'scan', ...PRESET_SHAPES.scan, task: PRESET_TASKS.scan, batchMode: 'minibatch', steps: 10_000, evalEvery: 250, evalChunk: 512,
    spectral: { window: 5, snapshotEvery: 500 },
  },
  'quick-scan': {
    name: 'quick-scan', ...PRESET_SHAPES['quick-scan'], task: PRESET_TASKS['quick-scan'], batchMode: 'minibatch', steps: 1000, evalEvery: 250, evalChunk: 512,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  multitask: {
    name: 'multitask', ...PRESET_SHAPES.multitask, task: PRESET_TASKS.multitask, batchMode: 'minibatch', steps: 15_000, evalEvery: 100, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 100 },
  },
  'quick-multitask': {
    name: 'quick-multitask', ...PRESET_SHAPES['quick-multitask'], task: PRESET_TASKS['quick-multitask'], batchMode: 'full', steps: 2000, evalEvery: 20, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 20 },
  },
};

/** The names of a task's heads (one per op for multitask), or null for single-head tasks. */
export function taskHeadNames(task: TaskSpec): string[] | null {
  return task.kind === 'multitask' ? [...task.ops] : null;
}

/** What a task groks on (docs/science.md §1): test token accuracy; SCAN: test sequence accuracy; multitask: every head's. */
export function grokMetric(task: TaskSpec): GrokMetric {
  return task.kind === 'scan' ? 'testSeqAcc' : task.kind === 'multitask' ? 'minHeadTestAcc' : 'testAcc';
}

/**
 * Builds a task's data. The run seed shuffles the modular-arithmetic split and draws SCAN's 2,048 / 500 paper
 * subset; Dyck uses its fixed data seed (docs/science.md §1: every run sees the same 5,050 sequences), so there the seed
 * only drives init and sampling.
 */
export function buildTaskData(task: TaskSpec, seed: number): TaskData {
  switch (task.kind) {
    case 'modarith': {
      const split = modArithSplit({ ...task, seed });
      const all = (n: number) => Array.from({ length: n }, (_, i) => i);
      return {
        trainCount: split.train.y.length,
        train: modArithBatch(split.train, all(split.train.y.length)),
        test: modArithBatch(split.test, all(split.test.y.length)),
        trainBatch: (indices) => modArithBatch(split.train, indices),
      };
    }
    case 'multitask': {
      const split = multitaskSplit({ ...task, seed });
      const heads = task.ops.length;
      const all = (n: number) => Array.from({ length: n }, (_, i) => i);
      return {
        trainCount: split.train.a.length,
        train: multitaskBatch(split.train, heads, all(split.train.a.length)),
        test: multitaskBatch(split.test, heads, all(split.test.a.length)),
        trainBatch: (indices) => multitaskBatch(split.train, heads, indices),
      };
    }
    case 'dyck': {
      const split = dyckSplit();
      return { trainCount: split.train.count, train: split.train, test: split.test, trainBatch: (indices) => dyckBatch(split.train, indices) };
    }
    case 'scan': {
      const split = scanPaperSubset(seed);
      const all = (n: number) => Array.from({ length: n }, (_, i) => i);
      return {
        trainCount: split.train.length,
        train: scanBatch(split.train, all(split.train.length)),
        test: scanBatch(split.test, all(split.test.length)),
        trainBatch: (indices) => scanBatch(split.train, indices),
        decoderTokens: SCAN_SPECIAL,
      };
    }
  }
}
