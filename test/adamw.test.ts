import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose, type Tolerance } from './helpers/close';
import { at } from '../src/gpu/runtime';
import { adamw } from '../src/model/ops/adamw';
import { clipAndAdamW } from '../src/reference/adamw';
import { decays, type OptimConfig, type DecayMask } from '../src/formats/optim';
import { Rng } from '../src/util/random';

const defaults = { beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
const hyper = (lr: number, weightDecay: number): OptimConfig => ({ lr, weightDecay, ...defaults });

function normals(rng: Rng, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => std * rng.normal());
}

/**
 * The GPU optimiser and the float64 reference side by side, from the same float32 initial parameters
 * and zero moments (and the same decay mask, if any); `step` applies the same gradients to both and returns the
 * GPU state.
 */
async function optimiserPair(initialParams: Float32Array, decayMask?: DecayMask) {
  const rt = await testRuntime();
  const n = initialParams.length;
  const params = rt.storageFrom('params', initialParams);
  const grads = rt.storage('grads', n * 4);
  const m = rt.storageFrom('m', new Float32Array(n));
  const v = rt.storageFrom('v', new Float32Array(n));
  const normAt = 2; // not at the buffer's start, to check the offset
  const norm = rt.storageFrom('gradNorm', new Float32Array(normAt + 1));
  const op = await adamw(rt, { params, grads, m, v, gradNorm: at(norm, normAt), n, decayMask });
  const ref = { params: Float64Array.from(initialParams), m: new Float64Array(n), v: new Float64Array(n) };
  let t = 0;
  return {
    ref,
    async step(g: Float32Array, h: OptimConfig) {
      t++;
      rt.write(grads, g);
      op.setStep(t, h);
      rt.run(op.dispatches);
      const refNorm = clipAndAdamW(ref.params, Float64Array.from(g), ref.m, ref.v, t, h, decayMask).gradNorm;
      const gpu = {
        params: await rt.readF32(params, 0, n),
        m: await rt.readF32(m, 0, n),
        v: await rt.readF32(v, 0, n),
        gradNorm: (await rt.readF32(norm, normAt, 1))[0],
      };
      return { gpu, refNorm };
    },
  };
}

/**
 * f32 state against the f64 reference (worst errors measured over the five-step schedule in brackets).
 * Parameters are O(1) and move by at most ~lr a step [3.6e-7 absolute]; m can cancel to far below the
 * gradient scale (~3e-3 here), so its absolute tolerance follows that scale [6e-10 absolute]; v has no
 * cancellation [1.3e-6 relative]; the norm is a float32 two-level sum [4e-8 relative].
 */
const tol: Record<'params' | 'm' | 'v' | 'gradNorm', Tolerance> = {
  params: { atol: 1e-6, rtol: 1e-6 },
  m: { atol: 2e-9, rtol: 1e-5 },
  v: { atol: 1e-14, rtol: 5e-6 },
  gradNorm: { atol: 0, rtol: 1e-6 },
};

describe('AdamW float64 reference', () => {
  it('first step: m is (1 - beta1) times the clipped gradient, and each parameter moves by lr * sign(g) after decay', () => {
    const rng = new Rng(1);
    const n = 50;
    for (const std of [1, 1e-3]) {
      const g = Float64Array.from(normals(rng, n, std));
      const theta0 = Float64Array.from(normals(rng, n, 1));
      const [params, m, v] = [theta0.slice(), new Float64Array(n), new Float64Array(n)];
      const h = hyper(1e-2, 0.5);
      const { gradNorm } = clipAndAdamW(params, g, m, v, 1, h);
      const norm = Math.hypot(...g);
      expect(gradNorm).toBeCloseTo(norm, 12);
      const coef = Math.min(1, h.clipNorm / (norm + 1e-6));
      if (std === 1) expect(coef).toBeLessThan(0.2); // one draw clipped, one not
      else expect(coef).toBe(1);
      // Step 1: m / bc1 = coef * g and sqrt(v / bc2) = coef * |g|, so the Adam step is lr * g / (|g| + eps/coef).
      expectClose(m, g.map((x) => (1 - h.beta1) * coef * x), { atol: 0, rtol: 1e-12 }, 'm');
      const expected = theta0.map((x, i) => x * (1 - h.lr * h.weightDecay) - (h.lr * coef * g[i]) / (coef * Math.abs(g[i]) + h.eps));
      expectClose(params, expected, { atol: 1e-15, rtol: 1e-12 }, 'params');
    }
  });
});

describe('clip + AdamW kernels vs float64 reference', () => {
  it('five steps on n = 100,003: clipped and unclipped gradients, lr and wd changed between steps, wd = 0', async () => {
    const n = 100_003; // not a multiple of the 256-thread workgroup
    const rng = new Rng(2);
    const pair = await optimiserPair(normals(rng, n, 0.5));
    // sqrt(n) ~ 316: gradient std 0.1 gives a norm ~32 (clipped to 1), std 1e-4 a norm ~0.03 (not clipped).
    const schedule: { std: number; h: OptimConfig; clipped: boolean }[] = [
      { std: 0.1, h: hyper(1e-2, 1), clipped: true },
      { std: 1e-4, h: hyper(1e-2, 1), clipped: false },
      { std: 0.05, h: hyper(3e-3, 0.3), clipped: true },
      { std: 2e-3, h: hyper(3e-3, 0), clipped: false },
      { std: 0.1, h: hyper(1e-3, 1), clipped: true },
    ];
    for (const [i, { std, h, clipped }] of schedule.entries()) {
      const { gpu, refNorm } = await pair.step(normals(rng, n, std), h);
      const what = `step ${i + 1}`;
      expect(refNorm > h.clipNorm, `${what}: clipping as planned`).toBe(clipped);
      expectClose([gpu.gradNorm], [refNorm], tol.gradNorm, `${what} gradNorm`);
      expectClose(gpu.params, pair.ref.params, tol.params, `${what} params`);
      expectClose(gpu.m, pair.ref.m, tol.m, `${what} m`);
      expectClose(gpu.v, pair.ref.v, tol.v, `${what} v`);
    }
  });

  it('with a decay mask, decays only the selected parameters (n = 100,003, ragged ranges and scattered bits)', async () => {
    const n = 100_003;
    const rng = new Rng(6);
    // Undecayed: two ranges that start and end mid-word (one runs to the last element) and every 7th element of a
    // third stretch; the rest decays.
    const mask: DecayMask = new Uint32Array(Math.ceil(n / 32)).fill(0xffffffff);
    const clear = (i: number) => (mask[i >>> 5] &= ~(1 << (i & 31)));
    for (let i = 1_000; i < 17_389; i++) clear(i);
    for (let i = 98_765; i < n; i++) clear(i);
    for (let i = 40_000; i < 60_000; i += 7) clear(i);
    const initial = normals(rng, n, 0.5);
    const pair = await optimiserPair(initial, mask);
    const plain = Float64Array.from(initial); // the same steps without a mask, to show the mask matters
    const [pm, pv] = [new Float64Array(n), new Float64Array(n)];
    const schedule = [{ std: 0.1, h: hyper(1e-2, 1) }, { std: 1e-4, h: hyper(1e-2, 0.5) }, { std: 0.05, h: hyper(3e-3, 2) }];
    for (const [i, { std, h }] of schedule.entries()) {
      const g = normals(rng, n, std);
      const { gpu, refNorm } = await pair.step(g, h);
      clipAndAdamW(plain, Float64Array.from(g), pm, pv, i + 1, h);
      const what = `masked step ${i + 1}`;
      expectClose([gpu.gradNorm], [refNorm], tol.gradNorm, `${what} gradNorm`);
      expectClose(gpu.params, pair.ref.params, tol.params, `${what} params`);
      expectClose(gpu.m, pair.ref.m, tol.m, `${what} m`);
      expectClose(gpu.v, pair.ref.v, tol.v, `${what} v`);
    }
    // The undecayed parameters differ from an unmasked run by ~ lr wd |theta| summed over the steps (~0.03 |theta|),
    // far above the tolerance; the decayed ones agree with it.
    let undecayed = 0;
    for (let i = 0; i < n; i++) {
      const gap = Math.abs(pair.ref.params[i] - plain[i]);
      if (decays(mask, i)) expect(gap).toBeLessThan(1e-12);
      else {
        undecayed++;
        if (Math.abs(initial[i]) > 0.1) expect(gap).toBeGreaterThan(1e-3);
      }
    }
    expect(undecayed).toBe(17_389 - 1_000 + n - 98_765 + Math.ceil(20_000 / 7));
  });

  it('parameters that start at 0 and get 0 gradients stay exactly 0, with and without decay', async () => {
    const n = 1000;
    const rng = new Rng(3);
    const initial = normals(rng, n, 1);
    initial.fill(0, 100, 400);
    const pair = await optimiserPair(initial);
    for (const [std, wd] of [[0.1, 1], [1e-4, 0], [1, 0.5]]) {
      const g = normals(rng, n, std);
      g.fill(0, 100, 400);
      const { gpu } = await pair.step(g, hyper(1e-2, wd));
      for (const x of [gpu.params, gpu.m, gpu.v]) expect(x.subarray(100, 400).every((y) => Object.is(y, 0))).toBe(true);
      expect(gpu.params[99]).not.toBe(0);
    }
  });

  it('a NaN gradient makes the norm NaN and, as in PyTorch, every parameter NaN (never a finite clip)', async () => {
    const n = 1000;
    const rng = new Rng(4);
    const pair = await optimiserPair(normals(rng, n, 1));
    const g = normals(rng, n, 0.1);
    g[617] = Number.NaN;
    const { gpu, refNorm } = await pair.step(g, hyper(1e-2, 1));
    expect(refNorm).toBeNaN();
    expect(gpu.gradNorm).toBeNaN();
    expect(pair.ref.params.every(Number.isNaN)).toBe(true);
    expect(gpu.params.every(Number.isNaN)).toBe(true);
  });

  it('covers n = 1,500,007 with both grids at their caps, and replays bit for bit', async () => {
    // Above 256 partials x 4096 gradients and 1024 AdamW workgroups x 256 threads, so the sum of squares
    // stops at 256 partials and every AdamW thread loops over ~6 elements (a 4M model loops ~16 times).
    const n = 1_500_007;
    const rng = new Rng(5);
    const initial = normals(rng, n, 0.5);
    const g = normals(rng, n, 0.01);
    const first = await (await optimiserPair(initial)).step(g, hyper(1e-3, 1));
    const pair = await optimiserPair(initial);
    const again = await pair.step(g, hyper(1e-3, 1));
    expectClose([again.gpu.gradNorm], [again.refNorm], tol.gradNorm, 'gradNorm');
    expectClose(again.gpu.params, pair.ref.params, tol.params, 'params');
    expect(again.gpu.gradNorm).toBe(first.gpu.gradNorm);
    expect(Buffer.from(again.gpu.params.buffer).equals(Buffer.from(first.gpu.params.buffer))).toBe(true);
  });
});
