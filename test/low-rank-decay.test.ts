// Low-Rank Decay in training (docs/science.md §4) against the float64 reference, on tiny ragged models:
//   - each GPU step equals clip + AdamW with the decay mask (no AdamW decay on the chosen matrices) followed by
//     W <- W - rate * NS5(W) for each chosen matrix, in float64 from the GPU's own float32 parameters and
//     gradients (tolerances below), with the spectral edge's gradient/decay split holding the Low-Rank Decay change
//     in its decay part;
//   - a trainer with Low-Rank Decay records it in its run file and checkpoint, takes live lr / wd changes, resumes
//     bit for bit (also from checkpoint bytes into a fresh trainer), and records the stable ranks of W_Q and W_K
//     that a dense float64 SVD of the read-back matrices gives.
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { TINY_CASES, TINY_ENCODER_DECODER_CASES, type TinyCase } from './helpers/tiny-models';
import { TrainingEngine } from '../src/model/engine';
import { syntheticBatch } from '../src/tasks/synthetic';
import { clipAndAdamW } from '../src/reference/adamw';
import { lowRankDecay64 } from '../src/reference/polar';
import { decayMask, lowRankDecaySlices } from '../src/model/decay-mask';
import { decays, type DecayConfig, type OptimConfig } from '../src/formats/optim';
import { attentionModules } from '../src/model/params';
import { Trainer } from '../src/train/trainer';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_FILE, type RunConfig } from '../src/formats/run-file';
import type { TaskSpec } from '../src/formats/task';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';

const STEPS = 4;

const cases: { c: TinyCase; decay: Extract<DecayConfig, { kind: 'lrd' }> }[] = [
  { c: TINY_CASES[0], decay: { kind: 'lrd', rate: 0.02, params: ['wq', 'wk'] } },
  // Cross-attention too, and a set of matrices that are not adjacent in the table.
  { c: TINY_ENCODER_DECODER_CASES[1], decay: { kind: 'lrd', rate: 0.05, params: ['wo', 'wq', 'wv'] } },
];

describe.each(cases)('Low-Rank Decay step on the GPU vs float64 ($c.name, $decay.params)', ({ c, decay }) => {
  it('equals masked AdamW then W - rate NS5(W), and the split holds the change in its decay part', async () => {
    const rt = await testRuntime();
    // wd and lr large enough that a missing mask (lr wd |theta| ~ 1e-3 a step) would be far outside the tolerance.
    const optim: OptimConfig = { lr: 2e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
    const probe = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3 });
    const table = probe.table;
    const slice = table.attn;
    const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, splitSlice: slice, decay });
    expect(engine.decay).toEqual(decay);
    const mask = decayMask(table, decay);
    const chosen = lowRankDecaySlices(table, decay);
    expect(chosen.length).toBe(attentionModules(table).length * decay.params.length);
    expect(chosen.every((s) => decay.params.some((p) => s.name.endsWith(`.${p}`)))).toBe(true);

    const n = table.total;
    const { offset, size } = slice;
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const decayPart = new Float64Array(size);
    const adamPart = new Float64Array(size);
    const start = await engine.readParams();
    let lrdChange = 0;
    for (let t = 1; t <= STEPS; t++) {
      const before = await engine.readParams();
      engine.step(syntheticBatch(c.config, c.shape, 70 + t));
      const grads = Float64Array.from(await engine.readGrads());
      const afterAdam = Float64Array.from(before);
      clipAndAdamW(afterAdam, grads, m, v, t, optim, mask);
      const ref = Float64Array.from(afterAdam);
      for (const s of chosen) lowRankDecay64(ref.subarray(s.offset, s.offset + s.size), s.shape[0], s.shape[1], decay.rate);
      // Adam's float32 step carries ~1e-6 relative error (test/adamw.test.ts), and the float32 moments drift from
      // the float64 ones over the steps; the Newton-Schulz factor is within ~4e-5 of the float64 one elementwise
      // (test/polar.test.ts), times the rate: 2e-6 absolute at most (measured worst 2.0e-7 over both cases).
      const got = await engine.readParams();
      expectClose(got, ref, { atol: 2e-6, rtol: 1e-5 }, `params after step ${t}`);
      for (let j = 0; j < size; j++) {
        const i = offset + j;
        const d = decays(mask, i) ? -optim.lr * optim.weightDecay * before[i] : ref[i] - afterAdam[i];
        decayPart[j] += d;
        adamPart[j] += afterAdam[i] - (decays(mask, i) ? before[i] * (1 - optim.lr * optim.weightDecay) : before[i]);
        if (!decays(mask, i)) lrdChange = Math.max(lrdChange, Math.abs(ref[i] - afterAdam[i]));
      }
    }
    // The update is not trivially small: about rate / sqrt(d) per element and step.
    expect(lrdChange).toBeGreaterThan(decay.rate * 0.05);

    // The split: the decay part of the chosen matrices is the Low-Rank Decay change (per step rate times the polar
    // factor's float32 error, bounded by 1e-6 as above; measured worst 2.8e-8 over the steps), of the others AdamW's
    // decay; the Adam part as in test/spectral-split.test.ts; together the slice's change, to float32 rounding of the
    // parameters and the sums (bound ~4e-6; measured worst 7.8e-8).
    const acc = await rt.readF32(engine.splitAccumulator!.buffer, 0, 2 * size);
    expectClose(acc.subarray(0, size), decayPart, { atol: STEPS * 1e-6, rtol: 1e-5 }, 'decay part');
    expectClose(acc.subarray(size), adamPart, { atol: STEPS * 1e-5 * optim.lr, rtol: 1e-5 }, 'Adam part');
    const after = await engine.readParams();
    const thetaScale = Math.max(...Array.from(start, Math.abs));
    const change = Float64Array.from({ length: size }, (_, j) => after[offset + j] - start[offset + j]);
    const sum = Float64Array.from({ length: size }, (_, j) => acc[j] + acc[size + j]);
    expectClose(sum, change, { atol: 6 * STEPS * 2 ** -24 * (thetaScale + STEPS * optim.lr), rtol: 0 }, 'decay + Adam part');
  });
});

const p = 11;
const task: TaskSpec = { kind: 'modarith', p, op: 'add', trainFraction: 0.6 };

/** The modarith preset (minibatches of 16) on a tiny 2-layer model, with Low-Rank Decay and a short spectral window. */
function tinyLrdConfig(): RunConfig {
  const base = resolveRunConfig('modarith', 7, {
    steps: 40, evalEvery: 10, decay: 'lrd', lrdRate: 0.01, spectral: { window: 3, snapshotEvery: 5 },
  });
  const model = { ...base.model, nLayers: 2, dModel: 16, nHeads: 2, dFF: 32, vocabSize: p, nClasses: p, posInitStd: 0.25 };
  return { ...base, task, model, shape: { ...base.shape, batch: 16 }, optim: { ...base.optim, lr: 1e-2 } };
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** sum sigma_i^2 / sigma_1^2 of the row-major rows x cols matrix, from ml-matrix's dense SVD in float64. */
function svdStableRank(w: Float32Array, rows: number, cols: number): number {
  const matrix = new Matrix(Array.from({ length: rows }, (_, i) => Array.from(w.subarray(i * cols, (i + 1) * cols))));
  const s = new SingularValueDecomposition(matrix, { autoTranspose: true }).diagonal;
  return s.reduce((acc, x) => acc + x * x, 0) / (s[0] * s[0]);
}

describe('a training run with Low-Rank Decay', () => {
  it('records its decay, takes live lr/wd changes, resumes bit for bit, and records the stable ranks of W_Q and W_K', async () => {
    const rt = await testRuntime();
    const config = tinyLrdConfig();
    expect(config.decay).toEqual({ kind: 'lrd', rate: 0.01, params: ['wq', 'wk'] });
    const trainer = await Trainer.create(rt, config);
    expect(trainer.engine.decay).toEqual(config.decay);
    // Step 17 is between evaluations and snapshots, with a spectral window already analysed.
    await trainer.run({ until: 17 });
    const checkpoint = await trainer.checkpoint();
    const bytes = encodeCheckpoint(checkpoint, config);
    // A live change after the checkpoint, replayed at the same step by every continuation below.
    const change = { lr: 5e-3, weightDecay: 0.3 };
    const continueFrom = async (t: Trainer) => {
      await t.run({ until: 20 });
      expect(t.setHyper(change)).toMatchObject({ type: 'hyper', step: 20, after: change });
      expect(t.engine.optim).toMatchObject(change);
      expect(await t.run()).toBe('completed');
      return { series: structuredClone(t.series), records: structuredClone(t.spectralRecords), params: await t.engine.readParams() };
    };
    const whole = await continueFrom(trainer);
    expect(whole.series.step).toEqual([10, 20, 30, 40]);
    expect(whole.records.map((r) => r.step)).toEqual([15, 20, 25, 30, 35, 40]);

    // The stable ranks in the last record (step 40) are those of the parameters now, by a dense float64 SVD.
    const params = whole.params;
    const modules = attentionModules(trainer.engine.table);
    expect(modules).toEqual(['layers.0.attn', 'layers.1.attn']);
    const last = whole.records.at(-1)!;
    const expected = { q: [] as number[], k: [] as number[] };
    for (const module of modules) {
      for (const which of ['q', 'k'] as const) {
        const s = trainer.engine.table.get(`${module}.w${which}`);
        expected[which].push(svdStableRank(params.subarray(s.offset, s.offset + s.size), s.shape[0], s.shape[1]));
      }
    }
    expect(last.stableRank!.q.length).toBe(2);
    // Both float64 from the same float32 matrices: Lanczos to 1e-14 of ||W||_F^2 against the SVD (measured 3e-15).
    expectClose(last.stableRank!.q, expected.q, { atol: 0, rtol: 1e-12 }, 'stable rank of W_Q');
    expectClose(last.stableRank!.k, expected.k, { atol: 0, rtol: 1e-12 }, 'stable rank of W_K');
    for (const r of whole.records) for (const x of [...r.stableRank!.q, ...r.stableRank!.k]) expect(x).toBeGreaterThan(1);

    // The run file records the decay and the stable ranks, and passes its schema; read from outside it is refused,
    // since its tiny model is not the modarith preset's.
    const run = trainer.toRunFile();
    expect(RUN_FILE.parse(JSON.stringify(run))).toEqual(run);
    expect(() => parseRunFile(JSON.stringify(run))).toThrow(/^invalid run file: config\.task\.p is 11; preset modarith with seed 7/);
    expect(run.config.decay).toEqual(config.decay);
    expect(run.config.overrides).toMatchObject({ decay: 'lrd', lrdRate: 0.01 });

    // Resume: the same trainer, then a fresh one built from the checkpoint file's own configuration (the file names
    // its place in the run's history; the run file supplies that history).
    trainer.restore(checkpoint);
    const again = await continueFrom(trainer);
    expect(() => decodeCheckpoint(bytes)).toThrow(/does not carry its history/);
    const decoded = decodeCheckpoint(bytes, { run: { config: run.config, metrics: run } });
    expect(decoded.config.decay).toEqual(config.decay);
    const fresh = await Trainer.create(rt, decoded.config);
    fresh.restore(decoded.checkpoint);
    const resumed = await continueFrom(fresh);
    for (const r of [again, resumed]) {
      expect(r.series).toEqual(whole.series);
      expect(r.records).toEqual(whole.records);
      expect(sameBits(r.params, whole.params)).toBe(true);
    }
  });
});
