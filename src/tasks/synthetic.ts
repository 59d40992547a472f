// Random batches of the right shape for benchmarks and model tests, where timing does not depend on the data:
// uniform tokens (with a random-length PAD tail when the model has a PAD token) and uniform targets; for the
// encoder-decoder model also a source sequence with its own PAD tail.
import { isEncoderDecoder, taskHeadCount } from '../model/config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { IGNORE_TARGET, type Batch } from '../model/batch';
import { Rng } from '../util/random';

/** `batch` sequences of `seqLen` tokens below `vocab`, each with a random length >= 1 when there is a PAD token. */
function randomSequences(rng: Rng, vocab: number, pad: number | undefined, batch: number, seqLen: number, each?: (b: number, length: number) => void) {
  const realTokens = Array.from({ length: vocab }, (_, i) => i).filter((t) => t !== pad);
  const tokens = new Uint32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const length = pad === undefined ? seqLen : 1 + rng.int(seqLen);
    for (let t = 0; t < seqLen; t++) tokens[b * seqLen + t] = t < length ? realTokens[rng.int(realTokens.length)] : (pad as number);
    each?.(b, length);
  }
  return tokens;
}

export function syntheticBatch(config: AnyModelConfig, shape: BatchShape, seed: number): Batch {
  const rng = new Rng(seed);
  const { batch, seqLen, readout } = shape;
  const pad = config.padToken;
  const heads = taskHeadCount(config);
  const targets = new Int32Array(batch * readout.count * heads);
  const vocab = isEncoderDecoder(config) ? config.decoder.vocabSize : config.vocabSize;
  const tokens = randomSequences(rng, vocab, pad, batch, seqLen, (b, length) => {
    for (let r = 0; r < readout.count; r++) {
      for (let h = 0; h < heads; h++) {
        targets[(b * readout.count + r) * heads + h] = readout.start + r < length ? rng.int(config.nClasses) : IGNORE_TARGET;
      }
    }
  });
  if (!isEncoderDecoder(config)) return { tokens, targets };
  const source = randomSequences(Rng.derive(seed, 'source'), config.encoder.vocabSize, pad, batch, shape.sourceLen ?? 0);
  return { tokens, targets, source };
}
