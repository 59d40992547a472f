// The transformer configurations (docs/science.md §1, §4) as plain data: what a run file and a checkpoint record of the
// model, and the shape of its batches. Their checks and the stacks they describe live in src/model/config.ts.

/** LayerNorm (y = (x - mean) rstd g + b) or RMSNorm (y = x rstd g, rstd = 1 / sqrt(mean(x^2) + eps), no bias). */
export type NormKind = 'layer' | 'rms';

export const NORM_KINDS: readonly NormKind[] = ['layer', 'rms'];

/** docs/science.md §4's scale-invariant architecture options; absent fields are the defaults (the paper models). */
export interface ArchitectureOptions {
  /**
   * 'rms' turns every LayerNorm of the model (each block's pre-norms, the decoder's cross-attention pre-norm and
   * each stack's final norm) into an RMSNorm: same `.g` gain, no `.b` bias. Default 'layer'.
   */
  norm?: NormKind;
  /**
   * QK-norm: q and k are RMS-normalised per head, over the head dimension, before the scaled dot product (scale
   * still 1/sqrt(headDim)), each with a learned gain of headDim values shared by the heads and initialised to 1
   * (`attn.q_norm.g`, `attn.k_norm.g`; the decoder's cross-attention has its own), as Qwen3 and Gemma 3 do
   * (nn.RMSNorm(head_dim) on q and k). The gains are not part of theta_attn. Default false.
   */
  qkNorm?: boolean;
}

/** The size of a model: what docs/science.md §1 gives per preset, and a run may change (RunOverrides). */
export interface ModelSize {
  /** Transformer blocks (of each stack, in the encoder-decoder). */
  nLayers: number;
  dModel: number;
  nHeads: number;
  dFF: number;
}

export interface ModelConfig extends ArchitectureOptions {
  nLayers: number;
  dModel: number;
  nHeads: number;
  dFF: number;
  /** Number of input token ids (including PAD when the task has one). */
  vocabSize: number;
  /** Rows of the learned positional embedding (may exceed the sequence length, as in the Dyck model). */
  maxPositions: number;
  /** Output classes of the linear head (of each task head). */
  nClasses: number;
  /**
   * Task heads reading the same trunk (multitask: one per operation), each a linear map to nClasses logits, stored
   * stacked as one head of taskHeads * nClasses outputs; the loss is the sum of the heads' mean cross-entropies.
   * Default 1.
   */
  taskHeads?: number;
  /** Causal (decoder-style) attention, otherwise bidirectional. */
  causal: boolean;
  /** Token id that marks padding: padded keys are masked out of attention. */
  padToken?: number;
  /**
   * Std of the positional-embedding initialisation: 1 for N(0,1) (Dyck/SCAN), 1/sqrt(dModel) for the
   * modular-arithmetic positional parameter N(0, 1/dModel).
   */
  posInitStd: number;
}

/** The token side of one stack of the encoder-decoder model. */
export interface StackSize {
  nLayers: number;
  vocabSize: number;
  maxPositions: number;
}

/**
 * The encoder-decoder transformer (SCAN): a bidirectional encoder over the source and a causal decoder over the
 * target whose blocks are self-attention, cross-attention over the encoder output, MLP. Teacher forcing: the
 * decoder reads SOS + target[:-1] and predicts the target. Source and target share `padToken`; PAD keys are
 * hidden in all three attentions (encoder self, decoder self, cross).
 */
export interface EncoderDecoderConfig extends ArchitectureOptions {
  kind: 'encoder-decoder';
  dModel: number;
  nHeads: number;
  dFF: number;
  encoder: StackSize;
  decoder: StackSize;
  /** Output classes of the linear head (the target vocabulary). */
  nClasses: number;
  padToken: number;
  /** Std of both positional embeddings' initialisation. */
  posInitStd: number;
}

export type AnyModelConfig = ModelConfig | EncoderDecoderConfig;

/** The positions whose logits the head computes: [start, start + count) of every sequence. */
export interface Readout {
  start: number;
  count: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The shape every batch of a run shares; the GPU buffers are sized for it once. */
export interface BatchShape {
  batch: number;
  /** Length of `tokens` per sequence (the decoder's length in the encoder-decoder model). */
  seqLen: number;
  readout: Readout;
  /** Encoder-decoder model only: length of `source` per sequence. */
  sourceLen?: number;
}
