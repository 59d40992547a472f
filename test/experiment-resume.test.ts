// `npm run experiment -- --resume`: a run continued from one of its checkpoint files on the GPU follows the
// uninterrupted run bit for bit, keeps its configuration, and takes only --steps and --early-stop (0: off, to train
// past a grok that stopped the run) from the command line.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunFile } from '../src/train/run';
import { runScript } from './helpers/cli';

describe('npm run experiment -- --resume', () => {
  it('continues a quick-add run bit for bit from a checkpoint, with its early-stop rule replaced or kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sel-resume-'));
    try {
      const file = (name: string) => join(dir, name);
      const first = await runScript('experiment', '--preset', 'quick-add', '--seed', '3', '--steps', '20', '--eval-every', '5', '--no-spectral', '--early-stop', '3', '--checkpoint-every', '10', '--out', file('full.json'));
      expect(first.code, first.stderr).toBe(0);
      const full = parseRunFile(readFileSync(file('full.json'), 'utf8'));
      expect(full.config.earlyStop).toEqual({ testAccuracy: expect.any(Number), evaluations: 3 });
      const checkpoint = join(dir, 'full-checkpoints', 'step-000010.ckpt');

      const kept = await runScript('experiment', '--resume', checkpoint, '--out', file('kept.json'));
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.stdout).toContain('resumed at step 10');
      const keptRun = parseRunFile(readFileSync(file('kept.json'), 'utf8'));
      expect(keptRun.config).toEqual(full.config);
      expect(keptRun.series).toEqual(full.series);

      const off = await runScript('experiment', '--resume', checkpoint, '--early-stop', '0', '--steps', '25', '--out', file('off.json'));
      expect(off.code, off.stderr).toBe(0);
      const offRun = parseRunFile(readFileSync(file('off.json'), 'utf8'));
      expect(offRun.config.earlyStop).toBeNull();
      expect(offRun.config.overrides.earlyStop).toBeUndefined();
      expect(offRun.config.steps).toBe(25);
      expect(offRun.series.step).toEqual([5, 10, 15, 20, 25]);
      expect(offRun.series.trainLoss.slice(0, 4)).toEqual(full.series.trainLoss);

      const bad = await runScript('experiment', '--resume', checkpoint, '--early-stop', '-1');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--early-stop must be >= 0, got -1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
