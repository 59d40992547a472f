// The transformer configurations (docs/science.md §1) and their validation. Every field is checked before any GPU work,
// and an invalid value is reported with the field's name and the limit it broke.
//
// Two model kinds share one implementation: the encoder-only model (ModelConfig: modular arithmetic, Dyck) and
// the encoder-decoder model (EncoderDecoderConfig: SCAN). Both are described to the parameter table, the float64
// reference and the GPU graph as a list of stacks (modelStacks): embeddings, pre-LN blocks and a final LayerNorm,
// where the decoder's blocks also cross-attend to the encoder stack's output. The head reads the last stack.
// Both take the architecture options of docs/science.md §4 (ArchitectureOptions); their defaults are the paper models.
import { NormKind, NORM_KINDS, StackSize, EncoderDecoderConfig, AnyModelConfig, Readout, ConfigError } from '../formats/model-config';

export function isEncoderDecoder(c: AnyModelConfig): c is EncoderDecoderConfig {
  return 'kind' in c && c.kind === 'encoder-decoder';
}

/** One stack of pre-LN blocks with its own token and positional embeddings and final LayerNorm. */
export interface StackSpec extends StackSize {
  /** Parameter-name prefix: '' for the encoder-only model (whose names predate stacks), 'encoder.' and 'decoder.'. */
  prefix: string;
  causal: boolean;
  /** Each block cross-attends to the previous stack's output (after its final LayerNorm). */
  cross: boolean;
  padToken?: number;
}

/** The stacks a model runs, in forward order; the head reads the last one. */
export function modelStacks(c: AnyModelConfig): StackSpec[] {
  if (!isEncoderDecoder(c)) {
    const { nLayers, vocabSize, maxPositions, causal, padToken } = c;
    return [{ prefix: '', nLayers, vocabSize, maxPositions, causal, cross: false, padToken }];
  }
  return [
    { prefix: 'encoder.', ...c.encoder, causal: false, cross: false, padToken: c.padToken },
    { prefix: 'decoder.', ...c.decoder, causal: true, cross: true, padToken: c.padToken },
  ];
}

/** eps of every LayerNorm, RMSNorm and QK-norm (inside the square root), PyTorch's LayerNorm default. */
export const NORM_EPS = 1e-5;

/** The model's norm kind ('layer' unless the config says otherwise). */
export function normKind(c: AnyModelConfig): NormKind {
  return c.norm ?? 'layer';
}

/** Whether the model RMS-normalises q and k per head (QK-norm). */
export function hasQkNorm(c: AnyModelConfig): boolean {
  return c.qkNorm ?? false;
}

function positiveInt(field: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(field, `must be a positive integer, got ${v}`);
}

function validateCommon(c: AnyModelConfig): void {
  positiveInt('dModel', c.dModel);
  positiveInt('nHeads', c.nHeads);
  positiveInt('dFF', c.dFF);
  positiveInt('nClasses', c.nClasses);
  if (c.dModel % c.nHeads !== 0) {
    throw new ConfigError('nHeads', `dModel (${c.dModel}) must be divisible by nHeads (${c.nHeads})`);
  }
  if (!Number.isFinite(c.posInitStd) || c.posInitStd < 0) {
    throw new ConfigError('posInitStd', `must be a finite non-negative number, got ${c.posInitStd}`);
  }
  if (c.norm !== undefined && !NORM_KINDS.includes(c.norm)) {
    throw new ConfigError('norm', `must be one of ${NORM_KINDS.join(', ')}, got ${JSON.stringify(c.norm)}`);
  }
  if (c.qkNorm !== undefined && typeof c.qkNorm !== 'boolean') throw new ConfigError('qkNorm', `must be a boolean, got ${JSON.stringify(c.qkNorm)}`);
}

function validatePadToken(padToken: number | undefined, vocabSize: number): void {
  if (padToken !== undefined && (!Number.isInteger(padToken) || padToken < 0 || padToken >= vocabSize)) {
    throw new ConfigError('padToken', `must be a token id in [0, ${vocabSize}), got ${padToken}`);
  }
}

export function validateModelConfig(c: AnyModelConfig): void {
  if (isEncoderDecoder(c)) {
    for (const side of ['encoder', 'decoder'] as const) {
      positiveInt(`${side}.nLayers`, c[side].nLayers);
      positiveInt(`${side}.vocabSize`, c[side].vocabSize);
      positiveInt(`${side}.maxPositions`, c[side].maxPositions);
    }
    validateCommon(c);
    if (c.padToken === undefined) throw new ConfigError('padToken', 'the encoder-decoder model needs a PAD token');
    validatePadToken(c.padToken, Math.min(c.encoder.vocabSize, c.decoder.vocabSize));
    return;
  }
  positiveInt('nLayers', c.nLayers);
  positiveInt('vocabSize', c.vocabSize);
  positiveInt('maxPositions', c.maxPositions);
  if (c.taskHeads !== undefined) positiveInt('taskHeads', c.taskHeads);
  validateCommon(c);
  validatePadToken(c.padToken, c.vocabSize);
}

function validateLength(field: string, length: number, maxPositions: number): void {
  positiveInt(field, length);
  if (length > maxPositions) {
    throw new ConfigError(field, `${length} exceeds the positional embedding's ${maxPositions} rows (maxPositions)`);
  }
}

/** Checks a batch shape against the model: sequence lengths within the positional embeddings, the readout within seqLen. */
export function validateShape(c: AnyModelConfig, shape: { batch: number; seqLen: number; sourceLen?: number; readout: Readout }): void {
  const { batch, seqLen, sourceLen, readout } = shape;
  positiveInt('batch', batch);
  if (isEncoderDecoder(c)) {
    if (sourceLen === undefined) throw new ConfigError('sourceLen', 'the encoder-decoder model needs the source length');
    validateLength('sourceLen', sourceLen, c.encoder.maxPositions);
  } else if (sourceLen !== undefined) {
    throw new ConfigError('sourceLen', 'only the encoder-decoder model reads a source sequence');
  }
  validateLength('seqLen', seqLen, modelStacks(c).at(-1)!.maxPositions);
  if (!Number.isInteger(readout.start) || readout.start < 0) throw new ConfigError('readout.start', `must be >= 0, got ${readout.start}`);
  positiveInt('readout.count', readout.count);
  if (readout.start + readout.count > seqLen) {
    throw new ConfigError('readout', `positions ${readout.start}..${readout.start + readout.count - 1} exceed seqLen ${seqLen}`);
  }
}

/** Number of task heads (1 except for multitask models). */
export function taskHeadCount(c: AnyModelConfig): number {
  return isEncoderDecoder(c) ? 1 : (c.taskHeads ?? 1);
}

export function headDim(c: AnyModelConfig): number {
  return c.dModel / c.nHeads;
}
