// Small ragged model configurations and seeded batches for whole-model tests: sizes that are not multiples
// of any kernel tile, bidirectional and causal attention, padding, readouts at one or all positions, several task
// heads; and
// encoder-decoder models with source and target padding, source longer and shorter than the target; and some of
// both with docs/science.md §4's architecture options (RMSNorm, QK-norm, both).
import type { AnyModelConfig, EncoderDecoderConfig, BatchShape } from '../../src/formats/model-config';

export interface TinyCase<C extends AnyModelConfig = AnyModelConfig> {
  name: string;
  config: C;
  shape: BatchShape;
}

export const TINY_CASES: TinyCase[] = [
  {
    name: 'bidirectional, readout at one position',
    config: { nLayers: 2, dModel: 12, nHeads: 3, dFF: 19, vocabSize: 11, maxPositions: 4, nClasses: 7, causal: false, posInitStd: 0.3 },
    shape: { batch: 5, seqLen: 3, readout: { start: 1, count: 1 } },
  },
  {
    name: 'causal with padding, readout everywhere',
    config: { nLayers: 2, dModel: 10, nHeads: 2, dFF: 23, vocabSize: 4, maxPositions: 9, nClasses: 6, causal: true, padToken: 3, posInitStd: 1 },
    shape: { batch: 3, seqLen: 7, readout: { start: 0, count: 7 } },
  },
  {
    name: 'bidirectional with padding, two readout positions',
    config: { nLayers: 1, dModel: 20, nHeads: 4, dFF: 37, vocabSize: 9, maxPositions: 5, nClasses: 13, causal: false, padToken: 0, posInitStd: 1 },
    shape: { batch: 4, seqLen: 5, readout: { start: 2, count: 2 } },
  },
  {
    name: 'three task heads (multitask), readout at one position',
    config: { nLayers: 1, dModel: 12, nHeads: 2, dFF: 17, vocabSize: 7, maxPositions: 2, nClasses: 7, taskHeads: 3, causal: false, posInitStd: 0.5 },
    shape: { batch: 5, seqLen: 2, readout: { start: 0, count: 1 } },
  },
];

export const TINY_ENCODER_DECODER_CASES: TinyCase<EncoderDecoderConfig>[] = [
  {
    name: '2+2 layers, source longer than target, readout everywhere',
    config: {
      kind: 'encoder-decoder', dModel: 12, nHeads: 3, dFF: 19, nClasses: 6, padToken: 0, posInitStd: 1,
      encoder: { nLayers: 2, vocabSize: 7, maxPositions: 6 },
      decoder: { nLayers: 2, vocabSize: 6, maxPositions: 5 },
    },
    shape: { batch: 3, seqLen: 4, sourceLen: 6, readout: { start: 0, count: 4 } },
  },
  {
    name: '1+3 layers, target longer than source, two readout positions',
    config: {
      kind: 'encoder-decoder', dModel: 10, nHeads: 2, dFF: 9, nClasses: 5, padToken: 2, posInitStd: 0.5,
      encoder: { nLayers: 1, vocabSize: 4, maxPositions: 3 },
      decoder: { nLayers: 3, vocabSize: 5, maxPositions: 9 },
    },
    shape: { batch: 4, seqLen: 7, sourceLen: 3, readout: { start: 3, count: 2 } },
  },
];

/** Cases of both model kinds with the architecture options: RMSNorm, QK-norm, and both (src/model/config.ts). */
export const TINY_ARCHITECTURE_CASES: TinyCase[] = [
  { ...TINY_CASES[0], name: 'RMSNorm, bidirectional, readout at one position', config: { ...TINY_CASES[0].config, norm: 'rms' } },
  { ...TINY_CASES[2], name: 'QK-norm (LayerNorm), bidirectional with padding', config: { ...TINY_CASES[2].config, qkNorm: true } },
  { ...TINY_CASES[1], name: 'RMSNorm + QK-norm, causal with padding, readout everywhere', config: { ...TINY_CASES[1].config, norm: 'rms', qkNorm: true } },
  {
    ...TINY_ENCODER_DECODER_CASES[1],
    name: 'RMSNorm + QK-norm encoder-decoder, 1+3 layers',
    config: { ...TINY_ENCODER_DECODER_CASES[1].config, norm: 'rms', qkNorm: true },
  },
];
