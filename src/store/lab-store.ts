// The page's state. Small and serialisable in the zustand store (the run form, the schedule of hyperparameter
// changes, the worker's status line, events, the run's analyses, saved-run summaries, notices); the metric series
// (evaluations, spectral and live causal records) outside it, in SeriesTables that batches append to without
// re-rendering React (charts poll their version on animation frames).
import { createStore, type StoreApi } from 'zustand/vanilla';
import { HEAD_METRIC_KEYS, METRIC_KEYS, type MetricKey, type RunEvent } from '../formats/metrics';
import type { RunConfig } from '../formats/run-file';
import type { SpectralRecord } from '../formats/spectral';
import type { CausalRecord } from '../formats/live-causal';
import { CAUSAL_COLUMNS, causalRow, type CausalColumn } from './causal-columns';
import type { AnalysisFile } from '../formats/analysis-file';
import { IDLE_STATUS, type HyperChange, type LabBatch, type SavedRunSummary, type WorkerStatus } from '../formats/worker';
import { SeriesTable } from './series-table';
import { SPECTRAL_COLUMNS, spectralRow, type SpectralColumn } from './spectral-columns';
import { causalDefault, defaultForm, formOf, formOmissions, presetDefaults, type FormField, type RunForm } from './run-form';
import { grokMetric } from '../train/presets';
import type { PresetName } from '../formats/task';
import { NO_KEY_MOMENTS, detectKeyMoments, sameKeyMoments, type KeyMoments } from './key-moments';
import type { DamagedRun, SavedRunList } from '../worker/run-db';

/** The series of the run on show. */
export interface LabTables {
  metrics: SeriesTable<MetricKey>;
  spectral: SeriesTable<SpectralColumn>;
  /** Multitask runs: `${HEAD_METRIC_KEY}:${head}` per head (rows aligned with `metrics`). */
  heads: SeriesTable<string>;
  /** The records themselves, for exports. */
  spectralRecords: SpectralRecord[];
  /** The live causal probes (runs with them on): one row per probed window, and the records (the curve-at-step figure). */
  causal: SeriesTable<CausalColumn>;
  causalRecords: CausalRecord[];
}

export function createTables(): LabTables {
  return {
    metrics: new SeriesTable(METRIC_KEYS),
    spectral: new SeriesTable(SPECTRAL_COLUMNS),
    heads: new SeriesTable<string>([]),
    spectralRecords: [],
    causal: new SeriesTable(CAUSAL_COLUMNS),
    causalRecords: [],
  };
}

export const headColumn = (metric: (typeof HEAD_METRIC_KEYS)[number], head: string) => `${metric}:${head}`;

/** Appends a batch's rows and records to the tables (clearing them first on a reset). */
export function ingestBatch(tables: LabTables, batch: LabBatch): void {
  if (batch.reset) {
    tables.metrics.clear();
    tables.spectral.clear();
    tables.spectralRecords.length = 0;
    tables.causal.clear();
    tables.causalRecords.length = 0;
    const names = batch.reset.headNames ?? [];
    tables.heads = new SeriesTable(HEAD_METRIC_KEYS.flatMap((k) => names.map((n) => headColumn(k, n))));
  }
  if (batch.metrics) tables.metrics.appendPacked(batch.metrics.data, batch.metrics.rows, METRIC_KEYS);
  if (batch.heads) tables.heads.appendPacked(batch.heads.data, batch.heads.rows, tables.heads.keys);
  for (const record of batch.spectral ?? []) {
    tables.spectralRecords.push(record);
    tables.spectral.append(spectralRow(record));
  }
  for (const record of batch.causal ?? []) {
    tables.causalRecords.push(record);
    tables.causal.append(causalRow(record));
  }
}

/** The key moments of the run on show, from its tables and events (the grok accuracy follows the task's grok metric). */
export function keyMomentsOf(tables: LabTables, config: RunConfig | null, events: readonly RunEvent[]): KeyMoments {
  const metric = config ? grokMetric(config.task) : 'testAcc';
  // Multitask runs grok on their lowest head: only their grok event says when.
  const testAcc = metric === 'minHeadTestAcc' ? new Float64Array(tables.metrics.length).fill(NaN) : tables.metrics.column(metric);
  return detectKeyMoments({
    evaluations: { step: tables.metrics.column('step'), trainAcc: tables.metrics.column('trainAcc'), testAcc },
    spectral: { step: tables.spectral.column('step'), energy1: tables.spectral.column('energy1') },
    causal: {
      step: tables.causal.column('step'),
      edgeDeltaAcc: tables.causal.column('edgeDeltaAcc'),
      randomMaxAbsDelta: tables.causal.column('randomMaxAbsDelta'),
      resolution: tables.causal.column('resolution'),
    },
    events,
  });
}

export const sameSchedule = (a: readonly HyperChange[], b: readonly HyperChange[]) =>
  a.length === b.length && a.every((c, i) => c.step === b[i].step && c.lr === b[i].lr && c.weightDecay === b[i].weightDecay);

export interface Notice {
  kind: 'error' | 'info';
  text: string;
}

export interface LabState {
  form: RunForm;
  /** Hyperparameter changes a start replays (from a link, or made live in the current run). */
  schedule: HyperChange[];
  status: WorkerStatus;
  /** The run on show (null: none). */
  config: RunConfig | null;
  headNames: string[] | null;
  events: RunEvent[];
  /** Spectral records received (0: the spectral panels say "not computed yet"). */
  spectralCount: number;
  /** Live causal records received (the curve-at-step scrubber's range). */
  causalCount: number;
  /** The causal experiments run on the run on show, oldest first (the experiment panels show one). */
  analyses: AnalysisFile[];
  savedRuns: SavedRunSummary[];
  /** Saved runs whose records cannot be read (listed with a Delete button). */
  damagedRuns: DamagedRun[];
  notice: Notice | null;
  /** Memorisation, grokking and the edge turning decay-driven, as far as the run on show has got. */
  moments: KeyMoments;
  /** The latest training speed measured for the run on show (steps/s; null: it has not trained here since it was shown). */
  stepRate: number | null;
  /**
   * Classroom mode: large type, the key charts only, and the guided walkthrough (in the URL hash as classroom=on);
   * the live causal probes are on by default there.
   */
  classroom: boolean;
  /** The walkthrough's current step (an index into the page's list of steps). */
  walkthroughStep: number;

  setPreset(preset: PresetName): void;
  setField(field: FormField, value: string): void;
  setForm(form: RunForm, schedule: HyperChange[]): void;
  setSchedule(schedule: HyperChange[]): void;
  applyBatch(batch: LabBatch): void;
  setSavedRuns(list: SavedRunList): void;
  setNotice(notice: Notice | null): void;
  setClassroom(on: boolean): void;
  setWalkthroughStep(step: number): void;
}

export type LabStore = StoreApi<LabState>;

/** A store whose series live in `tables` (the page has one of each; tests make their own). */
export function createLabStore(tables: LabTables): LabStore {
  return createStore<LabState>()((set) => ({
    form: defaultForm(),
    schedule: [],
    status: { ...IDLE_STATUS },
    config: null,
    headNames: null,
    events: [],
    spectralCount: 0,
    causalCount: 0,
    analyses: [],
    savedRuns: [],
    damagedRuns: [],
    notice: null,
    moments: NO_KEY_MOMENTS,
    stepRate: null,
    classroom: false,
    walkthroughStep: 0,

    setPreset: (preset) => set((s) => ({ form: { preset, values: { ...presetDefaults(preset, s.classroom), seed: s.form.values.seed } }, schedule: [] })),
    setField: (field, value) => set((s) => ({ form: { ...s.form, values: { ...s.form.values, [field]: value } } })),
    setForm: (form, schedule) => set({ form, schedule }),
    setSchedule: (schedule) => set({ schedule }),
    applyBatch: (batch) => {
      ingestBatch(tables, batch);
      set((s) => {
        const next: Partial<LabState> = { status: batch.status, spectralCount: tables.spectralRecords.length, causalCount: tables.causalRecords.length };
        const rate = batch.status.stepsPerSecond;
        if (rate !== null && rate > 0) next.stepRate = rate;
        else if (batch.reset) next.stepRate = null;
        const runSchedule = batch.status.runId !== null || batch.status.phase === 'viewing' ? batch.status.schedule : null;
        // Follow the run's schedule when it changes (a live change, a new run), not on every batch: the user may
        // have cleared the form's copy.
        if (runSchedule && (batch.reset || !sameSchedule(runSchedule, s.status.schedule))) next.schedule = runSchedule;
        if (batch.reset) {
          next.config = batch.reset.config;
          if (batch.reset.config) {
            const { preset, seed, overrides } = batch.reset.config;
            next.form = formOf(preset, seed, overrides);
            const omitted = formOmissions(overrides);
            if (omitted.length > 0) {
              next.notice = {
                kind: 'info',
                text: `This run was made with ${omitted.join(', ')}, which the form has no field for: New run starts without ${omitted.length > 1 ? 'them' : 'it'} (resuming this run, here or with npm run experiment -- --resume, keeps them).`,
              };
            }
          }
          next.headNames = batch.reset.headNames;
          next.events = batch.events ?? [];
          next.analyses = batch.analyses ?? [];
        } else {
          if (batch.events?.length) next.events = [...s.events, ...batch.events];
          if (batch.analyses?.length) next.analyses = [...s.analyses, ...batch.analyses];
        }
        const moments = keyMomentsOf(tables, next.config !== undefined ? next.config : s.config, next.events ?? s.events);
        if (!sameKeyMoments(moments, s.moments)) next.moments = moments;
        return next;
      });
    },
    setSavedRuns: ({ runs, damaged }) => set({ savedRuns: runs, damagedRuns: damaged }),
    setNotice: (notice) => set({ notice }),
    // The live causal probes follow classroom mode's default unless the form set them otherwise.
    setClassroom: (classroom) =>
      set((s) => {
        if (classroom === s.classroom || s.form.values.causal !== causalDefault(s.classroom)) return { classroom };
        return { classroom, form: { ...s.form, values: { ...s.form.values, causal: causalDefault(classroom) } } };
      }),
    setWalkthroughStep: (walkthroughStep) => set({ walkthroughStep: Math.max(0, Math.floor(walkthroughStep)) }),
  }));
}
