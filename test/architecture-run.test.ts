// docs/science.md §4's architecture options in runs: the run-config overrides put norm and qkNorm on the preset's model (and
// nothing else changes without them), bad values are named, and `npm run experiment -- --norm rms --qk-norm`
// trains quick-add end to end on the GPU (the training loss falls) and writes a run file and checkpoints that keep
// the options: the run file passes the schema and each checkpoint decodes against the options' parameter table.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { PRESETS } from '../src/train/presets';
import { decodeCheckpoint } from '../src/train/checkpoint-file';
import { buildParamTable } from '../src/model/params';
import { runScript } from './helpers/cli';

describe('architecture options in a run configuration', () => {
  it('set norm and qkNorm on the preset model of either kind, and leave the model alone without them', () => {
    expect(resolveRunConfig('quick-dyck', 1, {}).model).toBe(PRESETS['quick-dyck'].model);
    expect(resolveRunConfig('quick-add', 1, { norm: 'rms' }).model).toEqual({ ...PRESETS['quick-add'].model, norm: 'rms' });
    const scan = resolveRunConfig('scan', 1, { norm: 'rms', qkNorm: true });
    expect(scan.model).toEqual({ ...PRESETS.scan.model, norm: 'rms', qkNorm: true });
    expect(scan.overrides).toEqual({ norm: 'rms', qkNorm: true });
  });

  it('names a bad option', () => {
    expect(() => resolveRunConfig('quick-add', 1, { norm: 'batch' as never })).toThrow(/norm: must be one of layer, rms, got "batch"/);
    expect(() => resolveRunConfig('quick-add', 1, { qkNorm: 'yes' as never })).toThrow(/qkNorm: must be a boolean/);
  });
});

describe('npm run experiment -- --norm rms --qk-norm', () => {
  it('trains quick-add (the training loss falls) and writes a run file and checkpoints that keep the options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sel-architecture-'));
    try {
      const out = join(dir, 'run.json');
      const args = ['--preset', 'quick-add', '--seed', '1', '--norm', 'rms', '--qk-norm', '--steps', '20', '--eval-every', '5', '--no-spectral', '--checkpoint-every', '10', '--out', out];
      const cli = await runScript('experiment', ...args);
      expect(cli.code, cli.stderr).toBe(0);

      const run = parseRunFile(readFileSync(out, 'utf8'));
      expect(run.config.overrides).toMatchObject({ norm: 'rms', qkNorm: true });
      expect(run.config.model).toEqual({ ...PRESETS['quick-add'].model, norm: 'rms', qkNorm: true });
      // Chance is ln 31 = 3.43; measured 2.85, 2.00, 1.12, 0.48 at steps 5..20 (SwiftShader, seed 1).
      const losses = run.series.trainLoss;
      expect(run.series.step).toEqual([5, 10, 15, 20]);
      for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
      expect(losses[0]).toBeLessThan(Math.log(31));
      expect(losses.at(-1)).toBeLessThan(0.25 * Math.log(31));

      // The checkpoints carry the run's configuration, and their parameter sections fit the options' table
      // (37,727 - 3 x 64 biases + 2 x 16 gains), which decodeCheckpoint checks; they open with the run's history.
      const total = buildParamTable(run.config.model).total;
      expect(total).toBe(37_567);
      for (const step of [10, 20]) {
        const decoded = decodeCheckpoint(readFileSync(join(dir, 'run-checkpoints', `step-0000${step}.ckpt`)), { run: { config: run.config, metrics: run } });
        expect(decoded.config).toEqual(run.config);
        expect(decoded.checkpoint.engine.params.length).toBe(total);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
