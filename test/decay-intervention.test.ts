// The weight-decay intervention (src/analysis/decay-intervention.ts, docs/science.md §3) on short quick-add runs:
// - a branch starts with fresh AdamW moments: its first step equals a fresh engine's first step from the
//   checkpoint's parameters, bit for bit, and differs from a step that keeps the checkpoint's moments;
// - the table: the base row is the checkpoint (its recorded test metrics and norm), each branch row is the model at
//   the branch's end (a separately trained branch gives the same numbers), wd 2 ends with a smaller ||theta|| than
//   wd 0, the attention entropy is a valid entropy, modular arithmetic has no probe target (null with a reason),
//   and the result fits its schema;
// - a Dyck run (a narrow quick-dyck model) gets the linear depth-probe R^2 on every row.
import { describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { testRuntime } from './helpers/gpu';
import { branchTrainer, decayIntervention } from '../src/analysis/decay-intervention';
import { DECAY_INTERVENTION_SCHEMA } from '../src/formats/experiments';
import { scoredPositions } from '../src/analysis/probe-run';
import { probeR2 } from '../src/analysis/probes';
import { ResidualStreamReader } from '../src/analysis/residual-stream';
import { IGNORE_TARGET } from '../src/model/batch';
import { dyckBatch, dyckSplit } from '../src/tasks/dyck';
import { TrainingEngine } from '../src/model/engine';
import { resolveRunConfig } from '../src/train/run';
import { Trainer } from '../src/train/trainer';
import { createTrainer } from '../src/analysis/live-causal';

const bits = (a: Float32Array) => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

describe('the weight-decay intervention', () => {
  it('branches use fresh AdamW moments, and the table has the base row and one row per weight decay', async () => {
    const rt = await testRuntime();
    // quick-add seed 3 for 20 steps, tracking the spectral edge as an analysed run does (the branches do not).
    const config = resolveRunConfig('quick-add', 3, { steps: 20, evalEvery: 10 });
    const run = await Trainer.create(rt, config);
    await run.run();
    const checkpoint = await run.checkpoint();
    expect(checkpoint.spectral).toBeDefined();

    // Fresh moments: one branch step against a fresh engine (zero moments, step 0) given the checkpoint's parameters.
    const branch = await branchTrainer(rt, config, checkpoint, 2, 1);
    expect(branch.edgeVectors).toBeNull();
    await branch.run();
    expect(branch.step).toBe(1);
    const branched = await branch.engine.readParams();
    const optim = { ...checkpoint.engine.optim, weightDecay: 2 };
    const fresh = await TrainingEngine.create(rt, { config: config.model, shape: config.shape, optim, seed: 0 });
    rt.write(fresh.state.params, checkpoint.engine.params);
    fresh.step(run.taskData.train); // full batch: every step's batch is the whole training set
    expect(bits(branched)).toEqual(bits(await fresh.readParams()));
    // ...which is not what keeping the checkpoint's moments and step count would give.
    const kept = await TrainingEngine.create(rt, { config: config.model, shape: config.shape, optim, seed: 0 });
    kept.importState({ ...checkpoint.engine, optim });
    kept.step(run.taskData.train);
    const keptParams = await kept.readParams();
    let differing = 0;
    for (let i = 0; i < keptParams.length; i++) if (keptParams[i] !== branched[i]) differing++;
    expect(differing).toBeGreaterThan(keptParams.length / 2);

    const progress: [number, number][] = [];
    const t0 = performance.now();
    const result = await decayIntervention(rt, config, checkpoint, { weightDecays: [0, 2], steps: 10, evalEvery: 5, progress: (done, total) => progress.push([done, total]) });
    console.log('decay intervention (quick-add seed 3 at step 20, 10 steps)', `${Math.round(performance.now() - t0)} ms`, JSON.stringify(result));
    expect(result).toMatchObject({ fromStep: 20, steps: 10, lr: 1e-2, entropySequences: 200 });
    expect(result.probe).toEqual({ target: null, reason: expect.stringMatching(/no probe target/) });

    // The base row is the checkpoint: the run's own evaluation at step 20 (same evaluator sizes, so exact).
    const last = run.series.step.length - 1;
    expect(run.series.step[last]).toBe(20);
    expect(result.base).toMatchObject({ weightDecay: 1, steps: 0, stopReason: 'base', probeR2: null });
    expect(result.base.testAccuracy).toBe(run.series.testAcc[last]);
    expect(result.base.testLoss).toBe(run.series.testLoss[last]);
    expect(result.base.thetaNorm).toBe(run.series.thetaNorm[last]);
    expect(result.base.attnNorm).toBe(run.series.attnNorm[last]);

    // Each branch row is the model at the branch's end: a branch trained on its own gives the same numbers.
    expect(result.branches.map((r) => [r.weightDecay, r.steps, r.stopReason, r.probeR2])).toEqual([[0, 10, 'completed', null], [2, 10, 'completed', null]]);
    const again = await branchTrainer(rt, config, checkpoint, 2, 10, 5);
    await again.run();
    const end = again.series.step.length - 1;
    expect(again.series.step).toEqual([5, 10]);
    const wd2 = result.branches[1];
    expect(wd2.testAccuracy).toBe(again.series.testAcc[end]);
    expect(wd2.testLoss).toBe(again.series.testLoss[end]);
    expect(wd2.thetaNorm).toBe(again.series.thetaNorm[end]);

    // Stronger decay, smaller norm: 10 steps at lr 1e-2 and wd 2 scale theta by 0.98^10 = 0.82 before the Adam parts.
    // Measured: ||theta|| base 43.72, wd 0 44.86, wd 2 37.01; asserted: wd 2 below wd 0 by more than 5% of the base.
    const wd0 = result.branches[0];
    expect(wd0.thetaNorm - wd2.thetaNorm).toBeGreaterThan(0.05 * result.base.thetaNorm);
    // Two keys per query (bidirectional, 2 tokens): 0 < H <= ln 2.
    for (const row of [result.base, ...result.branches]) {
      expect(row.attentionEntropy).toBeGreaterThan(0);
      expect(row.attentionEntropy).toBeLessThanOrEqual(Math.LN2 + 1e-6);
      expect(Number.isFinite(row.testLoss) && row.testAccuracy >= 0 && row.testAccuracy <= 1).toBe(true);
    }

    const validate = new Ajv({ strict: false }).compile(DECAY_INTERVENTION_SCHEMA);
    expect(validate(JSON.parse(JSON.stringify(result))), JSON.stringify(validate.errors)).toBe(true);
    // Progress: 2 x 10 steps plus 3 measurements.
    expect(progress.at(-1)).toEqual([23, 23]);
  });

  it('a branch of a run that takes live causal probes trains without them (they measure the edge, which a branch does not track)', async () => {
    const rt = await testRuntime();
    const config = resolveRunConfig('quick-add', 3, { steps: 20, evalEvery: 10, spectral: { window: 2, snapshotEvery: 5 }, causal: { enabled: true, every: 10, sequences: 16, randomPairs: 2 } });
    const run = await createTrainer(rt, config);
    const branch = await branchTrainer(rt, config, await run.checkpoint(), 0.5, 2);
    expect(branch.config.causal).toBeUndefined();
    expect(branch.config.overrides.causal).toBeUndefined();
    expect(await branch.run()).toBe('completed');
    expect(branch.step).toBe(2);
  });

  it('a Dyck run has a linear-probe R^2 (depth) on every row', async () => {
    const rt = await testRuntime();
    // The quick-dyck run (task, optimiser, batches) with a much narrower model, so that evaluating the 5,000 test
    // sequences takes seconds on SwiftShader rather than a minute: d 16, 1 layer, 2 heads.
    const preset = resolveRunConfig('quick-dyck', 1, { steps: 10, evalEvery: 10, spectral: { enabled: false } });
    const config = { ...preset, model: { ...preset.model, nLayers: 1, dModel: 16, nHeads: 2, dFF: 16 } };
    const run = await Trainer.create(rt, config);
    await run.run();
    const checkpoint = await run.checkpoint();
    const t0 = performance.now();
    const result = await decayIntervention(rt, config, checkpoint, { weightDecays: [0], steps: 2, evalEvery: 2 });
    console.log('decay intervention (narrow quick-dyck seed 1 at step 10, 2 steps)', `${Math.round(performance.now() - t0)} ms`, JSON.stringify(result));
    expect(result.probe).toMatchObject({ target: 'dyck-depth', sequences: 300 });
    // The base row's R^2 is the linear ridge probe on the residual stream at every non-PAD position of the first 300
    // Dyck test sequences (taken here from the Dyck split itself), target = depth: the same bits.
    const { seqLen, readout } = config.shape;
    const reader = await ResidualStreamReader.create(rt, config.model, run.engine.state, { seqLen, readout }, 100);
    const data = dyckBatch(dyckSplit().test, Array.from({ length: 300 }, (_, i) => i));
    const { features, targets } = scoredPositions(reader, await reader.read(data), data);
    let nonPad = 0;
    for (const t of data.targets) if (t !== IGNORE_TARGET) nonPad++;
    expect(targets.length).toBe(nonPad);
    expect(result.probe).toMatchObject({ positions: nonPad });
    expect(result.base.probeR2).toBe(probeR2(features, targets, { kind: 'linear', seed: config.seed }));
    // Measured: R^2 0.245 at the base, 0.247 after the branch; asserted: a real fit (> 0.1) on every row, and the
    // branch's differs from the base's (its parameters moved).
    for (const row of [result.base, ...result.branches]) {
      expect(row.probeR2).not.toBeNull();
      expect(row.probeR2!).toBeGreaterThan(0.1);
      expect(row.probeR2!).toBeLessThanOrEqual(1);
    }
    expect(result.branches[0].probeR2).not.toBe(result.base.probeR2);
  });
});
