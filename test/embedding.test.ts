import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose, type Tolerance } from './helpers/close';
import { finiteDifferenceGradient } from './helpers/finite-difference';
import { packTensors } from './helpers/packed';
import { Rng } from '../src/util/random';
import * as oracle from '../src/reference/embedding';
import * as rowsOracle from '../src/reference/rows';
import { embeddingBackward, embeddingForward, tokenOrder } from '../src/model/ops/embedding';
import { gatherRows, scatterRows } from '../src/model/ops/rows';
import { normBackward, normForward, type NormGainSums } from '../src/model/ops/layernorm';

const DIMS = [1, 7, 33, 130];
/** A small vocabulary over 3 x 5 positions, so most tokens repeat, some (7..10) never occur. */
const [BATCH, SEQ, VOCAB, MAX_POS] = [3, 5, 11, 7];

// The forward is one f32 addition of f32 inputs: correctly rounded, so within 2^-24 (relative) of the f64
// sum; 2^-23 leaves room for a GPU whose addition is merely faithful.
const TOL_FORWARD: Tolerance = { atol: 0, rtol: 2 ** -23 };
// The backward sums at most 15 f32 terms of size ~1 (worst measured error 3.6e-7, absolute).
const TOL_BACKWARD: Tolerance = { atol: 1e-6, rtol: 1e-6 };
/** Sentinel for rows a kernel must leave alone. */
const UNTOUCHED = 1234.5;

function gaussian(rng: Rng, n: number): Float64Array {
  return Float64Array.from(Float32Array.from({ length: n }, () => rng.normal()));
}

function tokenIds(rng: Rng, n: number, vocab: number): Uint32Array {
  return Uint32Array.from({ length: n }, () => rng.int(Math.min(vocab, 7)));
}

describe('embedding float64 oracle', () => {
  it('backward matches central finite differences of the forward (repeated and out-of-range ids)', () => {
    const rng = new Rng(5);
    const [batch, seqLen, d, vocab, maxPos] = [2, 3, 4, 3, 4];
    const tokens = Int32Array.from([1, 1, 2, 1, -1, 3]); // 1 repeats; -1 and 3 are outside [0, 3)
    const tok = gaussian(rng, vocab * d);
    const pos = gaussian(rng, maxPos * d);
    const w = gaussian(rng, batch * seqLen * d);
    const loss = (tt: Float64Array, pp: Float64Array) =>
      oracle.embeddingForward(tokens, tt, pp, batch, seqLen, d).reduce((s, v, i) => s + v * w[i], 0);
    const grad = oracle.embeddingBackward(w, tokens, batch, seqLen, d, vocab, maxPos);
    const fd = { atol: 1e-8, rtol: 1e-6 };
    expectClose(grad.dTok, finiteDifferenceGradient((tt) => loss(tt, pos), tok), fd, 'dTok');
    expectClose(grad.dPos, finiteDifferenceGradient((pp) => loss(tok, pp), pos), fd, 'dPos');
  });
});

describe('embedding on the GPU', () => {
  it.each(DIMS)('forward with d = %i matches the oracle; ids >= vocab add no token row', async (d) => {
    const rt = await testRuntime();
    const rng = new Rng(d);
    const tokens = tokenIds(rng, BATCH * SEQ, VOCAB);
    tokens[4] = VOCAB; // just past the table: would read pos_emb, which follows it in the buffer
    tokens[9] = 0xffffffff;
    const tok = gaussian(rng, VOCAB * d);
    const pos = gaussian(rng, MAX_POS * d);
    const want = oracle.embeddingForward(tokens, tok, pos, BATCH, SEQ, d);
    const params = packTensors(rt, 'params', { tok, pos });
    const acts = packTensors(rt, 'acts', { out: new Float32Array(BATCH * SEQ * d).fill(NaN) });
    const tokenBuffer = rt.storageFrom('tokens', tokens);
    rt.run([
      await embeddingForward(rt, {
        tokens: tokenBuffer,
        tokEmb: params.ref.tok,
        posEmb: params.ref.pos,
        out: acts.ref.out,
        batch: BATCH,
        seqLen: SEQ,
        d,
        vocab: VOCAB,
      }),
    ]);
    expectClose(await acts.read('out'), want, TOL_FORWARD, 'out');
  });

  it.each(DIMS)('backward with d = %i matches the oracle, writes every dTok row, leaves dPos rows >= T', async (d) => {
    const rt = await testRuntime();
    const rng = new Rng(100 + d);
    const tokens = tokenIds(rng, BATCH * SEQ, VOCAB);
    tokens[6] = VOCAB + 2; // out of range: its gradient goes nowhere
    const dOut = gaussian(rng, BATCH * SEQ * d);
    const want = oracle.embeddingBackward(dOut, tokens, BATCH, SEQ, d, VOCAB, MAX_POS);
    const wantPos = want.dPos.map((v, i) => (i < SEQ * d ? v : UNTOUCHED));
    // dTok starts as NaN (must be written, not accumulated); dPos rows >= T hold a sentinel. Both live in
    // one gradient buffer, as in the engine.
    const grads = packTensors(rt, 'grads', {
      tok: new Float32Array(VOCAB * d).fill(NaN),
      pos: new Float32Array(MAX_POS * d).map((_, i) => (i < SEQ * d ? NaN : UNTOUCHED)),
    });
    const dacts = packTensors(rt, 'dacts', { dOut });
    const order = rt.storageFrom('tokenOrder', tokenOrder(tokens, VOCAB));
    const args = { tokenOrder: order, dOut: dacts.ref.dOut, dTok: grads.ref.tok, dPos: grads.ref.pos, batch: BATCH, seqLen: SEQ, d, vocab: VOCAB };
    rt.run([await embeddingBackward(rt, args)]);
    const dTok = await grads.read('tok');
    expectClose(dTok, want.dTok, TOL_BACKWARD, 'dTok');
    expectClose(await grads.read('pos'), wantPos, TOL_BACKWARD, 'dPos');
    // The same bits as f32 additions in increasing order of position: walking each token's own positions adds the
    // same terms in the same order as scanning every position.
    const inOrder = new Float32Array(VOCAB * d);
    tokens.forEach((t, n) => {
      if (t < VOCAB) for (let i = 0; i < d; i++) inOrder[t * d + i] = Math.fround(inOrder[t * d + i] + dOut[n * d + i]);
    });
    expect(Float32Array.from(dTok)).toEqual(inOrder);
  });

  // On GPUs several lanes share each sum (chooseSumLanes), every SUM_LANES-th term each, then a tree: against the oracle
  // on a batch whose tokens repeat ~30 times and whose positions each sum 40 rows, so every lane has terms. Sums of 40
  // terms of size ~1 (worst measured error 1.6e-6).
  it.each([
    { d: 7, sumLanes: 16 },
    { d: 130, sumLanes: 64 },
    { d: 33, sumLanes: 4 },
  ] as const)('backward with $sumLanes lanes a sum, d = $d, matches the oracle', async ({ d, sumLanes }) => {
    const rt = await testRuntime();
    const [batch, seqLen, vocab] = [40, 3, 4];
    const rng = new Rng(300 + d);
    const tokens = tokenIds(rng, batch * seqLen, vocab);
    const dOut = gaussian(rng, batch * seqLen * d);
    const want = oracle.embeddingBackward(dOut, tokens, batch, seqLen, d, vocab, seqLen);
    const grads = packTensors(rt, 'grads', { tok: new Float32Array(vocab * d).fill(NaN), pos: new Float32Array(seqLen * d).fill(NaN), dOut });
    const order = rt.storageFrom('tokenOrder', tokenOrder(tokens, vocab));
    rt.run([await embeddingBackward(rt, { tokenOrder: order, dOut: grads.ref.dOut, dTok: grads.ref.tok, dPos: grads.ref.pos, batch, seqLen, d, vocab, sumLanes })]);
    const tolerance: Tolerance = { atol: 4e-6, rtol: 1e-6 };
    expectClose(await grads.read('tok'), want.dTok, tolerance, 'dTok');
    expectClose(await grads.read('pos'), want.dPos, tolerance, 'dPos');
  });

  // The fused graph on GPUs sums the gain gradients of the norm that reads the embeddings beside this backward
  // (shaders/norm_grad.wgsl, GAIN_LANES invocations a column in the tree order): the same bits as the norm kernel's
  // backward in the order it is told to follow, and the embedding's own gradients unchanged. Ragged d: below and above
  // one workgroup of columns (8 in the tree order), and above the 64 columns of one row of the grid.
  it.each([
    { d: 7, norm: 'layer', order: 'tree' },
    { d: 130, norm: 'rms', order: 'tree', sumLanes: 16 },
    { d: 33, norm: 'layer', order: 'serial' },
  ] as const)('backward with the gain sums of a $norm norm beside it, d = $d, $order order: the norm kernel\'s bits', async ({ d, norm, order, ...c }) => {
    const rt = await testRuntime();
    const rng = new Rng(200 + d);
    const rows = BATCH * SEQ;
    const tokens = tokenIds(rng, rows, VOCAB);
    const layer = norm === 'layer';
    const kernel = { kind: order };
    const nan = (n: number) => new Float32Array(n).fill(NaN);
    const t = packTensors(rt, 't', {
      x: gaussian(rng, rows * d), gamma: gaussian(rng, d), beta: gaussian(rng, d), dy: gaussian(rng, rows * d), dOut: gaussian(rng, rows * d),
      y: new Float32Array(rows * d), mean: new Float32Array(rows), rstd: new Float32Array(rows), dx: new Float32Array(rows * d),
      tok: nan(VOCAB * d), pos: nan(SEQ * d), dg: nan(d), db: nan(d), tokAlone: nan(VOCAB * d), posAlone: nan(SEQ * d), dgAlone: nan(d), dbAlone: nan(d),
    });
    const r = t.ref;
    const forward = { x: r.x, gamma: r.gamma, y: r.y, rstd: r.rstd, rows, d, kernel };
    const backward = { dy: r.dy, x: r.x, gamma: r.gamma, rstd: r.rstd, dx: r.dx, dGamma: r.dgAlone, rows, d, kernel };
    const gains: NormGainSums = layer
      ? { kind: 'layer', dy: r.dy, x: r.x, mean: r.mean, rstd: r.rstd, dGamma: r.dg, dBeta: r.db, rows, d, kernel }
      : { kind: 'rms', dy: r.dy, x: r.x, rstd: r.rstd, dGamma: r.dg, rows, d, kernel };
    const positions = rt.storageFrom('tokenOrder', tokenOrder(tokens, VOCAB));
    const args = { tokenOrder: positions, dOut: r.dOut, batch: BATCH, seqLen: SEQ, d, vocab: VOCAB, sumLanes: 'sumLanes' in c ? c.sumLanes : undefined };
    rt.run([
      layer ? await normForward(rt, { ...forward, beta: r.beta, mean: r.mean }) : await normForward(rt, { ...forward, kind: 'rms' }),
      await embeddingBackward(rt, { ...args, dTok: r.tok, dPos: r.pos, gainSums: gains }),
      await embeddingBackward(rt, { ...args, dTok: r.tokAlone, dPos: r.posAlone }),
      layer ? await normBackward(rt, { ...backward, mean: r.mean, dBeta: r.dbAlone }) : await normBackward(rt, { ...backward, kind: 'rms' }),
    ]);
    expect(await t.read('dg')).toEqual(await t.read('dgAlone'));
    if (layer) expect(await t.read('db')).toEqual(await t.read('dbAlone'));
    else expect((await t.read('db')).every(Number.isNaN), 'RMSNorm has no dBeta').toBe(true);
    expect(await t.read('tok')).toEqual(await t.read('tokAlone'));
    expect(await t.read('pos')).toEqual(await t.read('posAlone'));
    expect((await t.read('dg')).every(Number.isFinite), 'every dGamma column written').toBe(true);
  });
});

describe('token order', () => {
  it('lists the positions of each token in increasing order after the offsets, and leaves ids >= vocab out', () => {
    const order = tokenOrder(Uint32Array.from([2, 0, 2, 5, 1, 0, 2]), 4);
    expect([...order]).toEqual([0, 2, 3, 6, 6, /* token 0 */ 1, 5, /* 1 */ 4, /* 2 */ 0, 2, 6, /* unused */ 0]);
  });
});

describe('readout rows on the GPU', () => {
  // [start, count] within sequences of length SEQ: one position, a middle run, all positions.
  const READOUTS: [number, number][] = [
    [0, 1],
    [1, 3],
    [0, SEQ],
  ];
  const CASES = DIMS.flatMap((d) => READOUTS.map(([start, count]) => [d, start, count] as const));

  it.each(CASES)('d = %i, rows [%i, +%i): gather and scatter match the oracle and round-trip', async (d, start, count) => {
    const rt = await testRuntime();
    const rng = new Rng(d * 10 + start);
    const full = gaussian(rng, BATCH * SEQ * d);
    const compact = gaussian(rng, BATCH * count * d);
    const shape = { batch: BATCH, seqLen: SEQ, start, count, d };
    // Both directions inside one buffer, as in an activation arena; the scatter target starts as a
    // sentinel to show that rows outside the readout are untouched.
    const t = packTensors(rt, 'acts', {
      full,
      gathered: new Float32Array(BATCH * count * d).fill(NaN),
      compact,
      scattered: new Float32Array(BATCH * SEQ * d).fill(UNTOUCHED),
      roundTrip: new Float32Array(BATCH * SEQ * d).fill(UNTOUCHED),
    });
    rt.run([
      await gatherRows(rt, { ...shape, src: t.ref.full, dst: t.ref.gathered }),
      await scatterRows(rt, { ...shape, src: t.ref.compact, dst: t.ref.scattered }),
      await scatterRows(rt, { ...shape, src: t.ref.gathered, dst: t.ref.roundTrip }),
    ]);
    const exact = { atol: 0, rtol: 0 };
    const gathered = rowsOracle.gatherRows(full, BATCH, SEQ, start, count, d);
    expectClose(await t.read('gathered'), gathered, exact, 'gathered');
    const untouched = () => new Float64Array(BATCH * SEQ * d).fill(UNTOUCHED);
    expectClose(await t.read('scattered'), rowsOracle.scatterRows(compact, BATCH, SEQ, start, count, d, untouched()), exact, 'scattered');
    // gather then scatter restores exactly the readout rows of `full`.
    const roundTrip = await t.read('roundTrip');
    for (let i = 0; i < roundTrip.length; i++) {
      const r = Math.floor(i / d) % SEQ;
      expect(roundTrip[i], `roundTrip[${i}]`).toBe(r >= start && r < start + count ? full[i] : UNTOUCHED);
    }
  });

  it('gather and scatter share one pipeline', async () => {
    const rt = await testRuntime();
    const t = packTensors(rt, 'acts', { full: new Float32Array(2 * 4 * 3), compact: new Float32Array(2 * 2 * 3) });
    const shape = { batch: 2, seqLen: 4, start: 1, count: 2, d: 3 };
    const gather = await gatherRows(rt, { ...shape, src: t.ref.full, dst: t.ref.compact });
    const scatter = await scatterRows(rt, { ...shape, src: t.ref.compact, dst: t.ref.full });
    expect(scatter.pipeline).toBe(gather.pipeline);
  });
});
