// The reproduction studies on the GPU, end to end and shortened to 8 or 12 steps (StudyOptions.steps: a smoke test of the
// machinery, one seed, one evaluation a unit): each quick study's units train and analyse with the lab's engine, land
// in unit files and fill their report; a study stopped in the middle of a unit continues with the units it had not
// finished; two shards merged give the report one unsharded run gives. lifecycle-scan is the exception: one SCAN step
// takes minutes on SwiftShader, so only its plan is checked (test/reproduce.test.ts).
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { buildStudy } from '../src/reproduce/studies';
import type { StudyName, StudyPlan } from '../src/reproduce/study';
import { outcomesOf, runStudy, type Shard, type UnitStore } from '../src/reproduce/runner';
import { parseUnitFile, unitFileName, type UnitFile } from '../src/reproduce/unit-file';
import { buildReport, renderMarkdown, type Report } from '../src/reproduce/report';
import { studyFigures } from '../src/reproduce/figures';

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
async function runQuick(name: StudyName, steps: number, shard?: Shard): Promise<{ plan: StudyPlan; report: Report; files: UnitFile[] }> {
  const plan = buildStudy(name, { quick: true, seeds: [42], steps });
  const store = memoryStore(plan);
  const { stop, ran } = await runStudy(await testRuntime(), plan, store, {}, shard ? { shard } : {});
  expect(stop).toBe('done');
  expect(ran).toBe(store.texts.size);
  const files = store.finished();
  return { plan, report: buildReport(plan, outcomesOf(plan, files)), files };
}

const withoutTiming = (r: Report) => ({ ...r, timing: null });
const beforeTiming = (md: string) => md.slice(0, md.indexOf('## Timing'));

describe('reproduction studies, shortened, on the GPU', () => {
  it('lrd-phase: a study stopped inside a unit continues with the rest; two shards merged equal one run', async () => {
    const rt = await testRuntime();
    const plan = buildStudy('lrd-phase', { quick: true, seeds: [42], steps: STEPS });
    expect(plan.units).toHaveLength(4);

    // Stopped a few steps into the second unit: the first is kept, the second dropped, and the next call runs the
    // other three.
    const whole = memoryStore(plan);
    let unitsStarted = 0;
    let checks = 0;
    const first = await runStudy(rt, plan, whole, { onUnitStart: () => unitsStarted++, shouldStop: () => unitsStarted === 2 && ++checks > 3 });
    expect(first).toEqual({ stop: 'interrupted', ran: 1 });
    expect(checks).toBe(4);
    expect([...whole.texts.keys()]).toEqual([unitFileName(plan.units[0].id)]);
    const started: string[] = [];
    const second = await runStudy(rt, plan, whole, { onUnitStart: (p) => started.push(p.unit.id) });
    expect(second).toEqual({ stop: 'done', ran: 3 });
    expect(started).toEqual(plan.units.slice(1).map((u) => u.id));

    // The same plan again as two shards, in reverse order, into one store.
    const sharded = memoryStore(plan);
    for (const index of [2, 1]) expect((await runStudy(rt, plan, sharded, {}, { shard: { index, count: 2 } })).ran).toBe(2);
    const one = buildReport(plan, outcomesOf(plan, whole.finished()));
    const merged = buildReport(plan, outcomesOf(plan, sharded.finished()));
    expect(merged.units).toEqual({ planned: 4, finished: 4, missing: [] });
    expect(withoutTiming(merged)).toEqual(withoutTiming(one));
    expect(beforeTiming(renderMarkdown(merged))).toBe(beforeTiming(renderMarkdown(one)));
    expect(one.tables[0].rows.map((r) => r.lab.n).length).toBe(2);
    for (const o of outcomesOf(plan, whole.finished())) expect(o.result.metrics.stableRankQK).toBeGreaterThan(0);
    expect([...studyFigures(plan, outcomesOf(plan, whole.finished())).keys()]).toEqual(['phase-l2.svg', 'phase-lrd.svg']);
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
});
