// Evaluation of a whole data set with the current parameters: a forward-only graph of a fixed chunk size that
// shares the training state's parameter buffer, run chunk by chunk, with logits and per-row losses read back
// (evaluation runs at the log cadence, not every step). Teacher-forced metrics come from one forward pass per
// chunk; greedy decoding (encoder-decoder model) runs the forward pass once per decoded position.
import type { GpuRuntime } from '../gpu/runtime';
import { modelStacks, taskHeadCount } from '../model/config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { IGNORE_TARGET, type Batch } from '../model/batch';
import type { ParamState } from '../model/state';
import { buildTransformerGraph, type TransformerGraph } from '../model/transformer';
import { argmaxRows, greedyDecode, scoreSequences, type DecoderTokens } from './predictions';

export interface EvalResult {
  /** Mean cross-entropy over the scored targets (multitask: the sum over task heads of each head's mean). */
  loss: number;
  /** Fraction of scored targets whose argmax logit is the target (token accuracy). */
  accuracy: number;
  /** The same per task head (one entry for single-head models). */
  headAccuracy: number[];
  /** Each task head's mean cross-entropy over its scored targets. */
  headLoss: number[];
  /** Number of scored targets. */
  scored: number;
  /** Fraction of sequences whose scored targets are all predicted right (teacher-forced sequence accuracy). */
  sequenceAccuracy: number;
  /** Number of sequences with at least one scored target. */
  sequences: number;
}

export interface GreedyResult {
  /** Greedy predictions aligned with the targets, [count * seqLen] (NOT_DECODED after a sequence's EOS or its first
   * wrong token: decoding stops where a sequence's outcome is settled). */
  predictions: Int32Array;
  /** Fraction of sequences whose greedy decoding matches every scored target (up to and including EOS). */
  sequenceAccuracy: number;
  sequences: number;
}

export class Evaluator {
  private constructor(
    private readonly rt: GpuRuntime,
    private readonly graph: TransformerGraph,
  ) {}

  /** `chunk` sequences are evaluated per forward pass. */
  static async create(rt: GpuRuntime, config: AnyModelConfig, state: ParamState, shape: Omit<BatchShape, 'batch'>, chunk: number): Promise<Evaluator> {
    const graph = await buildTransformerGraph(rt, config, state, { ...shape, batch: chunk }, { backward: false });
    return new Evaluator(rt, graph);
  }

  async evaluate(data: Batch): Promise<EvalResult> {
    const { readout } = this.graph.shape;
    const classes = this.graph.config.nClasses;
    const heads = taskHeadCount(this.graph.config);
    // Targets per sequence: every readout position, once per task head (row r is head r % heads).
    const perSequence = readout.count * heads;
    const count = this.sequenceCount(data);
    const predictions = new Int32Array(data.targets.length);
    let lossSum = 0;
    let scored = 0;
    const lossByHead = new Array<number>(heads).fill(0);
    const correctByHead = new Array<number>(heads).fill(0);
    const scoredByHead = new Array<number>(heads).fill(0);
    for (let start = 0; start < count; start += this.graph.shape.batch) {
      const chunk = this.chunk(data, start, count);
      const rows = chunk.n * perSequence;
      const { logits, losses } = await this.forward(chunk.batch, rows);
      predictions.set(argmaxRows(logits, rows, classes), start * perSequence);
      for (let r = 0; r < rows; r++) {
        const target = chunk.batch.targets[r];
        if (target === IGNORE_TARGET) continue;
        lossSum += losses[r];
        lossByHead[r % heads] += losses[r];
        scored += 1;
        scoredByHead[r % heads] += 1;
        if (predictions[start * perSequence + r] === target) correctByHead[r % heads] += 1;
      }
    }
    const sequences = scoreSequences(predictions, data.targets, perSequence);
    const correct = correctByHead.reduce((a, b) => a + b, 0);
    return {
      loss: scored ? (heads * lossSum) / scored : 0,
      accuracy: scored ? correct / scored : 0,
      headAccuracy: correctByHead.map((c, h) => (scoredByHead[h] ? c / scoredByHead[h] : 0)),
      headLoss: lossByHead.map((l, h) => (scoredByHead[h] ? l / scoredByHead[h] : 0)),
      scored,
      sequenceAccuracy: sequences.sequences ? sequences.correct / sequences.sequences : 0,
      sequences: sequences.sequences,
    };
  }

  /**
   * Greedy decoding of every sequence of `data` (its source; its targets only score the result), for a model
   * whose last stack is causal, read out at every position, with the head's classes as its input tokens.
   */
  async greedy(data: Batch, tokens: DecoderTokens): Promise<GreedyResult> {
    const { config, shape } = this.graph;
    const { batch: chunkSize, seqLen, readout } = shape;
    const decoder = modelStacks(config).at(-1)!;
    if (!decoder.causal || readout.start !== 0 || readout.count !== seqLen || config.nClasses > decoder.vocabSize) {
      throw new Error('greedy decoding needs a causal decoder read out at every position whose classes are its tokens');
    }
    const count = this.sequenceCount(data);
    const predictions = new Int32Array(count * seqLen);
    const ignored = new Int32Array(chunkSize * seqLen).fill(IGNORE_TARGET);
    for (let start = 0; start < count; start += chunkSize) {
      const { batch, n } = this.chunk(data, start, count);
      const decoded = await greedyDecode(chunkSize, seqLen, config.nClasses, tokens, async (inputs) => {
        const { logits } = await this.forward({ source: batch.source, tokens: inputs, targets: ignored }, chunkSize * seqLen);
        return logits;
      }, batch.targets);
      predictions.set(decoded.subarray(0, n * seqLen), start * seqLen);
    }
    const { correct, sequences } = scoreSequences(predictions, data.targets, seqLen);
    return { predictions, sequenceAccuracy: sequences ? correct / sequences : 0, sequences };
  }

  private sequenceCount(data: Batch): number {
    const { seqLen, readout, sourceLen } = this.graph.shape;
    const count = data.tokens.length / seqLen;
    const sourceOk = sourceLen === undefined || data.source?.length === count * sourceLen;
    if (!Number.isInteger(count) || data.targets.length !== count * readout.count * taskHeadCount(this.graph.config) || !sourceOk) {
      throw new Error(`evaluation data holds ${data.tokens.length} tokens and ${data.targets.length} targets, not whole sequences of ${seqLen}`);
    }
    return count;
  }

  /** Sequences [start, start + n) of `data` as one graph-sized batch, padded with copies of its first sequence whose targets are ignored. */
  private chunk(data: Batch, start: number, count: number): { batch: Batch; n: number } {
    const { batch: size, seqLen, readout, sourceLen } = this.graph.shape;
    const n = Math.min(size, count - start);
    const slice = (from: Uint32Array, len: number) => {
      const out = new Uint32Array(size * len);
      out.set(from.subarray(start * len, (start + n) * len));
      for (let i = n; i < size; i++) out.copyWithin(i * len, 0, len);
      return out;
    };
    const perSequence = readout.count * taskHeadCount(this.graph.config);
    const targets = new Int32Array(size * perSequence).fill(IGNORE_TARGET);
    targets.set(data.targets.subarray(start * perSequence, (start + n) * perSequence));
    const source = data.source && sourceLen !== undefined ? slice(data.source, sourceLen) : undefined;
    return { batch: { tokens: slice(data.tokens, seqLen), targets, ...(source && { source }) }, n };
  }

  /** One forward pass; reads back the logits and losses of the first `rows` readout rows. */
  private async forward(batch: Batch, rows: number): Promise<{ logits: Float32Array; losses: Float32Array }> {
    this.graph.setBatch(batch);
    const classes = this.graph.config.nClasses;
    const encoder = this.rt.device.createCommandEncoder({ label: 'evaluate' });
    this.rt.encode(encoder, this.graph.forward);
    const readLogits = this.rt.scheduleRead(encoder, this.graph.logits, 0, rows * classes * 4);
    const readLosses = this.rt.scheduleRead(encoder, this.graph.losses, 0, rows * 4);
    this.rt.device.queue.submit([encoder.finish()]);
    const [logits, losses] = (await Promise.all([readLogits(), readLosses()])).map((b) => new Float32Array(b));
    return { logits, losses };
  }
}
