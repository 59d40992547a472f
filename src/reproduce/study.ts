// What a reproduction study is: a list of independent units (one seed x one configuration x its analyses) and the
// tables its report fills from them. Plain data and small functions, no GPU: the CLI, the tests and the report share
// it. The studies themselves are in studies.ts; a unit runs in unit-run.ts.
import type { ExperimentName } from '../formats/experiments';
import type { PhaseDiagramPlan } from '../formats/phase-diagram-file';
import type { PresetName } from '../formats/task';
import type { RunOverrides } from '../formats/run-file';
import type { Spread } from './compare';
import type { PublishedId } from './published';

/** Bumped whenever a study's units or the unit result change meaning: unit files of another version are refused. */
export const STUDY_VERSION = 1;

export const STUDY_NAMES = ['lifecycle-dyck', 'lifecycle-scan', 'modes-modarith', 'modes-multitask', 'lrd-phase'] as const;
export type StudyName = (typeof STUDY_NAMES)[number];

export function isStudyName(name: string): name is StudyName {
  return (STUDY_NAMES as readonly string[]).includes(name);
}

/**
 * Where in a run an analysis is taken: `memo`, the first evaluation with train accuracy >= 0.99 while the run has not
 * grokked; `grok`, the grok step; `late`, the last step.
 */
export type Moment = 'memo' | 'grok' | 'late';
export const MOMENTS: readonly Moment[] = ['memo', 'grok', 'late'];

export interface MomentAnalysis {
  moment: Moment;
  experiments: ExperimentName[];
  /** Steps of each weight-decay branch (wd-intervention). */
  interventionSteps?: number;
}

/** Tags say what a unit is, for the tables' filters: e.g. { role: 'main', wd: '1', op: 'add' }. */
export type Tags = Record<string, string>;

/** One training run of a preset with its analyses. */
export interface RunUnit {
  kind: 'run';
  /** Unique in the study; also the unit file's name. */
  id: string;
  seed: number;
  label: string;
  tags: Tags;
  preset: PresetName;
  overrides: RunOverrides;
  analyses: MomentAnalysis[];
}

/** One cell of a phase diagram (src/train/phase-diagram.ts), on the model its plan's overrides make (modulus, norms). */
export interface PhaseUnit {
  kind: 'phase-cell';
  id: string;
  seed: number;
  label: string;
  tags: Tags;
  /** A plan of exactly one cell. */
  plan: PhaseDiagramPlan;
}

export type UnitSpec = RunUnit | PhaseUnit;

/** A unit's result: named scalars (null: not measured or not applicable) and the series the figures draw. */
export interface UnitResult {
  metrics: Record<string, number | null>;
  /** Words for what has no number (the verdict's class at a moment, why an analysis was skipped). */
  notes: Record<string, string>;
  series: {
    /** At the evaluation cadence. */
    eval: { step: number[]; trainAcc: number[]; testAcc: number[] };
    /** Per spectral window: g23 and v1's gradient energy fraction and rotation. */
    spectral: { step: number[]; g23: (number | null)[]; gef1: number[]; rotation1: (number | null)[] };
    /** Per live causal probe: the change in accuracy when the edge, the bulk and (mean |.|) random pairs are removed. */
    causal: { step: number[]; edge: number[]; bulk: (number | null)[]; randomMeanAbs: number[]; resolution: number[] };
  };
  steps: number;
  wallMs: number;
  adapter: string;
}

/** A table row: a quantity measured on some units, and what it is compared with. */
export interface Row {
  quantity: string;
  task: string;
  /** The paper's value (full studies) ... */
  published?: PublishedId;
  /** ... or the value this lab measured before, with where (quick studies). */
  expected?: { value: Spread; source: string };
  /** One value per unit (or per seed), in unit order; nulls are left out and counted as not measured. */
  values(outcomes: readonly UnitOutcome[]): (number | null)[];
}

export interface Table {
  title: string;
  rows: Row[];
}

export interface FigureSpec {
  /** File name without extension. */
  name: string;
  title: string;
  y: string;
  logY?: boolean;
  /** The lines: one per unit that has the series. */
  series: 'gef1' | 'g23' | 'causal-edge' | 'testAcc';
  /** Units drawn (default all). */
  units?: Tags;
}

export interface HeatmapSpec {
  name: string;
  title: string;
  /** Phase studies: max test accuracy per (fraction, strength), one heatmap per decay. */
  decay: 'l2' | 'lrd';
}

export interface StudyPlan {
  name: StudyName;
  quick: boolean;
  version: number;
  description: string;
  seeds: number[];
  /** Set when every unit was shortened (--steps), which the report then says. */
  stepsOverride: number | null;
  units: UnitSpec[];
  tables: Table[];
  figures: FigureSpec[];
  heatmaps: HeatmapSpec[];
  /** How the setup differs from the papers', named in the report. */
  differences: string[];
}

/** A finished unit: its spec and result. */
export interface UnitOutcome {
  unit: UnitSpec;
  result: UnitResult;
}

/** Whether a unit carries every tag of `filter`. */
export function matches(unit: UnitSpec, filter: Tags | undefined): boolean {
  return !filter || Object.entries(filter).every(([k, v]) => unit.tags[k] === v);
}

/** A row's values: one metric of the units that carry the tags. */
export function metric(key: string, filter?: Tags): Row['values'] {
  return (outcomes) => outcomes.filter((o) => matches(o.unit, filter)).map((o) => o.result.metrics[key] ?? null);
}

/** `study` or `study (quick)`: the name a unit file and an output directory are checked against. */
export function studyLabel(name: StudyName, quick: boolean): string {
  return quick ? `${name} (quick)` : name;
}
