// The spectral edge against dense float64 linear algebra (ml-matrix SVD of the window itself):
// - window-math on random low-rank-plus-noise windows, plain and centred: singular values, edge vectors (up to
//   sign), and the scalars, each recomputed here from explicit vectors rather than from small matrices;
// - the GPU monitor on windows recorded from real training of a tiny model: the read-back ring's gradient part +
//   decay part equals its delta, and the record matches a dense SVD of the read-back window;
// - the gap-flow terms are recorded at k* when asked for, with the observed rate from consecutive windows;
// - tracking the edge (gap-flow probes included) changes nothing about training, and a checkpoint restores the
//   records exactly.
import { describe, expect, it } from 'vitest';
import { Matrix, SVD } from 'ml-matrix';
import { testRuntime } from './helpers/gpu';
import { Rng } from '../src/util/random';
import { centreBoth, edgeCoefficients, edgeGap, energySplit, g23, projections, windowSpectrum, type Square } from '../src/spectral/window-math';
import { TrainingEngine } from '../src/model/engine';
import { SpectralMonitor } from '../src/spectral/monitor';
import { spectralDefaults } from '../src/spectral/options';
import type { SpectralRecord } from '../src/formats/spectral';
import { syntheticBatch } from '../src/tasks/synthetic';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { TINY_CASES } from './helpers/tiny-models';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const gramOf = (rows: Float64Array[], cols: Float64Array[] = rows): Square => rows.map((a) => cols.map((b) => dot(a, b)));

/** W rows of length P: rank-r signal with decaying strengths plus small noise. */
function lowRankWindow(rng: Rng, W: number, P: number, strengths: number[], noise: number): Float64Array[] {
  const basis = strengths.map(() => Float64Array.from({ length: P }, () => rng.normal()));
  return Array.from({ length: W }, () => {
    const row = Float64Array.from({ length: P }, () => noise * rng.normal());
    strengths.forEach((s, r) => {
      const c = s * rng.normal();
      for (let i = 0; i < P; i++) row[i] += c * basis[r][i];
    });
    return row;
  });
}

/** Dense SVD of the rows (after centring them if asked): singular values and right singular vectors. */
function denseSvd(rows: Float64Array[], centred: boolean): { sigma: number[]; v: Float64Array[] } {
  const P = rows[0].length;
  const mean = new Float64Array(P);
  if (centred) for (const r of rows) for (let i = 0; i < P; i++) mean[i] += r[i] / rows.length;
  const m = new Matrix(rows.map((r) => Array.from(r, (x, i) => x - mean[i]))).transpose(); // P x W: thin SVD
  const svd = new SVD(m, { computeLeftSingularVectors: true, computeRightSingularVectors: false, autoTranspose: true });
  const U = svd.leftSingularVectors;
  return { sigma: svd.diagonal, v: svd.diagonal.map((_, k) => Float64Array.from(U.getColumn(k))) };
}

const combine = (rows: Float64Array[], c: number[]) => {
  const out = new Float64Array(rows[0].length);
  rows.forEach((r, j) => {
    for (let i = 0; i < out.length; i++) out[i] += c[j] * r[i];
  });
  return out;
};

describe('spectral window math vs a dense float64 SVD', () => {
  for (const centred of [false, true]) {
    it(`singular values, edge vectors and scalars (${centred ? 'centred' : 'not centred'}, W 5 and 10, ragged P)`, () => {
      const rng = new Rng(7);
      for (const [W, P] of [[5, 1237], [10, 4099]]) {
        const x = lowRankWindow(rng, W, P, [5, 3, 1.5, 0.7], 0.05);
        const g = lowRankWindow(rng, W, P, [2, 1], 0.1);
        const w = x.map((row, i) => row.map((v, j) => v - g[i][j]));
        const gram = centred ? centreBoth(gramOf(x)) : gramOf(x);
        const spectrum = windowSpectrum(gram);
        const dense = denseSvd(x, centred);
        const rankUsed = centred ? W - 1 : W;
        for (let k = 0; k < rankUsed; k++) expect(Math.abs(spectrum.sigma[k] - dense.sigma[k])).toBeLessThan(1e-9 * dense.sigma[0]);

        const K = 4;
        const coeffs = edgeCoefficients(spectrum, K, centred);
        const edges = coeffs.map((c) => combine(x, c));
        for (let k = 0; k < K; k++) {
          expect(Math.abs(Math.hypot(...edges[k]) - 1)).toBeLessThan(1e-9);
          expect(Math.abs(dot(edges[k], dense.v[k]))).toBeGreaterThan(1 - 1e-9);
        }
        // Scalars, each from its definition.
        const s = dense.sigma;
        expect(g23(spectrum.sigma)).toBeCloseTo(s[1] ** 2 - s[2] ** 2, 6);
        const sum = s.slice(0, rankUsed).reduce((a, b) => a + b, 0);
        const scores = s.slice(0, rankUsed - 1).map((x, j) => (x / sum) * (x / s[j + 1]));
        const kStar = scores.indexOf(Math.max(...scores)) + 1;
        expect(edgeGap(spectrum.sigma)).toEqual({ kStar, gapRatio: expect.closeTo(s[kStar - 1] / s[kStar], 9) });
        // Energy fraction and alignment from explicit projections of the (centred) parts on the edge vectors.
        const centre = (rows: Float64Array[]) => {
          if (!centred) return rows;
          const mean = new Float64Array(P);
          for (const r of rows) for (let i = 0; i < P; i++) mean[i] += r[i] / W;
          return rows.map((r) => r.map((v, i) => v - mean[i]));
        };
        const gp = centre(g).map((r) => edges.map((e) => dot(r, e)));
        const wp = centre(w).map((r) => edges.map((e) => dot(r, e)));
        const viaGram = energySplit(projections(gramOf(g, x), coeffs, centred), projections(gramOf(w, x), coeffs, centred));
        for (let k = 0; k < K; k++) {
          const g2 = gp.reduce((a, r) => a + r[k] ** 2, 0) / W;
          const w2 = wp.reduce((a, r) => a + r[k] ** 2, 0) / W;
          expect(viaGram.fraction[k]).toBeCloseTo(g2 / (g2 + w2), 9);
          expect(viaGram.alignment[k]).toBeCloseTo(gp.reduce((a, r, i) => a + r[k] * wp[i][k], 0) / W, 9);
        }
      }
    });
  }
});

describe('the spectral monitor on the GPU, on windows from real training', () => {
  it('gradient part + decay part = delta for every window, the record matches a dense SVD of the window, gap flow at k*', async () => {
    const rt = await testRuntime();
    const c = TINY_CASES[1];
    const optim = { lr: 3e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
    const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3 });
    const options = { ...spectralDefaults(5, 4), k: 3, gapFlow: true };
    const tracked = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, splitSlice: engine.table.attn });
    const monitor = await SpectralMonitor.create(rt, tracked, options);
    const P = engine.table.attn.size;
    const batch = (s: number) => syntheticBatch(c.config, c.shape, 100 + (s % 6));

    let previous: { record: SpectralRecord; edges: Float32Array; gram: Square } | null = null;
    let gapFlows = 0;
    for (let step = 1; step <= 36; step++) {
      engine.step(batch(step));
      tracked.step(batch(step), { after: monitor.afterStep(step) });
      if (!monitor.windowReady(step)) continue;
      const record = await monitor.analyse(step, optim, batch(step));
      const state = await monitor.exportState();
      const [, , ringX, ringG, ringD] = state.buffers;
      const vectors = monitor.edgeVectors;
      expect(vectors).toMatchObject({ P, count: 3, paramOffset: engine.table.attn.offset });
      const all = await rt.readF32(vectors.buffer, 0, 3 * P);
      const edge = (k: number) => all.subarray(vectors.vectorOffset(k), vectors.vectorOffset(k) + P);
      // The ring holds the window's rows: gradient part + decay part = delta, to float32 rounding of the sums.
      const thetaScale = Math.max(...Array.from(state.buffers[0], Math.abs));
      let worst = 0;
      for (let i = 0; i < ringX.length; i++) worst = Math.max(worst, Math.abs(ringG[i] + ringD[i] - ringX[i]));
      expect(worst, `window at step ${step}`).toBeLessThan(8 * options.snapshotEvery * 2 ** -23 * thetaScale);

      const rows = Array.from({ length: 5 }, (_, r) => Float64Array.from(ringX.subarray(r * P, (r + 1) * P)));
      const dense = denseSvd(rows, false);
      for (let k = 0; k < 5; k++) expect(Math.abs(record.sigma[k] - dense.sigma[k])).toBeLessThan(1e-4 * dense.sigma[0]);
      for (let k = 0; k < 3; k++) {
        const separated = dense.sigma[k] - dense.sigma[k + 1] > 0.01 * dense.sigma[0];
        if (separated) expect(Math.abs(dot(edge(k), dense.v[k]))).toBeGreaterThan(1 - 1e-4);
      }
      const gRows = Array.from({ length: 5 }, (_, r) => ringG.subarray(r * P, (r + 1) * P));
      const dRows = Array.from({ length: 5 }, (_, r) => ringD.subarray(r * P, (r + 1) * P));
      for (let k = 0; k < 3; k++) {
        const v = edge(k);
        const g2 = gRows.reduce((a, r) => a + dot(r, v) ** 2, 0);
        const w2 = dRows.reduce((a, r) => a + dot(r, v) ** 2, 0);
        expect(Math.abs(record.gradEnergyFraction[k] - g2 / (g2 + w2))).toBeLessThan(1e-3);
        const align = gRows.reduce((a, r, i) => a + dot(r, v) * dot(dRows[i], v), 0) / 5;
        expect(Math.abs(record.alignment[k] - align)).toBeLessThan(1e-3 * Math.sqrt(g2 * w2) / 5);
      }

      // Rotation against the previous window's vectors (compared as cosines: arccos amplifies rounding near 0),
      // and ||Delta G||_F, Davis-Kahan and the adiabatic parameter from the time-ordered Gram matrices.
      const oldest = step / options.snapshotEvery;
      const gram = gramOf(Array.from({ length: 5 }, (_, i) => rows[(oldest + i) % 5]));
      if (previous) {
        const prevEdges = previous.edges;
        record.rotationDeg.forEach((deg, k) => {
          const cos = Math.abs(dot(edge(k), prevEdges.subarray(k * P, (k + 1) * P)));
          expect(Math.abs(Math.cos((deg * Math.PI) / 180) - cos)).toBeLessThan(1e-5);
        });
        expect(record.rotationDeg).toHaveLength(3);
        const prevGram = previous.gram;
        const dG = Math.sqrt(gram.reduce((a, row, i) => a + row.reduce((b, x, j) => b + (x - prevGram[i][j]) ** 2, 0), 0));
        const gFro = Math.sqrt(gram.flat().reduce((a, x) => a + x * x, 0));
        expect(Math.abs(record.deltaGramNorm! - dG)).toBeLessThan(1e-5 * gFro);
        const s = record.sigma;
        record.davisKahanAlpha.forEach((alpha, j) => {
          const gap = s[j] ** 2 - s[j + 1] ** 2;
          expect(alpha).toBeCloseTo(Math.max(0, 1 - dG ** 2 / gap ** 2), 2);
        });
        const kk = record.kStar!;
        expect(record.adiabatic! / (dG / (optim.lr * (s[kk - 1] - s[kk]) ** 2))).toBeCloseTo(1, 3);
      } else {
        expect(record.rotationDeg).toEqual([]);
        expect(record.deltaGramNorm).toBeNull();
      }

      // Gap flow at k* (it needs v_k*+1, so k* < K = 3): the three terms, their sum, and the observed rate.
      const k = record.kStar!;
      if (k < 3) {
        const flow = record.gapFlow!;
        gapFlows++;
        expect(flow.gap).toBeCloseTo(record.sigma[k - 1] - record.sigma[k], 12);
        expect(flow.curvature).toHaveLength(k + 1);
        expect(flow.gradientProjection).toHaveLength(k + 1);
        expect(flow.predicted).toBeCloseTo(flow.curvatureAsymmetry + flow.damping + flow.gradientDriving, 12);
        expect(flow.damping).toBeCloseTo(-optim.lr * ((flow.curvature[k - 1] + flow.curvature[k]) / 2 + optim.weightDecay) * flow.gap, 12);
        if (previous) expect(flow.observed).toBeCloseTo((flow.gap - (previous.record.sigma[k - 1] - previous.record.sigma[k])) / 4, 12);
        else expect(flow.observed).toBeNull();
      } else {
        expect(record.gapFlow).toBeUndefined();
      }
      previous = { record, edges: all.slice(), gram };
    }
    expect(gapFlows).toBeGreaterThan(0);
    // Tracking the edge, with its gap-flow probes, does not change training.
    expect(Array.from(await tracked.readParams())).toEqual(Array.from(await engine.readParams()));
  });

  it('a run restored from a checkpoint has the same edge vectors and continues with the same spectral records', async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-add', 2, { steps: 40, evalEvery: 10, spectral: { window: 3, snapshotEvery: 5 } });
    const whole = await Trainer.create(rt, config);
    await whole.run();
    const resumed = await Trainer.create(rt, config);
    await resumed.run({ until: 20 });
    const checkpoint = await resumed.checkpoint();
    const fresh = await Trainer.create(rt, config);
    fresh.restore(checkpoint);
    // The restored run holds the last window's edge vectors (what the experiments on a checkpoint read).
    const edges = async (t: Trainer) => Array.from(await rt.readF32(t.edgeVectors!.buffer, 0, t.edgeVectors!.count * t.edgeVectors!.P));
    const kept = await edges(resumed);
    expect(kept.some((v) => v !== 0)).toBe(true);
    expect(await edges(fresh)).toEqual(kept);
    await fresh.run();
    expect(whole.toRunFile().spectral!.length).toBe(6);
    expect(fresh.toRunFile().spectral).toEqual(whole.toRunFile().spectral);
  });
});
