// The encoder-decoder model's configuration checks. Its float64 reference is checked against finite
// differences in test/reference-model.test.ts and its GPU graph against the reference in
// test/transformer.test.ts, with the encoder-only cases (TINY_ENCODER_DECODER_CASES).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { TINY_ENCODER_DECODER_CASES } from './helpers/tiny-models';
import { syntheticBatch } from '../src/tasks/synthetic';
import { TrainingEngine } from '../src/model/engine';
import { buildParamTable } from '../src/model/params';
import { validateShape } from '../src/model/config';
import { ConfigError } from '../src/formats/model-config';
import type { OptimConfig } from '../src/formats/optim';

const optim: OptimConfig = { lr: 1e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

describe('encoder-decoder configuration', () => {
  const { config, shape } = TINY_ENCODER_DECODER_CASES[0];

  it('names the invalid field of either stack and the shape', () => {
    expect(() => buildParamTable({ ...config, decoder: { ...config.decoder, nLayers: 0 } })).toThrow(/^decoder\.nLayers: must be a positive integer/);
    expect(() => buildParamTable({ ...config, padToken: 6 })).toThrow(ConfigError);
    expect(() => validateShape(config, { ...shape, sourceLen: undefined })).toThrow(/^sourceLen: the encoder-decoder model needs/);
    expect(() => validateShape(config, { ...shape, sourceLen: 7 })).toThrow(/^sourceLen: 7 exceeds the positional embedding's 6 rows/);
    expect(() => validateShape(config, { ...shape, seqLen: 6, readout: { start: 0, count: 6 } })).toThrow(/^seqLen: 6 exceeds .* 5 rows/);
  });

  it('rejects a batch without source tokens or with a source token outside the encoder vocabulary', async () => {
    const rt = await testRuntime();
    const engine = await TrainingEngine.create(rt, { config, shape, optim, seed: 1 });
    const data = syntheticBatch(config, shape, 1);
    expect(() => engine.step({ tokens: data.tokens, targets: data.targets })).toThrow(/needs a batch with source tokens/);
    const source = data.source!.slice();
    source[2] = config.encoder.vocabSize;
    expect(() => engine.step({ ...data, source })).toThrow(/token id 7 is outside the vocabulary \(size 7\)/);
  });
});
