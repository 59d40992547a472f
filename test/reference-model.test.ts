// Finite-difference check of the float64 reference model's gradient: every parameter group, bidirectional and
// causal attention, padding, and the architecture options (RMSNorm, QK-norm and its gains). Central differences with h = 1e-6 in float64 agree to about 1e-8 relative, so a
// tolerance of 1e-6 (relative to the largest gradient entry of the group, plus 1e-9) catches any wrong term.
import { describe, expect, it } from 'vitest';
import { buildParamTable, initParams } from '../src/model/params';
import { referenceForward, referenceLossAndGrad } from '../src/reference/model';
import { Rng } from '../src/util/random';
import { TINY_ARCHITECTURE_CASES, TINY_CASES, TINY_ENCODER_DECODER_CASES } from './helpers/tiny-models';
import { syntheticBatch } from '../src/tasks/synthetic';

describe.each([...TINY_CASES, ...TINY_ENCODER_DECODER_CASES, ...TINY_ARCHITECTURE_CASES])('reference model gradient ($name)', (c) => {
  it('matches central finite differences in every parameter group', () => {
    const table = buildParamTable(c.config);
    const params = Float64Array.from(initParams(table, 3));
    // Non-trivial LayerNorm affine parameters and biases, so that their gradients are exercised too.
    const rng = new Rng(11);
    for (const s of table.slices) if (s.init.kind === 'zeros' || s.init.kind === 'ones') {
      for (let i = 0; i < s.size; i++) params[s.offset + i] += 0.2 * rng.normal();
    }
    const data = syntheticBatch(c.config, c.shape, 5);
    const { grad } = referenceLossAndGrad(c.config, table, params, c.shape, data);
    const loss = (p: Float64Array) => referenceForward(c.config, table, p, c.shape, data).loss;
    const h = 1e-6;
    for (const s of table.slices) {
      const scale = Math.max(...Array.from(grad.subarray(s.offset, s.offset + s.size), Math.abs));
      // Up to 6 entries per group, spread over the slice.
      const picks = new Set(Array.from({ length: Math.min(6, s.size) }, (_, k) => Math.floor((k * s.size) / Math.min(6, s.size))));
      for (const i of picks) {
        const p = params.slice();
        p[s.offset + i] += h;
        const up = loss(p);
        p[s.offset + i] -= 2 * h;
        const down = loss(p);
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - grad[s.offset + i]), `${s.name}[${i}]: fd ${fd}, analytic ${grad[s.offset + i]}`).toBeLessThanOrEqual(1e-9 + 1e-6 * scale);
      }
    }
  });
});

it('positional rows past the sequence length get zero gradient and the loss is finite', () => {
  const c = TINY_CASES[1];
  const table = buildParamTable(c.config);
  const params = Float64Array.from(initParams(table, 1));
  const { loss, grad } = referenceLossAndGrad(c.config, table, params, c.shape, syntheticBatch(c.config, c.shape, 2));
  expect(Number.isFinite(loss)).toBe(true);
  const pos = table.get('pos_emb');
  const d = c.config.dModel;
  const unused = grad.subarray(pos.offset + c.shape.seqLen * d, pos.offset + pos.size);
  expect(unused.length).toBeGreaterThan(0);
  expect(unused.every((g) => g === 0)).toBe(true);
});
