// The docs/science.md §1 presets: model and optimiser settings (PRESET_SHAPES), and the same wired to their tasks,
// batching and run defaults (PRESETS). The task generators themselves live in src/tasks/.
import type { AnyModelConfig, EncoderDecoderConfig, ModelConfig, BatchShape } from '../formats/model-config';
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

/** (a op b) mod p from the two tokens [a, b], bidirectional, read out at position 0. */
function modArithModel(p: number, nLayers: number, dModel: number, dFF: number): ModelConfig {
  return {
    nLayers, dModel, nHeads: 4, dFF, vocabSize: p, maxPositions: 2, nClasses: p, causal: false,
    posInitStd: 1 / Math.sqrt(dModel),
  };
}

/** Multitask: the modular-arithmetic trunk with one task head per op. */
function multitaskModel(p: number, nLayers: number, dModel: number, dFF: number, heads: number): ModelConfig {
  return { ...modArithModel(p, nLayers, dModel, dFF), taskHeads: heads };
}

/** Dyck-1 depth per position: tokens "(", ")", PAD (= 2), causal, 13 depth classes. */
function dyckModel(nLayers: number, dModel: number, dFF: number): ModelConfig {
  return { nLayers, dModel, nHeads: 4, dFF, vocabSize: 3, maxPositions: 48, nClasses: 13, causal: true, padToken: 2, posInitStd: 1 };
}

/**
 * SCAN: an encoder-decoder (the paper's 3+3 layers of width 256; quick-scan's 1+1 of width 32) over the encoded
 * command (PAD, SOS, EOS + 13 words) and the teacher-forced actions (PAD, SOS, EOS + 6 actions; the head predicts the
 * same ids). PAD = 0 in both vocabularies.
 */
function scanModel(nLayers: number, dModel: number, dFF: number): EncoderDecoderConfig {
  return {
    kind: 'encoder-decoder', dModel, nHeads: 4, dFF, nClasses: SCAN_ACTION_VOCAB.length, padToken: SCAN_SPECIAL.pad, posInitStd: 1,
    encoder: { nLayers, vocabSize: SCAN_COMMAND_VOCAB.length, maxPositions: SCAN_SOURCE_LEN },
    decoder: { nLayers, vocabSize: SCAN_ACTION_VOCAB.length, maxPositions: SCAN_DECODER_LEN },
  };
}

const scanShape = (batch: number) => ({ batch, seqLen: SCAN_DECODER_LEN, sourceLen: SCAN_SOURCE_LEN, readout: { start: 0, count: SCAN_DECODER_LEN } });

export const PRESET_SHAPES = {
  modarith: { model: modArithModel(97, 2, 128, 256), optim: adamw(1e-3, 1), shape: { batch: 512, seqLen: 2, readout: { start: 0, count: 1 } } },
  dyck: { model: dyckModel(2, 128, 256), optim: adamw(1e-3, 1), shape: { batch: 50, seqLen: 24, readout: { start: 0, count: 24 } } },
  'quick-add': { model: modArithModel(31, 1, 64, 128), optim: adamw(1e-2, 1), shape: { batch: 576, seqLen: 2, readout: { start: 0, count: 1 } } },
  'quick-dyck': { model: dyckModel(2, 64, 128), optim: adamw(1e-3, 1), shape: { batch: 50, seqLen: 24, readout: { start: 0, count: 24 } } },
  scan: { model: scanModel(3, 256, 512), optim: adamw(1e-4, 1), shape: scanShape(256) },
  // Sized for SwiftShader (a step 0.2-0.4 s, the SCAN model's 166 s); it does not memorise in 1,000 steps (§1.8).
  'quick-scan': { model: scanModel(1, 32, 64), optim: adamw(1e-2, 1), shape: scanShape(16) },
  multitask: {
    model: multitaskModel(97, 2, 128, 256, MULTITASK_OPS.length), optim: adamw(1e-3, 1), shape: { batch: 512, seqLen: 2, readout: { start: 0, count: 1 } },
  },
  'quick-multitask': {
    model: multitaskModel(31, 1, 64, 128, MULTITASK_OPS.length), optim: adamw(1e-2, 1), shape: { batch: 720, seqLen: 2, readout: { start: 0, count: 1 } },
  },
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

const modArithTask = (p: number, trainFraction: number): TaskSpec => ({ kind: 'modarith', p, op: 'add', trainFraction });
const multitaskTask = (p: number, trainFraction: number): TaskSpec => ({ kind: 'multitask', p, ops: [...MULTITASK_OPS], trainFraction });

export const PRESETS: Record<PresetName, Preset> = {
  modarith: {
    name: 'modarith', ...PRESET_SHAPES.modarith, task: modArithTask(97, 0.5), batchMode: 'minibatch', steps: 10_000, evalEvery: 100, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 100 },
  },
  dyck: {
    name: 'dyck', ...PRESET_SHAPES.dyck, task: { kind: 'dyck' }, batchMode: 'minibatch', steps: 3000, evalEvery: 100, evalChunk: 1000,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  'quick-add': {
    name: 'quick-add', ...PRESET_SHAPES['quick-add'], task: modArithTask(31, 0.6), batchMode: 'full', steps: 1200, evalEvery: 20, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 20 },
  },
  'quick-dyck': {
    name: 'quick-dyck', ...PRESET_SHAPES['quick-dyck'], task: { kind: 'dyck' }, batchMode: 'minibatch', steps: 1000, evalEvery: 50, evalChunk: 1000,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  scan: {
    name: 'scan', ...PRESET_SHAPES.scan, task: { kind: 'scan' }, batchMode: 'minibatch', steps: 10_000, evalEvery: 250, evalChunk: 512,
    spectral: { window: 5, snapshotEvery: 500 },
  },
  'quick-scan': {
    name: 'quick-scan', ...PRESET_SHAPES['quick-scan'], task: { kind: 'scan' }, batchMode: 'minibatch', steps: 1000, evalEvery: 250, evalChunk: 512,
    spectral: { window: 5, snapshotEvery: 100 },
  },
  multitask: {
    name: 'multitask', ...PRESET_SHAPES.multitask, task: multitaskTask(97, 0.5), batchMode: 'minibatch', steps: 15_000, evalEvery: 100, evalChunk: 1024,
    spectral: { window: 10, snapshotEvery: 100 },
  },
  // Four heads share a 1-layer trunk: at the quick-add fraction 0.6 it groks late or not at all in 4,000 steps
  // (seeds 1, 42 on an H100), at 0.8 around step 1,000-1,250 (seed 1 on SwiftShader: heads x^2+y^2, sub, mul, add
  // at 780, 920, 1,020, 1,140; the run at 1,140).
  'quick-multitask': {
    name: 'quick-multitask', ...PRESET_SHAPES['quick-multitask'], task: multitaskTask(31, 0.8), batchMode: 'full', steps: 2000, evalEvery: 20, evalChunk: 1024,
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
