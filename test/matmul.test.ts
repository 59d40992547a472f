import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import type { GpuRuntime } from '../src/gpu/runtime';
import { expectClose, type Tolerance } from './helpers/close';
import { finiteDifferenceGradient } from './helpers/finite-difference';
import { packTensors } from './helpers/packed';
import { Rng } from '../src/util/random';
import { erf, gelu, geluBackward, linearBackward, linearForward, matmulRef } from '../src/reference/linear';
import { normBackward, normForward } from '../src/model/ops/layernorm';
import { attentionBackward, attentionBackwardAfterProduct, attentionForward, attentionForwardRows } from '../src/model/ops/attention';
import { attentionBackward as attentionBackwardOracle, attentionForward as attentionOracle } from '../src/reference/attention';
import * as normOracle from '../src/reference/layernorm';
import { benchmarkMatmul, chooseMatmulKernel, chooseTiledKernel, groupJobs, kernelName, matmul, matmuls, type MatmulArgs, type MatmulKernel } from '../src/model/ops/matmul';

// GPU (f32, sums in order over k) against the f64 oracle, with inputs in [-1, 1]: the rounding error of a
// length-K dot product grows like sqrt(K) eps, so atol scales with sqrt(K). Worst measured on SwiftShader:
// 0.29 of this tolerance (C, preact and db alike).
const tolMatmul = (K: number): Tolerance => ({ atol: 1e-6 * Math.sqrt(K), rtol: 1e-6 });
// GELU's erfc approximation has fractional error < 1.2e-7, plus f32 rounding of x, exp and the products.
// Worst measured on [-10, 10]: gelu 5.4e-8 absolute (0.12 of this), gelu' 8.4e-8 (0.27 of this).
const TOL_GELU: Tolerance = { atol: 3e-7, rtol: 1e-6 };

/** Uniform values in [-1, 1) rounded to f32, so the GPU and the oracle see the same inputs. */
function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from(Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()));
}

type Epilogue = Pick<MatmulArgs, 'transA' | 'transB'> & {
  bias?: boolean;
  residual?: boolean;
  gelu?: boolean;
  geluGrad?: boolean;
  biasGrad?: boolean;
};

interface Problem {
  M: number;
  N: number;
  K: number;
  a: Float64Array;
  b: Float64Array;
  bias: Float64Array;
  residual: Float64Array;
  preact: Float64Array;
}

function problem(M: number, N: number, K: number, seed: number): Problem {
  const rng = new Rng(seed);
  return {
    M, N, K,
    a: uniform(rng, M * K),
    b: uniform(rng, K * N),
    bias: uniform(rng, N),
    residual: uniform(rng, M * N),
    preact: uniform(rng, M * N, -4, 4),
  };
}

/** The f64 oracle of every output the epilogue writes. */
function oracle(p: Problem, e: Epilogue) {
  const { M, N, K } = p;
  const acc = matmulRef(p.a, p.b, M, N, K, !!e.transA, !!e.transB);
  let v = e.bias ? acc.map((x, i) => x + p.bias[i % N]) : acc;
  const preact = e.gelu ? v : undefined;
  if (e.gelu) v = gelu(v);
  if (e.geluGrad) v = geluBackward(p.preact, v);
  if (e.residual) v = v.map((x, i) => x + p.residual[i]);
  const db = e.biasGrad ? matmulRef(p.a, new Float64Array(K).fill(1), M, 1, K, !!e.transA, false) : undefined;
  return { c: v, preact, db };
}

/**
 * Runs one matmul with inputs packed into one buffer and outputs into another, at ragged offsets with NaN in
 * the gaps (so a stray read or write shows), and checks that nothing outside the outputs was written.
 */
/** A problem's inputs and (NaN-filled) outputs, packed at ragged offsets, and the matmul arguments over them. */
function packProblem(rt: GpuRuntime, p: Problem, e: Epilogue) {
  const { M, N, K } = p;
  const inputs = packTensors(rt, 'inputs', {
    a: Float32Array.from(p.a),
    b: Float32Array.from(p.b),
    bias: Float32Array.from(p.bias),
    residual: Float32Array.from(p.residual),
    preact: Float32Array.from(p.preact),
  });
  const outputs = packTensors(rt, 'outputs', { c: new Float32Array(M * N), preact: new Float32Array(M * N), db: new Float32Array(M) });
  const args: MatmulArgs = {
    M, N, K, transA: e.transA, transB: e.transB,
    a: inputs.ref.a, b: inputs.ref.b, c: outputs.ref.c,
    bias: e.bias ? inputs.ref.bias : undefined,
    residual: e.residual ? inputs.ref.residual : undefined,
    gelu: e.gelu ? { preact: outputs.ref.preact } : undefined,
    geluGrad: e.geluGrad ? { preact: inputs.ref.preact } : undefined,
    biasGrad: e.biasGrad ? outputs.ref.db : undefined,
  };
  /** The outputs, after checking that nothing outside them was written. */
  const results = async () => {
    // Up to the end of db, the last packed tensor (the buffer itself is rounded up to 16 bytes, unwritten).
    const whole = await rt.readF32(outputs.buffer, 0, outputs.ref.db.offset + M);
    const owned = [['c', M * N], ['preact', M * N], ['db', M]] as const;
    const strays = whole.filter((x, i) => !Number.isNaN(x) && !owned.some(([n, len]) => i >= outputs.ref[n].offset && i < outputs.ref[n].offset + len));
    expect(strays.length, 'elements written outside the outputs').toBe(0);
    const result = { c: await outputs.read('c'), preact: await outputs.read('preact'), db: await outputs.read('db') };
    inputs.buffer.destroy();
    outputs.buffer.destroy();
    return result;
  };
  return { args, results };
}

async function runGpu(p: Problem, e: Epilogue, kernel?: MatmulKernel) {
  const rt = await testRuntime();
  const { args, results } = packProblem(rt, p, e);
  rt.run([await matmul(rt, { ...args, kernel })]);
  return results();
}

async function expectMatches(p: Problem, e: Epilogue, kernel?: MatmulKernel) {
  const got = await runGpu(p, e, kernel);
  const want = oracle(p, e);
  const what = `${p.M}x${p.N}x${p.K} ${kernel ? kernelName(kernel) : 'chosen'} ${JSON.stringify(e)}`;
  expectClose(got.c, want.c, tolMatmul(p.K), `${what}: C`);
  if (want.preact) expectClose(got.preact, want.preact, tolMatmul(p.K), `${what}: preact`);
  if (want.db) expectClose(got.db, want.db, tolMatmul(p.K), `${what}: db`);
}

const TILED_DIRECT: MatmulKernel = { kind: 'tiled', wgDim: 8, quads: 2, staged: false };
const TILED_STAGED: MatmulKernel = { kind: 'tiled', wgDim: 16, quads: 1, staged: true };
const TILED_STAGED_SMALL: MatmulKernel = { kind: 'tiled', wgDim: 8, quads: 1, staged: true };
const skinny = (smallSide: 'M' | 'N', slices: number): MatmulKernel => ({ kind: 'skinny', smallSide, slices });
const TRANSPOSES: Epilogue[] = [{}, { transA: true }, { transB: true }, { transA: true, transB: true }];

describe('linear float64 oracle', () => {
  it('erf matches tabulated values', () => {
    // Abramowitz & Stegun table 7.1 / DLMF, to 16 digits.
    const table: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014]];
    for (const [x, value] of table) {
      expect(Math.abs(erf(x) - value), `erf(${x})`).toBeLessThan(2e-16);
      expect(erf(-x)).toBe(-erf(x));
    }
    // The tail, where 1 - erf must not be formed by cancellation: erfc(5) = 1.5374597944280349e-12.
    expect(Math.abs(gelu(Float64Array.of(-5 * Math.SQRT2))[0] / (-5 * Math.SQRT2) - 1.5374597944280349e-12 / 2)).toBeLessThan(1e-25);
  });

  it('linearBackward matches central finite differences of linearForward', () => {
    const [rows, inDim, outDim] = [3, 4, 5];
    const rng = new Rng(1);
    const [x, w, b, g] = [uniform(rng, rows * inDim), uniform(rng, outDim * inDim), uniform(rng, outDim), uniform(rng, rows * outDim)];
    const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) =>
      linearForward(xx, ww, bb, rows, inDim, outDim).reduce((s, y, i) => s + y * g[i], 0);
    const grad = linearBackward(g, x, w, rows, inDim, outDim);
    const fd = { atol: 1e-9, rtol: 1e-7 };
    expectClose(grad.dx, finiteDifferenceGradient((xx) => loss(xx, w, b), x), fd, 'dx');
    expectClose(grad.dw, finiteDifferenceGradient((ww) => loss(x, ww, b), w), fd, 'dw');
    expectClose(grad.db, finiteDifferenceGradient((bb) => loss(x, w, bb), b), fd, 'db');
  });

  it('geluBackward matches central finite differences of gelu', () => {
    const x = Float64Array.from({ length: 41 }, (_, i) => -8 + 0.4 * i + 0.01);
    const dy = uniform(new Rng(2), x.length);
    const grad = geluBackward(x, dy);
    const fd = finiteDifferenceGradient((xx) => gelu(xx).reduce((s, y, i) => s + y * dy[i], 0), x);
    expectClose(grad, fd, { atol: 1e-9, rtol: 1e-7 }, 'gelu grad');
  });
});

describe('matmul kernel choice', () => {
  const software = { isSoftware: true };
  const hardware = { isSoftware: false };
  it('picks the skinny kernel when one side of C has at most 16 outputs', () => {
    expect(chooseMatmulKernel({ M: 1200, N: 13, K: 128 }, hardware)).toEqual(skinny('N', 2));
    expect(chooseMatmulKernel({ M: 13, N: 128, K: 1200, biasGrad: true }, hardware)).toEqual(skinny('M', 32));
    expect(chooseMatmulKernel({ M: 10, N: 10, K: 1 << 17 }, hardware)).toEqual(skinny('M', 64));
    // db is one more column for the skinny kernel: N = 16 with biasGrad no longer fits on the N side.
    expect(chooseMatmulKernel({ M: 512, N: 16, K: 64, biasGrad: true }, hardware).kind).toBe('tiled');
    expect(chooseMatmulKernel({ M: 1200, N: 13, K: 128 }, software)).toEqual(skinny('N', 1));
  });
  it('picks staged tiles on GPUs and direct register blocks on CPU implementations', () => {
    expect(chooseMatmulKernel({ M: 1024, N: 128, K: 128 }, hardware)).toEqual(TILED_STAGED);
    expect(chooseMatmulKernel({ M: 128, N: 97, K: 512 }, hardware)).toEqual(TILED_STAGED_SMALL);
    expect(chooseMatmulKernel({ M: 1024, N: 128, K: 128 }, software)).toEqual(TILED_DIRECT);
  });
});

describe('matmul on the GPU against the float64 oracle', () => {
  // Ragged against 64 x 64 and 32 x 32 tiles, 16-deep slabs and 4-wide register blocks; K = 1 included.
  const tiledShapes: [number, number, number][] = [[65, 130, 17], [130, 65, 1], [17, 64, 130], [1, 3, 65], [64, 17, 64]];
  it.each([TILED_DIRECT, TILED_STAGED, TILED_STAGED_SMALL])('tiled %o: every transpose on ragged shapes', async (kernel) => {
    for (const e of TRANSPOSES) {
      for (const [M, N, K] of tiledShapes) await expectMatches(problem(M, N, K, M + N + K), e, kernel);
    }
  });

  const skinnyShapes: [number, number, number, 'M' | 'N'][] = [[130, 3, 65, 'N'], [17, 13, 130, 'N'], [1, 130, 17, 'M'], [16, 65, 3, 'M']];
  it.each([1, 4])('skinny with %i slices: every transpose on ragged shapes', async (slices) => {
    for (const e of TRANSPOSES) {
      for (const [M, N, K, side] of skinnyShapes) await expectMatches(problem(M, N, K, M * N + K), e, skinny(side, slices));
    }
  });

  // The epilogues as the Linear layer uses them (forward: transB; dX: plain; dW: transA), on every kernel.
  const epilogues: Epilogue[] = [
    { transB: true, bias: true },
    { transB: true, bias: true, gelu: true },
    { transB: true, bias: true, residual: true },
    { geluGrad: true },
    { transA: true, biasGrad: true },
    { biasGrad: true },
  ];
  it.each([
    [TILED_DIRECT, 65, 130, 33],
    [TILED_STAGED, 65, 70, 33],
    [skinny('N', 1), 130, 13, 33],
    [skinny('N', 8), 130, 13, 33],
    [skinny('M', 2), 3, 65, 130],
    [skinny('M', 1), 13, 64, 17],
  ] as [MatmulKernel, number, number, number][])('epilogues on %o, %i x %i x %i', async (kernel, M, N, K) => {
    for (const e of epilogues) await expectMatches(problem(M, N, K, 7), e, kernel);
  });

  it('runs the kernel it chooses on this adapter, for the training shapes of a Linear layer', async () => {
    const [rows, inDim, outDim] = [130, 33, 13];
    await expectMatches(problem(rows, outDim, inDim, 1), { transB: true, bias: true });
    await expectMatches(problem(rows, inDim, outDim, 2), {});
    await expectMatches(problem(outDim, inDim, rows, 3), { transA: true, biasGrad: true });
    await expectMatches(problem(rows, 65, inDim, 4), { transB: true, bias: true, gelu: true });
  });

  it('GELU and its derivative match the float64 versions from -10 to 10', async () => {
    // K = 1 and B = 1, so preact = A + bias: the epilogue evaluated on a dense grid of x.
    const M = 2001;
    const x = Float64Array.from(Float32Array.from({ length: M }, (_, i) => -10 + i / 100));
    const p: Problem = { M, N: 1, K: 1, a: x, b: Float64Array.of(1), bias: Float64Array.of(0), residual: new Float64Array(M), preact: x };
    for (const kernel of [TILED_DIRECT, skinny('N', 1)]) {
      const forward = await runGpu(p, { bias: true, gelu: true }, kernel);
      expectClose(forward.c, gelu(x), TOL_GELU, `gelu ${kernelName(kernel)}`);
      expectClose(forward.preact, x, { atol: 0, rtol: 0 }, 'preact');
      const ones: Problem = { ...p, a: new Float64Array(M).fill(1) };
      const backward = await runGpu(ones, { geluGrad: true }, kernel);
      expectClose(backward.c, geluBackward(x, new Float64Array(M).fill(1)), TOL_GELU, `gelu' ${kernelName(kernel)}`);
    }
  });

  it.each([TILED_DIRECT, TILED_STAGED, skinny('N', 4), skinny('M', 4)])('a NaN in A or B reaches exactly its row or column of C (%o)', async (kernel) => {
    const [M, N, K] = kernel.kind === 'skinny' ? (kernel.smallSide === 'N' ? [70, 9, 40] : [9, 70, 40]) : [70, 66, 40];
    const p = problem(M, N, K, 5);
    const [m0, n0, k0] = [M - 2, N - 1, 17];
    p.a[m0 * K + k0] = NaN;
    p.b[k0 * N + n0] = NaN;
    const got = await runGpu(p, { biasGrad: true }, kernel);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) expect(Number.isNaN(got.c[m * N + n]), `C[${m}, ${n}]`).toBe(m === m0 || n === n0);
      expect(Number.isNaN(got.db[m]), `db[${m}]`).toBe(m === m0);
    }
  });

  // A Linear layer's dW and dX (and an unrelated forward product) as jobs of one dispatch, ragged against the tiles.
  const jobs: [Problem, Epilogue][] = [
    [problem(13, 65, 130, 11), { transA: true, biasGrad: true }],
    [problem(130, 65, 33, 12), { geluGrad: true }],
    [problem(70, 17, 33, 13), { transB: true, bias: true, residual: true }],
    [problem(65, 3, 1, 14), { bias: true, gelu: true }],
  ];
  it.each([TILED_DIRECT, TILED_STAGED_SMALL])('matmuls runs several products in one dispatch, each bit for bit as alone (%o)', async (kernel) => {
    const rt = await testRuntime();
    const together = jobs.map(([p, e]) => packProblem(rt, p, e));
    const d = await matmuls(rt, together.map((j) => j.args), kernel);
    expect(d.flops).toBe(jobs.reduce((sum, [p]) => sum + 2 * p.M * p.N * p.K, 0));
    rt.run([d]);
    for (const [i, [p, e]] of jobs.entries()) {
      const got = await together[i].results();
      const want = oracle(p, e);
      const what = `job ${i}: ${p.M}x${p.N}x${p.K} ${JSON.stringify(e)}`;
      expectClose(got.c, want.c, tolMatmul(p.K), `${what}: C`);
      if (want.preact) expectClose(got.preact, want.preact, tolMatmul(p.K), `${what}: preact`);
      if (want.db) expectClose(got.db, want.db, tolMatmul(p.K), `${what}: db`);
      const alone = await runGpu(p, e, kernel);
      expect(got, what).toEqual(alone);
    }
  });

  it('picks one tile for all the jobs, and rejects a job that writes what another reads', async () => {
    const hardware = { isSoftware: false };
    // 4 + 4 big tiles: too few for 64 x 64 alone and together; 24 + 8 reach 32.
    expect(chooseTiledKernel([{ M: 128, N: 128, K: 8 }, { M: 128, N: 128, K: 8 }], hardware)).toEqual(TILED_STAGED_SMALL);
    expect(chooseTiledKernel([{ M: 1536, N: 64, K: 8 }, { M: 128, N: 256, K: 8 }], hardware)).toEqual(TILED_STAGED);
    const rt = await testRuntime();
    const buf = rt.storage('shared', 1000 * 4);
    const job = (a: number, b: number, c: number): MatmulArgs => ({ M: 10, N: 10, K: 10, a: { buffer: buf, offset: a }, b: { buffer: buf, offset: b }, c: { buffer: buf, offset: c } });
    await expect(matmuls(rt, [job(0, 100, 200), job(300, 400, 50)])).rejects.toThrow(/job 1's c overlaps job 0's a/);
    await expect(matmuls(rt, [job(0, 100, 200), job(300, 400, 250)])).rejects.toThrow(/job 0's c overlaps job 1's c/);
    await expect(matmuls(rt, [job(0, 100, 200), job(0, 100, 300)])).resolves.toBeDefined();
  });

  it('packs jobs into as few dispatches as the storage-buffer bindings allow', async () => {
    const rt = await testRuntime();
    const [x, y, z, w] = ['x', 'y', 'z', 'w'].map((n) => rt.storage(n, 400 * 4));
    const job = (a: GPUBuffer, b: GPUBuffer, c: GPUBuffer): MatmulArgs => ({ M: 10, N: 10, K: 10, a: { buffer: a, offset: 0 }, b: { buffer: b, offset: 100 }, c: { buffer: c, offset: 200 } });
    const jobs = [job(x, y, z), job(z, y, x), job(w, w, w), job(w, x, w)];
    const sizes = (max: number) => groupJobs(jobs, max).map((g) => g.length);
    expect(sizes(4)).toEqual([4]);
    expect(sizes(3)).toEqual([2, 2]);
    expect(sizes(1)).toEqual([1, 1, 1, 1]);
    for (const b of [x, y, z, w]) b.destroy();
  });

  it('rejects outputs that overlap an operand and contradictory epilogues', async () => {
    const rt = await testRuntime();
    const buf = rt.storage('shared', 1000 * 4);
    const base = { M: 10, N: 10, K: 10, a: { buffer: buf, offset: 0 }, b: { buffer: buf, offset: 100 } };
    await expect(matmul(rt, { ...base, c: { buffer: buf, offset: 150 } })).rejects.toThrow(/c overlaps b/);
    const c = { buffer: buf, offset: 200 };
    await expect(matmul(rt, { ...base, c, gelu: { preact: { buffer: buf, offset: 300 } }, geluGrad: { preact: { buffer: buf, offset: 300 } } })).rejects.toThrow(/gelu/);
    await expect(matmul(rt, { ...base, c: { buffer: buf, offset: 950 } })).rejects.toThrow(RangeError);
    await expect(matmul(rt, { ...base, c, kernel: skinny('N', 1) })).resolves.toBeDefined();
    await expect(matmul(rt, { ...base, N: 17, c, kernel: skinny('N', 1) })).rejects.toThrow(/skinny/);
  });

  it('benchmarkMatmul times a product', async () => {
    const rt = await testRuntime();
    const r = await benchmarkMatmul(rt, 65, 33, 17, { transB: true, bias: true, iterations: 2, repetitions: 1 });
    expect(r.ms).toBeGreaterThan(0);
    expect(r.gflops).toBeCloseTo((2 * 65 * 33 * 17) / (r.ms * 1e6), 6);
  });
});

// The fused graph's norm on load: A = LayerNorm or RMSNorm of x (or of the embeddings, which it then writes to x),
// computed by the product itself. Against the norm kernel (the variant whose order of summation it is told to follow)
// followed by the same product on that kernel's output: the same bits for C, preact, A (written), the statistics and x.
// Against float64: the norm's tolerances (test/layernorm.test.ts) on A and the statistics, the matmul's on C.
// Ragged M (past one 64-row tile; whole sequences of 3 with the embeddings), N and K (below and above the tree variant's 64 lanes, neither a multiple of them).
describe('matmul with a norm on load', () => {
  const CASES = [
    { kernel: TILED_DIRECT, norm: 'layer', order: 'serial', M: 70, N: 37, K: 100, embed: false },
    { kernel: TILED_DIRECT, norm: 'rms', order: 'tree', M: 9, N: 70, K: 37, embed: true },
    { kernel: TILED_STAGED_SMALL, norm: 'layer', order: 'tree', M: 69, N: 37, K: 37, embed: true },
    { kernel: TILED_STAGED, norm: 'rms', order: 'serial', M: 33, N: 5, K: 100, embed: false },
  ] as const;
  it.each(CASES)('$norm norm ($order order), $M x $N x $K, embeddings $embed, on $kernel.wgDim x $kernel.wgDim staged $kernel.staged', async (c) => {
    const rt = await testRuntime();
    const { M, N, K } = c;
    const rng = new Rng(M + N + K);
    const seqLen = 3;
    const vocab = 5;
    // Tokens past the vocabulary (PAD) have no token embedding.
    const tokens = Uint32Array.from({ length: M }, () => rng.int(vocab + 1));
    const tokEmb = uniform(rng, vocab * K, 2, 4);
    const posEmb = uniform(rng, seqLen * K);
    const x = c.embed
      ? Float64Array.from({ length: M * K }, (_, e) => {
          const [r, i] = [Math.floor(e / K), e % K];
          return Math.fround(posEmb[(r % seqLen) * K + i] + (tokens[r] < vocab ? tokEmb[tokens[r] * K + i] : 0));
        })
      : uniform(rng, M * K, 2, 4);
    const [g, beta, w, bias] = [uniform(rng, K, 0.5, 1.5), uniform(rng, K), uniform(rng, N * K), uniform(rng, N)];
    const params = packTensors(rt, 'params', { x: c.embed ? new Float32Array(M * K) : x, tokEmb, posEmb, g, beta, w, bias });
    const fresh = () => ({ x: new Float32Array(M * K), y: new Float32Array(M * K), mean: new Float32Array(M), rstd: new Float32Array(M), preact: new Float32Array(M * N), c: new Float32Array(M * N) });
    const [fused, alone] = [packTensors(rt, 'fused', fresh()), packTensors(rt, 'alone', fresh())];
    const tokensBuf = rt.storageFrom('tokens', tokens);
    const embed = c.embed ? { tokens: tokensBuf, tokEmb: params.ref.tokEmb, posEmb: params.ref.posEmb, seqLen, vocab } : undefined;
    const layer = c.norm === 'layer';
    const order = { kind: c.order };
    const product = (o: typeof fused) => ({ M, N, K, a: o.ref.y, b: params.ref.w, transB: true, bias: params.ref.bias, gelu: { preact: o.ref.preact }, c: o.ref.c, kernel: c.kernel });
    const xOf = (o: typeof fused) => (c.embed ? o.ref.x : params.ref.x);
    const lnArgs = (o: typeof fused) => ({ x: xOf(o), gamma: params.ref.g, rstd: o.ref.rstd, embed });
    rt.run([
      await matmul(rt, { ...product(fused), norm: layer ? { ...lnArgs(fused), kind: 'layer', beta: params.ref.beta, mean: fused.ref.mean, kernel: order } : { ...lnArgs(fused), kind: 'rms', kernel: order } }),
      layer
        ? await normForward(rt, { ...lnArgs(alone), rows: M, d: K, kernel: order, beta: params.ref.beta, y: alone.ref.y, mean: alone.ref.mean })
        : await normForward(rt, { ...lnArgs(alone), rows: M, d: K, kernel: order, kind: 'rms', y: alone.ref.y }),
      await matmul(rt, product(alone)),
    ]);
    for (const name of ['x', 'y', 'mean', 'rstd', 'preact', 'c'] as const) expect(await fused.read(name), name).toEqual(await alone.read(name));

    const ref = layer ? normOracle.layerNormForward(x, g, beta, M, K) : { ...normOracle.rmsNormForward(x, g, M, K), mean: null };
    expectClose(await fused.read('y'), ref.y, { atol: 3e-6, rtol: 1e-6 }, 'A');
    expectClose(await fused.read('rstd'), ref.rstd, { atol: 1e-7, rtol: 5e-7 }, 'rstd');
    if (ref.mean) expectClose(await fused.read('mean'), ref.mean, { atol: 1e-7, rtol: 5e-7 }, 'mean');
    if (c.embed) expectClose(await fused.read('x'), x, { atol: 0, rtol: 0 }, 'x');
    const pre = linearForward(ref.y, w, bias, M, K, N);
    expectClose(await fused.read('preact'), pre, tolMatmul(K), 'preact');
    expectClose(await fused.read('c'), gelu(pre), tolMatmul(K), 'C');
    tokensBuf.destroy();
  });

  it('refuses a norm on the skinny kernel, on a transposed A, or beside another job', async () => {
    const rt = await testRuntime();
    const buf = rt.storage('shared', 1000 * 4);
    const ref = (offset: number) => ({ buffer: buf, offset });
    const job: MatmulArgs = { M: 10, N: 10, K: 10, a: ref(0), b: ref(100), c: ref(200), norm: { kind: 'rms', x: ref(300), gamma: ref(400), rstd: ref(500) } };
    expect(chooseMatmulKernel(job, { isSoftware: true }).kind).toBe('tiled');
    await expect(matmul(rt, { ...job, kernel: { kind: 'skinny', smallSide: 'M', slices: 1 } })).rejects.toThrow(/norm on load needs the tiled kernel/);
    await expect(matmul(rt, { ...job, transA: true })).rejects.toThrow(/norm on load needs the tiled kernel/);
    await expect(matmuls(rt, [job, { M: 10, N: 10, K: 10, a: ref(600), b: ref(700), c: ref(800) }])).rejects.toThrow(/only job/);
    buf.destroy();
  });
});

// The fused graph's norm backward on GPUs: the product whose C is a norm's output gradient dy computes the norm's dx in
// its epilogue (each workgroup a strip of whole rows), beside another job, and a later dispatch sums the gain gradients
// beside its product; under a window (the final norm of a model read out at some positions) C holds only the window's
// rows. Against the product followed by the norm's backward kernel (the variant whose order of summation they are told
// to follow): the same bits for C, dx, dGamma and dBeta. Against float64 (on the GPU's dy): the norm's backward
// tolerances (test/layernorm.test.ts), scaled by the largest |dy|. Ragged M (past one strip of 64 rows), d (below and
// above the tree variant's 64 lanes and one tile's 64 columns), K.
describe('matmul with a norm backward in its epilogue, and the gain sums beside another product', () => {
  const CASES = [
    { kernel: TILED_DIRECT, norm: 'layer', order: 'serial', M: 70, d: 100, K: 37, residual: true, window: undefined },
    { kernel: TILED_STAGED_SMALL, norm: 'rms', order: 'tree', M: 69, d: 37, K: 70, residual: false, window: undefined },
    { kernel: TILED_STAGED, norm: 'layer', order: 'tree', M: 33, d: 130, K: 5, residual: true, window: undefined },
    { kernel: TILED_DIRECT, norm: 'layer', order: 'tree', M: 36, d: 21, K: 9, residual: false, window: { seqLen: 3, start: 1, count: 2 } },
  ] as const;
  it.each(CASES)('$norm norm ($order order), $M x $d from K $K, residual $residual, window $window, on $kernel.wgDim x $kernel.wgDim staged $kernel.staged', async (c) => {
    const rt = await testRuntime();
    const { M, d, K, window } = c;
    // x, dx and the statistics: a row per position; dy (C): a row per position in the window.
    const rows = window ? (M / window.count) * window.seqLen : M;
    const rng = new Rng(M + d + K);
    const layer = c.norm === 'layer';
    const order = { kind: c.order };
    const [a, w, x, g, residual] = [uniform(rng, M * K), uniform(rng, K * d), uniform(rng, rows * d, 2, 4), uniform(rng, d, 0.5, 1.5), uniform(rng, rows * d)];
    const [a2, b2] = [uniform(rng, 9 * K), uniform(rng, K * 11)];
    const params = packTensors(rt, 'params', { w, g, beta: new Float32Array(d), a2, b2 });
    // The forward's statistics, as the norm kernel of this order computes them.
    const stats = packTensors(rt, 'stats', { x, y: new Float32Array(rows * d), mean: new Float32Array(rows), rstd: new Float32Array(rows), a });
    const fwd = { x: stats.ref.x, gamma: params.ref.g, y: stats.ref.y, rstd: stats.ref.rstd, rows, d, kernel: order };
    rt.run([layer ? await normForward(rt, { ...fwd, beta: params.ref.beta, mean: stats.ref.mean }) : await normForward(rt, { ...fwd, kind: 'rms' })]);
    const fresh = () => ({ dy: new Float32Array(M * d), dx: c.residual ? residual : new Float32Array(rows * d).fill(NaN), dg: new Float32Array(d).fill(NaN), db: new Float32Array(d).fill(NaN), c2: new Float32Array(99) });
    const [fused, alone] = [packTensors(rt, 'fused', fresh()), packTensors(rt, 'alone', fresh())];
    const product = (o: typeof fused): MatmulArgs => ({ M, N: d, K, a: stats.ref.a, b: params.ref.w, c: o.ref.dy, kernel: c.kernel });
    const other = (o: typeof fused): MatmulArgs => ({ M: 9, N: 11, K, a: params.ref.a2, b: params.ref.b2, c: o.ref.c2 });
    const statsOf = layer ? { kind: 'layer' as const, mean: stats.ref.mean } : { kind: 'rms' as const };
    const normGrad = { ...statsOf, x: stats.ref.x, gamma: params.ref.g, rstd: stats.ref.rstd, dx: fused.ref.dx, residual: c.residual, window, kernel: order };
    const gains = { x: stats.ref.x, rstd: stats.ref.rstd, dy: fused.ref.dy, dGamma: fused.ref.dg, rows: M, d, window, kernel: order };
    const kernel = c.kernel as Extract<MatmulKernel, { kind: 'tiled' }>;
    const layout = window && { segments: window.seqLen, segmentsPerGain: window.seqLen, xStride: window.seqLen * d, yStride: window.count * d, window };
    const bwd = { dy: alone.ref.dy, x: stats.ref.x, gamma: params.ref.g, rstd: stats.ref.rstd, dx: alone.ref.dx, dGamma: alone.ref.dg, rows, d, layout, kernel: order, residualGrad: c.residual ? alone.ref.dx : undefined };
    rt.run([
      await matmuls(rt, [other(fused), { ...product(fused), normGrad }], kernel),
      await matmuls(rt, [other(fused)], kernel, layer ? { ...gains, kind: 'layer', mean: stats.ref.mean, dBeta: fused.ref.db } : { ...gains, kind: 'rms' }),
      await matmul(rt, product(alone)),
      layer ? await normBackward(rt, { ...bwd, mean: stats.ref.mean, dBeta: alone.ref.db }) : await normBackward(rt, { ...bwd, kind: 'rms' }),
    ]);
    for (const name of ['dy', 'dx', 'dg', ...(layer ? ['db' as const] : [])] as const) expect(await fused.read(name), name).toEqual(await alone.read(name));

    expectClose(await fused.read('dy'), matmulRef(a, w, M, d, K, false, false), tolMatmul(K), 'dy');
    // dy at every position: 0 outside the window.
    const dyWindow = await fused.read('dy');
    const dy = new Float64Array(rows * d);
    for (let m = 0; m < M; m++) {
      const r = window ? Math.floor(m / window.count) * window.seqLen + window.start + (m % window.count) : m;
      dy.set(dyWindow.subarray(m * d, (m + 1) * d), r * d);
    }
    const [mean, rstd] = [Float64Array.from(await stats.read('mean')), Float64Array.from(await stats.read('rstd'))];
    const want = layer ? normOracle.layerNormBackward(dy, x, g, mean, rstd, rows, d) : { ...normOracle.rmsNormBackward(dy, x, g, rstd, rows, d), db: null };
    const scale = Math.max(1, ...Array.from(dy, Math.abs));
    const atolDx = 3e-6 * scale * Math.max(1, ...Array.from(rstd));
    expectClose(await fused.read('dx'), c.residual ? want.dx.map((v, i) => v + residual[i]) : want.dx, { atol: atolDx, rtol: 1e-5 }, 'dx');
    expectClose(await fused.read('dg'), want.dg, { atol: 1e-5 * scale, rtol: 1e-6 }, 'dGamma');
    if (want.db) expectClose(await fused.read('db'), want.db, { atol: 1e-5 * scale, rtol: 1e-6 }, 'dBeta');
  });
});

// The fused graph's attention on load on GPUs: the output projection computes self-attention's output (its A) and the
// probabilities itself, each workgroup for a strip of whole rows, then the product. Against the attention kernel
// followed by the product: the same bits for A, the probabilities and C. Against float64: the attention kernel's
// tolerances (test/attention.test.ts) on A and the probabilities, the matmul's on C (from the GPU's A). Ragged: rows
// past one strip of 64 (batch * seqLen 70, 69), an odd head size, causal with padding.
describe('matmul with attention on load', () => {
  const CASES = [
    { kernel: TILED_DIRECT, batch: 35, seqLen: 2, nHeads: 2, headDim: 5, causal: false, pad: false, N: 13 },
    { kernel: TILED_STAGED_SMALL, batch: 23, seqLen: 3, nHeads: 3, headDim: 4, causal: true, pad: true, N: 70 },
    { kernel: TILED_STAGED, batch: 3, seqLen: 7, nHeads: 1, headDim: 9, causal: true, pad: false, N: 5 },
  ] as const;
  it.each(CASES)('$batch x $seqLen, $nHeads heads of $headDim, causal $causal, padding $pad, N $N, on $kernel.wgDim x $kernel.wgDim staged $kernel.staged', async (c) => {
    const rt = await testRuntime();
    const { batch, seqLen, nHeads, headDim, N } = c;
    const [M, K] = [batch * seqLen, nHeads * headDim];
    const rng = new Rng(M + K + N);
    const [qkv, w, bias, residual] = [uniform(rng, M * 3 * K, -2, 2), uniform(rng, N * K), uniform(rng, N), uniform(rng, M * N)];
    // Padding: some keys hidden (a sequence's first key always shown).
    const keyValid = Uint32Array.from({ length: M }, (_, r) => (c.pad && r % seqLen !== 0 && rng.uniform() < 0.3 ? 0 : 1));
    const params = packTensors(rt, 'params', { qkv, w, bias, residual });
    const fresh = () => ({ att: new Float32Array(M * K), probs: new Float32Array(batch * nHeads * seqLen * seqLen), c: new Float32Array(M * N) });
    const [fused, alone] = [packTensors(rt, 'fused', fresh()), packTensors(rt, 'alone', fresh())];
    const keyValidBuf = c.pad ? rt.storageFrom('keyValid', keyValid) : undefined;
    const shape = { batch, seqLen, nHeads, headDim, causal: c.causal, keyValid: keyValidBuf, qkv: params.ref.qkv };
    const product = (o: typeof fused): MatmulArgs => ({ M, N, K, a: o.ref.att, b: params.ref.w, transB: true, bias: params.ref.bias, residual: params.ref.residual, c: o.ref.c, kernel: c.kernel });
    rt.run([
      await matmul(rt, { ...product(fused), attention: attentionForwardRows({ ...shape, out: fused.ref.att, probs: fused.ref.probs }) }),
      await attentionForward(rt, { ...shape, out: alone.ref.att, probs: alone.ref.probs }),
      await matmul(rt, product(alone)),
    ]);
    for (const name of ['att', 'probs', 'c'] as const) expect(await fused.read(name), name).toEqual(await alone.read(name));

    const want = attentionOracle(qkv, batch, seqLen, nHeads, headDim, c.causal, c.pad ? keyValid : null);
    expectClose(await fused.read('att'), want.out, { atol: 2e-6 * 2, rtol: 2e-5 }, 'A');
    expectClose(await fused.read('probs'), want.probs, { atol: 1e-6, rtol: 2e-5 }, 'probs');
    const att = Float64Array.from(await fused.read('att'));
    const wantC = linearForward(att, w, bias, M, K, N).map((v, i) => v + residual[i]);
    expectClose(await fused.read('c'), wantC, tolMatmul(K), 'C');
    keyValidBuf?.destroy();
  });
});

// The fused graph's attention backward on GPUs (sequences past SHORT_SEQUENCE): the product whose C is the attention's
// dOut computes the backward's query rows (dQ, scale * dS) in its epilogue, each workgroup a strip of whole rows, and
// the keys dispatch after it sums a norm's gain gradients too. Against the product followed by the two-dispatch
// attention backward, and the norm's backward kernel: the same bits for C, dQkv, dGamma and dBeta. Against float64 (on
// the GPU's dOut): the attention kernel's tolerance on dQkv (test/attention.test.ts), scaled by the largest |dOut|.
describe('matmul with the attention backward in its epilogue', () => {
  const CASES = [
    { kernel: TILED_DIRECT, batch: 11, seqLen: 7, nHeads: 2, headDim: 5, causal: true, order: 'serial' },
    { kernel: TILED_STAGED, batch: 3, seqLen: 23, nHeads: 3, headDim: 3, causal: false, order: 'tree' },
  ] as const;
  it.each(CASES)('$batch x $seqLen, $nHeads heads of $headDim, causal $causal, on $kernel.wgDim x $kernel.wgDim staged $kernel.staged, gains in $order order', async (c) => {
    const rt = await testRuntime();
    const { batch, seqLen, nHeads, headDim } = c;
    const [M, d, K] = [batch * seqLen, nHeads * headDim, 3];
    const rng = new Rng(M + d);
    const [qkv, a, w, x, g, dy] = [uniform(rng, M * 3 * d, -2, 2), uniform(rng, M * K), uniform(rng, K * d), uniform(rng, M * d, 2, 4), uniform(rng, d, 0.5, 1.5), uniform(rng, M * d)];
    const params = packTensors(rt, 'params', { qkv, a, w, x, g, beta: new Float32Array(d), dy, probs: new Float32Array(batch * nHeads * seqLen * seqLen), att: new Float32Array(M * d), y: new Float32Array(M * d), mean: new Float32Array(M), rstd: new Float32Array(M) });
    const shape = { batch, seqLen, nHeads, headDim, causal: c.causal, qkv: params.ref.qkv, probs: params.ref.probs };
    const ref = params.ref;
    rt.run([
      await attentionForward(rt, { ...shape, out: ref.att }),
      await normForward(rt, { x: ref.x, gamma: ref.g, beta: ref.beta, y: ref.y, mean: ref.mean, rstd: ref.rstd, rows: M, d }),
    ]);
    const fresh = () => ({ dOut: new Float32Array(M * d), dQkv: new Float32Array(M * 3 * d), ds: new Float32Array(batch * nHeads * seqLen * seqLen), dx: new Float32Array(M * d), dg: new Float32Array(d).fill(NaN), db: new Float32Array(d).fill(NaN) });
    const [fused, alone] = [packTensors(rt, 'fused', fresh()), packTensors(rt, 'alone', fresh())];
    const product = (o: typeof fused): MatmulArgs => ({ M, N: d, K, a: ref.a, b: ref.w, c: o.ref.dOut, kernel: c.kernel });
    const after = await attentionBackwardAfterProduct(rt, { ...shape, ds: fused.ref.ds, dOut: fused.ref.dOut, dQkv: fused.ref.dQkv }, { kind: 'layer', dy: ref.dy, x: ref.x, mean: ref.mean, rstd: ref.rstd, dGamma: fused.ref.dg, dBeta: fused.ref.db, rows: M, d, kernel: { kind: c.order } });
    rt.run([
      await matmuls(rt, [{ ...product(fused), attention: after.rows }], c.kernel as Extract<MatmulKernel, { kind: 'tiled' }>),
      after.keys,
      await matmul(rt, product(alone)),
      ...(await attentionBackward(rt, { ...shape, ds: alone.ref.ds, dOut: alone.ref.dOut, dQkv: alone.ref.dQkv, split: true })),
      await normBackward(rt, { dy: ref.dy, x: ref.x, gamma: ref.g, mean: ref.mean, rstd: ref.rstd, dx: alone.ref.dx, dGamma: alone.ref.dg, dBeta: alone.ref.db, rows: M, d, kernel: { kind: c.order } }),
    ]);
    for (const name of ['dOut', 'dQkv', 'dg', 'db'] as const) expect(await fused.read(name), name).toEqual(await alone.read(name));

    const dOut = Float64Array.from(await fused.read('dOut'));
    const { probs } = attentionOracle(qkv, batch, seqLen, nHeads, headDim, c.causal, null);
    const scale = Math.max(1, ...Array.from(dOut, Math.abs));
    expectClose(await fused.read('dQkv'), attentionBackwardOracle(dOut, qkv, probs, batch, seqLen, nHeads, headDim, c.causal, null), { atol: 5e-6 * scale, rtol: 1e-4 }, 'dQkv');
  });
});
