import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { at } from '../src/gpu/runtime';
import { crossEntropy as crossEntropyGpu } from '../src/model/ops/cross_entropy';
import { crossEntropy } from '../src/reference/cross_entropy';
import { Rng } from '../src/util/random';
import { packTensors } from './helpers/packed';
import { matmul } from '../src/model/ops/matmul';
import { linearForward } from '../src/reference/linear';
import { normForward } from '../src/model/ops/layernorm';
import * as normOracle from '../src/reference/layernorm';

/** Logits that are exactly representable in float32, so the GPU and the oracle see the same inputs. */
function randomLogits(rng: Rng, count: number, scale: number): Float64Array {
  return Float64Array.from(Float32Array.from({ length: count }, () => scale * rng.normal()));
}

/** Targets in [0, classes), with about `ignoredFraction` of the rows set to -1. */
function randomTargets(rng: Rng, rows: number, classes: number, ignoredFraction: number): Int32Array {
  return Int32Array.from({ length: rows }, () => (rng.uniform() < ignoredFraction ? -1 : rng.int(classes)));
}

/**
 * Runs the kernel with every tensor at a nonzero offset in its buffer (as in the engine's shared buffers)
 * and returns the per-row losses and dlogits.
 */
async function runGpu(logits: Float64Array, targets: Int32Array, rows: number, classes: number) {
  const rt = await testRuntime();
  const [logitsAt, lossesAt, dLogitsAt] = [5, 3, 11];
  const logitsBuf = rt.storage('logits', (logitsAt + logits.length) * 4);
  rt.write(logitsBuf, Float32Array.from(logits), logitsAt * 4);
  const targetsBuf = rt.storageFrom('targets', targets);
  const losses = rt.storageFrom('losses', new Float32Array(lossesAt + rows).fill(Number.NaN));
  const dLogits = rt.storageFrom('dLogits', new Float32Array(dLogitsAt + rows * classes).fill(Number.NaN));
  const d = await crossEntropyGpu(rt, {
    logits: at(logitsBuf, logitsAt), targets: targetsBuf, losses: at(losses, lossesAt), dLogits: at(dLogits, dLogitsAt), rows, classes,
  });
  rt.run([d]);
  return { losses: await rt.readF32(losses, lossesAt, rows), dLogits: await rt.readF32(dLogits, dLogitsAt, rows * classes) };
}

/** What the CPU does with the kernel's output: sum the per-row losses in float64, divide by nScored. */
function meanLoss(losses: Float32Array, nScored: number): number {
  return nScored > 0 ? losses.reduce((s, x) => s + x, 0) / nScored : 0;
}

describe('cross-entropy float64 reference', () => {
  it('dlogits match central finite differences of the mean loss, ignored rows included', () => {
    const rng = new Rng(11);
    const rows = 6;
    const classes = 7;
    const logits = randomLogits(rng, rows * classes, 2);
    const targets = Int32Array.from([3, -1, 0, 6, -1, 2]);
    const { dLogits } = crossEntropy(logits, targets, rows, classes);
    const h = 1e-5;
    const numeric = new Float64Array(logits.length);
    for (let i = 0; i < logits.length; i++) {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      numeric[i] = (crossEntropy(plus, targets, rows, classes).loss - crossEntropy(minus, targets, rows, classes).loss) / (2 * h);
    }
    // Central differences: truncation O(h^2) ~ 1e-10, rounding ~ 1e-16 / h ~ 1e-11.
    expectClose(dLogits, numeric, { atol: 1e-9, rtol: 1e-6 }, 'dLogits vs finite differences');
  });

  it('rejects targets outside [0, classes) other than -1, as PyTorch does', () => {
    expect(() => crossEntropy(new Float64Array(6), Int32Array.from([0, 3]), 2, 3)).toThrow(RangeError);
    expect(() => crossEntropy(new Float64Array(6), Int32Array.from([-2, 0]), 2, 3)).toThrow(RangeError);
  });
});

describe('cross-entropy kernel vs float64 reference', () => {
  // Losses are O(log C) from a float32 log-sum-exp (worst measured: 1e-6 absolute); dlogits are at most
  // 1/nScored in size (worst measured: 4e-9 absolute, 2e-6 relative).
  const lossTol = { atol: 4e-6, rtol: 4e-6 };
  const gradTol = { atol: 2e-8, rtol: 2e-5 };

  it.each([
    [7, 1],
    [1, 13],
    [33, 13],
    [130, 97],
    [65, 130],
    [1500, 13], // more rows than workgroups: rows are grid-strided
  ])('rows %i, classes %i, a quarter of the rows ignored', async (rows, classes) => {
    const rng = new Rng(rows * 1000 + classes);
    const logits = randomLogits(rng, rows * classes, 3);
    const targets = randomTargets(rng, rows, classes, 0.25);
    if (rows > 1) targets[0] = -1; // at least one ignored row whatever the draw
    const ref = crossEntropy(logits, targets, rows, classes);
    const gpu = await runGpu(logits, targets, rows, classes);
    expectClose(gpu.losses, ref.rowLosses, lossTol, 'per-row losses');
    expectClose(gpu.dLogits, ref.dLogits, gradTol, 'dLogits');
    expectClose([meanLoss(gpu.losses, ref.nScored)], [ref.loss], lossTol, 'mean loss');
  });

  it('a batch with every row ignored gives loss 0 and zero dlogits, no NaN (PyTorch would give NaN)', async () => {
    const rows = 9;
    const classes = 13;
    const logits = randomLogits(new Rng(3), rows * classes, 3);
    const targets = new Int32Array(rows).fill(-1);
    const ref = crossEntropy(logits, targets, rows, classes);
    expect(ref).toMatchObject({ loss: 0, nScored: 0 });
    const gpu = await runGpu(logits, targets, rows, classes);
    expect(Array.from(gpu.losses)).toEqual(new Array(rows).fill(0));
    expect(Array.from(gpu.dLogits)).toEqual(new Array(rows * classes).fill(0));
  });

  it('logits of magnitude 1e4 give finite losses and dlogits that match the reference', async () => {
    const rows = 33;
    const classes = 97;
    const rng = new Rng(5);
    const logits = randomLogits(rng, rows * classes, 1e4);
    const targets = randomTargets(rng, rows, classes, 0.1);
    const ref = crossEntropy(logits, targets, rows, classes);
    const gpu = await runGpu(logits, targets, rows, classes);
    expect(gpu.losses.every(Number.isFinite) && gpu.dLogits.every(Number.isFinite)).toBe(true);
    // Losses up to ~5e4: float32 spacing there is ~4e-3, so the relative tolerance carries the check
    // (worst measured: 1.5e-3 absolute, 4e-8 relative).
    expectClose(gpu.losses, ref.rowLosses, { atol: 1e-5, rtol: 1e-6 }, 'per-row losses');
    expectClose(gpu.dLogits, ref.dLogits, gradTol, 'dLogits');
  });

  it('treats targets outside [0, classes) as ignored rows without reading out of bounds', async () => {
    const rows = 7;
    const classes = 13;
    const logits = randomLogits(new Rng(9), rows * classes, 3);
    const targets = Int32Array.from([2, 13, -1, 1 << 30, -7, 12, 0]);
    const asIgnored = targets.map((t) => (t >= 0 && t < classes ? t : -1));
    const ref = crossEntropy(logits, asIgnored, rows, classes);
    const gpu = await runGpu(logits, targets, rows, classes);
    expectClose(gpu.losses, ref.rowLosses, lossTol, 'per-row losses');
    expectClose(gpu.dLogits, ref.dLogits, gradTol, 'dLogits');
  });
});

// The fused graph's head + cross-entropy: the kernel computes the Linear head's logits itself (two task heads side by
// side here, ragged sizes), the same bits as the matmul kernel's forward of that head followed by the plain kernel;
// against the float64 head and loss, the matmul tolerance (test/matmul.test.ts) on the logits and the ones above.
// Both layouts of the kernel: one thread per row (software adapters), one workgroup per input row (GPUs).
const LAYOUTS = ['thread-per-row', 'workgroup-per-input'] as const;

describe('cross-entropy with the head on the GPU', () => {
  it.each([
    [33, 13, 1, 70, LAYOUTS[0]],
    [65, 31, 2, 17, LAYOUTS[0]],
    [33, 13, 1, 70, LAYOUTS[1]],
    [65, 97, 3, 130, LAYOUTS[1]],
  ] as const)('%i input rows, %i classes, %i task heads, %i inputs, %s', async (inputRows, classes, heads, inputs, layout) => {
    const rt = await testRuntime();
    const rng = new Rng(inputRows + classes);
    const rows = inputRows * heads;
    const [x, w, b] = [randomLogits(rng, inputRows * inputs, 1), randomLogits(rng, heads * classes * inputs, 0.3), randomLogits(rng, heads * classes, 0.3)];
    // Every head scores the same input rows (as in a multitask batch), a quarter of them ignored.
    const ignored = randomTargets(rng, inputRows, classes, 0.25);
    const targets = Int32Array.from({ length: rows }, (_, r) => (ignored[Math.floor(r / heads)] < 0 ? -1 : rng.int(classes)));
    const params = packTensors(rt, 'params', { x, w, b });
    const out = packTensors(rt, 'out', { fused: new Float32Array(rows * classes), alone: new Float32Array(rows * classes), losses: new Float32Array(rows), dLogits: new Float32Array(rows * classes) });
    const outAlone = packTensors(rt, 'outAlone', { losses: new Float32Array(rows), dLogits: new Float32Array(rows * classes) });
    const targetsBuf = rt.storageFrom('targets', targets);
    const scoring = { targets: targetsBuf, rows, classes, lossScale: heads };
    rt.run([
      await crossEntropyGpu(rt, { ...scoring, layout, logits: out.ref.fused, losses: out.ref.losses, dLogits: out.ref.dLogits, head: { input: params.ref.x, w: params.ref.w, bias: params.ref.b, inputs, heads } }),
      await matmul(rt, { M: inputRows, N: heads * classes, K: inputs, a: params.ref.x, b: params.ref.w, transB: true, bias: params.ref.b, c: out.ref.alone }),
      await crossEntropyGpu(rt, { ...scoring, logits: out.ref.alone, losses: outAlone.ref.losses, dLogits: outAlone.ref.dLogits }),
    ]);
    const logits = await out.read('fused');
    expect(logits).toEqual(await out.read('alone'));
    expect([await out.read('losses'), await out.read('dLogits')]).toEqual([await outAlone.read('losses'), await outAlone.read('dLogits')]);
    const want = linearForward(x, w, b, inputRows, inputs, heads * classes);
    expectClose(logits, want, { atol: 1e-6 * Math.sqrt(inputs), rtol: 1e-6 }, 'logits');
    // Each task head scores every input row: the reference loss of head h over rows h, h + heads, ...
    for (let h = 0; h < heads; h++) {
      const pick = <T extends Float64Array | Int32Array | Float32Array>(a: T, width: number) => a.filter((_, e) => Math.floor(e / width) % heads === h) as T;
      const ref = crossEntropy(pick(want, classes), pick(targets, 1), inputRows, classes);
      expectClose(pick(await out.read('losses'), 1), ref.rowLosses, { atol: 4e-6, rtol: 4e-6 }, `losses of head ${h}`);
      expectClose(pick(await out.read('dLogits'), classes), ref.dLogits, { atol: 2e-8, rtol: 2e-5 }, `dLogits of head ${h}`);
    }
    targetsBuf.destroy();
  });
});

describe('cross-entropy layouts', () => {
  it('refuses one workgroup per input row without the head, or with more task heads than a workgroup has invocations', async () => {
    const rt = await testRuntime();
    const buffer = rt.storage('cross_entropy.refused', 4096);
    const targets = rt.storageFrom('targets', new Int32Array(65));
    const scoring = { logits: at(buffer), targets, losses: at(buffer), dLogits: at(buffer), rows: 65, classes: 1, layout: 'workgroup-per-input' as const };
    expect(() => crossEntropyGpu(rt, scoring)).toThrow(/one workgroup per input row needs the head, at most 64 task heads/);
    expect(() => crossEntropyGpu(rt, { ...scoring, head: { input: at(buffer), w: at(buffer), bias: at(buffer), inputs: 1, heads: 65 } })).toThrow(/at most 64 task heads/);
    buffer.destroy();
    targets.destroy();
  });
});

// The fused graph's final norm + head + cross-entropy in one kernel: the final LayerNorm or RMSNorm of the residual
// stream at the readout positions (a window of each sequence, or all of it), computed in the kernel, against the norm
// kernel with that window (both of its variants: the fused kernel sums in the order of the variant it is told) and then
// the head kernel above: the same bits for the head's input, the statistics, logits, losses and dlogits. Widths below
// and above the tree variant's 64 lanes, neither a multiple of them. Against float64: the norm's tolerances
// (test/layernorm.test.ts) on y and the statistics, and the matmul's on the logits.
describe('cross-entropy with the final norm and the head on the GPU', () => {
  const CASES = [
    { kind: 'layer', kernel: 'tree', batch: 5, seqLen: 3, start: 2, count: 1, inputs: 37, classes: 13, heads: 1, layout: LAYOUTS[0] },
    { kind: 'layer', kernel: 'serial', batch: 4, seqLen: 5, start: 1, count: 3, inputs: 100, classes: 7, heads: 2, layout: LAYOUTS[0] },
    { kind: 'rms', kernel: 'tree', batch: 3, seqLen: 4, start: 0, count: 4, inputs: 100, classes: 9, heads: 2, layout: LAYOUTS[0] },
    { kind: 'rms', kernel: 'serial', batch: 6, seqLen: 2, start: 1, count: 1, inputs: 37, classes: 11, heads: 1, layout: LAYOUTS[0] },
    { kind: 'layer', kernel: 'tree', batch: 5, seqLen: 3, start: 2, count: 1, inputs: 37, classes: 70, heads: 1, layout: LAYOUTS[1] },
    { kind: 'layer', kernel: 'serial', batch: 4, seqLen: 5, start: 1, count: 3, inputs: 100, classes: 7, heads: 2, layout: LAYOUTS[1] },
    { kind: 'rms', kernel: 'tree', batch: 3, seqLen: 4, start: 0, count: 4, inputs: 130, classes: 9, heads: 2, layout: LAYOUTS[1] },
  ] as const;
  it.each(CASES)('$kind norm ($kernel order), positions [$start, +$count) of $seqLen, $inputs inputs, $heads task heads, $layout', async (c) => {
    const rt = await testRuntime();
    const rng = new Rng(c.inputs + c.classes);
    const { batch, seqLen, inputs, classes, heads } = c;
    const kernel = { kind: c.kernel };
    const xRows = batch * seqLen;
    const inputRows = batch * c.count;
    const rows = inputRows * heads;
    // A large mean next to unit spread (the two-pass variance matters), gains near 1.
    const x = Float64Array.from(randomLogits(rng, xRows * inputs, 1), (v) => Math.fround(v + 3));
    const [g, beta] = [Float64Array.from(randomLogits(rng, inputs, 0.2), (v) => Math.fround(1 + v)), randomLogits(rng, inputs, 0.2)];
    const [w, b] = [randomLogits(rng, heads * classes * inputs, 0.3), randomLogits(rng, heads * classes, 0.3)];
    const targets = Int32Array.from({ length: rows }, () => (rng.uniform() < 0.25 ? -1 : rng.int(classes)));
    const params = packTensors(rt, 'params', { x, g, beta, w, b });
    const fresh = () => ({ y: new Float32Array(inputRows * inputs), mean: new Float32Array(xRows), rstd: new Float32Array(xRows), logits: new Float32Array(rows * classes), losses: new Float32Array(rows), dLogits: new Float32Array(rows * classes) });
    const [fused, alone] = [packTensors(rt, 'fused', fresh()), packTensors(rt, 'alone', fresh())];
    const targetsBuf = rt.storageFrom('targets', targets);
    const scoring = { targets: targetsBuf, rows, classes, lossScale: heads };
    const layer = c.kind === 'layer';
    const window = { segments: seqLen, segmentsPerGain: seqLen, xStride: seqLen * inputs, yStride: c.count * inputs, window: { start: c.start, count: c.count } };
    const normArgs = { x: params.ref.x, gamma: params.ref.g, rows: xRows, d: inputs, layout: window, kernel };
    const headOf = (o: typeof fused) => ({ input: o.ref.y, w: params.ref.w, bias: params.ref.b, inputs, heads });
    const lnf = { x: params.ref.x, gamma: params.ref.g, rstd: fused.ref.rstd, seqLen, start: c.start, count: c.count, kernel };
    rt.run([
      await crossEntropyGpu(rt, {
        ...scoring, layout: c.layout, logits: fused.ref.logits, losses: fused.ref.losses, dLogits: fused.ref.dLogits,
        head: { ...headOf(fused), norm: layer ? { ...lnf, kind: 'layer', beta: params.ref.beta, mean: fused.ref.mean } : { ...lnf, kind: 'rms' } },
      }),
      layer
        ? await normForward(rt, { ...normArgs, beta: params.ref.beta, y: alone.ref.y, mean: alone.ref.mean, rstd: alone.ref.rstd })
        : await normForward(rt, { ...normArgs, kind: 'rms', y: alone.ref.y, rstd: alone.ref.rstd }),
      await crossEntropyGpu(rt, { ...scoring, logits: alone.ref.logits, losses: alone.ref.losses, dLogits: alone.ref.dLogits, head: headOf(alone) }),
    ]);
    for (const name of ['y', 'mean', 'rstd', 'logits', 'losses', 'dLogits'] as const) expect(await fused.read(name), name).toEqual(await alone.read(name));

    // The oracle: the norm of the readout rows, the head, the loss of each task head.
    const picked = Float64Array.from({ length: inputRows * inputs }, (_, e) => {
      const m = Math.floor(e / inputs);
      return x[(Math.floor(m / c.count) * seqLen + c.start + (m % c.count)) * inputs + (e % inputs)];
    });
    const ref = layer ? normOracle.layerNormForward(picked, g, beta, inputRows, inputs) : { ...normOracle.rmsNormForward(picked, g, inputRows, inputs), mean: null };
    const readoutRow = (m: number) => Math.floor(m / c.count) * seqLen + c.start + (m % c.count);
    const stat = async (name: 'mean' | 'rstd') => {
      const all = await fused.read(name);
      return Float32Array.from({ length: inputRows }, (_, m) => all[readoutRow(m)]);
    };
    expectClose(await fused.read('y'), ref.y, { atol: 3e-6, rtol: 1e-6 }, 'y');
    expectClose(await stat('rstd'), ref.rstd, { atol: 1e-7, rtol: 5e-7 }, 'rstd');
    if (ref.mean) expectClose(await stat('mean'), ref.mean, { atol: 1e-7, rtol: 5e-7 }, 'mean');
    const want = linearForward(ref.y, w, b, inputRows, inputs, heads * classes);
    expectClose(await fused.read('logits'), want, { atol: 1e-6 * Math.sqrt(inputs), rtol: 1e-6 }, 'logits');
    targetsBuf.destroy();
  });
});
