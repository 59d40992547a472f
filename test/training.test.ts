// Training end to end on the GPU: a tiny modular-addition model memorises its training set, and the same seed
// reproduces every loss bit for bit.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { TrainingEngine } from '../src/model/engine';
import { Evaluator } from '../src/train/evaluator';
import { modArithBatch, modArithSplit } from '../src/tasks/modarith';
import type { ModelConfig } from '../src/formats/model-config';

const p = 13;
const config: ModelConfig = { nLayers: 1, dModel: 32, nHeads: 4, dFF: 64, vocabSize: p, maxPositions: 2, nClasses: p, causal: false, posInitStd: 1 / Math.sqrt(32) };
const optim = { lr: 1e-2, weightDecay: 1, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

async function train(seed: number, steps: number) {
  const rt = await testRuntime();
  const split = modArithSplit({ p, op: 'add', trainFraction: 0.7, seed });
  const batch = modArithBatch(split.train, Array.from(split.train.y, (_, i) => i));
  const shape = { batch: split.train.y.length, seqLen: 2, readout: { start: 0, count: 1 } };
  const engine = await TrainingEngine.create(rt, { config, shape, optim, seed });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    if (s % 10 === 0 || s === steps - 1) losses.push((await engine.step(batch, { readback: true })).loss);
    else engine.step(batch);
  }
  return { losses, params: await engine.readParams(), engine, batch, shape };
}

describe('training a tiny modular-addition model', () => {
  it('drives the training loss down, and the same seed gives bit-identical losses and parameters', async () => {
    const first = await train(42, 300);
    const initial = first.losses[0];
    const final = first.losses[first.losses.length - 1];
    expect(initial).toBeGreaterThan(0.8 * Math.log(p)); // near chance at the start
    expect(final).toBeLessThan(0.1 * initial);
    expect(first.losses.every(Number.isFinite)).toBe(true);

    const second = await train(42, 300);
    expect(second.losses).toEqual(first.losses);
    expect(Buffer.from(second.params.buffer).equals(Buffer.from(first.params.buffer))).toBe(true);

    // Evaluation in ragged chunks (with a padded last chunk) agrees with one chunk holding every sequence,
    // and the memorised training set is classified correctly.
    const rt = await testRuntime();
    const evaluate = async (chunk: number) =>
      (await Evaluator.create(rt, config, first.engine.state, first.shape, chunk)).evaluate(first.batch);
    const whole = await evaluate(first.shape.batch);
    const chunked = await evaluate(50);
    expect(chunked.scored).toBe(first.shape.batch);
    expect(chunked.accuracy).toBe(whole.accuracy);
    expect(Math.abs(chunked.loss - whole.loss)).toBeLessThan(1e-6);
    expect(whole.accuracy).toBeGreaterThan(0.9);

    const otherSeed = await train(43, 20);
    expect(otherSeed.losses).not.toEqual(first.losses.slice(0, otherSeed.losses.length));
  });
});
