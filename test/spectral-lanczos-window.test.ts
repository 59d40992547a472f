// The spectral monitor with solver 'lanczos' (matrix-free block Lanczos on X^T X, src/spectral/monitor.ts) against
// the same monitor with the default Gram solver on the same windows, whose record is itself checked against a
// dense float64 SVD (test/spectral-window.test.ts):
// - windows from real training of a tiny model (plain and centred), with the gap flow on: sigma_1..sigma_K+1, k*,
//   R, g23, the edge vectors (|cos| with the Gram path's, and the sign rule gives the same sign), gradient energy
//   fraction, alignment, trapezoid fraction, rotation, ||Delta G||_F (bit-identical: the Lanczos path keeps the
//   Gram matrix from the newest delta's row), Davis-Kahan, adiabatic, the gap-flow terms; the Lanczos residuals are
//   small and every solve converged; training is bit-identical with either solver and without tracking;
// - a synthetic low-rank-plus-noise window with a near-degenerate pair sigma_2 ~ sigma_3 (relative gap ~1e-6),
//   injected through importState: the separated vectors agree, the pair spans the same plane, the pair's summed
//   alignment (rotation-invariant) agrees;
// - a run restored from a checkpoint continues with the same Lanczos records, and the option and the records
//   round-trip through the run file schema (files without the option read as 'gram').
// Tolerances (measured errors are printed): sigma_j within 1e-5 sigma_1; separated vectors (gap >= 1% sigma_1 to
// both neighbours) |cos| > 1 - 1e-4; energy fraction within 1e-4; alignment within 1e-4 sqrt(g2 w2) (the scale of
// the product it averages); residuals <= 1e-4 sigma_1^2; gap flow: G_j within 1e-4 max |G|, predicted dg/dt within
// 1e-2 of the sum of the terms' magnitudes (the curvature is a float32 finite difference of losses).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { TINY_CASES } from './helpers/tiny-models';
import { Rng } from '../src/util/random';
import { TrainingEngine } from '../src/model/engine';
import { SpectralMonitor, sliceOf } from '../src/spectral/monitor';
import { solverOf, spectralDefaults, validateSpectralOptions } from '../src/spectral/options';
import type { SpectralOptions, SpectralRecord } from '../src/formats/spectral';
import { syntheticBatch } from '../src/tasks/synthetic';
import { Trainer } from '../src/train/trainer';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import type { GpuRuntime } from '../src/gpu/runtime';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

async function edgesOf(rt: GpuRuntime, monitor: SpectralMonitor): Promise<Float32Array[]> {
  const e = monitor.edgeVectors;
  const all = await rt.readF32(e.buffer, 0, e.count * e.P);
  return Array.from({ length: e.count }, (_, k) => all.slice(e.vectorOffset(k), e.vectorOffset(k) + e.P));
}

/** The worst errors seen in the current test, for the log (relative to the scales the tolerances use). */
const noErrors = () => ({ sigma: 0, cos: 1, fraction: 0, alignment: 0, trapezoid: 0, residual: 0, davisKahan: 0, gradientProjection: 0, gapFlow: 0, iterations: 0 });
let worst = noErrors();

/**
 * Checks the Lanczos record and edge vectors against the Gram ones of the same window. `separatedOnly`: the
 * per-vector checks only where sigma_k is at least 1% of sigma_1 from its neighbours.
 */
function expectAgrees(gram: SpectralRecord, lanczos: SpectralRecord, gramEdges: Float32Array[], lanczosEdges: Float32Array[], K: number, what: string) {
  const W = gram.sigma.length;
  const n = Math.min(W, K + 1);
  const s1 = gram.sigma[0];
  expect(lanczos.sigma, what).toHaveLength(n);
  lanczos.sigma.forEach((s, j) => {
    const err = Math.abs(s - gram.sigma[j]) / s1;
    worst.sigma = Math.max(worst.sigma, err);
    expect(err, `${what}: sigma_${j + 1} = ${s}, Gram ${gram.sigma[j]}`).toBeLessThan(1e-5);
  });
  if (gram.kStar !== null && gram.kStar <= K) {
    expect(lanczos.kStar, what).toBe(gram.kStar);
    expect(lanczos.gapRatio!).toBeCloseTo(gram.gapRatio!, 3);
  }
  if (n >= 3) expect(Math.abs(lanczos.g23! - gram.g23!)).toBeLessThan(1e-5 * s1 ** 2);
  else expect(lanczos.g23).toBeNull();
  expect(lanczos.lanczos!.converged, `${what}: converged`).toBe(true);
  lanczos.lanczos!.residual.forEach((r) => {
    worst.residual = Math.max(worst.residual, r / s1 ** 2);
    expect(r / s1 ** 2, `${what}: residual`).toBeLessThan(1e-4);
  });
  worst.iterations = Math.max(worst.iterations, lanczos.lanczos!.iterations);
  expect(gram.lanczos).toBeUndefined();

  const separated = (k: number) => [k - 1, k + 1].every((j) => j < 0 || j >= W || Math.abs(gram.sigma[k] - gram.sigma[j]) >= 0.01 * s1);
  for (let k = 0; k < K; k++) {
    if (!separated(k)) continue;
    const cos = dot(gramEdges[k], lanczosEdges[k]);
    worst.cos = Math.min(worst.cos, cos);
    // Signed: the sign rule picks the same sign as the Gram path's.
    expect(cos, `${what}: <v_${k + 1} Gram, v_${k + 1} Lanczos>`).toBeGreaterThan(1 - 1e-4);
    const fraction = Math.abs(lanczos.gradEnergyFraction[k] - gram.gradEnergyFraction[k]);
    worst.fraction = Math.max(worst.fraction, fraction);
    expect(fraction, `${what}: energy fraction ${k + 1}`).toBeLessThan(1e-4);
    const trapezoid = Math.abs(lanczos.trapezoidGradEnergyFraction[k] - gram.trapezoidGradEnergyFraction[k]);
    worst.trapezoid = Math.max(worst.trapezoid, trapezoid);
    expect(trapezoid, `${what}: trapezoid fraction ${k + 1}`).toBeLessThan(1e-4);
  }
  return { separated };
}

/** Alignment tolerance: 1e-4 of sqrt(mean g^2 mean w^2), recovered from the fraction f and |alignment| <= sqrt(g2 w2). */
function expectAlignment(got: number, want: number, scale: number, what: string) {
  const err = Math.abs(got - want) / scale;
  worst.alignment = Math.max(worst.alignment, err);
  expect(err, `${what}: alignment ${got} vs ${want}`).toBeLessThan(1e-4);
}

describe('solver lanczos on windows from real training', () => {
  it.each([{ centred: false }, { centred: true }])('agrees with the Gram solver, window by window (centred $centred), and leaves training unchanged', async ({ centred }) => {
    worst = noErrors();
    const rt = await testRuntime();
    const c = TINY_CASES[1];
    const optim = { lr: 3e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
    const K = 3;
    const base: SpectralOptions = { ...spectralDefaults(5, 4), k: K, gapFlow: true, centred };
    const plain = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3 });
    const tracked = async (solver: 'gram' | 'lanczos') => {
      const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, splitSlice: plain.table.attn });
      return { engine, monitor: await SpectralMonitor.create(rt, engine, { ...base, solver }) };
    };
    const g = await tracked('gram');
    const l = await tracked('lanczos');
    const batch = (s: number) => syntheticBatch(c.config, c.shape, 100 + (s % 6));
    let windows = 0;
    let flows = 0;
    for (let step = 1; step <= 40; step++) {
      plain.step(batch(step));
      for (const t of [g, l]) t.engine.step(batch(step), { after: t.monitor.afterStep(step) });
      if (!g.monitor.windowReady(step)) continue;
      expect(l.monitor.windowReady(step)).toBe(true);
      const what = `window at step ${step}`;
      const gr = await g.monitor.analyse(step, optim, batch(step));
      const lr = await l.monitor.analyse(step, optim, batch(step));
      const ge = await edgesOf(rt, g.monitor);
      const le = await edgesOf(rt, l.monitor);
      const { separated } = expectAgrees(gr, lr, ge, le, K, what);
      windows++;

      // Alignment on the scale of sqrt(mean <g,v>^2 mean <w,v>^2), from explicit projections of the ring's parts.
      const state = await l.monitor.exportState();
      const [, , , ringG, ringD] = state.buffers;
      const P = l.monitor.size;
      for (let k = 0; k < K; k++) {
        if (!separated(k)) continue;
        const rows = (ring: Float32Array) => Array.from({ length: 5 }, (_, r) => dot(ring.subarray(r * P, (r + 1) * P), le[k]));
        const gp = rows(ringG);
        const wp = rows(ringD);
        const scale = Math.sqrt((dot(gp, gp) / 5) * (dot(wp, wp) / 5));
        expectAlignment(lr.alignment[k], gr.alignment[k], scale, `${what}, v_${k + 1}`);
      }
      expect(lr.rotationDeg).toHaveLength(gr.rotationDeg.length);
      lr.rotationDeg.forEach((deg, k) => {
        if (separated(k)) expect(Math.abs(Math.cos((deg * Math.PI) / 180) - Math.cos((gr.rotationDeg[k] * Math.PI) / 180))).toBeLessThan(1e-4);
      });
      // The Gram matrix kept from the newest row equals the one computed whole, bit for bit.
      expect(lr.deltaGramNorm).toBe(gr.deltaGramNorm);
      expect(lr.davisKahanAlpha).toHaveLength(gr.deltaGramNorm === null ? 0 : K);
      lr.davisKahanAlpha.forEach((alpha, j) => {
        worst.davisKahan = Math.max(worst.davisKahan, Math.abs(alpha - gr.davisKahanAlpha[j]));
        expect(alpha).toBeCloseTo(gr.davisKahanAlpha[j], 3);
      });
      if (gr.adiabatic !== null && gr.kStar! <= K) expect(lr.adiabatic! / gr.adiabatic).toBeCloseTo(1, 3);
      // The gap flow on the Lanczos edge vectors (the same directions up to rounding where separated).
      if (gr.kStar !== null && gr.kStar <= K) expect(lr.gapFlow === undefined).toBe(gr.gapFlow === undefined);
      if (gr.gapFlow && lr.gapFlow) {
        flows++;
        const k = gr.kStar!;
        const f = gr.gapFlow;
        expect(lr.gapFlow.gap).toBeCloseTo(lr.sigma[k - 1] - lr.sigma[k], 12);
        if (Array.from({ length: k + 1 }, (_, j) => j).every(separated)) {
          // G_j = <v_j, grad L> is a plain dot product; the curvature h_j is a float32 finite difference of losses
          // (hessian.ts), whose rounding noise dominates the difference between two equal-to-rounding directions,
          // so the terms built on it are compared on the scale of their sum of magnitudes, more loosely.
          const gScale = Math.max(...f.gradientProjection.map(Math.abs));
          lr.gapFlow.gradientProjection.forEach((x, j) => {
            worst.gradientProjection = Math.max(worst.gradientProjection, Math.abs(x - f.gradientProjection[j]) / gScale);
            expect(Math.abs(x - f.gradientProjection[j])).toBeLessThan(1e-4 * gScale);
          });
          const scale = Math.abs(f.curvatureAsymmetry) + Math.abs(f.damping) + Math.abs(f.gradientDriving);
          worst.gapFlow = Math.max(worst.gapFlow, Math.abs(lr.gapFlow.predicted - f.predicted) / scale);
          expect(Math.abs(lr.gapFlow.predicted - f.predicted)).toBeLessThan(1e-2 * scale);
        }
      }
    }
    expect(windows).toBe(6);
    expect(flows).toBeGreaterThan(0);
    const params = Array.from(await plain.readParams());
    expect(Array.from(await g.engine.readParams())).toEqual(params);
    expect(Array.from(await l.engine.readParams())).toEqual(params);
    console.log(`lanczos vs gram on training windows (centred ${centred}), worst:`, JSON.stringify(worst));
  });
});

describe('solver lanczos on a synthetic window with a near-degenerate pair', () => {
  it('separated vectors agree, the pair spans the same plane, the pair\'s summed alignment agrees', async () => {
    worst = noErrors();
    const rt = await testRuntime();
    const c = TINY_CASES[2];
    const optim = { lr: 1e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
    const W = 8;
    const K = 4;
    const monitors: Record<'gram' | 'lanczos', SpectralMonitor> = {} as never;
    for (const solver of ['gram', 'lanczos'] as const) {
      const options: SpectralOptions = { ...spectralDefaults(W, 1), k: K, subset: 'all', solver };
      const probe = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 1 });
      const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 1, splitSlice: sliceOf(probe, options) });
      monitors[solver] = await SpectralMonitor.create(rt, engine, options);
    }
    const P = monitors.gram.size;
    expect(P).toBeGreaterThan(1000);
    // X = A diag(s) B^T + noise: orthonormal A (W x 5) and B (P x 5), s = 5, 3 (1 + 1e-6), 3, 1.5, 0.7; the gradient
    // part a random low-rank share of it, the decay part the rest.
    const rng = new Rng(11);
    const orthonormal = (count: number, n: number) => {
      const out: Float64Array[] = [];
      for (let j = 0; j < count; j++) {
        const v = Float64Array.from({ length: n }, () => rng.normal());
        for (let pass = 0; pass < 2; pass++) for (const u of out) {
          const cu = dot(u, v);
          for (let i = 0; i < n; i++) v[i] -= cu * u[i];
        }
        const norm = Math.sqrt(dot(v, v));
        out.push(v.map((x) => x / norm));
      }
      return out;
    };
    const strengths = [5, 3 * (1 + 1e-6), 3, 1.5, 0.7];
    const A = orthonormal(strengths.length, W);
    const B = orthonormal(strengths.length, P);
    const X = new Float32Array(W * P);
    const G = new Float32Array(W * P);
    const mix = Array.from({ length: strengths.length }, () => 0.5 + 0.4 * rng.normal());
    for (let w = 0; w < W; w++) {
      for (let p = 0; p < P; p++) {
        let x = 1e-5 * rng.normal();
        let gpart = 0;
        strengths.forEach((s, r) => {
          const term = A[r][w] * s * B[r][p];
          x += term;
          gpart += mix[r] * term;
        });
        X[w * P + p] = x;
        G[w * P + p] = gpart + 1e-5 * rng.normal();
      }
    }
    const D = X.map((x, i) => x - G[i]);
    const theta = Float32Array.from({ length: P }, () => rng.normal());
    const records: Record<string, SpectralRecord> = {};
    const edges: Record<string, Float32Array[]> = {};
    for (const solver of ['gram', 'lanczos'] as const) {
      const m = monitors[solver];
      const saved = await m.exportState();
      // Ring slot 0 holds the oldest delta after W snapshots; theta as the last snapshot's; the rest as saved.
      const sized = (data: Float32Array, i: number) => {
        const out = new Float32Array(saved.buffers[i].length);
        out.set(data);
        return out;
      };
      m.importState({ snapshots: W, prevGram: null, buffers: [sized(theta, 0), saved.buffers[1], sized(X, 2), sized(G, 3), sized(D, 4), saved.buffers[5]] });
      records[solver] = await m.analyse(W, optim);
      edges[solver] = await edgesOf(rt, m);
    }
    const gram = records.gram;
    const lanczos = records.lanczos;
    const { separated } = expectAgrees(gram, lanczos, edges.gram, edges.lanczos, K, 'synthetic window');
    expect([0, 1, 2, 3].map(separated)).toEqual([true, false, false, true]);
    expect(gram.sigma[1] / gram.sigma[2] - 1).toBeLessThan(1e-4);
    // The near-degenerate pair: each Lanczos vector lies in the plane of the Gram pair.
    for (const k of [1, 2]) {
      const inPlane = Math.hypot(dot(edges.lanczos[k], edges.gram[1]), dot(edges.lanczos[k], edges.gram[2]));
      worst.cos = Math.min(worst.cos, inPlane);
      expect(inPlane, `v_${k + 1} in the plane of the pair`).toBeGreaterThan(1 - 1e-4);
    }
    // Alignment: per vector where separated; summed over the pair (mean_i g_i^T P w_i, invariant under rotations in it).
    const rows = (ring: Float32Array, v: Float32Array) => Array.from({ length: W }, (_, r) => dot(ring.subarray(r * P, (r + 1) * P), v));
    for (const k of [0, 3]) {
      const gp = rows(G, edges.lanczos[k]);
      const wp = rows(D, edges.lanczos[k]);
      expectAlignment(lanczos.alignment[k], gram.alignment[k], Math.sqrt((dot(gp, gp) / W) * (dot(wp, wp) / W)), `synthetic v_${k + 1}`);
    }
    const pairScale = [1, 2].reduce((s, k) => {
      const gp = rows(G, edges.gram[k]);
      const wp = rows(D, edges.gram[k]);
      return s + Math.sqrt((dot(gp, gp) / W) * (dot(wp, wp) / W));
    }, 0);
    expectAlignment(lanczos.alignment[1] + lanczos.alignment[2], gram.alignment[1] + gram.alignment[2], pairScale, 'synthetic pair');
    console.log('lanczos vs gram on the synthetic window, worst:', JSON.stringify(worst), 'residuals', lanczos.lanczos!.residual.map((r) => r.toExponential(1)).join(' '));
  });
});

describe('solver lanczos in runs', () => {
  it('a run restored from a checkpoint continues with the same records; option and records round-trip through the run file', async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-add', 2, { steps: 30, evalEvery: 10, spectral: { window: 3, snapshotEvery: 5, solver: 'lanczos' } });
    expect(config.spectral.solver).toBe('lanczos');
    const whole = await Trainer.create(rt, config);
    await whole.run();
    const resumed = await Trainer.create(rt, config);
    await resumed.run({ until: 20 });
    const checkpoint = await resumed.checkpoint();
    const fresh = await Trainer.create(rt, config);
    fresh.restore(checkpoint);
    await fresh.run();
    const file = whole.toRunFile();
    // Windows at 15 and 20 before the checkpoint; after it the first Gram matrix is computed whole, the next kept.
    expect(file.spectral!.length).toBe(4);
    expect(file.spectral!.every((r) => r.sigma.length === 3 && r.lanczos!.converged && r.lanczos!.residual.length === 3)).toBe(true);
    expect(fresh.toRunFile().spectral).toEqual(file.spectral);

    const parsed = parseRunFile(JSON.stringify(file));
    expect(parsed.config.spectral).toEqual(config.spectral);
    expect(parsed.spectral).toEqual(file.spectral);
    // Older files have no solver, in their options or their overrides (read as 'gram'); a bad solver or Lanczos
    // record is named.
    const { solver: _omitted, ...older } = file.config.spectral;
    const { solver: _given, ...olderOverrides } = file.config.overrides.spectral!;
    const old = parseRunFile(JSON.stringify({ ...file, config: { ...file.config, overrides: { ...file.config.overrides, spectral: olderOverrides }, spectral: older } }));
    expect(solverOf(old.config.spectral)).toBe('gram');
    expect(solverOf(resolveRunConfig('quick-add', 2, {}).spectral)).toBe('gram');
    expect(() => parseRunFile(JSON.stringify({ ...file, config: { ...file.config, spectral: { ...older, solver: 'svd' } } }))).toThrow(/config\.spectral\.solver/);
    const badRecord = { ...file.spectral![0], lanczos: { residual: [1], iterations: 'many', converged: true } };
    expect(() => parseRunFile(JSON.stringify({ ...file, spectral: [badRecord] }))).toThrow(/spectral\[0\]\.lanczos\.iterations/);
    expect(() => resolveRunConfig('quick-add', 2, { spectral: { solver: 'svd' as never } })).toThrow(/spectral\.solver must be "gram" or "lanczos"/);
    expect(() => validateSpectralOptions({ ...spectralDefaults(5, 1), solver: 'lanczos' })).not.toThrow();
  });
});
