// The functional-modes experiment on the GPU (src/analysis/edge-modes.ts): the response field
// f(x) = ||h(theta + e v)_x - h(theta)_x||^2 against the float64 reference model's residual stream, parameters and
// gradients restored bit for bit; the experiment's wiring (spectra = functional-modes.ts on the measured field,
// head ops, schema, Dyck depth basis, models it does not apply to); and the acceptance test of issue 6 on the
// grokked quick-add model: v_1's response is concentrated in the additive basis far above the uniform level.
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { packTensors } from './helpers/packed';
import { TINY_CASES, TINY_ENCODER_DECODER_CASES, type TinyCase } from './helpers/tiny-models';
import { grokkedQuickAdd } from './helpers/grokked';
import { TrainingEngine } from '../src/model/engine';
import { syntheticBatch } from '../src/tasks/synthetic';
import { referenceForward } from '../src/reference/model';
import { IGNORE_TARGET, type Batch } from '../src/model/batch';
import { taskHeadCount } from '../src/model/config';
import { at } from '../src/gpu/runtime';
import { PRESET_SHAPES } from '../src/train/presets';
import { DYCK, dyckSplit } from '../src/tasks/dyck';
import { MOD_OPS } from '../src/tasks/modarith';
import type { ModOp } from '../src/formats/task';
import { contextOfTrainer, NotApplicableError, type AnalysisContext } from '../src/analysis/context';
import { allBasisSpectra, basisSpectrum, depthSpectrum } from '../src/analysis/functional-modes';
import { MOD_BASES, FUNCTIONAL_MODES_SCHEMA } from '../src/formats/experiments';
import { edgeFunctionalModes, permutationNull, randomUnitDirections, responseFields } from '../src/analysis/edge-modes';
import { Rng } from '../src/util/random';
import { describeAnalysis } from '../src/cli/analysis-summary';
import type { AnalysisFile } from '../src/formats/analysis-file';
import type { EdgeVectors } from '../src/spectral/monitor';

const optim = { lr: 1e-2, weightDecay: 0.1, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

/** A tiny engine moved off its initialisation by a few steps (so no bias or LN parameter is still exact). */
async function tinyEngine(c: TinyCase, steps = 3): Promise<TrainingEngine> {
  const engine = await TrainingEngine.create(await testRuntime(), { config: c.config, shape: c.shape, optim, seed: 9 });
  for (let s = 0; s < steps; s++) engine.step(syntheticBatch(c.config, c.shape, 100 + s));
  return engine;
}

async function snapshot(engine: TrainingEngine): Promise<{ params: Float32Array; grads: Float32Array }> {
  const rt = engine.runtime;
  return { params: await rt.readF32(engine.state.params), grads: await rt.readF32(engine.state.grads) };
}

/** `count` random unit directions over theta_attn packed at a ragged offset, as edge vectors. */
function fakeEdges(engine: TrainingEngine, seed: number, count: number): { edges: EdgeVectors; host: Float32Array } {
  const P = engine.table.attn.size;
  const host = randomUnitDirections(seed, P, count);
  const packed = packTensors(engine.runtime, 'test.edges', { v: host });
  const base = packed.ref.v.offset;
  return { edges: { buffer: packed.buffer, P, count, paramOffset: engine.table.attn.offset, vectorOffset: (j) => base + j * P }, host };
}

describe.each([TINY_CASES[1], TINY_CASES[3]])('response field vs the float64 reference ($name)', (c) => {
  it('f(x) = ||h(theta + e v)_x - h(theta)_x||^2 at every scored position; parameters and gradients bit-identical after', async () => {
    const engine = await tinyEngine(c);
    const count = 7; // chunks of 3: the last one padded
    const full = { ...c.shape, batch: count };
    const data = syntheticBatch(c.config, full, 31);
    const { edges, host } = fakeEdges(engine, 5, 2);
    const before = await snapshot(engine);
    const out = await responseFields(engine, data, [0, 1].map((j) => at(edges.buffer, edges.vectorOffset(j))), { chunk: 3 });
    const after = await snapshot(engine);
    expect(after.params).toEqual(before.params);
    expect(after.grads).toEqual(before.grads);

    const { attn } = engine.table;
    const theta = Float64Array.from(before.params);
    const norm = Math.sqrt(theta.subarray(attn.offset, attn.offset + attn.size).reduce((s, x) => s + x * x, 0));
    expect(out.thetaAttnNorm).toBeCloseTo(norm, 12);
    expect(out.eps).toBeCloseTo(0.005 * norm, 14);

    const top = (params: Float64Array) => {
      const ref = referenceForward(c.config, engine.table, params, full, data);
      return ref.tape.stacks[ref.tape.stacks.length - 1].x;
    };
    const h0 = top(theta);
    const heads = taskHeadCount(c.config);
    const { seqLen, readout } = c.shape;
    const d = c.config.dModel;
    const scored: number[] = [];
    const targets: number[] = [];
    for (let s = 0; s < count; s++) {
      for (let r = 0; r < readout.count; r++) {
        const y = data.targets.subarray((s * readout.count + r) * heads, (s * readout.count + r + 1) * heads);
        if (y.includes(IGNORE_TARGET)) continue;
        scored.push(s * seqLen + readout.start + r);
        targets.push(...y);
      }
    }
    expect(scored.length).toBeGreaterThan(count - 1);
    expect(Array.from(out.targets)).toEqual(targets);
    for (let j = 0; j < 2; j++) {
      const moved = Float64Array.from(theta);
      for (let i = 0; i < attn.size; i++) moved[attn.offset + i] += out.eps * host[j * attn.size + i];
      const h1 = top(moved);
      const expected = scored.map((row) => {
        let sum = 0;
        for (let i = row * d; i < (row + 1) * d; i++) sum += (h1[i] - h0[i]) ** 2;
        return sum;
      });
      // The field is not negligible: it is what the tolerance is read against.
      expect(Math.max(...expected)).toBeGreaterThan(1e-6);
      // Tolerance: rtol 2e-3 + atol 1e-4 x the field's mean. Each f32 residual is within ~5e-7 of float64
      // (test/residual-stream.test.ts), and the differences here are ~1e-2 per element (f ~ 1e-4), so f carries a
      // relative error of a few 1e-4 at most; measured worst 7.1e-5 (logged below).
      const meanF = expected.reduce((s, v) => s + v, 0) / expected.length;
      const worst = Math.max(...expected.map((e, x) => Math.abs(out.fields[j][x] - e) / (Math.abs(e) + 1e-12)));
      console.log(`${c.name}: direction ${j}: ${expected.length} points, mean f ${meanF.toExponential(3)}, worst relative error ${worst.toExponential(2)}`);
      expectClose(out.fields[j], expected, { atol: 1e-4 * meanF, rtol: 2e-3 }, `f along direction ${j}`);
    }
  });
});

describe('permutation null of a concentration (CPU)', () => {
  it('separates a field with additive structure from one without', () => {
    // 385 of the 961 pairs mod 31 (the quick-add held-out count), a seeded subset.
    const p = 31;
    const pairs: [number, number][] = [];
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) pairs.push([a, b]);
    const held = new Rng(3).shuffle(pairs).slice(0, 385);
    const a = held.map(([x]) => x);
    const b = held.map(([, y]) => y);
    const addF = (values: Float64Array) => basisSpectrum({ p, a, b, values }, 'add').concentration;
    const noise = new Rng(4);
    const structured = Float64Array.from(held, ([x, y]) => Math.cos((2 * Math.PI * 3 * (x + y)) / p) + 0.3 * noise.normal());
    const plain = Float64Array.from(held, () => noise.normal());
    const s = permutationNull(structured, addF, new Rng(5), 50);
    const n = permutationNull(plain, addF, new Rng(5), 50);
    console.log(`permutation null, add basis: structured F ${addF(structured).toFixed(3)} null ${s.mean.toFixed(3)} exceedance ${s.exceedance}; noise F ${addF(plain).toFixed(3)} null ${n.mean.toFixed(3)} exceedance ${n.exceedance}`);
    expect(addF(structured)).toBeGreaterThan(0.8);
    expect(s.exceedance).toBe(0);
    // An unstructured field's max share sits far above uniform (1/15), near ln(15)/15 + 0.58/15 ~ 0.22.
    for (const m of [s.mean, n.mean]) {
      expect(m).toBeGreaterThan(2 / 15);
      expect(m).toBeLessThan(0.35);
    }
    // Noise: its own F is an ordinary draw of the null (this seed: exceedance measured 0.56).
    expect(n.exceedance).toBeGreaterThan(0.05);
    expect(() => permutationNull(plain, addF, new Rng(1), 0)).toThrow(/count must be a positive integer/);
  });
});

/** Every pair (a, b) mod p except a few, with one label per op. */
function pairsBatch(p: number, ops: ModOp[], skip: (a: number, b: number) => boolean): Batch {
  const tokens: number[] = [];
  const targets: number[] = [];
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      if (skip(a, b)) continue;
      tokens.push(a, b);
      targets.push(...ops.map((op) => MOD_OPS[op](a, b, p)));
    }
  }
  return { tokens: Uint32Array.from(tokens), targets: Int32Array.from(targets) };
}

describe('functional modes experiment on a tiny multitask model (p = 7)', () => {
  it('reports the spectra of the measured fields in every basis, each head\'s op, and a valid result; parameters restored', async () => {
    const c = TINY_CASES[3]; // 3 heads, vocab = classes = 7, inputs [a, b], readout 0
    const engine = await tinyEngine(c);
    const ops: ModOp[] = ['add', 'mul', 'x2y2'];
    const test = pairsBatch(7, ops, (a, b) => (a * 3 + b) % 5 === 0); // 39 of 49 pairs: empty cells and groups
    const { edges } = fakeEdges(engine, 8, 2);
    const ctx: AnalysisContext = { engine, edges, test, seed: 11 };
    const before = await snapshot(engine);
    const progress: number[] = [];
    const result = await edgeFunctionalModes({ ...ctx, progress: (done, total) => progress.push(done / total) }, { chunk: 16 });
    expect((await snapshot(engine)).params).toEqual(before.params);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBe(5); // start, 3 chunks of 16, end

    const validate = new Ajv({ strict: false }).compile(FUNCTIONAL_MODES_SCHEMA);
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(validate({ ...result, extra: 1 })).toBe(false);

    expect(result.task).toBe('multitask');
    expect(result.p).toBe(7);
    expect(result.points).toBe(39);
    expect(result.heads).toEqual([
      { head: 0, op: 'add', bases: ['add'] },
      { head: 1, op: 'mul', bases: ['mulRaw', 'mulLog'] },
      { head: 2, op: 'x2y2', bases: [] },
    ]);
    expect(result.directions.map((d) => `${d.label}:${d.kind}`)).toEqual(['v1:edge', 'v2:edge', 'random1:random', 'random2:random']);

    // The same fields measured directly (the context's seed draws the random controls) give the same spectra.
    const P = engine.table.attn.size;
    const controls = packTensors(engine.runtime, 'test.controls', { r: randomUnitDirections(11, P, 2) });
    const dirs = [at(edges.buffer, edges.vectorOffset(0)), at(edges.buffer, edges.vectorOffset(1)), controls.ref.r, at(controls.buffer, controls.ref.r.offset + P)];
    const direct = await responseFields(engine, test, dirs);
    const a = Uint32Array.from({ length: 39 }, (_, i) => test.tokens[2 * i]);
    const b = Uint32Array.from({ length: 39 }, (_, i) => test.tokens[2 * i + 1]);
    direct.fields.forEach((values, j) => {
      const spectra = allBasisSpectra({ p: 7, a, b, values });
      const got = result.directions[j];
      // Same GPU work in another chunking: equal to float32 rounding of the residual (rtol 1e-4 on f).
      const meanF = values.reduce((s, v) => s + v, 0) / 39;
      expect(Math.abs(got.meanResponse - meanF)).toBeLessThan(1e-4 * meanF);
      for (const basis of MOD_BASES) {
        const mine = got.bases[basis]!;
        expect(mine.modulus).toBe(basis === 'mulLog' ? 6 : 7);
        expect(mine.uniformLevel).toBe(1 / 3);
        expect(mine.peakFrequency).toBe(spectra[basis].peakFrequency);
        expectClose(mine.power, spectra[basis].power, { atol: 1e-4, rtol: 0 }, `${got.label} ${basis} power`);
        expect(mine.missingGroups).toBe(spectra[basis].missingGroups);
        expect(mine.excludedPoints).toBe(spectra[basis].excludedPairs);
        expect(mine.nullConcentration!).toBeGreaterThanOrEqual(mine.uniformLevel);
        expect(mine.nullConcentration!).toBeLessThanOrEqual(1);
        expect(mine.nullExceedance!).toBeGreaterThanOrEqual(0);
        expect(mine.nullExceedance!).toBeLessThanOrEqual(1);
      }
      expect(got.grid!.observedCells).toBe(39);
      expect(got.grid!.peaks).toHaveLength(6);
      // The same spectra over the pairs a != b alone, and the diagonal's mean f over the rest's.
      const off = Array.from({ length: 39 }, (_, i) => i).filter((i) => a[i] !== b[i]);
      const offSpectra = allBasisSpectra({ p: 7, a: off.map((i) => a[i]), b: off.map((i) => b[i]), values: off.map((i) => values[i]) });
      const diagonal = Array.from({ length: 39 }, (_, i) => i).filter((i) => a[i] === b[i]);
      const meanOf = (idx: number[]) => idx.reduce((s, i) => s + values[i], 0) / idx.length;
      expect(got.offDiagonal!.diagonalPairs).toBe(5); // a = b = 1..4, 6 (0 and 5 are not held out)
      expect(got.offDiagonal!.diagonalResponseRatio!).toBeCloseTo(meanOf(diagonal) / meanOf(off), 3);
      for (const basis of MOD_BASES) {
        const mine = got.offDiagonal!.bases[basis]!;
        expect(mine.peakFrequency).toBe(offSpectra[basis].peakFrequency);
        expectClose(mine.power, offSpectra[basis].power, { atol: 1e-4, rtol: 0 }, `${got.label} ${basis} power over a != b`);
        expect(mine.nullConcentration!).toBeGreaterThanOrEqual(mine.uniformLevel);
      }
      // The sub basis over a != b never sees q = 0.
      expect(got.offDiagonal!.bases.sub!.missingGroups).toBe(1);
    });
    expect(result.directions[2].bases.mulLog!.excludedPoints).toBe(test.tokens.filter((t, i) => i % 2 === 0 && (t === 0 || test.tokens[i + 1] === 0)).length);
    // v1's full grid: sums to 1, symmetric under (k1, k2) -> (-k1, -k2), DC 0, each cell half its pair's share.
    const grid = result.gridV1!.power;
    expect(grid).toHaveLength(49);
    expect(grid[0]).toBe(0);
    expect(grid.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    for (let k1 = 0; k1 < 7; k1++) for (let k2 = 0; k2 < 7; k2++) expect(grid[k1 * 7 + k2]).toBe(grid[((7 - k1) % 7) * 7 + ((7 - k2) % 7)]);
    const top = result.directions[0].grid!.peaks[0];
    expect(grid[((top.k1 + 7) % 7) * 7 + ((top.k2 + 7) % 7)]).toBeCloseTo(top.power / 2, 12);
  });
});

describe('functional modes on an untrained quick-dyck model', () => {
  it('groups the field of every non-PAD position by depth', async () => {
    const rt = await testRuntime();
    const { model, shape, optim: o } = PRESET_SHAPES['quick-dyck'];
    const engine = await TrainingEngine.create(rt, { config: model, shape, optim: o, seed: 2 });
    const test = dyckSplit().test;
    const { edges } = fakeEdges(engine, 4, 1);
    const sequences = 12;
    const result = await edgeFunctionalModes({ engine, edges, test, seed: 5 }, { sequences, random: 1 });
    const tokens = test.tokens.subarray(0, sequences * DYCK.context);
    const depths = Array.from(test.targets.subarray(0, sequences * DYCK.context)).filter((q) => q !== IGNORE_TARGET);
    expect(result.task).toBe('dyck');
    expect(result.heads).toBeNull();
    expect(result.gridV1).toBeNull();
    expect(result.points).toBe(tokens.filter((t) => t !== DYCK.pad).length);
    expect(result.directions.map((d) => d.label)).toEqual(['v1', 'random1']);
    const direct = await responseFields(engine, { tokens, targets: test.targets.subarray(0, sequences * DYCK.context) }, [at(edges.buffer, edges.vectorOffset(0))]);
    expect(Array.from(direct.targets)).toEqual(depths);
    const expected = depthSpectrum(direct.fields[0], depths);
    const depth = result.directions[0].bases.depth!;
    expect(Object.keys(result.directions[0].bases)).toEqual(['depth']);
    expect(result.directions[0].offDiagonal).toBeNull();
    expect(depth.modulus).toBe(Math.max(...depths) + 1);
    expect(depth.peakFrequency).toBe(expected.peakFrequency);
    expectClose(depth.groupMeans, expected.groupMeans, { atol: 0, rtol: 1e-9 }, 'depth group means');
    expect(new Ajv({ strict: false }).compile(FUNCTIONAL_MODES_SCHEMA)(result)).toBe(true);
  });
});

describe('functional modes: models and options it does not apply to', () => {
  it('rejects SCAN-like and other models, edges over another slice, and bad options', async () => {
    const rt = await testRuntime();
    const ed = TINY_ENCODER_DECODER_CASES[0];
    const edEngine = await TrainingEngine.create(rt, { config: ed.config, shape: ed.shape, optim, seed: 1 });
    const edTest = syntheticBatch(ed.config, ed.shape, 1);
    await expect(edgeFunctionalModes({ engine: edEngine, edges: fakeEdges(edEngine, 1, 1).edges, test: edTest, seed: 1 })).rejects.toThrow(NotApplicableError);
    await expect(edgeFunctionalModes({ engine: edEngine, edges: fakeEdges(edEngine, 1, 1).edges, test: edTest, seed: 1 })).rejects.toThrow(/encoder-decoder \(SCAN\)/);

    const other = await tinyEngine(TINY_CASES[0], 0); // 3 positions, 11 tokens, 7 classes: no basis
    const otherTest = syntheticBatch(TINY_CASES[0].config, TINY_CASES[0].shape, 1);
    await expect(edgeFunctionalModes({ engine: other, edges: fakeEdges(other, 1, 1).edges, test: otherTest, seed: 1 })).rejects.toThrow(/need a modular-arithmetic model .* 11 tokens, 7 classes, 3 positions/);

    const mt = await tinyEngine(TINY_CASES[3], 0);
    const test = pairsBatch(7, ['add', 'sub', 'mul'], () => false);
    const { edges } = fakeEdges(mt, 1, 2);
    const ctx = { engine: mt, edges, test, seed: 1 };
    await expect(edgeFunctionalModes({ ...ctx, edges: { ...edges, paramOffset: 1 } })).rejects.toThrow(/perturb theta_attn; the edge vectors span parameters \[1,/);
    await expect(edgeFunctionalModes(ctx, { k: 3 })).rejects.toThrow(/k must be an integer in \[1, 2\], got 3/);
    await expect(edgeFunctionalModes(ctx, { random: -1 })).rejects.toThrow(/random must be a non-negative integer/);
    await expect(edgeFunctionalModes(ctx, { sequences: 50 })).rejects.toThrow(/sequences must be an integer in \[1, 49\], got 50/);
    await expect(edgeFunctionalModes(ctx, { scale: 0 })).rejects.toThrow(/scale must be positive and finite/);
    await expect(edgeFunctionalModes(ctx, { permutations: 1.5 })).rejects.toThrow(/permutations must be a non-negative integer/);
    const noNull = await edgeFunctionalModes(ctx, { permutations: 0, k: 1, random: 0 });
    expect(noNull.directions[0].bases.add!.nullConcentration).toBeNull();
    expect(noNull.directions[0].bases.add!.nullExceedance).toBeNull();
  });
});

describe('acceptance (issue 6): functional modes of the grokked quick-add edge', () => {
  it('v1 additive concentration exceeds 3x the uniform level 1/15 (the issue 6 criterion; null and controls logged)', async () => {
    const trainer = await grokkedQuickAdd();
    const ctx = contextOfTrainer(trainer, { seed: 1 });
    const before = await trainer.engine.runtime.readF32(trainer.engine.state.params);
    const t0 = performance.now();
    const result = await edgeFunctionalModes(ctx);
    const ms = performance.now() - t0;
    expect(await trainer.engine.runtime.readF32(trainer.engine.state.params)).toEqual(before);
    const lines = result.directions.map((d) => {
      const cells = MOD_BASES.map((b) => {
        const m = d.bases[b]!;
        return `${b} F ${m.concentration.toFixed(3)} @${m.peakFrequency} (null ${m.nullConcentration!.toFixed(3)}, exc ${m.nullExceedance!.toFixed(2)})`;
      }).join(' | ');
      const g = d.grid!.peaks[0];
      const off = d.offDiagonal!;
      return `${d.label.padEnd(8)} mean f ${d.meanResponse.toExponential(2)} | ${cells} | 2-D F ${d.grid!.concentration.toFixed(3)} @(${g.k1},${g.k2}) | a = b: f ${off.diagonalResponseRatio!.toFixed(2)}x the rest, mulLog over a != b F ${off.bases.mulLog!.concentration.toFixed(3)} @${off.bases.mulLog!.peakFrequency}`;
    });
    console.log(`functional modes, quick-add seed 1 at step ${trainer.step} (${result.points} held-out pairs, e ${result.eps.toExponential(3)}, ${ms.toFixed(0)} ms):\n${lines.join('\n')}`);
    expect(result.task).toBe('modarith');
    expect(result.points).toBe(385);
    expect(result.heads).toEqual([{ head: 0, op: 'add', bases: ['add'] }]);
    const v1 = result.directions[0];
    expect(v1.label).toBe('v1');
    expect(v1.bases.add!.uniformLevel).toBe(1 / 15);
    // The acceptance criterion of issue 6: F(v1, add) > 3 x uniform = 0.2. Measured 0.214 (peak 5). Note: this is at
    // the permutation null (~0.21, logged), so it does not show v1 carrying more additive structure than noise or
    // than the random controls (0.34, 0.23); the log states it, and the result file carries the null.
    expect(v1.bases.add!.concentration).toBeGreaterThan(3 / 15);
  });
});

describe('functional modes in the CLI summary', () => {
  it('prints each direction over all pairs, then over a != b with the diagonal response ratio', () => {
    const modes = (concentration: number, peakFrequency: number) => ({ mulLog: { concentration, peakFrequency, uniformLevel: 1 / 48 } });
    const result = { directions: [{ label: 'v1', bases: modes(0.416, 48), offDiagonal: { bases: modes(0.077, 42), diagonalPairs: 47, diagonalResponseRatio: 6.2 } }, { label: 'random1', bases: modes(0.2, 3), offDiagonal: null }] };
    const lines = describeAnalysis({ experiments: { fourier: { wallMs: 1, result } } } as unknown as AnalysisFile).map((l) => l.trim());
    expect(lines).toEqual([
      'fourier (0.0 s):',
      'v1: mulLog F 0.416 at k 48 (uniform 0.021)',
      'v1 over a != b (47 pairs a = b left out, their mean f 6.2x the rest\'s): mulLog F 0.077 at k 42 (uniform 0.021)',
      'random1: mulLog F 0.200 at k 3 (uniform 0.021)',
    ]);
  });
});
