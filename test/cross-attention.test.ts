// Cross-attention (decoder queries over encoder keys: tq != tk, Q and K/V in separate tensors with their own
// row strides, source key padding) through the same attention kernels as self-attention, against the float64
// oracle; and the oracle itself against finite differences and against self-attention.
//
// Tolerances are the self-attention kernel's (test/attention.test.ts): out atol 2e-6 + rtol 2e-5, probs atol
// 1e-6 + rtol 2e-5, dQ / dKV atol 5e-6 + rtol 1e-4 (logits here stay below ~10, where these hold as they are).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { finiteDifferenceGradient } from './helpers/finite-difference';
import { packTensors } from './helpers/packed';
import { crossAttentionBackward as gpuBackward, crossAttentionForward as gpuForward } from '../src/model/ops/attention';
import { attentionBackward, attentionForward, crossAttentionBackward, crossAttentionForward, type CrossShape } from '../src/reference/attention';
import { Rng } from '../src/util/random';

interface Case {
  name: string;
  B: number;
  tq: number;
  tk: number;
  H: number;
  dh: number;
  /** Source key padding: valid(b, j) false marks a PAD key. Absent: no keyValid buffer. */
  valid?: (b: number, j: number) => boolean;
}

/** Inputs drawn as float32 values, so the GPU and the float64 oracle see exactly the same numbers. */
function inputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const d = c.H * c.dh;
  const f32 = (n: number) => Float64Array.from(Float32Array.from({ length: n }, () => rng.normal()));
  const valid = c.valid;
  const keyValid = valid ? Uint32Array.from({ length: c.B * c.tk }, (_, r) => (valid(Math.floor(r / c.tk), r % c.tk) ? 1 : 0)) : null;
  const shape: CrossShape = { batch: c.B, tq: c.tq, tk: c.tk, nHeads: c.H, headDim: c.dh, keyValid };
  return { q: f32(c.B * c.tq * d), kv: f32(c.B * c.tk * 2 * d), dOut: f32(c.B * c.tq * d), shape };
}

describe('cross-attention reference (float64)', () => {
  it('backward matches central finite differences of the forward, with source padding', () => {
    const c: Case = { name: 'fd', B: 2, tq: 4, tk: 3, H: 2, dh: 3, valid: (b, j) => b === 0 || j < 2 };
    const x = inputs(c, 11);
    const objective = (q: Float64Array, kv: Float64Array) => crossAttentionForward(q, kv, x.shape).out.reduce((s, o, i) => s + o * x.dOut[i], 0);
    const { probs } = crossAttentionForward(x.q, x.kv, x.shape);
    const { dq, dkv } = crossAttentionBackward(x.dOut, x.q, x.kv, probs, x.shape);
    expectClose(dq, finiteDifferenceGradient((q) => objective(q, x.kv), x.q), { atol: 1e-8, rtol: 1e-6 }, 'dq vs finite differences');
    expectClose(dkv, finiteDifferenceGradient((kv) => objective(x.q, kv), x.kv), { atol: 1e-8, rtol: 1e-6 }, 'dkv vs finite differences');
    // PAD keys (sequence 1, key 2) get no gradient at all.
    const d = c.H * c.dh;
    expect(Array.from(dkv.subarray((1 * c.tk + 2) * 2 * d, (1 * c.tk + 3) * 2 * d))).toEqual(new Array(2 * d).fill(0));
  });

  it('equals bidirectional self-attention when Q, K, V come from the same rows', () => {
    const B = 2, T = 5, H = 2, dh = 4, d = H * dh;
    const rng = new Rng(4);
    const qkv = Float64Array.from({ length: B * T * 3 * d }, () => rng.normal());
    const dOut = Float64Array.from({ length: B * T * d }, () => rng.normal());
    const keyValid = Uint32Array.from({ length: B * T }, (_, r) => (r % T < 4 ? 1 : 0));
    const q = new Float64Array(B * T * d);
    const kv = new Float64Array(B * T * 2 * d);
    for (let r = 0; r < B * T; r++) {
      q.set(qkv.subarray(r * 3 * d, r * 3 * d + d), r * d);
      kv.set(qkv.subarray(r * 3 * d + d, (r + 1) * 3 * d), r * 2 * d);
    }
    const shape: CrossShape = { batch: B, tq: T, tk: T, nHeads: H, headDim: dh, keyValid };
    const self = attentionForward(qkv, B, T, H, dh, false, keyValid);
    const cross = crossAttentionForward(q, kv, shape);
    expectClose(cross.out, self.out, { atol: 1e-14, rtol: 1e-12 }, 'out');
    const dSelf = attentionBackward(dOut, qkv, self.probs, B, T, H, dh, false, keyValid);
    const dCross = crossAttentionBackward(dOut, q, kv, cross.probs, shape);
    for (let r = 0; r < B * T; r++) {
      expectClose(dCross.dq.subarray(r * d, (r + 1) * d), dSelf.subarray(r * 3 * d, r * 3 * d + d), { atol: 1e-14, rtol: 1e-12 }, `dq row ${r}`);
      expectClose(dCross.dkv.subarray(r * 2 * d, (r + 1) * 2 * d), dSelf.subarray(r * 3 * d + d, (r + 1) * 3 * d), { atol: 1e-14, rtol: 1e-12 }, `dkv row ${r}`);
    }
  });
});

const GPU_CASES: Case[] = [
  { name: 'B=1 tq=1 tk=1 dh=3', B: 1, tq: 1, tk: 1, H: 1, dh: 3 },
  { name: 'B=2 tq=5 tk=3 dh=4, source padding', B: 2, tq: 5, tk: 3, H: 2, dh: 4, valid: (b, j) => j < [3, 1][b] },
  { name: 'B=3 tq=3 tk=9 dh=6 (more keys than queries)', B: 3, tq: 3, tk: 9, H: 3, dh: 6, valid: (b, j) => j < 9 - 3 * b },
  { name: 'SCAN-like B=3 tq=49 tk=11 dh=16, source padding', B: 3, tq: 49, tk: 11, H: 4, dh: 16, valid: (b, j) => j < [11, 6, 3][b] },
  { name: 'B=1 tq=60 tk=70 dh=8 (two query blocks in the backward)', B: 1, tq: 60, tk: 70, H: 2, dh: 8, valid: (_, j) => j % 7 !== 3 },
];

describe('cross-attention on the GPU vs the float64 reference', () => {
  it.each(GPU_CASES)('$name', async (c) => {
    const rt = await testRuntime();
    const x = inputs(c, 7);
    const d = c.H * c.dh;
    const nan = (n: number) => new Float32Array(n).fill(NaN);
    const sizes = { out: c.B * c.tq * d, probs: c.B * c.H * c.tq * c.tk, dQ: c.B * c.tq * d, dKv: c.B * c.tk * 2 * d };
    // Inputs and outputs packed into one buffer at ragged offsets with NaN gaps, except dKv, which gets its own
    // buffer as in the model (the kernel then binds three distinct buffers).
    const packed = packTensors(rt, 'cross', { q: x.q, kv: x.kv, dOut: x.dOut, out: nan(sizes.out), probs: nan(sizes.probs), ds: nan(sizes.probs), dQ: nan(sizes.dQ) });
    const dKv = packTensors(rt, 'cross.dKv', { dKv: nan(sizes.dKv) });
    const before = await rt.readF32(packed.buffer);
    const keyValid = x.shape.keyValid ? rt.storageFrom('keyValid', x.shape.keyValid) : undefined;
    const shape = { keyValid, batch: c.B, tq: c.tq, tk: c.tk, nHeads: c.H, headDim: c.dh };
    const { q, kv, dOut, out, probs, ds, dQ } = packed.ref;
    rt.run([
      await gpuForward(rt, { ...shape, q, kv, out, probs }),
      ...(await gpuBackward(rt, { ...shape, q, kv, probs, ds, dOut, dQ, dKv: dKv.ref.dKv })),
    ]);

    const want = crossAttentionForward(x.q, x.kv, x.shape);
    const wantGrad = crossAttentionBackward(x.dOut, x.q, x.kv, want.probs, x.shape);
    expectClose(await packed.read('out'), want.out, { atol: 2e-6, rtol: 2e-5 }, 'out');
    expectClose(await packed.read('probs'), want.probs, { atol: 1e-6, rtol: 2e-5 }, 'probs');
    expectClose(await packed.read('dQ'), wantGrad.dq, { atol: 5e-6, rtol: 1e-4 }, 'dQ');
    expectClose(await dKv.read('dKv'), wantGrad.dkv, { atol: 5e-6, rtol: 1e-4 }, 'dKv');

    const after = await rt.readF32(packed.buffer);
    const written = [out, probs, ds, dQ].map((r, i) => [r.offset, r.offset + [sizes.out, sizes.probs, sizes.probs, sizes.dQ][i]]);
    const stray = after.findIndex((v, i) => !written.some(([lo, hi]) => i >= lo && i < hi) && !Object.is(v, before[i]));
    expect(stray, 'an element outside out, probs, the scratch ds and dQ changed').toBe(-1);
    packed.buffer.destroy();
    dKv.buffer.destroy();
    keyValid?.destroy();
  });
});
