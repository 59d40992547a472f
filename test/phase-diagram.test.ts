// The phase diagram (src/train/phase-diagram.ts): its cells and their run configurations, the plan's checks, the
// versioned file, and on the GPU a small diagram run straight through against the same diagram interrupted inside
// a cell and continued from its file and checkpoint (as `npm run phase-diagram` does): the cells must agree bit for
// bit. Also the real CLI refusing a bad plan before any GPU work, and training a cell with the run options it shares
// with the experiment (the modulus, the model's size and norm, the learning rate).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { runScript } from './helpers/cli';
import { PRESETS } from '../src/train/presets';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { cellConfig, runPhaseDiagram, validatePlan } from '../src/train/phase-diagram';
import { cellSummary, diagramTables } from '../src/cli/phase-table';
import { parsePhaseDiagramFile, phaseDiagramCells, type PhaseCellResult, type PhaseDiagramPlan } from '../src/formats/phase-diagram-file';

const plan: PhaseDiagramPlan = { preset: 'quick-add', seed: 3, steps: 20, evalEvery: 10, trainFractions: [0.5], l2: [1], lrd: [0.01], earlyStop: null };

describe('phase-diagram plan', () => {
  it('has the L2 cells, then the LRD cells, by fraction then strength, each a run of the preset', () => {
    const grid = { ...plan, trainFractions: [0.3, 0.6], l2: [0.5, 2], lrd: [0.01] };
    expect(phaseDiagramCells(grid)).toEqual([
      { decay: 'l2', trainFraction: 0.3, strength: 0.5 },
      { decay: 'l2', trainFraction: 0.3, strength: 2 },
      { decay: 'l2', trainFraction: 0.6, strength: 0.5 },
      { decay: 'l2', trainFraction: 0.6, strength: 2 },
      { decay: 'lrd', trainFraction: 0.3, strength: 0.01 },
      { decay: 'lrd', trainFraction: 0.6, strength: 0.01 },
    ]);
    const l2 = cellConfig(grid, { decay: 'l2', trainFraction: 0.3, strength: 2 });
    expect([l2.optim.weightDecay, l2.decay?.kind, l2.task, l2.spectral.enabled]).toEqual([2, 'l2', { ...PRESETS['quick-add'].task, trainFraction: 0.3 }, false]);
    expect(l2.shape.batch).toBe(Math.floor(0.3 * 31 * 31));
    const lrd = cellConfig({ ...grid, earlyStop: 2 }, { decay: 'lrd', trainFraction: 0.6, strength: 0.01 });
    // Low-Rank Decay on W_Q and W_K; every other parameter keeps the preset's weight decay.
    expect(lrd.decay).toEqual({ kind: 'lrd', rate: 0.01, params: ['wq', 'wk'] });
    expect(lrd.optim.weightDecay).toBe(PRESETS['quick-add'].optim.weightDecay);
    expect(lrd.earlyStop).toEqual({ testAccuracy: 0.99, evaluations: 2 });
  });

  it('gives every cell the plan\'s task, model and optimiser overrides, and records them in the file', () => {
    const overrides = { p: 17, dModel: 32, nHeads: 2, dFF: 48, norm: 'rms', qkNorm: true, lr: 3e-3, beta2: 0.95 } as const;
    for (const cell of phaseDiagramCells({ ...plan, overrides })) {
      const config = cellConfig({ ...plan, overrides }, cell);
      expect(config.overrides).toMatchObject(overrides);
      expect(config.task).toMatchObject({ kind: 'modarith', p: 17, trainFraction: 0.5 });
      expect(config.model).toMatchObject({ dModel: 32, nHeads: 2, dFF: 48, norm: 'rms', qkNorm: true, nClasses: 17 });
      expect([config.optim.lr, config.optim.beta2]).toEqual([3e-3, 0.95]);
    }
    const file = { kind: 'spectral-edge-lab.phase-diagram', version: 1, plan: { ...plan, overrides }, cells: [] };
    expect(parsePhaseDiagramFile(JSON.stringify(file)).plan.overrides).toEqual(overrides);
    // Only the options a diagram leaves to its cells: the train fraction is the diagram's own.
    expect(() => parsePhaseDiagramFile({ ...file, plan: { ...plan, overrides: { trainFraction: 0.5 } } })).toThrow('plan.overrides: unknown field "trainFraction"');
    expect(() => validatePlan({ ...plan, overrides: { nHeads: 3 } })).toThrow(/divisible by nHeads \(3\)/);
  });

  it('names what is wrong with a plan', () => {
    expect(() => validatePlan({ ...plan, preset: 'dyck' })).toThrow(/needs a modular-arithmetic or multitask preset, not dyck/);
    expect(() => validatePlan({ ...plan, trainFractions: [] })).toThrow(/trainFractions is empty/);
    expect(() => validatePlan({ ...plan, trainFractions: [0.5, 1] })).toThrow(/trainFraction must be in \(0, 1\), got 1/);
    expect(() => validatePlan({ ...plan, l2: [1, 1] })).toThrow(/l2 lists a value twice/);
    expect(() => validatePlan({ ...plan, l2: [], lrd: [] })).toThrow(/no decay strengths/);
    expect(() => validatePlan({ ...plan, lrd: [-0.1] })).toThrow(/lrd/i);
    expect(() => validatePlan({ ...plan, earlyStop: 0 })).toThrow(/earlyStop must be a positive integer/);
  });

  it('refuses files that are not a phase diagram of this version, naming the problem', () => {
    const file = { kind: 'spectral-edge-lab.phase-diagram', version: 1, plan, cells: [] };
    expect(parsePhaseDiagramFile(JSON.stringify(file)).plan).toEqual(plan);
    expect(() => parsePhaseDiagramFile('{')).toThrow(/not JSON/);
    expect(() => parsePhaseDiagramFile({ ...file, kind: 'spectral-edge-lab.run' })).toThrow(/not a phase-diagram file/);
    expect(() => parsePhaseDiagramFile({ ...file, version: 2 })).toThrow('unsupported phase-diagram file version 2; this lab reads version 1');
    expect(() => parsePhaseDiagramFile({ ...file, plan: { ...plan, steps: undefined } })).toThrow('invalid phase-diagram file: plan: the field "steps" is missing');
  });
});

describe('the phase diagram in the terminal', () => {
  // The LRD cell of the lrd-phase study at step 600 (README): W_Q decayed to its floor, a flat spectrum.
  const cell = (over: Partial<PhaseCellResult>): PhaseCellResult => ({
    decay: 'lrd', trainFraction: 0.5, strength: 0.01, maxTestAcc: 1, maxTestAccStep: 400, finalTrainAcc: 1, finalTestAcc: 1, grokStep: 380,
    steps: 600, stopReason: 'completed', stableRank: { q: [63.2], k: [1.004] }, series: { step: [], trainAcc: [], testAcc: [] }, wallMs: 1, adapter: 'test', ...over,
  });

  it('prints each stable rank with its norm beside it, and files from before the norms without them', () => {
    const gone = cell({ norm: { q: [0.0903], k: [1.571] } });
    expect(cellSummary(gone)).toBe('max test acc 1.000 at 400, grok 380, srank Q 63.20 K 1.00, norm Q 0.090 K 1.571');
    expect(cellSummary(cell({}))).toBe('max test acc 1.000 at 400, grok 380, srank Q 63.20 K 1.00');
    const lrdOnly = { ...plan, l2: [] };
    const table = diagramTables({ kind: 'spectral-edge-lab.phase-diagram', version: 1, plan: lrdOnly, cells: [gone] });
    expect(table.split('\n')[2]).toMatch(/^ {2}fraction 0\.5 {4}1\.000 \/ 63\.2 \(0\.090\), 1\.0 \(1\.571\) *$/);
    expect(diagramTables({ kind: 'spectral-edge-lab.phase-diagram', version: 1, plan: lrdOnly, cells: [] })).toContain('not run');
  });
});

describe('phase diagram on the GPU', () => {
  it('gives each cell its best test accuracy and stable ranks, and continues an interrupted diagram bit for bit', async () => {
    const rt = await testRuntime();
    const whole = await runPhaseDiagram(rt, plan);
    expect(whole.interrupted).toBeUndefined();
    expect(whole.file.cells.map((c) => c.decay)).toEqual(['l2', 'lrd']);
    for (const cell of whole.file.cells) {
      expect(cell.series.step).toEqual([10, 20]);
      expect(cell.maxTestAcc).toBe(Math.max(...cell.series.testAcc));
      expect(cell.series.testAcc[cell.series.step.indexOf(cell.maxTestAccStep)]).toBe(cell.maxTestAcc);
      expect(cell.finalTestAcc).toBe(cell.series.testAcc[1]);
      expect(cell.steps).toBe(20);
      // One attention module of d 64: a stable rank between 1 and 64 for each of W_Q and W_K.
      for (const r of [...cell.stableRank.q, ...cell.stableRank.k]) expect(r).toBeGreaterThan(1), expect(r).toBeLessThan(64);
      // And its Frobenius norm (what tells a matrix Low-Rank Decay shrank to its floor from a full-rank one).
      for (const n of [...cell.norm!.q, ...cell.norm!.k]) expect(n).toBeGreaterThan(0), expect(Number.isFinite(n)).toBe(true);
    }
    // Low-Rank Decay pushes W_Q towards low rank, so its stable rank ends below the L2 cell's.
    expect(whole.file.cells[1].stableRank.q[0]!).toBeLessThan(whole.file.cells[0].stableRank.q[0]!);

    // Stop inside the second cell, after its first evaluation (the first cell evaluates twice).
    let evaluations = 0;
    const stopped = await runPhaseDiagram(rt, plan, { onEvaluation: () => void evaluations++, shouldStop: () => evaluations === 3 });
    expect(stopped.file.cells).toHaveLength(1);
    expect(stopped.interrupted?.checkpoint.step).toBe(10);
    // Through the bytes and JSON the CLI writes (the partial cell's checkpoint stands alone: it carries its history).
    const previous = parsePhaseDiagramFile(JSON.stringify(stopped.file));
    const partial = decodeCheckpoint(encodeCheckpoint(stopped.interrupted!.checkpoint, stopped.interrupted!.config, { withHistory: true }));
    const starts: (number | null)[] = [];
    const continued = await runPhaseDiagram(rt, plan, { onCellStart: (_c, _i, _n, at) => void starts.push(at) }, previous, partial);
    expect(starts).toEqual([10]);
    const withoutTime = (cells: PhaseCellResult[]) => cells.map(({ wallMs: _, ...rest }) => rest);
    expect(withoutTime(continued.file.cells)).toEqual(withoutTime(whole.file.cells));

    await expect(runPhaseDiagram(rt, { ...plan, seed: 4 }, {}, previous)).rejects.toThrow(/holds a different plan/);
  });
});

describe('npm run phase-diagram', () => {
  it('refuses a bad plan with exit code 2 and the usage, before any GPU work', async () => {
    const run = (...args: string[]) => runScript('phase-diagram', ...args);
    const dyck = await run('--preset', 'dyck');
    expect(dyck.code).toBe(2);
    expect(dyck.stderr).toContain('needs a modular-arithmetic or multitask preset, not dyck');
    expect(dyck.stderr).toContain('--fractions LIST');
    const fractions = await run('--preset', 'quick-add', '--fractions', '0.5,x');
    expect(fractions.code).toBe(2);
    expect(fractions.stderr).toContain('--fractions must be comma-separated numbers');
    const modulus = await run('--preset', 'quick-add', '--p', '12');
    expect(modulus.code).toBe(2);
    expect(modulus.stderr).toContain('p must be a prime');
  });

  it('trains every cell with the task, model and optimiser options, and writes them into the plan', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sel-phase-'));
    const out = join(dir, 'phase.json');
    const result = await runScript('phase-diagram', '--preset', 'quick-add', '--fractions', '0.5', '--l2', '1', '--lrd', 'none', '--steps', '10', '--eval-every', '10',
      '--p', '17', '--d-model', '32', '--heads', '2', '--d-ff', '48', '--norm', 'rms', '--lr', '0.003', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('phase diagram on quick-add (p 17, dModel 32, nHeads 2, dFF 48, norm rms, lr 0.003), seed 42: 1 cells');
    const file = parsePhaseDiagramFile(readFileSync(out, 'utf8'));
    expect(file.plan.overrides).toEqual({ p: 17, dModel: 32, nHeads: 2, dFF: 48, norm: 'rms', lr: 0.003 });
    expect(file.cells).toHaveLength(1);
    // One attention module of d 32: the stable ranks are of 32 x 32 matrices.
    for (const r of [...file.cells[0].stableRank.q, ...file.cells[0].stableRank.k]) expect(r).toBeGreaterThan(1), expect(r).toBeLessThan(32);
    rmSync(dir, { recursive: true });
  });
});
