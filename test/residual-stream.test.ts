// The residual stream read back from the GPU (src/analysis/residual-stream.ts: after the last block, before the
// final LayerNorm; the decoder's for the encoder-decoder model) against the float64 reference model's on the
// small ragged configurations, read in chunks smaller than the set (the last one padded), and the probe glue that
// picks the scored positions out of it (src/analysis/probe-run.ts).
//
// Tolerance: atol 1e-5 + rtol 1e-5 (f32 kernels through up to three layers vs float64; the stream's values are
// up to ~5, measured worst error 5.4e-7).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { TINY_CASES, TINY_ENCODER_DECODER_CASES } from './helpers/tiny-models';
import { syntheticBatch } from '../src/tasks/synthetic';
import { buildParamTable, initParams } from '../src/model/params';
import { createParamState } from '../src/model/state';
import { referenceForward } from '../src/reference/model';
import { ResidualStreamReader } from '../src/analysis/residual-stream';
import { depthProbe, scoredPositions } from '../src/analysis/probe-run';
import { IGNORE_TARGET } from '../src/model/batch';
import { taskHeadCount } from '../src/model/config';
import { PRESET_SHAPES } from '../src/train/presets';
import { DYCK, dyckSplit } from '../src/tasks/dyck';

const COUNT = 5;
const CHUNK = 2;

describe.each([...TINY_CASES, ...TINY_ENCODER_DECODER_CASES])('residual stream before the final LayerNorm ($name)', ({ config, shape }) => {
  it('equals the float64 reference, read in padded chunks', async () => {
    const rt = await testRuntime();
    const table = buildParamTable(config);
    const params = initParams(table, 17);
    const state = createParamState(rt, table, params);
    const reader = await ResidualStreamReader.create(rt, config, state, shape, CHUNK);
    const full = { ...shape, batch: COUNT };
    const data = syntheticBatch(config, full, 23);
    const stream = await reader.read(data);

    const ref = referenceForward(config, table, Float64Array.from(params), full, data);
    const top = ref.tape.stacks[ref.tape.stacks.length - 1];
    expect(stream).toHaveLength(COUNT * shape.seqLen * config.dModel);
    expectClose(stream, top.x, { atol: 1e-5, rtol: 1e-5 }, 'residual stream');
    // It is the stream itself, not the final LayerNorm's output.
    expect(Math.max(...Array.from(top.x, (v, i) => Math.abs(v - top.lnf.y[i])))).toBeGreaterThan(0.1);

    // Scored positions: the stream's rows at the readout positions whose targets are all scored, with those targets.
    const heads = taskHeadCount(config);
    const picked = scoredPositions(reader, stream, data);
    const d = config.dModel;
    let row = 0;
    for (let s = 0; s < COUNT; s++) {
      for (let r = 0; r < shape.readout.count; r++) {
        const y = data.targets.subarray((s * shape.readout.count + r) * heads, (s * shape.readout.count + r + 1) * heads);
        if (y.includes(IGNORE_TARGET)) continue;
        const at = s * shape.seqLen + shape.readout.start + r;
        expect(picked.features.subarray(row * d, (row + 1) * d)).toEqual(stream.subarray(at * d, (at + 1) * d));
        expect(Array.from(picked.targets.subarray(row * heads, (row + 1) * heads))).toEqual(Array.from(y));
        row += 1;
      }
    }
    expect(row).toBeGreaterThan(0);
    expect(picked.targetDim).toBe(heads);
    expect(picked.features).toHaveLength(row * d);
  });
});

describe('residual stream reader input checks', () => {
  it('rejects partial sequences and a missing source', async () => {
    const rt = await testRuntime();
    const { config, shape } = TINY_ENCODER_DECODER_CASES[0];
    const table = buildParamTable(config);
    const reader = await ResidualStreamReader.create(rt, config, createParamState(rt, table, initParams(table, 1)), shape, 2);
    const data = syntheticBatch(config, { ...shape, batch: 3 }, 1);
    await expect(reader.read({ tokens: data.tokens.subarray(1) })).rejects.toThrow(/not whole sequences of 4/);
    await expect(reader.read({ tokens: data.tokens })).rejects.toThrow(/needs 18 source tokens \(3 x 6\), got none/);
    await expect(ResidualStreamReader.create(rt, config, createParamState(rt, table, initParams(table, 1)), shape, 0)).rejects.toThrow(/chunk must be a positive integer/);
  });
});

describe('depth probe on an untrained quick-dyck model', () => {
  it('probes every non-PAD position of the first test sequences and rejects other models', async () => {
    const rt = await testRuntime();
    const { model, shape } = PRESET_SHAPES['quick-dyck'];
    const table = buildParamTable(model);
    const reader = await ResidualStreamReader.create(rt, model, createParamState(rt, table, initParams(table, 3)), shape, 20);
    const sequences = 40;
    const scores = await depthProbe(reader, { seed: 1, sequences });
    const nonPad = dyckSplit().test.tokens.subarray(0, sequences * DYCK.context).filter((t) => t !== DYCK.pad).length;
    expect(scores.positions).toBe(nonPad);
    for (const kind of ['linear', 'quadratic', 'mlp'] as const) {
      expect(Number.isFinite(scores[kind])).toBe(true);
      expect(scores[kind]).toBeLessThanOrEqual(1);
    }
    // Depth is a running count of the tokens so far: even random causal attention carries some of it.
    expect(scores.linear).toBeGreaterThan(0.2);

    const { config: other } = TINY_CASES[0];
    const otherTable = buildParamTable(other);
    const otherReader = await ResidualStreamReader.create(rt, other, createParamState(rt, otherTable, initParams(otherTable, 1)), TINY_CASES[0].shape, 2);
    await expect(depthProbe(otherReader, { seed: 1 })).rejects.toThrow(/needs a Dyck model/);
  });
});
