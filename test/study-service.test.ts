// The page's view of a study, built in the worker without a GPU (src/worker/study-service.ts): its units with their
// steps, the H100 lower bound and the report with every row unmeasured; an abbreviated study is marked as such.
import { describe, expect, it } from 'vitest';
import { ABBREVIATED_STEPS, StudyService } from '../src/worker/study-service';
import { buildStudy } from '../src/reproduce/studies';
import { renderMarkdown } from '../src/reproduce/report';

describe('a study as the page sees it before it runs', () => {
  it('every unit, the time bound and the tables, nothing measured yet', () => {
    const view = new StudyService().view({ study: 'lrd-phase', quick: true, abbreviated: false });
    const plan = buildStudy('lrd-phase', { quick: true });
    expect(view.label).toBe('lrd-phase (quick)');
    expect(view.units).toEqual(plan.units.map((u) => ({ id: u.id, label: u.label, steps: 600, done: false })));
    expect(view.steps).toBe(2400);
    expect(view.lowerBoundMs).toBeCloseTo(2400 * 0.97, 9);
    expect(view.report.tables.map((t) => t.rows.length)).toEqual([2, 3]);
    expect(view.report.tables.flatMap((t) => t.rows).every((r) => r.lab.n === 0)).toBe(true);
    expect(view.report.units).toEqual({ planned: 4, finished: 0, missing: plan.units.map((u) => u.id) });
    expect(view.figures).toEqual([]);
  });

  it('an abbreviated study shortens every unit and its report says it is a smoke test', () => {
    const view = new StudyService().view({ study: 'modes-modarith', quick: true, abbreviated: true });
    expect(view.units.map((u) => u.steps)).toEqual([ABBREVIATED_STEPS, ABBREVIATED_STEPS, ABBREVIATED_STEPS]);
    expect(view.report.stepsOverride).toBe(ABBREVIATED_STEPS);
    expect(renderMarkdown(view.report)).toContain(`**Every unit was shortened to ${ABBREVIATED_STEPS} steps: a smoke test of the machinery, not a reproduction.**`);
  });
});
