// The CLI when things go wrong: an output that cannot be written fails before any GPU work with exit code 2; a
// failure is one line without a stack (DEBUG=1 adds it); a divergence first met by a spectral window writes the
// run file with its divergence event and the last good checkpoint; and Ctrl-C writes a checkpoint beside the
// partial run file from which --resume continues bit for bit.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRunFile } from '../src/train/run';
import { decodeCheckpoint } from '../src/train/checkpoint-file';
import { runScript, startScript } from './helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'sel-cli-failures-'));
const file = (name: string) => join(dir, name);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK = /\n\s+at /;

describe('CLI failures', () => {
  it('refuses an output it cannot write before any GPU work, in one line with exit code 2', async () => {
    writeFileSync(file('a-file'), 'x');
    const underFile = await runScript('experiment', '--preset', 'quick-add', '--steps', '5', '--out', join(file('a-file'), 'run.json'));
    expect(underFile.code).toBe(2);
    expect(underFile.stderr.trim()).toBe(`experiment: --out ${join(file('a-file'), 'run.json')}: cannot write this file (${file('a-file')} is a file, not a folder)`);
    expect(underFile.stdout).toBe(''); // nothing trained, no GPU acquired
    const folder = await runScript('experiment', '--preset', 'quick-add', '--steps', '5', '--out', dir);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`--out ${dir}: cannot write this file (it is a folder)`);
    const checkpoints = await runScript('experiment', '--preset', 'quick-add', '--out', file('x.json'), '--checkpoint-dir', file('a-file'));
    expect(checkpoints.code).toBe(2);
    expect(checkpoints.stderr).toContain(`--checkpoint-dir ${file('a-file')}: cannot write into this folder (it is a file)`);
    expect(existsSync(file('x.json'))).toBe(false);
    const analysis = await runScript('analyze', file('missing.json'));
    expect(analysis.code).toBe(2);
    expect(analysis.stderr).toMatch(/^analyze: .*missing\.json: ENOENT/);
  }, 120_000);

  it('prints a failure as one line, and its stack only with DEBUG=1', async () => {
    // A damaged partial checkpoint of a phase diagram: found before any GPU work.
    writeFileSync(file('phase.partial.ckpt'), 'not a checkpoint');
    const args = ['--preset', 'quick-add', '--fractions', '0.5', '--l2', '1', '--lrd', 'none', '--steps', '10', '--out', file('phase.json')];
    const plain = await runScript('phase-diagram', ...args);
    expect(plain.code).toBe(1);
    expect(plain.stderr.trim()).toMatch(/^phase-diagram: [^\n]*checkpoint[^\n]*$/);
    expect(plain.stderr).not.toMatch(STACK);
    process.env.DEBUG = '1';
    try {
      const debug = await runScript('phase-diagram', ...args);
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(STACK);
    } finally {
      delete process.env.DEBUG;
    }
  }, 120_000);

  it('writes the run file and the last good checkpoint when a spectral window meets the divergence', async () => {
    // lr 1000 with windows of 2 one-step snapshots: step 2 evaluates finite, the window of step 4 is the first non-finite value.
    const r = await runScript('experiment', '--preset', 'quick-add', '--lr', '1000', '--steps', '20', '--eval-every', '2', '--window', '2', '--snapshot-every', '1', '--out', file('div.json'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/training diverged at step 4 \(the spectral window's Gram matrix is not finite/);
    const run = parseRunFile(readFileSync(file('div.json'), 'utf8'));
    expect(run.summary).toMatchObject({ stopReason: 'diverged', steps: 2 });
    expect(run.events.at(-1)).toMatchObject({ type: 'divergence', step: 4, restoredStep: 2 });
    const lastGood = decodeCheckpoint(readFileSync(join(file('div-checkpoints'), 'last-good.ckpt')));
    expect(lastGood.checkpoint.step).toBe(2);
    expect(lastGood.config).toEqual(run.config);
  }, 120_000);

  it('on Ctrl-C writes a checkpoint beside the partial run file, and --resume continues it bit for bit', async () => {
    const common = ['--preset', 'quick-add', '--seed', '5', '--eval-every', '5', '--window', '2', '--snapshot-every', '5'];
    const started = startScript('experiment', ...common, '--steps', '100000', '--out', file('int.json'));
    while (!/\/100000 /.test(started.output())) await new Promise((r) => setTimeout(r, 50)); // training has begun
    started.child.kill('SIGINT');
    const stopped = await started.exit;
    expect(stopped.code, stopped.stderr).toBe(130);
    const match = /checkpoint of step (\d+) written to (\S+);/.exec(stopped.stdout);
    expect(match, stopped.stdout).not.toBeNull();
    const step = Number(match![1]);
    expect(match![2]).toBe(join(file('int-checkpoints'), `step-${String(step).padStart(6, '0')}.ckpt`));
    const partial = parseRunFile(readFileSync(file('int.json'), 'utf8'));
    expect(partial.summary).toMatchObject({ stopReason: 'interrupted', steps: step });

    // Continued to step + 7 (a step between evaluations at first, then the last one), against a run straight there.
    const resumed = await runScript('experiment', '--resume', match![2], '--steps', String(step + 7), '--out', file('resumed.json'));
    expect(resumed.code, resumed.stderr).toBe(0);
    const straight = await runScript('experiment', ...common, '--steps', String(step + 7), '--out', file('straight.json'));
    expect(straight.code, straight.stderr).toBe(0);
    const a = parseRunFile(readFileSync(file('resumed.json'), 'utf8'));
    const b = parseRunFile(readFileSync(file('straight.json'), 'utf8'));
    expect(a.series.step.at(-1)).toBe(step + 7);
    expect(a.series).toEqual(b.series);
    expect(a.spectral).toEqual(b.spectral);
  }, 300_000);
});
