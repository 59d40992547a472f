// From logits to predictions and scores: argmax, per-sequence correctness (teacher-forced and greedy sequence
// accuracy share it), and the greedy decoding loop that the GPU evaluator and the float64 reference both run,
// each with its own forward pass.
import { IGNORE_TARGET } from '../model/batch';

/** Index of the largest of `n` values from `offset` (the first on ties; NaN never wins). */
export function argmax(values: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (values[offset + i] > values[offset + best]) best = i;
  return best;
}

/** The argmax class of each of `rows` rows of logits [rows, classes]. */
export function argmaxRows(logits: ArrayLike<number>, rows: number, classes: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, r) => argmax(logits, r * classes, classes));
}

/**
 * Sequences of `perSequence` targets whose every scored target equals its prediction, out of the sequences with
 * at least one scored target.
 */
export function scoreSequences(predictions: Int32Array, targets: Int32Array, perSequence: number): { correct: number; sequences: number } {
  if (predictions.length !== targets.length || targets.length % perSequence !== 0) {
    throw new Error(`${predictions.length} predictions and ${targets.length} targets are not whole sequences of ${perSequence}`);
  }
  let correct = 0;
  let sequences = 0;
  for (let start = 0; start < targets.length; start += perSequence) {
    let scored = false;
    let right = true;
    for (let i = start; i < start + perSequence; i++) {
      if (targets[i] === IGNORE_TARGET) continue;
      scored = true;
      right &&= predictions[i] === targets[i];
    }
    if (scored) {
      sequences += 1;
      if (right) correct += 1;
    }
  }
  return { correct, sequences };
}

/** Decoder token ids greedy decoding needs (the head's classes are the decoder's token ids). */
export interface DecoderTokens {
  sos: number;
  eos: number;
  pad: number;
}

/** Prediction slots greedy decoding left empty: after a sequence's EOS (or, when scoring, its first wrong token). */
export const NOT_DECODED = -1;

/**
 * Greedy decoding of `batch` sequences of up to `seqLen` decoder positions. The inputs start as [SOS, PAD, ...];
 * step t runs `logitsFor` on the current inputs (logits [batch * seqLen, classes], every position read out),
 * takes the argmax at position t as the prediction for target t and, unless it is EOS, as input t + 1. A
 * sequence stops after its first EOS; decoding stops when all have, or after seqLen steps. Under the causal
 * mask position t sees only inputs 0..t, so the PAD placeholders after it do not change its logits.
 *
 * With `targets` (aligned with the predictions), decoding is for scoring: a sequence also stops at its first wrong
 * token, where its outcome is settled (wrong, whatever follows). The sequence accuracy is the same, and an
 * untrained or memorising model is scored in a few forward passes instead of seqLen.
 *
 * Returns predictions [batch * seqLen] aligned with the teacher-forced targets (NOT_DECODED where it stopped), so
 * scoreSequences gives the greedy sequence accuracy.
 */
export async function greedyDecode(
  batch: number,
  seqLen: number,
  classes: number,
  tokens: DecoderTokens,
  logitsFor: (inputs: Uint32Array) => ArrayLike<number> | Promise<ArrayLike<number>>,
  targets?: ArrayLike<number>,
): Promise<Int32Array> {
  const inputs = new Uint32Array(batch * seqLen).fill(tokens.pad);
  for (let b = 0; b < batch; b++) inputs[b * seqLen] = tokens.sos;
  const predictions = new Int32Array(batch * seqLen).fill(NOT_DECODED);
  const running = new Set(Array.from({ length: batch }, (_, b) => b));
  for (let t = 0; t < seqLen && running.size > 0; t++) {
    const logits = await logitsFor(inputs);
    if (logits.length !== batch * seqLen * classes) throw new Error(`greedy decoding needs logits for all ${batch} x ${seqLen} positions, got ${logits.length / classes}`);
    for (const b of [...running]) {
      const row = b * seqLen + t;
      const y = argmax(logits, row * classes, classes);
      predictions[row] = y;
      if (y === tokens.eos || (targets && y !== targets[row])) running.delete(b);
      else if (t + 1 < seqLen) inputs[row + 1] = y;
    }
  }
  return predictions;
}
