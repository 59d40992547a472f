// The page's view of a study, built in the worker without a GPU (src/worker/study-service.ts): its units with their
// steps, the H100 lower bound and the report with every row unmeasured; an abbreviated study is marked as such.
// Finished units saved in the page's IndexedDB (src/worker/run-db.ts, on fake-indexeddb) come back on the next
// visit, checked against the plan (a foreign one is named, not merged), and Discard removes them.
import 'fake-indexeddb/auto'; // IDBKeyRange
import { describe, expect, it } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { ABBREVIATED_STEPS, StudyService, type StudyEvent } from '../src/worker/study-service';
import type { GpuRuntime } from '../src/gpu/runtime';
import { RunDb } from '../src/worker/run-db';
import { sharedLocks } from './helpers/fake-locks';
import { buildStudy } from '../src/reproduce/studies';
import { renderMarkdown } from '../src/reproduce/report';
import { unitFileOf } from '../src/reproduce/unit-file';
import type { UnitResult } from '../src/reproduce/study';

describe('a study as the page sees it before it runs', () => {
  it('every unit, the time bound and the tables, nothing measured yet', async () => {
    const view = await new StudyService().view({ study: 'lrd-phase', quick: true, abbreviated: false });
    const plan = buildStudy('lrd-phase', { quick: true });
    expect(view.label).toBe('lrd-phase (quick)');
    expect(view.units).toEqual(plan.units.map((u) => ({ id: u.id, label: u.label, steps: 600, done: false })));
    expect(view.steps).toBe(2400);
    expect(view.lowerBoundMs).toBeCloseTo(2400 * 0.97, 9);
    expect(view.report.tables.map((t) => t.rows.length)).toEqual([2, 7]);
    expect(view.report.tables.flatMap((t) => t.rows).every((r) => r.lab.n === 0)).toBe(true);
    expect(view.report.units).toEqual({ planned: 4, finished: 0, missing: plan.units.map((u) => u.id) });
    expect(view.figures).toEqual([]);
    expect(view).toMatchObject({ restored: 0, storageProblems: [] });
  });

  it('an abbreviated study shortens every unit and its report says it is a smoke test', async () => {
    const view = await new StudyService().view({ study: 'modes-modarith', quick: true, abbreviated: true });
    expect(view.units.map((u) => u.steps)).toEqual([ABBREVIATED_STEPS, ABBREVIATED_STEPS, ABBREVIATED_STEPS]);
    expect(view.report.stepsOverride).toBe(ABBREVIATED_STEPS);
    expect(renderMarkdown(view.report)).toContain(`**Every unit was shortened to ${ABBREVIATED_STEPS} steps: a smoke test of the machinery, not a reproduction.**`);
  });
});

/** A phase cell's result as runUnit returns it (hand-made: no GPU here). */
const cellResult = (stableRankQ: number): UnitResult => ({
  metrics: { grokked: 1, grokStep: 320, maxTestAcc: 1, finalTestAcc: 1, trainFraction: 0.6, strength: 0.03, stableRankQ, stableRankK: 1.1, normQ: 0.09, normK: 0.5 },
  notes: {},
  series: { eval: { step: [20], trainAcc: [1], testAcc: [1] }, spectral: { step: [], g23: [], gef1: [], rotation1: [] }, causal: { step: [], edge: [], bulk: [], randomMeanAbs: [], resolution: [] } },
  steps: 600,
  wallMs: 1000,
  adapter: 'hand-made',
});

describe('finished units kept in the browser between visits', () => {
  const request = { study: 'lrd-phase' as const, quick: true, abbreviated: false };
  const plan = buildStudy('lrd-phase', { quick: true });
  const lrd = plan.units.find((u) => u.id === 's42-lrd0.03-f0.6')!;
  const key = 'lrd-phase (quick)/full';

  it('restores the saved units of the same study and settings, names a foreign one, and discards them', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null });
    await db.putStudyUnit(key, lrd.id, JSON.stringify(unitFileOf(plan, lrd, cellResult(60))));
    await db.putStudyUnit(key, plan.units[0].id, JSON.stringify({ ...unitFileOf(plan, plan.units[0], cellResult(8)), studyVersion: 99 }));
    const short = buildStudy('lrd-phase', { quick: true, steps: ABBREVIATED_STEPS });
    await db.putStudyUnit(`lrd-phase (quick)/${ABBREVIATED_STEPS}`, lrd.id, JSON.stringify(unitFileOf(short, short.units.find((u) => u.id === lrd.id)!, cellResult(1))));

    // The next visit: a new worker, the same database.
    const view = await new StudyService(new RunDb({ factory, locks: null })).view(request);
    expect(view.units.filter((u) => u.done).map((u) => u.id)).toEqual([lrd.id]);
    expect(view.restored).toBe(1);
    expect(view.storageProblems).toEqual([`saved unit-${plan.units[0].id}.json: written by lrd-phase (quick) version 99; this lab's is 1 (not restored)`]);
    const row = view.report.tables[1].rows[0];
    expect(row.lab).toMatchObject({ n: 1, mean: 60 });
    // The abbreviated study is another key: its unit stays its own.
    expect((await new StudyService(db).view({ ...request, abbreviated: true })).units.filter((u) => u.done)).toHaveLength(1);

    const service = new StudyService(db);
    await service.view(request);
    const discarded = await service.discard(request);
    expect(discarded.units.some((u) => u.done)).toBe(false);
    expect(discarded).toMatchObject({ restored: 0, storageProblems: [] });
    expect(await db.studyUnits(key)).toEqual([]);
    expect(await db.studyUnits(`lrd-phase (quick)/${ABBREVIATED_STEPS}`)).toHaveLength(1);
    expect((await new StudyService(db).view(request)).units.some((u) => u.done)).toBe(false);
  });

  it('runs a study in one tab at a time; the next run reads the units another tab finished and runs none twice', async () => {
    const locks = sharedLocks();
    const factory = new IDBFactory();
    const tabA = new RunDb({ factory, locks });
    const tabB = new RunDb({ factory, locks });
    const serviceB = new StudyService(tabB);
    expect((await serviceB.view(request)).units.some((u) => u.done)).toBe(false);

    // Tab A runs the study (it holds the claim) and finishes every unit.
    const releaseA = (await tabA.claimStudy(key))!;
    expect(releaseA).toBeTypeOf('function');
    for (const u of plan.units) await tabA.putStudyUnit(key, u.id, JSON.stringify(unitFileOf(plan, u, cellResult(60))));
    // Refused before any GPU work: the runtime is never touched.
    const noGpu = undefined as unknown as GpuRuntime;
    const events: StudyEvent[] = [];
    await expect(serviceB.run(noGpu, request, (e) => events.push(e), () => false)).rejects.toThrow(
      'lrd-phase (quick) is running in another tab of this lab: let it finish there (its units are saved here too) or close that tab, then continue',
    );
    expect(events).toEqual([]);

    // Once A gives it back, B's run reads A's units: nothing is left to run, and the table shows them at once.
    releaseA();
    await new Promise((r) => setTimeout(r, 0));
    expect(await serviceB.run(noGpu, request, (e) => events.push(e), () => false)).toBe('done');
    expect(events).toHaveLength(1);
    expect(events[0].kind === 'view' && events[0].view.units.every((u) => u.done)).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(await tabA.claimStudy(key)).toBeTypeOf('function'); // B gave it back too
  });
});
