// The reproduction studies without a GPU: the verdict logic against hand-made values, the metrics' definitions on
// hand-made spectral records, every study's plan, shards, unit files refused by name, the report and its schema, and
// the CLI's refusals of bad input (each one line, exit code 2, before any GPU work).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { compare, summarise } from '../src/reproduce/compare';
import { g23Decline, phaseMetrics, spectralMetrics } from '../src/reproduce/metrics';
import { buildStudy } from '../src/reproduce/studies';
import { STUDY_NAMES, type StudyPlan, type UnitOutcome, type UnitResult } from '../src/reproduce/study';
import { parseShard, shardUnits } from '../src/reproduce/runner';
import { parseUnitFile, unitFileName, unitFileOf } from '../src/reproduce/unit-file';
import { buildReport, renderMarkdown, REPORT_SCHEMA } from '../src/reproduce/report';
import { lineFigure, studyFigures } from '../src/reproduce/figures';
import { PUBLISHED } from '../src/reproduce/published';
import { resolveRunConfig } from '../src/train/run';
import { cellConfig } from '../src/train/phase-diagram';
import { phaseDiagramCells } from '../src/formats/phase-diagram-file';
import type { SpectralRecord } from '../src/formats/spectral';
import type { PhaseCellResult } from '../src/formats/phase-diagram-file';
import { runScript } from './helpers/cli';

const lab = (...values: number[]) => summarise(values);

describe('the verdict of a row', () => {
  it('a range: inside, or the miss to the nearer bound and the ratio to it', () => {
    expect(compare({ kind: 'range', lo: 600, hi: 1400 }, lab(800, 1000, 1200))).toMatchObject({ status: 'inside', miss: null, text: 'inside 600–1400' });
    const low = compare({ kind: 'range', lo: 600, hi: 1400 }, lab(200, 200, 200));
    expect(low).toMatchObject({ status: 'outside', miss: 400 });
    expect(low.ratio).toBeCloseTo(1 / 3, 12);
    expect(low.text).toBe('misses by 400 (0.333x the lower bound)');
    expect(compare({ kind: 'range', lo: 15, hi: 110 }, lab(220)).text).toBe('misses by 110 (2x the upper bound)');
  });

  it('mean ± sd: inside the paper’s band, else the miss beyond it in sds', () => {
    expect(compare({ kind: 'mean-sd', mean: -0.58, sd: 0.09 }, lab(-0.5, -0.6, -0.55)).status).toBe('inside');
    const v = compare({ kind: 'mean-sd', mean: -0.58, sd: 0.09 }, lab(-0.28, -0.28));
    expect(v.status).toBe('outside');
    expect(v.miss).toBeCloseTo(0.21, 12);
    expect(v.text).toBe('misses the band by 0.21 = 3.33 sd from the mean');
  });

  it('a bound holds for every seed, not for the mean', () => {
    expect(compare({ kind: 'below', max: 1e-4 }, lab(0, 5e-5)).status).toBe('inside');
    const v = compare({ kind: 'below', max: 1e-4 }, lab(0, 0, 2e-4));
    expect(v).toMatchObject({ status: 'outside' });
    expect(v.miss).toBeCloseTo(1e-4, 15);
  });

  it('a point value is matched within the lab’s own spread over seeds; one seed must equal it', () => {
    expect(compare({ kind: 'point', value: 0.078 }, lab(0.05, 0.1)).status).toBe('inside');
    const one = compare({ kind: 'point', value: 0.078 }, lab(0.008));
    expect(one.status).toBe('outside');
    expect(one.text).toBe('differs by 0.07 (0.103x the paper); one seed, no spread');
    expect(compare({ kind: 'point', value: 0 }, lab(0)).status).toBe('inside');
    expect(compare({ kind: 'point', value: 0 }, lab(1)).ratio).toBeNull();
  });

  it('no value is "not measured", and a non-finite value is refused, never averaged', () => {
    expect(compare({ kind: 'point', value: 1 }, lab())).toMatchObject({ status: 'not-measured', text: 'not measured' });
    expect(() => summarise([1, Number.NaN])).toThrow(/not finite: NaN/);
    expect(lab(1, 2, 3)).toMatchObject({ n: 3, mean: 2, sd: 1 });
  });
});

function record(step: number, g23: number | null, gef: number, rotation?: number): SpectralRecord {
  return {
    step, sigma: [], g23, kStar: null, gapRatio: null, rotationDeg: rotation === undefined ? [] : [rotation], gradEnergyFraction: [gef], alignment: [],
    trapezoidGradEnergyFraction: [], deltaGramNorm: null, davisKahanAlpha: [], adiabatic: null,
  };
}

describe('the metrics a unit reports', () => {
  it('g23 decline: the peak over the lowest value after it', () => {
    expect(g23Decline([1, 8, 4, 0.5, 2])).toBe(16);
    expect(g23Decline([1, 2, 3])).toBeNull(); // still rising: nothing after the peak
    expect(g23Decline([null, 4, null, 2])).toBe(2);
    expect(g23Decline([4, 0])).toBeNull();
  });

  it('the gradient share before, at and after the grok, its turn and the rotation', () => {
    const records = [record(100, 5, 0.99), record(120, 8, 0.95, 30), record(140, 2, 0.4, 10), record(160, 1, 0.1, 4), record(180, 1, 0.3, 6), record(200, 1, 0.5, 8)];
    const m = spectralMetrics(records, 130);
    expect(m['gef.pre']).toBeCloseTo(0.97, 12);
    expect(m['gef.grok']).toBe(0.4);
    expect(m['gef.late']).toBeCloseTo(0.3, 12);
    expect(m).toMatchObject({ 'gef.min': 0.1, 'gef.minStep': 160, edgeTurnStep: 140, 'rotation.median': 8, g23Decline: 8 });
    expect(spectralMetrics(records, null)).toMatchObject({ 'gef.pre': null, 'gef.grok': null });
  });

  it('a phase cell: W_Q and W_K apart (a flat W_Q at LRD\'s floor beside a rank-1 W_K is not rank 32), with their norms', () => {
    const cell: PhaseCellResult = {
      decay: 'lrd', trainFraction: 0.6, strength: 0.03, maxTestAcc: 1, maxTestAccStep: 380, finalTrainAcc: 1, finalTestAcc: 1, grokStep: 320, steps: 600, stopReason: 'completed',
      stableRank: { q: [63, null], k: [1, 1.2] }, norm: { q: [0.09, 0.11], k: [0.4, 0.6] }, series: { step: [600], trainAcc: [1], testAcc: [1] }, wallMs: 1, adapter: 'hand-made',
    };
    const m = phaseMetrics(cell);
    expect(m.stableRankQ).toBe(63); // a zero matrix (null) has no stable rank and is left out
    expect(m.stableRankK).toBeCloseTo(1.1, 12);
    expect(m.normQ).toBeCloseTo(0.1, 12);
    expect(m.normK).toBeCloseTo(0.5, 12);
    expect(m).toMatchObject({ grokked: 1, grokStep: 320, trainFraction: 0.6, strength: 0.03 });
    const { norm: _, ...older } = cell; // a cell from a file written before the norms
    expect(phaseMetrics(older)).toMatchObject({ stableRankQ: 63, normQ: null, normK: null });
  });
});

describe('the studies', () => {
  it('every study builds, full and quick, with unique unit ids and resolvable units', () => {
    for (const name of STUDY_NAMES) {
      for (const quick of [false, true]) {
        const plan = buildStudy(name, { quick });
        expect(plan.units.length).toBeGreaterThan(0);
        expect(new Set(plan.units.map((u) => u.id)).size).toBe(plan.units.length);
        for (const row of plan.tables.flatMap((t) => t.rows)) if (row.published) expect(PUBLISHED[row.published], row.quantity).toBeDefined();
      }
    }
    expect(buildStudy('lifecycle-dyck', { quick: false }).units.map((u) => u.id)).toEqual(['s42-wd1', 's42-wd0', 's1-wd1', 's1-wd0', 's2-wd1', 's2-wd0']);
  });

  it('lifecycle-scan: the quick study trains the quick-scan preset (one unit), the full one the SCAN paper preset', () => {
    const presets = (quick: boolean) => buildStudy('lifecycle-scan', { quick }).units.map((u) => [u.id, u.kind === 'run' ? u.preset : null]);
    expect(presets(true)).toEqual([['s42-wd1', 'quick-scan']]);
    expect(presets(false)).toEqual(['s42-wd1', 's42-wd0', 's1-wd1', 's1-wd0', 's2-wd1', 's2-wd0'].map((id) => [id, 'scan']));
    const [unit] = buildStudy('lifecycle-scan', { quick: true }).units;
    expect(unit.kind === 'run' && resolveRunConfig(unit.preset, unit.seed, unit.overrides)).toMatchObject({ steps: 1000, evalEvery: 250, causal: { every: 200, sequences: 32 } });
  });

  it('lrd-phase: the full study trains at LRD\'s modulus, p = 113, with RMSNorm and QK-norm; the quick one quick-add as it is', () => {
    const models = (quick: boolean) =>
      buildStudy('lrd-phase', { quick }).units.map((u) => {
        if (u.kind !== 'phase-cell') throw new Error(`lrd-phase unit ${u.id} is not a phase cell`);
        const config = cellConfig(u.plan, phaseDiagramCells(u.plan)[0]);
        return { p: config.task.kind === 'modarith' ? config.task.p : null, vocab: config.model.nClasses, norm: config.model.norm ?? 'layer', qkNorm: config.model.qkNorm ?? false };
      });
    const full = models(false);
    expect(full).toHaveLength(90);
    for (const m of full) expect(m).toEqual({ p: 113, vocab: 113, norm: 'rms', qkNorm: true });
    for (const m of models(true)) expect(m).toEqual({ p: 31, vocab: 31, norm: 'layer', qkNorm: false });
  });

  it('refuses an empty or repeated seed list and too few steps', () => {
    expect(() => buildStudy('lrd-phase', { quick: true, seeds: [] })).toThrow('the seed list is empty');
    expect(() => buildStudy('lrd-phase', { quick: true, seeds: [1, 1] })).toThrow('the seed list names a seed twice: 1,1');
    expect(() => buildStudy('lrd-phase', { quick: true, steps: 2 })).toThrow('steps must be an integer >= 8, got 2');
  });

  it('shards take every N-th unit and together cover the plan once', () => {
    const plan = buildStudy('modes-modarith', { quick: false });
    const shards = [1, 2, 3].map((index) => shardUnits(plan, { index, count: 3 }).map((u) => u.id));
    expect(shards.flat().sort()).toEqual(plan.units.map((u) => u.id).sort());
    expect(shards[1][0]).toBe(plan.units[1].id);
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(() => parseShard('0/2')).toThrow('--shard 0/2: i must be in 1..2');
    expect(() => parseShard('3/2')).toThrow('--shard 3/2: i must be in 1..2');
    expect(() => parseShard('1-2')).toThrow('--shard must be i/N (e.g. 2/4), got "1-2"');
  });
});

/** A result with the given metrics and a short series. */
function result(metrics: Record<string, number | null>): UnitResult {
  return {
    metrics,
    notes: {},
    series: {
      eval: { step: [10, 20], trainAcc: [0.5, 1], testAcc: [0.1, 0.9] },
      spectral: { step: [10, 20], g23: [4, 1], gef1: [0.9, 0.2], rotation1: [null, 12] },
      causal: { step: [20], edge: [-0.4], bulk: [-0.1], randomMeanAbs: [0.001], resolution: [0.001] },
    },
    steps: 20,
    wallMs: 1000,
    adapter: 'hand-made',
  };
}

describe('unit files and the report', () => {
  const plan: StudyPlan = buildStudy('lrd-phase', { quick: true, seeds: [42, 1] });

  it('a unit file of another study, version or plan is refused by its name', () => {
    const file = unitFileOf(plan, plan.units[0], result({}));
    const text = (patch: object) => JSON.stringify({ ...file, ...patch });
    expect(parseUnitFile('unit-a.json', text({}), plan).unit.id).toBe(plan.units[0].id);
    expect(() => parseUnitFile('unit-a.json', text({ study: 'lifecycle-dyck' }), plan)).toThrow('unit-a.json: a unit of lifecycle-dyck (quick), not lrd-phase (quick)');
    expect(() => parseUnitFile('unit-a.json', text({ quick: false }), plan)).toThrow('unit-a.json: a unit of lrd-phase, not lrd-phase (quick)');
    expect(() => parseUnitFile('unit-a.json', text({ studyVersion: 99 }), plan)).toThrow("unit-a.json: written by lrd-phase (quick) version 99; this lab's is 1");
    expect(() => parseUnitFile('unit-a.json', text({ version: 7 }), plan)).toThrow('unit-a.json: unit file version 7; this lab reads 1');
    expect(() => parseUnitFile('unit-a.json', text({ stepsOverride: 40 }), plan)).toThrow('unit-a.json: its units ran shortened to 40 steps, this plan at full length');
    expect(() => parseUnitFile('unit-a.json', text({ unit: { ...file.unit, id: 's7-x' } }), plan)).toThrow('unit-a.json: unit s7-x is not in this plan (seeds 42,1)');
    expect(() => parseUnitFile('unit-a.json', text({ unit: { ...file.unit, label: 'other' } }), plan)).toThrow('unit-a.json: unit s42-l21-f0.45 was run with other settings than this plan\'s');
    expect(() => parseUnitFile('unit-a.json', '{', plan)).toThrow(/^unit-a\.json: not JSON/);
  });

  it('the report: values per seed, verdicts, a tally, its schema; and the phase heatmaps', () => {
    // Seed 42 groks at 0.6 under both decays; seed 1 only under LRD at 0.45 and 0.6.
    const groks: Record<string, boolean> = { 's42-l21-f0.6': true, 's42-lrd0.03-f0.6': true, 's1-lrd0.03-f0.45': true, 's1-lrd0.03-f0.6': true };
    const outcomes: UnitOutcome[] = plan.units.map((unit) => ({
      unit,
      result: result({
        grokked: groks[unit.id] ? 1 : 0, trainFraction: Number(unit.tags.fraction), maxTestAcc: groks[unit.id] ? 0.99 : 0.3,
        ...(unit.tags.decay === 'lrd' ? { stableRankQ: 60, stableRankK: 1.2, normQ: 0.1 } : { stableRankQ: 8, stableRankK: 9 }),
      }),
    }));
    const report = buildReport(plan, outcomes, ['phase-l2.svg']);
    const [fractions, ranks] = report.tables;
    expect(fractions.rows[0].lab).toMatchObject({ values: [0.6, 0.45], n: 2 });
    expect(fractions.rows[0].verdict).toMatchObject({ status: 'outside' });
    expect(fractions.rows[1].lab).toMatchObject({ values: [0.6], n: 1 }); // seed 1 never groks under L2
    expect(fractions.rows[1].verdict).toBeNull();
    expect(ranks.rows.map((r) => r.quantity.split(',')[0])).toEqual([
      'W_Q stable rank', 'W_K stable rank', 'W_Q Frobenius norm', 'W_K Frobenius norm', 'W_Q stable rank', 'W_K stable rank', 'max test accuracy',
    ]);
    expect(ranks.rows[0].verdict).toMatchObject({ status: 'inside', text: 'inside 55–64' });
    expect(ranks.rows[1].verdict).toMatchObject({ status: 'inside', text: 'inside 1–1.5' });
    expect(ranks.rows[2].verdict).toMatchObject({ status: 'inside' });
    expect(ranks.rows[4].lab).toMatchObject({ values: [8, 8], n: 2 });
    expect(ranks.rows[6].verdict).toMatchObject({ status: 'outside' }); // seed 1 does not grok: mean 0.645
    expect(report.tally).toEqual({ inside: 3, outside: 2, notMeasured: 0, noReference: 4 });
    expect(report.units).toEqual({ planned: 8, finished: 8, missing: [] });
    const validate = new Ajv({ allErrors: true }).compile(REPORT_SCHEMA);
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    const md = renderMarkdown(report);
    expect(md).toContain('| smallest fraction that groks, Low-Rank Decay | quick-add (p 31) | 0.6 | 0.525 ± 0.106 (n 2) | misses by 0.075 (0.875x the lower bound) | README "Phase diagram" (lab, SwiftShader, seed 42) |');
    const svgs = studyFigures(plan, outcomes);
    expect([...svgs.keys()]).toEqual(['phase-l2.svg', 'phase-lrd.svg']);
    expect(svgs.get('phase-lrd.svg')).toContain('>0.990<');
    const partial = buildReport(plan, outcomes.slice(0, 3));
    expect(partial.units.missing).toHaveLength(5);
  });

  it('a line figure marks a point that has no neighbour to draw a line to (a single evaluation, a point between gaps)', () => {
    const unit = plan.units[0];
    const single = result({});
    single.series.causal = { step: [8], edge: [-0.25], bulk: [null], randomMeanAbs: [0.001], resolution: [0.001] };
    const one = lineFigure({ name: 'live-ablation', title: 'live', y: 'Δacc', series: 'causal-edge' }, [{ unit, result: single }])!;
    expect(one.match(/<circle /g)).toHaveLength(1);
    expect(one).toMatch(/text-anchor="end">0<\/text>/); // Δacc below the zero line
    // Mid-plot, not on the frame's edge.
    const cx = Number(/<circle cx="([\d.]+)"/.exec(one)![1]);
    expect(cx).toBeGreaterThan(64 + 100);
    expect(cx).toBeLessThan(640 - 150 - 100);
    const gappy = result({});
    gappy.series.spectral = { step: [10, 20, 30, 40], g23: [4, null, 2, 1], gef1: [0.9, 0.7, 0.5, 0.2], rotation1: [null, null, null, null] };
    const twoRuns = lineFigure({ name: 'g23', title: 'g23', y: 'g23', logY: true, series: 'g23' }, [{ unit, result: gappy }])!;
    expect(twoRuns.match(/<circle /g)).toHaveLength(1); // step 10; steps 30-40 are a line
    expect(lineFigure({ name: 'g23', title: 'g23', y: 'g23', logY: true, series: 'g23' }, [{ unit, result: result({}) }])).not.toContain('<circle');
  });

  it('a line figure\'s legend makes room for its longest label (the plot gives way)', () => {
    const unit = { ...plan.units[0], label: 'seed 42, add, wd 0 (control), a longer label' };
    const svg = lineFigure({ name: 'g23', title: 'g23', y: 'g23', logY: true, series: 'g23' }, [{ unit, result: result({}) }])!;
    const legend = /<text x="([\d.]+)"[^>]*>seed 42, add, wd 0 \(control\), a longer label</.exec(svg);
    expect(legend).not.toBeNull();
    // 46 characters of 11 px DejaVu Sans (about 6.3 px each) end inside the 640 px figure.
    expect(Number(legend![1]) + unit.label.length * 6.3).toBeLessThanOrEqual(640);
    const plot = /<rect x="64" y="36" width="([\d.]+)"/.exec(svg);
    expect(Number(plot![1])).toBeLessThan(640 - 64 - 150);
  });
});

describe('npm run reproduce refuses bad input before any GPU work', () => {
  it('with one line and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reproduce-'));
    const plan = buildStudy('lifecycle-dyck', { quick: true });
    writeFileSync(join(dir, 'unit-s42-wd1.json'), JSON.stringify(unitFileOf(plan, plan.units[0], result({}))));
    const cases: [string[], string][] = [
      [['nonsense'], 'reproduce: unknown study "nonsense"; choose from lifecycle-dyck, lifecycle-scan, modes-modarith, modes-multitask, lrd-phase'],
      [['lrd-phase', '--seeds', ''], 'reproduce: --seeds is empty; give comma-separated integers, e.g. 42,1,2'],
      [['lrd-phase', '--seeds', '4,x'], 'reproduce: --seeds must be comma-separated integers in [0, 2^32), got "4,x"'],
      [['lrd-phase', '--shard', '3/2'], 'reproduce: --shard 3/2: i must be in 1..2'],
      [['lrd-phase', '--quick', '--budget-minutes', '0.001'], 'reproduce: --budget-minutes 0.001 cannot fit one unit: the smallest needs at least 1s even at an H100\'s step rate'],
      [['lrd-phase', '--quick', '--out', dir], 'reproduce: unit-s42-wd1.json: a unit of lifecycle-dyck (quick), not lrd-phase (quick)'],
    ];
    for (const [args, line] of cases) {
      const r = await runScript('reproduce', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(`${line}\n`);
    }
  });
});

/** A PNG's width and height, read from its IHDR chunk after checking the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('npm run reproduce --merge', () => {
  it('builds the report from unit files without a GPU: figures as SVG and PNG, the PNGs embedded in report.md', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reproduce-merge-'));
    const plan = buildStudy('lrd-phase', { quick: true });
    for (const unit of plan.units) {
      const metrics = { grokked: unit.tags.fraction === '0.6' ? 1 : 0, trainFraction: Number(unit.tags.fraction), stableRankQ: 2, stableRankK: 2, maxTestAcc: 0.5 };
      writeFileSync(join(dir, unitFileName(unit.id)), JSON.stringify(unitFileOf(plan, unit, result(metrics))));
    }
    const r = await runScript('reproduce', 'lrd-phase', '--quick', '--merge', '--out', dir);
    expect(r.code, r.stderr).toBe(0);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('![phase-l2.png](phase-l2.png) ([SVG](phase-l2.svg))');
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).figures).toEqual(['phase-l2.svg', 'phase-l2.png', 'phase-lrd.svg', 'phase-lrd.png']);
    expect(readFileSync(join(dir, 'phase-lrd.svg'), 'utf8')).toMatch(/^<svg [^>]*width="640" height="360"/);
    // Drawn at twice the SVG's 640 x 360.
    expect(pngSize(readFileSync(join(dir, 'phase-lrd.png')))).toEqual({ width: 1280, height: 720 });
  });
});
