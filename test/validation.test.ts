// Invalid configurations are rejected before any GPU work, with the field and the limit in the message.
import { describe, expect, it, vi } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { ConfigError, type ModelConfig } from '../src/formats/model-config';
import { GpuLimitError } from '../src/gpu/runtime';
import { TrainingEngine } from '../src/model/engine';
import { PRESET_SHAPES } from '../src/train/presets';

const base = PRESET_SHAPES['quick-add'];

async function create(config: Partial<ModelConfig>, optim = {}, shape = {}) {
  const rt = await testRuntime();
  return TrainingEngine.create(rt, {
    config: { ...base.model, ...config },
    optim: { ...base.optim, ...optim },
    shape: { ...base.shape, batch: 8, ...shape },
    seed: 1,
  });
}

async function expectRejected(promise: Promise<unknown>, kind: typeof ConfigError | typeof GpuLimitError, message: RegExp) {
  const rt = await testRuntime();
  const createBuffer = vi.spyOn(rt.device, 'createBuffer');
  await expect(promise).rejects.toThrow(kind);
  await expect(promise).rejects.toThrow(message);
  expect(createBuffer).not.toHaveBeenCalled();
  createBuffer.mockRestore();
}

describe('configuration validation', () => {
  it('rejects dModel not divisible by nHeads', async () => {
    await expectRejected(create({ dModel: 30, nHeads: 4 }), ConfigError, /nHeads.*dModel \(30\).*divisible by nHeads \(4\)/);
  });

  it.each([
    ['nLayers', 0],
    ['dModel', -64],
    ['dFF', 0],
    ['vocabSize', 2.5],
    ['nClasses', Number.NaN],
  ] as const)('rejects %s = %s', async (field, value) => {
    await expectRejected(create({ [field]: value }), ConfigError, new RegExp(`^${field}: must be a positive integer`));
  });

  it.each([
    ['lr', Number.POSITIVE_INFINITY, /lr: must be a finite number/],
    ['weightDecay', Number.NaN, /weightDecay: must be a finite number/],
    ['weightDecay', -1, /weightDecay: must be >= 0/],
    ['beta2', 1, /beta2: must be < 1/],
    ['eps', 0, /eps: must be > 0/],
  ] as const)('rejects %s = %s', async (field, value, message) => {
    await expectRejected(create({}, { [field]: value }), ConfigError, message);
  });

  it('rejects an unknown norm or a non-boolean qkNorm', async () => {
    await expectRejected(create({ norm: 'batch' as never }), ConfigError, /^norm: must be one of layer, rms, got "batch"/);
    await expectRejected(create({ qkNorm: 1 as never }), ConfigError, /^qkNorm: must be a boolean, got 1/);
  });

  it('rejects a batch shape the positional embedding cannot hold', async () => {
    await expectRejected(create({}, {}, { seqLen: 3, readout: { start: 0, count: 1 } }), ConfigError, /seqLen: 3 exceeds .* 2 rows/);
    await expectRejected(create({}, {}, { batch: 0 }), ConfigError, /batch: must be a positive integer/);
  });

  it('rejects a model whose buffers exceed the adapter limits, naming the buffer and the limit', async () => {
    const rt = await testRuntime();
    const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
    const vocabSize = Math.ceil(limit / 4 / base.model.dModel) + 1; // tok_emb alone is over the limit
    await expectRejected(create({ vocabSize, nClasses: 3 }), GpuLimitError, /buffer params needs \d+ bytes, above this adapter's max\w+ of \d+ bytes/);
    await expectRejected(create({}, {}, { batch: Math.ceil(limit / 4 / 128) + 1 }), GpuLimitError, /buffer \S+ needs \d+ bytes/);
  });
});
