// The page's reproduction studies (src/reproduce/), run in the worker on the visitor's GPU: the same plans, unit
// runner, report and figures as `npm run reproduce`, nothing copied. The page asks for a study's view (its units,
// a lower bound of its time and its report with every row still unmeasured), then runs it and gets progress while a
// unit trains and the whole view again after each unit, so its table fills in unit by unit. Finished units are kept
// here and, where the page has a StudyUnitStore (IndexedDB: src/worker/run-db.ts), saved there as unit files the
// moment they finish, so a cancelled study, or one whose page was closed, continues where it stopped when the same
// study and settings are run again; saved units are checked against the plan when read back (parseUnitFile), and one
// that does not belong (another study version, damage) is named in the view, not merged. Discard drops them all.
// A run claims its study (a Web Lock, as a continued run does: run-db's claimStudy), so two tabs never train the same
// units, and reads the saved units again once it holds it.
import type { GpuRuntime } from '../gpu/runtime';
import { buildStudy } from '../reproduce/studies';
import { studyLabel, type StudyName, type StudyPlan } from '../reproduce/study';
import { outcomesOf, runStudy, type StudyStop } from '../reproduce/runner';
import { parseUnitFile, unitFileName, type UnitFile } from '../reproduce/unit-file';
import { buildReport, type Report } from '../reproduce/report';
import { studyFigures } from '../reproduce/figures';
import { studySteps, unitSteps } from '../reproduce/estimate';
import { describeAnalysis } from '../reproduce/unit-run';
import { errorMessage } from '../util/error-message';

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
  /** Finished units read back from this browser's storage (an earlier visit's) when the study was first shown. */
  restored: number;
  /** What went wrong with the storage: saved units not restored (one line each), a save that failed. */
  storageProblems: string[];
}

/** Where the page keeps finished units between visits (RunDb in the browser), by study key and unit id. */
export interface StudyUnitStore {
  putStudyUnit(key: string, id: string, text: string): Promise<void>;
  /** Every unit saved under `key`, as stored (its text is checked by the reader). */
  studyUnits(key: string): Promise<{ id: string; text: unknown }[]>;
  deleteStudyUnits(key: string): Promise<void>;
  /** Claims the study under `key` for this tab's run (a Web Lock): its give-back, or null while another tab runs it. */
  claimStudy?(key: string): Promise<(() => void) | null>;
}

export type StudyEvent =
  | { kind: 'progress'; done: number; total: number; unit: string; step: number; totalSteps: number; etaMs: number | null; analysing: string | null }
  /** The study's view changed: a unit finished, or the saved units were read again as the run began. */
  | { kind: 'view'; view: StudyView };

export type StudyListener = (event: StudyEvent) => void;

/** The worker API's study methods (LabApi implements them). */
export interface StudyApi {
  planStudy(request: StudyRequest): Promise<StudyView>;
  /** Runs the study's units not finished yet; resolves with why it stopped ('interrupted': cancelled). */
  runStudy(request: StudyRequest, listener: StudyListener): Promise<StudyStop>;
  /** Stops the running study at its next step (the unit in progress is dropped). Resolves with whether one ran. */
  cancelStudy(): Promise<boolean>;
  /** Forgets the study's finished units, here and in the page's storage; resolves with its view, nothing finished. */
  discardStudy(request: StudyRequest): Promise<StudyView>;
}

/** The key a study's finished units are kept under: the study, quick or full, and its shortening. */
const keyOf = (plan: StudyPlan) => `${studyLabel(plan.name, plan.quick)}/${plan.stepsOverride ?? 'full'}`;

function planOf(request: StudyRequest): StudyPlan {
  return buildStudy(request.study, { quick: request.quick, ...(request.abbreviated && { steps: ABBREVIATED_STEPS }) });
}

/** A study's finished units, and what its storage said. */
interface StudyUnits {
  files: Map<string, UnitFile>;
  restored: number;
  problems: string[];
}

const noUnits = (): StudyUnits => ({ files: new Map(), restored: 0, problems: [] });

export class StudyService {
  /** Finished units per study key (study, quick or full, abbreviated or not), read from the store on first use. */
  private readonly finished = new Map<string, Promise<StudyUnits>>();

  constructor(private readonly store?: StudyUnitStore) {}

  private unitsOf(plan: StudyPlan): Promise<StudyUnits> {
    const key = keyOf(plan);
    let units = this.finished.get(key);
    if (!units) this.finished.set(key, (units = this.restore(key, plan)));
    return units;
  }

  private async restore(key: string, plan: StudyPlan): Promise<StudyUnits> {
    const units = noUnits();
    if (!this.store) return units;
    let saved: { id: string; text: unknown }[];
    try {
      saved = await this.store.studyUnits(key);
    } catch (error) {
      units.problems.push(`finished units saved in this browser could not be read: ${errorMessage(error)}`);
      return units;
    }
    for (const { id, text } of saved) {
      try {
        const file = parseUnitFile(`saved ${unitFileName(id)}`, typeof text === 'string' ? text : JSON.stringify(text ?? null), plan);
        units.files.set(file.unit.id, file);
      } catch (error) {
        units.problems.push(`${errorMessage(error)} (not restored)`);
      }
    }
    units.restored = units.files.size;
    return units;
  }

  /** Keeps a finished unit, and saves it in the store; a failed save is named in the view (the unit stays here). */
  private async keep(plan: StudyPlan, units: StudyUnits, file: UnitFile): Promise<void> {
    units.files.set(file.unit.id, file);
    try {
      await this.store?.putStudyUnit(keyOf(plan), file.unit.id, JSON.stringify(file));
    } catch (error) {
      units.problems.push(`unit ${file.unit.id} could not be saved in this browser (${errorMessage(error)}): it is kept while the page is open`);
    }
  }

  private viewOf(plan: StudyPlan, units: StudyUnits): StudyView {
    const { files } = units;
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
      restored: units.restored,
      storageProblems: [...units.problems],
    };
  }

  async view(request: StudyRequest): Promise<StudyView> {
    const plan = planOf(request);
    return this.viewOf(plan, await this.unitsOf(plan));
  }

  async discard(request: StudyRequest): Promise<StudyView> {
    const plan = planOf(request);
    const units = noUnits();
    this.finished.set(keyOf(plan), Promise.resolve(units));
    try {
      await this.store?.deleteStudyUnits(keyOf(plan));
    } catch (error) {
      units.problems.push(`the finished units saved in this browser could not be deleted: ${errorMessage(error)}`);
    }
    return this.viewOf(plan, units);
  }

  async run(rt: GpuRuntime, request: StudyRequest, listener: StudyListener, shouldStop: () => boolean): Promise<StudyStop> {
    const plan = planOf(request);
    // One tab runs a study at a time: two would train the same units twice. Once this tab holds it, the saved units
    // are read again, so those another tab finished meanwhile are not run a second time.
    const release = this.store?.claimStudy ? await this.store.claimStudy(keyOf(plan)) : () => {};
    if (!release) throw new Error(`${studyLabel(plan.name, plan.quick)} is running in another tab of this lab: let it finish there (its units are saved here too) or close that tab, then continue`);
    try {
      this.finished.delete(keyOf(plan));
      return await this.runClaimed(rt, plan, await this.unitsOf(plan), listener, shouldStop);
    } finally {
      release();
    }
  }

  private async runClaimed(rt: GpuRuntime, plan: StudyPlan, units: StudyUnits, listener: StudyListener, shouldStop: () => boolean): Promise<StudyStop> {
    listener({ kind: 'view', view: this.viewOf(plan, units) });
    let analysing: string | null = null;
    const { stop } = await runStudy(
      rt,
      plan,
      { finished: () => [...units.files.values()], write: (f) => this.keep(plan, units, f) },
      {
        onUnitStart: (p) => {
          analysing = null;
          listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step: 0, totalSteps: unitSteps(p.unit), etaMs: p.etaMs, analysing });
        },
        onEvaluation: (p, t) => listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step: t.point.step, totalSteps: t.totalSteps, etaMs: p.etaMs, analysing }),
        onAnalysis: (p, a) => {
          analysing = describeAnalysis(a);
          listener({ kind: 'progress', done: p.done, total: p.total, unit: p.unit.label, step: a.step, totalSteps: unitSteps(p.unit), etaMs: p.etaMs, analysing });
        },
        onUnitDone: () => listener({ kind: 'view', view: this.viewOf(plan, units) }),
        shouldStop,
      },
    );
    return stop;
  }
}
