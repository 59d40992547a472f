// The page's reproduction studies (src/reproduce/), run in the worker on the visitor's GPU: the same plans, unit
// runner, report and figures as `npm run reproduce`, nothing copied. The page asks for a study's view (its units,
// a lower bound of its time and its report with every row still unmeasured), then runs it and gets progress while a
// unit trains and the whole view again after each unit, so its table fills in unit by unit. Finished units are kept
// here for the worker's life, so a cancelled study continues where it stopped when it is run again.
import type { GpuRuntime } from '../gpu/runtime';
import { buildStudy } from '../reproduce/studies';
import { studyLabel, type StudyName, type StudyPlan } from '../reproduce/study';
import { outcomesOf, runStudy, type StudyStop } from '../reproduce/runner';
import type { UnitFile } from '../reproduce/unit-file';
import { buildReport, type Report } from '../reproduce/report';
import { studyFigures } from '../reproduce/figures';
import { studySteps, unitSteps } from '../reproduce/estimate';

/** Every unit of an abbreviated study is shortened to this many steps: a smoke test, which its report says. */
export const ABBREVIATED_STEPS = 12;

export interface StudyRequest {
  study: StudyName;
  quick: boolean;
  /** Shorten every unit to ABBREVIATED_STEPS (a smoke test of the machinery, not a reproduction). */
  abbreviated: boolean;
}

export interface StudyView {
  /** e.g. "lifecycle-dyck (quick)". */
  label: string;
  units: { id: string; label: string; steps: number; done: boolean }[];
  /** Training steps of every unit, and a lower bound of their time on an H100 (src/reproduce/estimate.ts). */
  steps: number;
  lowerBoundMs: number;
  /** The report of the units finished so far (all rows "not measured" before the first). */
  report: Report;
  /** The figures of the units finished so far: file name (.svg) and SVG text. */
  figures: [string, string][];
}

export type StudyEvent =
  | { kind: 'progress'; done: number; total: number; unit: string; step: number; totalSteps: number; etaMs: number | null; analysing: string | null }
  | { kind: 'unit-done'; view: StudyView };

export type StudyListener = (event: StudyEvent) => void;

/** The worker API's study methods (LabApi implements them). */
export interface StudyApi {
  planStudy(request: StudyRequest): Promise<StudyView>;
  /** Runs the study's units not finished yet; resolves with why it stopped ('interrupted': cancelled). */
  runStudy(request: StudyRequest, listener: StudyListener): Promise<StudyStop>;
  /** Stops the running study at its next step (the unit in progress is dropped). Resolves with whether one ran. */
  cancelStudy(): Promise<boolean>;
}

function planOf(request: StudyRequest): StudyPlan {
  return buildStudy(request.study, { quick: request.quick, ...(request.abbreviated && { steps: ABBREVIATED_STEPS }) });
}

export class StudyService {
  /** Finished units per study (quick or full, abbreviated or not), by unit id. */
  private readonly finished = new Map<string, Map<string, UnitFile>>();

  private unitsOf(plan: StudyPlan): Map<string, UnitFile> {
    const key = `${studyLabel(plan.name, plan.quick)}/${plan.stepsOverride ?? 'full'}`;
    let units = this.finished.get(key);
    if (!units) this.finished.set(key, (units = new Map()));
    return units;
  }

  private viewOf(plan: StudyPlan): StudyView {
    const files = this.unitsOf(plan);
    const outcomes = outcomesOf(plan, [...files.values()]);
    const figures = [...studyFigures(plan, outcomes)];
    const total = studySteps(plan);
    return {
      label: studyLabel(plan.name, plan.quick),
      units: plan.units.map((u) => ({ id: u.id, label: u.label, steps: unitSteps(u), done: files.has(u.id) })),
      steps: total.steps,
      lowerBoundMs: total.lowerBoundMs,
      report: buildReport(plan, outcomes, figures.map(([name]) => name)),
      figures,
    };
  }

  view(request: StudyRequest): StudyView {
    return this.viewOf(planOf(request));
  }

  async run(rt: GpuRuntime, request: StudyRequest, listener: StudyListener, shouldStop: () => boolean): Promise<StudyStop> {
    const plan = planOf(request);
    const files = this.unitsOf(plan);
    let analysing: string | null = null;
    const { stop } = await runStudy(
      rt,
      plan,
      { finished: () => [...files.values()], write: (f) => void files.set(f.unit.id, f) },
      {
        onUnitStart: (p) => {
          analysing = null;
          listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step: 0, totalSteps: unitSteps(p.unit), etaMs: p.etaMs, analysing });
        },
        onEvaluation: (p, t) => listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step: t.point.step, totalSteps: t.totalSteps, etaMs: p.etaMs, analysing }),
        onAnalysis: (p, moment, step) => {
          analysing = `analysing at ${moment === 'memo' ? 'memorisation' : moment === 'grok' ? 'the grok' : 'the end'} (step ${step})`;
          listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step, totalSteps: unitSteps(p.unit), etaMs: p.etaMs, analysing });
        },
        onUnitDone: () => listener({ kind: 'unit-done', view: this.viewOf(plan) }),
        shouldStop,
      },
    );
    return stop;
  }
}
