import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose, type Tolerance } from './helpers/close';
import { finiteDifferenceGradient } from './helpers/finite-difference';
import { packTensors } from './helpers/packed';
import { Rng } from '../src/util/random';
import * as oracle from '../src/reference/layernorm';
import { embeddingForward as embeddingOracle } from '../src/reference/embedding';
import { embeddingForward } from '../src/model/ops/embedding';
import { chooseLayerNormKernel, normBackward, normForward, type LayerNormKernel } from '../src/model/ops/layernorm';

/**
 * [rows, d]: ragged, below and above one workgroup (64 threads: 64 rows of the serial variant) and one column
 * block (8 columns for the tree variant, 64 for the serial one).
 */
const SHAPES: [number, number][] = [
  [1, 1],
  [7, 7],
  [33, 33],
  [65, 1],
  [2, 130],
  [70, 130],
];

// f32 kernels against the f64 oracle, set 3x or more above the worst errors of the tree variant measured on
// SwiftShader (y 8e-7, mean 3e-7, rstd 5e-8 relative, dx 7e-7, dGamma 3e-6 absolute). The serial variant
// sums a row (130 values) or a column (70 values) in one invocation: its worst errors reach 0.47 of TOL_STATS
// (rstd, 3e-7 relative) and 0.4 of TOL_DPARAM, and at most 0.19 of the others.
const TOL_Y: Tolerance = { atol: 3e-6, rtol: 1e-6 };
const TOL_STATS: Tolerance = { atol: 1e-7, rtol: 5e-7 };
const TOL_DX: Tolerance = { atol: 3e-6, rtol: 1e-5 };
const TOL_DPARAM: Tolerance = { atol: 1e-5, rtol: 1e-6 };

/**
 * dx = rstd * (gamma*dy - mean(gamma*dy) - ...): one rounding of gamma*dy (which a GPU compiler may fuse into an
 * FMA with the subtraction, as NVIDIA's does) is multiplied by rstd. Rows of width 1 have zero variance, so rstd is
 * 1/sqrt(eps) ~ 316 there: the absolute tolerance scales with the largest rstd (1 for the well-conditioned rows).
 * On an H100 the width-1 cases err by up to 3e-5 (0.03 of the scaled tolerance); elsewhere as on SwiftShader.
 */
function dxTolerance(rstd: ArrayLike<number>): Tolerance {
  return { ...TOL_DX, atol: TOL_DX.atol * Math.max(1, ...Array.from(rstd)) };
}

/** Gaussian values rounded to f32, so GPU and oracle see the same inputs. */
function gaussian(rng: Rng, n: number, mean = 0, std = 1): Float64Array {
  return Float64Array.from(Float32Array.from({ length: n }, () => mean + std * rng.normal()));
}

/** Inputs with a large row mean (3) next to unit spread, which a one-pass variance would get wrong. */
function inputs(rows: number, d: number, seed: number) {
  const rng = new Rng(seed);
  return {
    x: gaussian(rng, rows * d, 3),
    g: gaussian(rng, d, 1, 0.2),
    b: gaussian(rng, d, 0, 0.2),
    dy: gaussian(rng, rows * d),
    residual: gaussian(rng, rows * d),
  };
}

describe('LayerNorm float64 oracle', () => {
  it.each([
    [3, 7],
    [2, 1],
    [1, 33],
  ])('backward of %i x %i matches central finite differences of the forward', (rows, d) => {
    const { x, g, b, dy } = inputs(rows, d, 11);
    const loss = (xx: Float64Array, gg: Float64Array, bb: Float64Array) =>
      oracle.layerNormForward(xx, gg, bb, rows, d).y.reduce((s, y, i) => s + y * dy[i], 0);
    const { mean, rstd } = oracle.layerNormForward(x, g, b, rows, d);
    const grad = oracle.layerNormBackward(dy, x, g, mean, rstd, rows, d);
    const fd = { atol: 1e-8, rtol: 1e-6 };
    expectClose(grad.dx, finiteDifferenceGradient((xx) => loss(xx, g, b), x), fd, 'dx');
    expectClose(grad.dg, finiteDifferenceGradient((gg) => loss(x, gg, b), g), fd, 'dg');
    expectClose(grad.db, finiteDifferenceGradient((bb) => loss(x, g, bb), b), fd, 'db');
  });
});

describe('LayerNorm kernel choice', () => {
  it('is barrier-free on CPU implementations of WebGPU and the tree reduction on GPUs', () => {
    expect(chooseLayerNormKernel({ isSoftware: true })).toEqual({ kind: 'serial' });
    expect(chooseLayerNormKernel({ isSoftware: false })).toEqual({ kind: 'tree' });
  });
});

// Every GPU test runs on both variants, whichever this adapter would choose.
const KERNELS: LayerNormKernel[] = [{ kind: 'tree' }, { kind: 'serial' }];

describe.each(KERNELS)('LayerNorm on the GPU ($kind)', (kernel) => {
  it.each(SHAPES)('forward of %i x %i matches the oracle', async (rows, d) => {
    const rt = await testRuntime();
    const { x, g, b } = inputs(rows, d, 1);
    const want = oracle.layerNormForward(x, g, b, rows, d);
    const params = packTensors(rt, 'params', { g, b });
    // x, y and the statistics share one buffer, as in the engine's activation arena.
    const acts = packTensors(rt, 'acts', { x, y: new Float32Array(rows * d), mean: new Float32Array(rows), rstd: new Float32Array(rows) });
    const { ref } = acts;
    rt.run([await normForward(rt, { ...ref, gamma: params.ref.g, beta: params.ref.b, rows, d, kernel })]);
    expectClose(await acts.read('y'), want.y, TOL_Y, 'y');
    expectClose(await acts.read('mean'), want.mean, TOL_STATS, 'mean');
    expectClose(await acts.read('rstd'), want.rstd, TOL_STATS, 'rstd');
  });

  // residualGrad: none; in its own buffer; in dx's buffer at another offset; the very tensor dx (in place).
  const FORMS = ['none', 'other buffer', 'same buffer', 'in place'] as const;
  const CASES = SHAPES.flatMap(([rows, d]) => FORMS.map((form) => [rows, d, form] as const));

  it.each(CASES)('backward of %i x %i (residual: %s) matches the oracle', async (rows, d, form) => {
    const rt = await testRuntime();
    const { x, g, b, dy, residual } = inputs(rows, d, 2);
    const stats = oracle.layerNormForward(x, g, b, rows, d);
    const want = oracle.layerNormBackward(dy, x, g, stats.mean, stats.rstd, rows, d);
    const wantDx = form === 'none' ? want.dx : want.dx.map((v, i) => v + residual[i]);

    const params = packTensors(rt, 'params', { g });
    // dGamma and dBeta share the gradient buffer, as in the engine.
    const grads = packTensors(rt, 'grads', { dg: new Float32Array(d).fill(NaN), db: new Float32Array(d).fill(NaN) });
    const acts = packTensors(rt, 'acts', { x, mean: stats.mean, rstd: stats.rstd });
    const dxInit = form === 'in place' ? residual : new Float32Array(rows * d).fill(NaN);
    const dacts = packTensors(rt, 'dacts', { dy, dx: dxInit, residual: form === 'same buffer' ? residual : [] });
    const otherBuffer = packTensors(rt, 'residual', { residual });
    const residualGrad = { none: undefined, 'other buffer': otherBuffer.ref.residual, 'same buffer': dacts.ref.residual, 'in place': dacts.ref.dx }[form];

    rt.run([
      await normBackward(rt, {
        dy: dacts.ref.dy,
        x: acts.ref.x,
        gamma: params.ref.g,
        mean: acts.ref.mean,
        rstd: acts.ref.rstd,
        dx: dacts.ref.dx,
        dGamma: grads.ref.dg,
        dBeta: grads.ref.db,
        rows,
        d,
        residualGrad,
        kernel,
      }),
    ]);
    expectClose(await dacts.read('dx'), wantDx, dxTolerance(stats.rstd), 'dx');
    expectClose(await grads.read('dg'), want.dg, TOL_DPARAM, 'dGamma');
    expectClose(await grads.read('db'), want.db, TOL_DPARAM, 'dBeta');
  });

  it('backward is bitwise reproducible', async () => {
    const rt = await testRuntime();
    const [rows, d] = [70, 130];
    const { x, g, b, dy } = inputs(rows, d, 3);
    const stats = oracle.layerNormForward(x, g, b, rows, d);
    const t = packTensors(rt, 'all', { x, g, dy, mean: stats.mean, rstd: stats.rstd, dx: new Float32Array(rows * d), dg: new Float32Array(d), db: new Float32Array(d) });
    const { ref } = t;
    const step = await normBackward(rt, { ...ref, gamma: ref.g, dGamma: ref.dg, dBeta: ref.db, rows, d, kernel });
    const results = [];
    for (let i = 0; i < 2; i++) {
      rt.run([step]);
      results.push([...(await t.read('dx')), ...(await t.read('dg')), ...(await t.read('db'))]);
    }
    expect(results[1]).toEqual(results[0]);
  });

  it('a constant row (variance 0) stays finite in both directions', async () => {
    const rt = await testRuntime();
    const [rows, d] = [3, 33];
    const { g, b, dy } = inputs(rows, d, 4);
    const x = Float64Array.from({ length: rows * d }, (_, i) => Math.fround([0.1, -5, 0][Math.floor(i / d)]));
    const want = oracle.layerNormForward(x, g, b, rows, d);
    const wantGrad = oracle.layerNormBackward(dy, x, g, want.mean, want.rstd, rows, d);
    const t = packTensors(rt, 'all', {
      x,
      g,
      b,
      dy,
      y: new Float32Array(rows * d),
      mean: new Float32Array(rows),
      rstd: new Float32Array(rows),
      dx: new Float32Array(rows * d),
      dg: new Float32Array(d),
      db: new Float32Array(d),
    });
    const { ref } = t;
    rt.run([
      await normForward(rt, { ...ref, gamma: ref.g, beta: ref.b, rows, d, kernel }),
      await normBackward(rt, { ...ref, gamma: ref.g, dGamma: ref.dg, dBeta: ref.db, rows, d, kernel }),
    ]);
    // rstd = 1/sqrt(eps) ~ 316 amplifies the f32 rounding of the mean into y (3e-6 measured) and scales
    // dx to ~100 (1e-4 absolute, 6e-7 relative measured): the tolerances are looser here.
    const y = await t.read('y');
    expect(y.every(Number.isFinite)).toBe(true);
    expectClose(y, want.y, { atol: 1.5e-5, rtol: 1e-6 }, 'y');
    expectClose(await t.read('rstd'), want.rstd, TOL_STATS, 'rstd');
    const dx = await t.read('dx');
    expect(dx.every(Number.isFinite)).toBe(true);
    expectClose(dx, wantGrad.dx, { atol: 1e-5, rtol: 3e-6 }, 'dx');
    expectClose(await t.read('dg'), wantGrad.dg, { atol: 2e-5, rtol: 1e-6 }, 'dGamma');
    expectClose(await t.read('db'), wantGrad.db, TOL_DPARAM, 'dBeta');
  });
});

// ---------------------------------------------------------------------------------------------------
// RMSNorm (norm 'rms') and QK-norm: the same kernel without the mean and beta, over row-major rows and over the
// heads of a fused qkv (shaders/layernorm.wgsl's segmented layout). The LayerNorm tolerances above hold with room:
// on SwiftShader the worst errors of either variant are 0.34 of TOL_DPARAM (dGamma, 70 x 130), 0.29 of TOL_STATS
// (rstd), 0.11 of TOL_Y and 0.06 of TOL_DX.

/** Row-major inputs as above, with row 1 (when there is one) all zero: rstd = 1/sqrt(eps) there. */
function rmsInputs(rows: number, d: number, seed: number) {
  const t = inputs(rows, d, seed);
  if (rows > 1) t.x.fill(0, d, 2 * d);
  return t;
}

/** A fused qkv [tokens, 3d] and the heads of its Q and K (oracle.HeadColumns), d = nHeads * dh. */
function qkvHeads(tokens: number, nHeads: number, dh: number) {
  const d = nHeads * dh;
  const heads = (column: number): oracle.HeadColumns => ({ rows: tokens, stride: 3 * d, column, nHeads, headDim: dh });
  return { d, q: heads(0), k: heads(d) };
}

/** Columns [from, from + width) of every row of a [rows, stride] array. */
function columns(data: ArrayLike<number>, rows: number, stride: number, from: number, width: number): Float64Array {
  return Float64Array.from({ length: rows * width }, (_, e) => data[Math.floor(e / width) * stride + from + (e % width)]);
}

describe('RMSNorm and per-head RMSNorm float64 oracles', () => {
  it.each([
    [3, 7],
    [2, 1],
    [1, 33],
  ])('RMSNorm backward of %i x %i matches central finite differences of the forward', (rows, d) => {
    const { x, g, dy } = inputs(rows, d, 12);
    const loss = (xx: Float64Array, gg: Float64Array) => oracle.rmsNormForward(xx, gg, rows, d).y.reduce((s, y, i) => s + y * dy[i], 0);
    const grad = oracle.rmsNormBackward(dy, x, g, oracle.rmsNormForward(x, g, rows, d).rstd, rows, d);
    const fd = { atol: 1e-8, rtol: 1e-6 };
    expectClose(grad.dx, finiteDifferenceGradient((xx) => loss(xx, g), x), fd, 'dx');
    expectClose(grad.dg, finiteDifferenceGradient((gg) => loss(x, gg), g), fd, 'dg');
  });

  it('per-head RMSNorm of Q and K normalises each head, leaves V alone, and its backward matches finite differences', () => {
    const [tokens, nHeads, dh] = [3, 2, 4];
    const { d, q, k } = qkvHeads(tokens, nHeads, dh);
    const rng = new Rng(13);
    const qkv = gaussian(rng, tokens * 3 * d, 0.5);
    const [gq, gk] = [gaussian(rng, dh, 1, 0.2), gaussian(rng, dh, 1, 0.2)];
    const dOut = gaussian(rng, tokens * 3 * d);
    const forward = (x: Float64Array, a: Float64Array, b: Float64Array) => {
      const qn = oracle.headRmsNormForward(x, a, q);
      const kn = oracle.headRmsNormForward(qn.out, b, k);
      return { out: kn.out, rstdQ: qn.rstd, rstdK: kn.rstd };
    };
    const f = forward(qkv, gq, gk);
    expect(Array.from(columns(f.out, tokens, 3 * d, 2 * d, d))).toEqual(Array.from(columns(qkv, tokens, 3 * d, 2 * d, d)));
    // Each head of Q, divided by its gain, has mean square 1 (up to eps).
    const head = columns(f.out, tokens, 3 * d, dh, dh).subarray(0, dh).map((v, i) => v / gq[i]);
    expect(head.reduce((s, v) => s + v * v, 0) / dh).toBeCloseTo(1, 4);

    const loss = (x: Float64Array, a: Float64Array, b: Float64Array) => forward(x, a, b).out.reduce((s, y, i) => s + y * dOut[i], 0);
    const dk = oracle.headRmsNormBackward(dOut, qkv, gk, f.rstdK, k);
    const dq = oracle.headRmsNormBackward(dk.dData, qkv, gq, f.rstdQ, q);
    const fd = { atol: 1e-8, rtol: 1e-6 };
    expectClose(dq.dData, finiteDifferenceGradient((x) => loss(x, gq, gk), qkv), fd, 'dqkv');
    expectClose(dq.dg, finiteDifferenceGradient((a) => loss(qkv, a, gk), gq), fd, 'dgq');
    expectClose(dk.dg, finiteDifferenceGradient((b) => loss(qkv, gq, b), gk), fd, 'dgk');
  });
});

describe.each(KERNELS)('RMSNorm and QK-norm on the GPU ($kind)', (kernel) => {
  it.each(SHAPES)('RMSNorm forward and backward (residual in place) of %i x %i match the oracle', async (rows, d) => {
    const rt = await testRuntime();
    const { x, g, dy, residual } = rmsInputs(rows, d, 5);
    const want = oracle.rmsNormForward(x, g, rows, d);
    const wantGrad = oracle.rmsNormBackward(dy, x, g, want.rstd, rows, d);
    const t = packTensors(rt, 'all', { x, g, dy, y: new Float32Array(rows * d), rstd: new Float32Array(rows), dx: residual, dg: new Float32Array(d).fill(NaN) });
    const { ref } = t;
    rt.run([
      await normForward(rt, { kind: 'rms', x: ref.x, gamma: ref.g, y: ref.y, rstd: ref.rstd, rows, d, kernel }),
      await normBackward(rt, { kind: 'rms', dy: ref.dy, x: ref.x, gamma: ref.g, rstd: ref.rstd, dx: ref.dx, residualGrad: ref.dx, dGamma: ref.dg, rows, d, kernel }),
    ]);
    // The zero row's y is exactly 0 whatever rstd is; its dx is rstd * g * dy (~316 dy), hence dxTolerance.
    expectClose(await t.read('y'), want.y, TOL_Y, 'y');
    expectClose(await t.read('rstd'), want.rstd, TOL_STATS, 'rstd');
    expectClose(await t.read('dx'), wantGrad.dx.map((v, i) => v + residual[i]), dxTolerance(want.rstd), 'dx');
    expectClose(await t.read('dg'), wantGrad.dg, TOL_DPARAM, 'dGamma');
  });

  // [tokens, nHeads, headDim]: one token; ragged heads; more head vectors (2 * tokens * nHeads = 132) than one
  // workgroup of the serial variant holds, and gain columns (2 headDim = 66) past one column block.
  it.each([
    [1, 1, 3],
    [5, 3, 5],
    [33, 2, 33],
  ])('QK-norm of %i tokens x %i heads of %i: every head of Q and K of a fused qkv, two gains, matches the oracle', async (tokens, nHeads, dh) => {
    const rt = await testRuntime();
    const { d, q, k } = qkvHeads(tokens, nHeads, dh);
    const rng = new Rng(6);
    const qkv = gaussian(rng, tokens * 3 * d, 0.5);
    const [gq, gk] = [gaussian(rng, dh, 1, 0.2), gaussian(rng, dh, 1, 0.2)];
    const dy = gaussian(rng, tokens * 2 * d);
    const dV = gaussian(rng, tokens * 3 * d); // what the attention backward left in dqkv's V columns
    // The oracle over qkv-shaped arrays: the normalised q|k are its first 2d columns, rstd q heads then k heads.
    const qn = oracle.headRmsNormForward(qkv, gq, q);
    const kn = oracle.headRmsNormForward(qn.out, gk, k);
    const dOut = Float64Array.from(dV, (v, e) => (e % (3 * d) < 2 * d ? dy[Math.floor(e / (3 * d)) * 2 * d + (e % (3 * d))] : v));
    const dk = oracle.headRmsNormBackward(dOut, qkv, gk, kn.rstd, k);
    const dq = oracle.headRmsNormBackward(dk.dData, qkv, gq, qn.rstd, q);
    const rstd = Float64Array.from({ length: tokens * 2 * nHeads }, (_, r) => {
      const [t, h] = [Math.floor(r / (2 * nHeads)), r % (2 * nHeads)];
      return h < nHeads ? qn.rstd[t * nHeads + h] : kn.rstd[t * nHeads + h - nHeads];
    });

    const dqkvInit = Float64Array.from(dV, (v, e) => (e % (3 * d) < 2 * d ? NaN : v));
    const t = packTensors(rt, 'all', { qkv, g: [...gq, ...gk], dy, y: new Float32Array(tokens * 2 * d), rstd: new Float32Array(rstd.length), dqkv: dqkvInit, dg: new Float32Array(2 * dh).fill(NaN) });
    const { ref } = t;
    const layout = { segments: 2 * nHeads, segmentsPerGain: nHeads, xStride: 3 * d, yStride: 2 * d };
    const shape = { rows: tokens * 2 * nHeads, d: dh, layout, kernel };
    rt.run([
      await normForward(rt, { kind: 'rms', x: ref.qkv, gamma: ref.g, y: ref.y, rstd: ref.rstd, ...shape }),
      await normBackward(rt, { kind: 'rms', dy: ref.dy, x: ref.qkv, gamma: ref.g, rstd: ref.rstd, dx: ref.dqkv, dGamma: ref.dg, ...shape }),
    ]);
    expectClose(await t.read('y'), columns(kn.out, tokens, 3 * d, 0, 2 * d), TOL_Y, 'q|k');
    expectClose(await t.read('rstd'), rstd, TOL_STATS, 'rstd');
    // dx fills Q's and K's columns of dqkv and leaves V's as they were, bit for bit.
    expectClose(await t.read('dqkv'), dq.dData, TOL_DX, 'dqkv');
    expect(Array.from(columns(await t.read('dqkv'), tokens, 3 * d, 2 * d, d))).toEqual(Array.from(columns(dqkvInit, tokens, 3 * d, 2 * d, d)));
    expectClose(await t.read('dg'), [...dq.dg, ...dk.dg], TOL_DPARAM, 'dGamma (q, k)');
  });
});

// The final LayerNorm of a model read out at some positions (fused graph): the window of each sequence's readout
// rows is normalised into a compact y, and the backward takes dy = 0 elsewhere. Same tolerances as above; rows
// outside the window keep exactly their residual gradient.
describe.each(KERNELS)('LayerNorm over a window of readout rows on the GPU ($kind)', (kernel) => {
  it.each([
    [5, 3, 33, 1, 1],
    [4, 5, 70, 2, 2],
    [65, 2, 7, 0, 1],
  ])('%i sequences of %i rows of %i, window [%i, +%i): forward, backward with the residual in place, match the oracle', async (batch, seqLen, d, start, count) => {
    const rt = await testRuntime();
    const rows = batch * seqLen;
    const { x, g, b, dy: dyFull, residual } = inputs(rows, d, 7);
    const shown = (r: number) => r % seqLen >= start && r % seqLen < start + count;
    const windowRows = Array.from({ length: rows }, (_, r) => r).filter(shown);
    const pick = (a: Float64Array) => Float64Array.from(windowRows.flatMap((r) => Array.from(a.subarray(r * d, (r + 1) * d))));
    const dy = pick(dyFull);
    const dyZeroElsewhere = Float64Array.from(dyFull, (v, e) => (shown(Math.floor(e / d)) ? v : 0));
    const want = oracle.layerNormForward(x, g, b, rows, d);
    const wantGrad = oracle.layerNormBackward(dyZeroElsewhere, x, g, want.mean, want.rstd, rows, d);
    const t = packTensors(rt, 'all', {
      x, g, b, dy,
      y: new Float32Array(windowRows.length * d).fill(NaN),
      mean: new Float32Array(rows),
      rstd: new Float32Array(rows),
      dx: residual,
      dg: new Float32Array(d).fill(NaN),
      db: new Float32Array(d).fill(NaN),
    });
    const { ref } = t;
    const layout = { segments: seqLen, segmentsPerGain: seqLen, xStride: seqLen * d, yStride: count * d, window: { start, count } };
    rt.run([
      await normForward(rt, { ...ref, gamma: ref.g, beta: ref.b, rows, d, layout, kernel }),
      await normBackward(rt, { ...ref, gamma: ref.g, dGamma: ref.dg, dBeta: ref.db, residualGrad: ref.dx, rows, d, layout, kernel }),
    ]);
    expectClose(await t.read('y'), pick(want.y), TOL_Y, 'y');
    const [mean, rstd] = [await t.read('mean'), await t.read('rstd')];
    expectClose(windowRows.map((r) => mean[r]), windowRows.map((r) => want.mean[r]), TOL_STATS, 'mean');
    expectClose(windowRows.map((r) => rstd[r]), windowRows.map((r) => want.rstd[r]), TOL_STATS, 'rstd');
    const dx = await t.read('dx');
    expectClose(dx, wantGrad.dx.map((v, i) => v + residual[i]), dxTolerance(want.rstd), 'dx');
    expect(Array.from(dx).filter((v, e) => !shown(Math.floor(e / d)) && v !== Math.fround(residual[e])), 'dx outside the window').toEqual([]);
    expectClose(await t.read('dg'), wantGrad.dg, TOL_DPARAM, 'dGamma');
    expectClose(await t.read('db'), wantGrad.db, TOL_DPARAM, 'dBeta');
  });

  it('rejects a window outside the segments or with several gains', async () => {
    const rt = await testRuntime();
    const buf = rt.storage('norm', 4096 * 4);
    const a = { x: { buffer: buf, offset: 0 }, gamma: { buffer: buf, offset: 1000 }, beta: { buffer: buf, offset: 1100 }, y: { buffer: buf, offset: 2000 }, mean: { buffer: buf, offset: 3000 }, rstd: { buffer: buf, offset: 3100 }, rows: 12, d: 8, kernel };
    expect(() => normForward(rt, { ...a, layout: { segments: 3, segmentsPerGain: 3, xStride: 24, yStride: 16, window: { start: 2, count: 2 } } })).toThrow(/bad layout/);
    expect(() => normForward(rt, { ...a, layout: { segments: 4, segmentsPerGain: 2, xStride: 32, yStride: 8, window: { start: 0, count: 1 } } })).toThrow(/bad layout/);
  });
});

// The model's first norm with the embeddings as its input (fused graph): x comes out as the embedding kernel writes
// it, and y, mean and rstd as the norm of that x computes them, bit for bit; against the oracle, the tolerances above.
describe.each(KERNELS)('LayerNorm of the embeddings on the GPU ($kind)', (kernel) => {
  it.each([
    [3, 5, 33, 7],
    [70, 2, 130, 31],
  ])('%i sequences of %i tokens, d = %i, vocabulary %i (and one id past it): x bit for bit, y and stats as the oracle', async (batch, seqLen, d, vocab) => {
    const rt = await testRuntime();
    const rows = batch * seqLen;
    const rng = new Rng(9);
    const tokens = Uint32Array.from({ length: rows }, (_, r) => (r === 1 ? vocab : Math.floor(rng.uniform() * vocab)));
    const [tok, pos, g, b] = [gaussian(rng, vocab * d, 1), gaussian(rng, seqLen * d, 2), gaussian(rng, d, 1, 0.2), gaussian(rng, d, 0, 0.2)];
    const t = packTensors(rt, 'all', {
      tok, pos, g, b,
      x: new Float32Array(rows * d).fill(NaN),
      xAlone: new Float32Array(rows * d).fill(NaN),
      y: new Float32Array(rows * d).fill(NaN),
      yAlone: new Float32Array(rows * d).fill(NaN),
      mean: new Float32Array(rows),
      rstd: new Float32Array(rows),
    });
    const { ref } = t;
    const tokenBuffer = rt.storageFrom('tokens', tokens);
    const embed = { tokens: tokenBuffer, tokEmb: ref.tok, posEmb: ref.pos, seqLen, vocab };
    rt.run([await normForward(rt, { x: ref.x, gamma: ref.g, beta: ref.b, y: ref.y, mean: ref.mean, rstd: ref.rstd, rows, d, embed, kernel })]);
    const [x, y, mean, rstd] = [await t.read('x'), await t.read('y'), await t.read('mean'), await t.read('rstd')];
    rt.run([
      await embeddingForward(rt, { ...embed, out: ref.xAlone, batch, d }),
      await normForward(rt, { x: ref.xAlone, gamma: ref.g, beta: ref.b, y: ref.yAlone, mean: ref.mean, rstd: ref.rstd, rows, d, kernel }),
    ]);
    expect(x).toEqual(await t.read('xAlone'));
    expect(y).toEqual(await t.read('yAlone'));
    expect([mean, rstd]).toEqual([await t.read('mean'), await t.read('rstd')]);
    const want = oracle.layerNormForward(embeddingOracle(tokens, tok, pos, batch, seqLen, d), g, b, rows, d);
    expectClose(y, want.y, TOL_Y, 'y');
    expectClose(rstd, want.rstd, TOL_STATS, 'rstd');
    tokenBuffer.destroy();
  });
});
