// docs/science.md §1's constants as run overrides ("every constant is a default the user can change"): the modulus,
// the model's size, the minibatch and AdamW's betas, eps and clip. Each one changes exactly its part of the run
// configuration (the preset's own objects when none is given), a bad value is refused with a message that names it,
// and `npm run experiment` trains with them end to end on the GPU: a run file that passes its checks (its
// configuration is the one these overrides make) and a checkpoint that continues the run bit for bit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { PRESETS, PRESET_SIZES, PRESET_TASKS, taskModel } from '../src/train/presets';
import { buildParamTable } from '../src/model/params';
import { runScript } from './helpers/cli';

describe('the modulus, size, batch and optimiser overrides', () => {
  it('leave the preset alone when none is given', () => {
    for (const name of ['quick-add', 'modarith', 'quick-dyck', 'scan'] as const) {
      const config = resolveRunConfig(name, 1, {});
      expect(config.model).toBe(PRESETS[name].model);
      expect(config.optim).toEqual(PRESETS[name].optim);
      expect(taskModel(PRESET_TASKS[name], PRESET_SIZES[name])).toEqual(PRESETS[name].model);
    }
    expect(resolveRunConfig('quick-dyck', 1, {}).shape).toBe(PRESETS['quick-dyck'].shape);
  });

  it('change the model, task, batch and optimiser as asked', () => {
    // A smaller modulus: vocabulary and classes follow, and the full batch is the new training set (0.6 of 17^2).
    const add = resolveRunConfig('quick-add', 1, { p: 17, dModel: 32, nHeads: 2, dFF: 48, nLayers: 2 });
    expect(add.task).toEqual({ ...PRESETS['quick-add'].task, p: 17 });
    expect(add.model).toEqual({ ...PRESETS['quick-add'].model, vocabSize: 17, nClasses: 17, nLayers: 2, dModel: 32, nHeads: 2, dFF: 48, posInitStd: 1 / Math.sqrt(32) });
    expect(add.shape.batch).toBe(Math.floor(0.6 * 17 * 17));
    // Multitask keeps one head per op at any modulus.
    expect(resolveRunConfig('quick-multitask', 1, { p: 13 }).model).toMatchObject({ vocabSize: 13, nClasses: 13, taskHeads: 4 });
    // The encoder-decoder: nLayers is each stack's.
    const scan = resolveRunConfig('quick-scan', 1, { nLayers: 2, dModel: 48 });
    expect(scan.model).toMatchObject({ dModel: 48, encoder: { nLayers: 2 }, decoder: { nLayers: 2 } });
    const dyck = resolveRunConfig('quick-dyck', 1, { batch: 20, beta1: 0.8, beta2: 0.95, eps: 1e-6, clipNorm: 0.5 });
    expect(dyck.shape).toEqual({ ...PRESETS['quick-dyck'].shape, batch: 20 });
    expect(dyck.optim).toEqual({ ...PRESETS['quick-dyck'].optim, beta1: 0.8, beta2: 0.95, eps: 1e-6, clipNorm: 0.5 });
    expect(dyck.model).toBe(PRESETS['quick-dyck'].model);
  });

  it('refuse a bad value, naming it', () => {
    const refused = (preset: string, overrides: object) => () => resolveRunConfig(preset, 1, overrides);
    expect(refused('quick-add', { p: 30 })).toThrow(/p must be a prime from 3 to 1000, got 30/);
    expect(refused('quick-add', { p: 1009 })).toThrow(/p must be an integer in \[1, 1000\], got 1009/);
    expect(refused('quick-dyck', { p: 7 })).toThrow(/p applies to modular-arithmetic and multitask presets only, not quick-dyck/);
    expect(refused('quick-add', { trainFraction: 0.001 })).toThrow(/trainFraction 0.001 of the 961 pairs mod 31 leaves no pair to train on/);
    expect(refused('quick-multitask', { p: 3, trainFraction: 0.2 })).toThrow(/trainFraction 0.2 of the 4 pairs mod 3 leaves no pair to train on/);
    expect(resolveRunConfig('quick-multitask', 1, { p: 3, trainFraction: 0.25 }).shape.batch).toBe(1);
    expect(refused('quick-add', { batch: 64 })).toThrow(/batch applies to minibatch presets only; quick-add trains on its whole training set/);
    expect(refused('quick-dyck', { batch: 0 })).toThrow(/batch must be an integer in \[1, 65536\], got 0/);
    expect(refused('quick-dyck', { nHeads: 3 })).toThrow(/nHeads: dModel \(64\) must be divisible by nHeads \(3\)/);
    expect(refused('quick-dyck', { nLayers: 1.5 })).toThrow(/nLayers must be an integer in \[1, 64\], got 1.5/);
    expect(refused('quick-dyck', { dFF: 10_000 })).toThrow(/dFF must be an integer in \[1, 8192\], got 10000/);
    expect(refused('quick-dyck', { beta2: 1 })).toThrow(/beta2: must be < 1, got 1/);
    expect(refused('quick-dyck', { eps: 0 })).toThrow(/eps: must be > 0, got 0/);
    expect(refused('quick-dyck', { clipNorm: Number.NaN })).toThrow(/clipNorm: must be a finite number/);
  });
});

describe('npm run experiment with the modulus, size and optimiser options', () => {
  it('trains quick-add at p 17 on a 2-layer model of width 32, and its checkpoint continues the run bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sel-overrides-'));
    try {
      const out = join(dir, 'run.json');
      const options = ['--p', '17', '--layers', '2', '--d-model', '32', '--heads', '2', '--d-ff', '48', '--beta1', '0.8', '--beta2', '0.95', '--adam-eps', '1e-6', '--clip', '0.5'];
      const cli = await runScript('experiment', '--preset', 'quick-add', '--seed', '1', ...options, '--steps', '40', '--eval-every', '10', '--checkpoint-every', '20', '--out', out);
      expect(cli.code, cli.stderr).toBe(0);
      const run = parseRunFile(readFileSync(out, 'utf8'));
      expect(run.config.overrides).toMatchObject({ p: 17, nLayers: 2, dModel: 32, nHeads: 2, dFF: 48, beta1: 0.8, beta2: 0.95, eps: 1e-6, clipNorm: 0.5 });
      expect(buildParamTable(run.config.model).total).toBeLessThan(buildParamTable(PRESETS['quick-add'].model).total / 2);
      // Chance is ln 17 = 2.83; the 173 training pairs are memorised within 40 steps (train loss 1.73, 0.51, 0.10, 0.06
      // at steps 10..40 on SwiftShader, seed 1).
      const losses = run.series.trainLoss;
      for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
      expect(losses.at(-1)).toBeLessThan(0.1 * Math.log(17));
      expect(run.series.trainAcc.at(-1)).toBe(1);

      const resumed = join(dir, 'resumed.json');
      const again = await runScript('experiment', '--resume', join(dir, 'run-checkpoints', 'step-000020.ckpt'), '--out', resumed);
      expect(again.code, again.stderr).toBe(0);
      const continued = parseRunFile(readFileSync(resumed, 'utf8'));
      expect(continued.config).toEqual(run.config);
      expect(continued.series).toEqual(run.series);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('names the option a bad value came from', async () => {
    const cli = await runScript('experiment', '--preset', 'quick-dyck', '--p', '31');
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^experiment: p applies to modular-arithmetic and multitask presets only, not quick-dyck/);
  });
});
