// The reproduction studies on the GPU, end to end and shortened to 8 or 12 steps (StudyOptions.steps: a smoke test of the
// machinery, one seed, one evaluation a unit): each quick study's units train and analyse with the lab's engine, land
// in unit files and fill their report; `npm run reproduce` killed after a unit continues with the units it had not
// finished; two shards merged give the report the unsharded command wrote.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { runScript, startScript } from './helpers/cli';
import { buildStudy } from '../src/reproduce/studies';
import type { StudyName, StudyPlan } from '../src/reproduce/study';
import { outcomesOf, runStudy, type Shard, type UnitStore } from '../src/reproduce/runner';
import { isUnitFileName, parseUnitFile, unitFileName, type UnitFile } from '../src/reproduce/unit-file';
import { buildReport, renderMarkdown, type Report } from '../src/reproduce/report';
import { studyFigures } from '../src/reproduce/figures';
import { describeAnalysis } from '../src/reproduce/unit-run';

const STEPS = 8;
/** quick-add and quick-multitask take windows of 10 snapshots: the first needs 10 steps. */
const MODES_STEPS = 12;

/** Unit files kept as text, read back through the same checks as a directory's. */
function memoryStore(plan: StudyPlan): UnitStore & { texts: Map<string, string> } {
  const texts = new Map<string, string>();
  return {
    texts,
    finished: () => [...texts].map(([name, text]) => parseUnitFile(name, text, plan)),
    write: (f: UnitFile) => void texts.set(unitFileName(f.unit.id), JSON.stringify(f)),
  };
}

/** Runs a quick study shortened to `steps` (the units of one shard, if given) and builds its report. */
async function runQuick(name: StudyName, steps: number, shard?: Shard): Promise<{ plan: StudyPlan; report: Report; files: UnitFile[]; analysing: string[] }> {
  const plan = buildStudy(name, { quick: true, seeds: [42], steps });
  const store = memoryStore(plan);
  const analysing: string[] = [];
  const { stop, ran } = await runStudy(await testRuntime(), plan, store, { onAnalysis: (p, a) => analysing.push(`${p.unit.id} ${describeAnalysis(a)}`) }, shard ? { shard } : {});
  expect(stop).toBe('done');
  expect(ran).toBe(store.texts.size);
  const files = store.finished();
  return { plan, report: buildReport(plan, outcomesOf(plan, files)), files, analysing };
}

const withoutTiming = (r: Report) => ({ ...r, timing: null });
const beforeTiming = (md: string) => md.slice(0, md.indexOf('## Timing'));

describe('reproduction studies, shortened, on the GPU', () => {
  it('lrd-phase: `npm run reproduce` killed after a unit continues with the rest; two shards merged give its report', async () => {
    const plan = buildStudy('lrd-phase', { quick: true, seeds: [42], steps: STEPS });
    expect(plan.units).toHaveLength(4);
    const dir = mkdtempSync(join(tmpdir(), 'reproduce-kill-'));
    const args = ['lrd-phase', '--quick', '--steps', String(STEPS), '--out', dir];
    const unitFiles = () => readdirSync(dir).filter(isUnitFileName).sort();

    // Killed (SIGKILL: no chance to clean up) once its first unit is written: the finished units stay.
    const started = startScript('reproduce', ...args);
    let exited = false;
    void started.exit.then(() => (exited = true));
    while (!exited && !/unit 1\/4 \S+ done in/.test(started.output())) await new Promise((r) => setTimeout(r, 50));
    started.child.kill('SIGKILL');
    const killed = await started.exit;
    expect(killed.stdout).toMatch(/unit 1\/4 s42-l21-f0\.45 done in/);
    const kept = unitFiles();
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(4);
    expect(kept).toContain(unitFileName(plan.units[0].id));

    // The same command again runs only the rest, then writes the report with its figures.
    const resumed = await runScript('reproduce', ...args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`4 units, ${kept.length} already in ${dir}`);
    expect(resumed.stdout).not.toContain(`unit 1/4 ${plan.units[0].id}`);
    expect(unitFiles()).toEqual(plan.units.map((u) => unitFileName(u.id)).sort());
    const files = unitFiles().map((f) => parseUnitFile(f, readFileSync(join(dir, f), 'utf8'), plan));
    for (const f of files) expect(f.result.metrics.stableRankQ).toBeGreaterThan(0), expect(f.result.metrics.normQ).toBeGreaterThan(0);

    // The plan again as two shards, in reverse order, in this process: the report the command wrote, bit for bit
    // up to the timing.
    const sharded = memoryStore(plan);
    const rt = await testRuntime();
    for (const index of [2, 1]) expect((await runStudy(rt, plan, sharded, {}, { shard: { index, count: 2 } })).ran).toBe(2);
    const outcomes = outcomesOf(plan, sharded.finished());
    const figures = ['phase-l2.svg', 'phase-l2.png', 'phase-lrd.svg', 'phase-lrd.png'];
    const merged = buildReport(plan, outcomes, figures);
    expect(merged.units).toEqual({ planned: 4, finished: 4, missing: [] });
    expect(withoutTiming(merged)).toEqual(withoutTiming(buildReport(plan, outcomesOf(plan, files), figures)));
    expect(beforeTiming(renderMarkdown(merged))).toBe(beforeTiming(readFileSync(join(dir, 'report.md'), 'utf8')));
    expect([...studyFigures(plan, outcomes).keys()]).toEqual(['phase-l2.svg', 'phase-lrd.svg']);
  });

  it('modes-modarith and modes-multitask: grok steps, the g23 decline and the functional modes of the late edge', async () => {
    const modarith = await runQuick('modes-modarith', MODES_STEPS);
    expect(modarith.files).toHaveLength(3);
    for (const f of modarith.files.filter((f) => f.unit.tags.role === 'main')) {
      expect(f.result.metrics['late.fourier.add.v1.F']).toBeGreaterThan(0);
      expect(f.result.metrics['late.fourier.mulLog.v1.F']).toBeGreaterThan(0);
      expect(f.result.notes['grok.skipped']).toBe(`the run did not grok in ${MODES_STEPS} steps`);
    }
    expect(modarith.report.tables[1].rows[0].lab.n).toBe(1);
    // Progress through each analysis: its start, then the experiment's own steps, up to done = total.
    const analysed = modarith.analysing.filter((line) => line.startsWith('s42-opadd-wd1 '));
    expect(analysed[0]).toBe(`s42-opadd-wd1 analysing at the end (step ${MODES_STEPS})`);
    expect(analysed.length).toBeGreaterThan(2);
    expect(analysed.at(-1)).toMatch(new RegExp(`^s42-opadd-wd1 analysing at the end \\(step ${MODES_STEPS}\\): fourier (\\d+)/\\1, spectra done$`));
    expect(modarith.report.notes.length).toBe(2);

    const multitask = await runQuick('modes-multitask', MODES_STEPS);
    const [unit] = multitask.files;
    expect(Object.keys(unit.result.metrics)).toEqual(expect.arrayContaining(['grokStep.add', 'grokStep.sub', 'grokStep.mul', 'grokStep.x2y2', 'late.fourier.add.v1.F']));
    expect(multitask.report.tables[0].rows.map((r) => r.verdict?.status)).toEqual(['not-measured', 'not-measured', 'not-measured', 'not-measured', undefined]);
  });

  it('lifecycle-dyck: spectral windows and the live causal probes (the wd 1 unit: shard 1 of 2)', async () => {
    // Each Dyck unit evaluates 5,000 test sequences; the wd 0 control is the same run without the probes.
    const { files, report, plan } = await runQuick('lifecycle-dyck', STEPS, { index: 1, count: 2 });
    expect(files.map((f) => f.unit.tags.role)).toEqual(['main']);
    const m = files[0].result.metrics;
    for (const key of ['gef.late', 'gef.min', 'g23Decline', 'rotation.median', 'finalTestAcc']) {
      expect(Number.isFinite(m[key]), key).toBe(true);
    }
    // Shortened on Dyck: no post-hoc experiments; one live probe, at the last step.
    expect(Object.keys(m).filter((k) => k.startsWith('late.') || k.startsWith('grok.'))).toEqual([]);
    expect(files[0].result.series.causal.step).toEqual([STEPS]);
    for (const d of files[0].result.series.causal.edge) expect(Number.isFinite(d)).toBe(true);
    expect(report.units).toEqual({ planned: 2, finished: 1, missing: ['s42-wd0'] });
    expect(renderMarkdown(report)).toContain('the live probes measure the edge on their subset');
    expect([...studyFigures(plan, outcomesOf(plan, files)).keys()]).toEqual(['gradient-energy-fraction.svg', 'g23.svg', 'live-ablation.svg', 'test-accuracy.svg']);
  });

  it('lifecycle-scan: the quick-scan unit trains, evaluates (greedy decoding too) and takes its live probe', async () => {
    const { files, report, plan } = await runQuick('lifecycle-scan', STEPS);
    expect(files).toHaveLength(1);
    const { metrics: m, series } = files[0].result;
    for (const key of ['gef.late', 'g23Decline', 'rotation.median', 'finalTestAcc', 'finalTrainAcc']) expect(Number.isFinite(m[key]), key).toBe(true);
    expect(m.grokked).toBe(0);
    expect(series.eval.step).toEqual([STEPS]);
    // Shortened on SCAN: no post-hoc experiments; one live probe, at the last step, on its subset of sequences.
    expect(Object.keys(m).filter((k) => k.startsWith('memo.') || k.startsWith('late.') || k.startsWith('grok.'))).toEqual([]);
    expect(series.causal.step).toEqual([STEPS]);
    for (const d of [...series.causal.edge, ...series.causal.resolution]) expect(Number.isFinite(d)).toBe(true);
    expect(report.units).toEqual({ planned: 1, finished: 1, missing: [] });
    expect([...studyFigures(plan, outcomesOf(plan, files)).keys()]).toEqual(['gradient-energy-fraction.svg', 'g23.svg', 'live-ablation.svg', 'test-accuracy.svg']);
  });
});
