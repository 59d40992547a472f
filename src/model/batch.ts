// A batch as the engine consumes it: token ids for every position and class targets for the readout positions;
// for the encoder-decoder model also the source sequence the encoder reads.
import { isEncoderDecoder, modelStacks, taskHeadCount } from './config';
import { BatchShape, type AnyModelConfig } from '../formats/model-config';

export const IGNORE_TARGET = -1;

export interface Batch {
  /** Token ids, [batch * seqLen] row-major: the model's input, or the decoder's input (SOS + target[:-1]). */
  tokens: Uint32Array;
  /**
   * Class targets for the readout positions, [batch * readout.count * taskHeads] (row-major: readout row, then task
   * head); IGNORE_TARGET where not scored (PAD).
   */
  targets: Int32Array;
  /** Encoder-decoder model only: source token ids, [batch * sourceLen] row-major. */
  source?: Uint32Array;
}

/** Each stack's sequence length, in modelStacks order. */
export function stackLengths(config: AnyModelConfig, shape: BatchShape): number[] {
  if (!isEncoderDecoder(config)) return [shape.seqLen];
  if (shape.sourceLen === undefined) throw new Error('the encoder-decoder model needs a batch shape with sourceLen');
  return [shape.sourceLen, shape.seqLen];
}

/** Each stack's input token ids, in modelStacks order. */
export function stackTokens(config: AnyModelConfig, b: Batch): Uint32Array[] {
  if (!isEncoderDecoder(config)) return [b.tokens];
  if (!b.source) throw new Error('the encoder-decoder model needs a batch with source tokens');
  return [b.source, b.tokens];
}

/** 1 where a key position holds a real token, 0 for PAD (null when the model has no PAD token). */
export function keyValidMask(config: AnyModelConfig, tokens: Uint32Array): Uint32Array | null {
  if (config.padToken === undefined) return null;
  const pad = config.padToken;
  return tokens.map((t) => (t === pad ? 0 : 1));
}

export function checkBatch(config: AnyModelConfig, shape: BatchShape, b: Batch): void {
  const stacks = modelStacks(config);
  const lengths = stackLengths(config, shape);
  stackTokens(config, b).forEach((tokens, i) => {
    const what = stacks.length > 1 ? `${stacks[i].prefix.slice(0, -1)} tokens` : 'tokens';
    const n = shape.batch * lengths[i];
    if (tokens.length !== n) throw new Error(`batch has ${tokens.length} ${what}, expected ${n} (batch x ${i < stacks.length - 1 ? 'sourceLen' : 'seqLen'})`);
    const vocab = stacks[i].vocabSize;
    for (const t of tokens) if (t >= vocab) throw new Error(`token id ${t} is outside the vocabulary (size ${vocab})`);
  });
  const heads = taskHeadCount(config);
  const nTargets = shape.batch * shape.readout.count * heads;
  if (b.targets.length !== nTargets) {
    throw new Error(`batch has ${b.targets.length} targets, expected ${nTargets} (batch x readout.count${heads > 1 ? ' x taskHeads' : ''})`);
  }
  for (const y of b.targets) {
    if (y !== IGNORE_TARGET && (y < 0 || y >= config.nClasses)) throw new Error(`target ${y} is outside [0, ${config.nClasses})`);
  }
}
