import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose, type Tolerance } from './helpers/close';
import { finiteDifferenceGradient } from './helpers/finite-difference';
import { packTensors } from './helpers/packed';
import { SHORT_SEQUENCE, attentionBackward as gpuBackward, attentionForward as gpuForward } from '../src/model/ops/attention';
import { attentionBackward, attentionForward } from '../src/reference/attention';
import { Rng } from '../src/util/random';

interface Case {
  name: string;
  B: number;
  T: number;
  H: number;
  dh: number;
  causal: boolean;
  /** Key padding: valid(b, t) false marks a PAD key. Absent: no keyValid buffer at all. */
  valid?: (b: number, t: number) => boolean;
  /** Multiplies Q and K, to push the logits far beyond exp's range. */
  qkScale?: number;
}

/** Inputs drawn as float32 values, so the GPU and the float64 oracle see exactly the same numbers. */
function inputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const d = c.H * c.dh;
  const rows = c.B * c.T;
  const qkv = Float64Array.from(Float32Array.from({ length: rows * 3 * d }, (_, e) => rng.normal() * (e % (3 * d) < 2 * d ? (c.qkScale ?? 1) : 1)));
  const dOut = Float64Array.from(Float32Array.from({ length: rows * d }, () => rng.normal()));
  const valid = c.valid;
  const keyValid = valid ? Uint32Array.from({ length: rows }, (_, r) => (valid(Math.floor(r / c.T), r % c.T) ? 1 : 0)) : null;
  return { qkv, dOut, keyValid };
}

// ---------------------------------------------------------------------------------------------------
// The float64 oracle itself.

describe('attention reference (float64)', () => {
  it.each<Case>([
    { name: 'bidirectional with an all-PAD sequence', B: 2, T: 4, H: 2, dh: 3, causal: false, valid: (b, t) => b === 0 && t < 3 },
    { name: 'causal with leading PAD keys (fully masked first queries)', B: 2, T: 5, H: 2, dh: 3, causal: true, valid: (b, t) => b === 0 || t >= 2 },
  ])('backward matches central finite differences of the forward: $name', (c) => {
    const { qkv, dOut, keyValid } = inputs(c, 11);
    // Loss = sum(out * dOut), so its gradient with respect to qkv is attentionBackward(dOut, ...).
    const loss = (x: Float64Array) => attentionForward(x, c.B, c.T, c.H, c.dh, c.causal, keyValid).out.reduce((s, o, i) => s + o * dOut[i], 0);
    const { probs } = attentionForward(qkv, c.B, c.T, c.H, c.dh, c.causal, keyValid);
    const analytic = attentionBackward(dOut, qkv, probs, c.B, c.T, c.H, c.dh, c.causal, keyValid);
    const numeric = finiteDifferenceGradient(loss, qkv);
    expectClose(analytic, numeric, { atol: 1e-8, rtol: 1e-6 }, 'dqkv vs finite differences');
    expect(analytic.some((g) => g !== 0)).toBe(true);
  });

  it('gives probability rows that sum to 1, and treats PAD keys as absent', () => {
    const c: Case = { name: 'padding', B: 1, T: 7, H: 2, dh: 4, causal: false, valid: (_, t) => t < 5 };
    const { qkv, keyValid } = inputs(c, 3);
    const padded = attentionForward(qkv, c.B, c.T, c.H, c.dh, c.causal, keyValid);
    // The same sequence cut to its 5 real tokens, with no mask at all.
    const d = c.H * c.dh;
    const cut = attentionForward(qkv.slice(0, 5 * 3 * d), 1, 5, c.H, c.dh, false, null);
    expectClose(padded.out.slice(0, 5 * d), cut.out, { atol: 1e-15, rtol: 1e-12 }, 'out, padded vs cut');
    for (let row = 0; row < c.H * c.T; row++) {
      const sum = padded.probs.slice(row * c.T, (row + 1) * c.T).reduce((s, x) => s + x, 0);
      expect(sum).toBeCloseTo(1, 12);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// GPU (float32) against the oracle. All float tensors share one buffer at ragged offsets with NaN gaps
// (as the engine packs activations), outputs start as NaN, and every element outside the outputs must
// come back unchanged.

/** Runs forward then backward on the GPU and returns out, probs and dQkv. */
async function runGpu(c: Case, x: ReturnType<typeof inputs>, split?: boolean) {
  const rt = await testRuntime();
  const d = c.H * c.dh;
  const rows = c.B * c.T;
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const packed = packTensors(rt, 'attention', {
    qkv: x.qkv,
    out: nan(rows * d),
    dOut: x.dOut,
    probs: nan(c.B * c.H * c.T * c.T),
    ds: nan(c.B * c.H * c.T * c.T),
    dQkv: nan(rows * 3 * d),
  });
  const before = await rt.readF32(packed.buffer);
  const keyValid = x.keyValid ? rt.storageFrom('keyValid', x.keyValid) : undefined;
  const shape = { keyValid, batch: c.B, seqLen: c.T, nHeads: c.H, headDim: c.dh, causal: c.causal };
  const { qkv, out, dOut, probs, ds, dQkv } = packed.ref;
  const forward = await gpuForward(rt, { ...shape, qkv, out, probs });
  const backward = await gpuBackward(rt, { ...shape, qkv, probs, ds, dOut, dQkv, split });
  rt.run([forward, ...backward]);
  const result = { out: await packed.read('out'), probs: await packed.read('probs'), dQkv: await packed.read('dQkv'), backwardDispatches: backward.length };

  const after = await rt.readF32(packed.buffer);
  const written = [out, probs, ds, dQkv].map((r, i) => [r.offset, r.offset + [rows * d, c.B * c.H * c.T * c.T, c.B * c.H * c.T * c.T, rows * 3 * d][i]]);
  const stray = after.findIndex((v, i) => !written.some(([lo, hi]) => i >= lo && i < hi) && !Object.is(v, before[i]));
  expect(stray, 'an element outside out, probs, the scratch ds and dQkv changed').toBe(-1);
  packed.buffer.destroy();
  keyValid?.destroy();
  return result;
}

const TOL: Record<'out' | 'probs' | 'dQkv', Tolerance> = {
  out: { atol: 2e-6, rtol: 2e-5 },
  probs: { atol: 1e-6, rtol: 2e-5 },
  dQkv: { atol: 5e-6, rtol: 1e-4 },
};

/** Largest |logit| = |q.k| / sqrt(dh) over every (batch, head, query, key). */
function maxAbsLogit(c: Case, qkv: Float64Array): number {
  const d = c.H * c.dh;
  let max = 0;
  for (let b = 0; b < c.B; b++)
    for (let h = 0; h < c.H; h++)
      for (let i = 0; i < c.T; i++)
        for (let j = 0; j < c.T; j++) {
          let s = 0;
          for (let k = 0; k < c.dh; k++) s += qkv[(b * c.T + i) * 3 * d + h * c.dh + k] * qkv[(b * c.T + j) * 3 * d + d + h * c.dh + k];
          max = Math.max(max, Math.abs(s) / Math.sqrt(c.dh));
        }
  return max;
}

/**
 * A float32 logit of size L carries an absolute rounding error of about L * 2^-24, which becomes a relative
 * error of every probability (and of everything computed from them); so rtol grows with L, 8 ulps' worth.
 */
function logitTolerance(t: Tolerance, L: number): Tolerance {
  return { atol: t.atol, rtol: Math.max(t.rtol, 8 * L * 2 ** -24) };
}

const GPU_CASES: Case[] = [
  { name: 'B=1 T=1 dh=3, bidirectional', B: 1, T: 1, H: 1, dh: 3, causal: false },
  { name: 'B=3 T=2 dh=8, bidirectional', B: 3, T: 2, H: 3, dh: 8, causal: false },
  { name: 'B=3 T=4 dh=5, causal + key padding', B: 3, T: 4, H: 3, dh: 5, causal: true, valid: (b, t) => t < [4, 3, 1][b] },
  { name: 'B=3 T=5 dh=8, causal', B: 3, T: 5, H: 2, dh: 8, causal: true },
  { name: 'B=3 T=24 dh=16, key padding', B: 3, T: 24, H: 4, dh: 16, causal: false, valid: (b, t) => t < [24, 13, 1][b] },
  { name: 'B=1 T=37 dh=32, causal + key padding', B: 1, T: 37, H: 2, dh: 32, causal: true, valid: (_, t) => t % 5 !== 3 && t < 30 },
  { name: 'B=1 T=37 dh=64, causal', B: 1, T: 37, H: 2, dh: 64, causal: true },
  { name: 'B=1 T=70 dh=8, causal + key padding (several query blocks in the backward)', B: 1, T: 70, H: 1, dh: 8, causal: true, valid: (_, t) => t % 9 !== 4 },
  // Logits up to a few thousand: exp overflows float32 unless the row max is subtracted first.
  { name: 'B=3 T=24 dh=32, q and k scaled by 30', B: 3, T: 24, H: 2, dh: 32, causal: true, qkScale: 30 },
];

describe('attention on the GPU vs the float64 reference', () => {
  it.each(GPU_CASES)('$name', async (c) => {
    const x = inputs(c, 7);
    const want = attentionForward(x.qkv, c.B, c.T, c.H, c.dh, c.causal, x.keyValid);
    const wantDQkv = attentionBackward(x.dOut, x.qkv, want.probs, c.B, c.T, c.H, c.dh, c.causal, x.keyValid);
    const got = await runGpu(c, x);
    const L = maxAbsLogit(c, x.qkv);
    const tol = (t: Tolerance) => logitTolerance(t, L);
    expectClose(got.out, want.out, tol(TOL.out), 'out');
    expectClose(got.probs, want.probs, tol(TOL.probs), 'probs');
    expectClose(got.dQkv, wantDQkv, tol(TOL.dQkv), 'dQkv');
  });

  it('runs the backward of sequences up to SHORT_SEQUENCE in one dispatch, bit for bit as the two-dispatch one', async () => {
    for (const c of GPU_CASES.filter((g) => g.T <= SHORT_SEQUENCE)) {
      const x = inputs(c, 8);
      const [one, two] = [await runGpu(c, x), await runGpu(c, x, true)];
      expect([one.backwardDispatches, two.backwardDispatches], c.name).toEqual([1, 2]);
      expect(one.dQkv, c.name).toEqual(two.dQkv);
    }
    const longer = GPU_CASES.find((g) => g.T > SHORT_SEQUENCE)!;
    expect((await runGpu(longer, inputs(longer, 8))).backwardDispatches).toBe(2);
  });

  it('gives a query that sees no key zero output and zero gradient, as the reference defines', async () => {
    // Sequence 0: key 0 is PAD, so causal query 0 sees nothing. Sequence 1: every key is PAD.
    const c: Case = { name: 'fully masked', B: 2, T: 5, H: 2, dh: 8, causal: true, valid: (b, t) => b === 0 && t > 0 };
    const x = inputs(c, 5);
    const got = await runGpu(c, x);
    const d = c.H * c.dh;
    const maskedRows = [0, 5, 6, 7, 8, 9]; // (b, t) rows whose queries see no key
    for (const r of maskedRows) {
      expect(Array.from(got.out.slice(r * d, (r + 1) * d)), `out row ${r}`).toEqual(new Array(d).fill(0));
      expect(Array.from(got.dQkv.slice(r * 3 * d, r * 3 * d + d)), `dQ row ${r}`).toEqual(new Array(d).fill(0));
    }
    const want = attentionForward(x.qkv, c.B, c.T, c.H, c.dh, c.causal, x.keyValid);
    expectClose(got.out, want.out, TOL.out, 'out');
    expectClose(got.dQkv, attentionBackward(x.dOut, x.qkv, want.probs, c.B, c.T, c.H, c.dh, c.causal, x.keyValid), TOL.dQkv, 'dQkv');
    expect(got.out.some((v) => v !== 0)).toBe(true);
  });
});
