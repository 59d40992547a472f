// The optimiser's exact gradient/decay split (docs/science.md §2) against the float64 reference AdamW, on a tiny model
// trained for a few steps: the decay accumulator must hold sum_t -lr*wd*theta_before(t) and the gradient
// accumulator sum_t (Adam step), element by element over the tracked slice (theta_attn, and a ragged slice that
// starts and ends mid-tensor), each step's reference taken from the GPU's own float32 parameters and gradients.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { clipAndAdamW } from '../src/reference/adamw';
import { TrainingEngine } from '../src/model/engine';
import { syntheticBatch } from '../src/tasks/synthetic';
import { TINY_CASES } from './helpers/tiny-models';

const STEPS = 6;

describe('gradient/decay split in AdamW vs the float64 reference', () => {
  for (const which of ['attn', 'ragged'] as const) {
    it(`accumulates the decay part and the Adam part of each step (${which} slice)`, async () => {
      const rt = await testRuntime();
      const c = TINY_CASES[0];
      // lr large enough that the parameters move visibly; the tiny model's gradients are clipped (norm > 1).
      const optim = { lr: 2e-2, weightDecay: 0.7, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
      const probe = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 5 });
      const total = probe.table.total;
      const slice = which === 'attn' ? probe.table.attn : { offset: 7, size: total - 20 };
      const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 5, splitSlice: slice });
      const { offset, size } = slice;

      const m = new Float64Array(total);
      const v = new Float64Array(total);
      const decay = new Float64Array(size);
      const adam = new Float64Array(size);
      const start = await engine.readParams();
      let clipped = 0;
      for (let t = 1; t <= STEPS; t++) {
        const before = await engine.readParams();
        engine.step(syntheticBatch(c.config, c.shape, 40 + t));
        const grads = Float64Array.from(await engine.readGrads());
        const ref = Float64Array.from(before);
        const { gradNorm } = clipAndAdamW(ref, grads, m, v, t, optim);
        if (gradNorm > optim.clipNorm) clipped++;
        const keep = 1 - optim.lr * optim.weightDecay;
        for (let j = 0; j < size; j++) {
          const b = before[offset + j];
          decay[j] += -optim.lr * optim.weightDecay * b;
          adam[j] += ref[offset + j] - b * keep;
        }
      }
      expect(clipped, 'some steps clip the gradient').toBeGreaterThan(0);
      const acc = await rt.readF32(engine.splitAccumulator!.buffer, 0, 2 * size);
      const after = await engine.readParams();

      // Decay: per step, lr*wd rounded to float32 and the product each cost 2^-24 relative of |d| = lr*wd*|theta|,
      // and the k-th addition rounds a sum of size <= k|d|; over N steps that is (N(N+3)/2 + 1) 2^-24 |d| at most
      // (5.7e-8 here; measured worst 1.9e-8).
      const thetaScale = Math.max(...Array.from(start, Math.abs));
      const decayAtol = ((STEPS * (STEPS + 3)) / 2 + 1) * 2 ** -24 * optim.lr * optim.weightDecay * thetaScale;
      expectClose(acc.subarray(0, size), decay, { atol: decayAtol, rtol: 0 }, 'decay part');
      // Adam part: each step moves an element by at most ~lr; the float32 moments and the division carry ~1e-6
      // relative error (test/adamw.test.ts), and the float32 moments drift from the float64 ones over the steps,
      // so allow 1e-5 of lr per step absolute (1.2e-6; measured worst 9.4e-8).
      expectClose(acc.subarray(size), adam, { atol: STEPS * 1e-5 * optim.lr, rtol: 1e-5 }, 'Adam part');
      // The parts are not trivially small: the Adam part dominates one element's change by far.
      expect(Math.max(...Array.from(adam, Math.abs))).toBeGreaterThan(STEPS * optim.lr * 0.5);
      // Together they are the slice's change over the steps, to float32 rounding of the parameters and of the sums
      // (3.7e-6; measured worst 2.6e-7).
      const change = Float64Array.from({ length: size }, (_, j) => after[offset + j] - start[offset + j]);
      const sum = Float64Array.from({ length: size }, (_, j) => acc[j] + acc[size + j]);
      expectClose(sum, change, { atol: 4 * STEPS * 2 ** -24 * (thetaScale + STEPS * optim.lr), rtol: 0 }, 'decay + Adam part');
    });
  }
});
