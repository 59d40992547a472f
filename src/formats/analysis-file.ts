// The analysis file: what `npm run analyze` writes and the lab's experiment panels read. One run, one analysed
// step, every experiment's result (or the reason it does not apply) with its wall time. Versioned, and validated
// against its JSON schema when read (src/formats/versioned.ts); each experiment's result schema is in
// src/formats/experiments.ts.
import { PERTURBATION_SCHEMA, CURVATURE_SCHEMA, ABLATION_SCHEMA, PROBE_SCHEMA, DECAY_INTERVENTION_SCHEMA, FUNCTIONAL_MODES_SCHEMA, VERDICT_SCHEMA, type PerturbationResult, type CurvatureResult, type AblationResult, type ProbeExperimentResult, type DecayInterventionResult, type FunctionalModesResult, type Verdict } from './experiments';
import { versionedLoader } from './versioned';

export const ANALYSIS_FILE_KIND = 'spectral-edge-lab.analysis';
export const ANALYSIS_FILE_VERSION = 1;

/** How the analysed model was rebuilt (src/analysis/at-step.ts) and how its test loss compares with the run's. */
export interface ReplayCheck {
  /** The run's recorded test loss at the analysed step (null: no evaluation there). */
  recordedTestLoss: number | null;
  /** The rebuilt model's test loss at that step (null where the run recorded none to compare with). */
  replayedTestLoss: number | null;
  /** Where the rebuild started: a checkpoint's step, or 0. */
  fromStep: number;
}

/** An experiment's result and wall time, or why it does not apply to this run. */
export type Outcome<T> = { result: T; wallMs: number } | { notApplicable: string };

export interface ExperimentResults {
  perturb?: Outcome<PerturbationResult>;
  curvature?: Outcome<CurvatureResult>;
  ablate?: Outcome<AblationResult>;
  probe?: Outcome<ProbeExperimentResult>;
  fourier?: Outcome<FunctionalModesResult>;
  'wd-intervention'?: Outcome<DecayInterventionResult>;
  verdict?: Outcome<Verdict>;
}

/** The result type of experiment K. */
export type ResultOf<K extends keyof ExperimentResults> = Extract<NonNullable<ExperimentResults[K]>, { result: unknown }>['result'];

export interface AnalysisFile {
  kind: typeof ANALYSIS_FILE_KIND;
  version: typeof ANALYSIS_FILE_VERSION;
  run: { preset: string; seed: number; steps: number; grokStep: number | null; adapter: string };
  /** The analysed step, how it was asked for, and the step of the spectral window its edge vectors come from. */
  at: { requested: string; step: number; windowStep: number; replay?: ReplayCheck };
  /** Seed of the random control directions and probe splits. */
  seed: number;
  experiments: ExperimentResults;
  wallMs: number;
}

const number = { type: 'number' } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const integer = { type: 'integer' } as const;

const outcome = (result: object) => ({
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['result', 'wallMs'], properties: { result, wallMs: number } },
    { type: 'object', additionalProperties: false, required: ['notApplicable'], properties: { notApplicable: { type: 'string' } } },
  ],
});


/** JSON Schema (draft 7) of an analysis file of version ANALYSIS_FILE_VERSION. */
export const ANALYSIS_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab analysis file',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'version', 'run', 'at', 'seed', 'experiments', 'wallMs'],
  properties: {
    kind: { const: ANALYSIS_FILE_KIND },
    version: { const: ANALYSIS_FILE_VERSION },
    run: {
      type: 'object',
      additionalProperties: false,
      required: ['preset', 'seed', 'steps', 'grokStep', 'adapter'],
      properties: { preset: { type: 'string' }, seed: integer, steps: integer, grokStep: { type: ['integer', 'null'] }, adapter: { type: 'string' } },
    },
    at: {
      type: 'object',
      additionalProperties: false,
      required: ['requested', 'step', 'windowStep'],
      properties: {
        requested: { type: 'string' },
        step: integer,
        windowStep: integer,
        replay: {
          type: 'object',
          additionalProperties: false,
          required: ['recordedTestLoss', 'replayedTestLoss', 'fromStep'],
          properties: { recordedTestLoss: nullableNumber, replayedTestLoss: nullableNumber, fromStep: integer },
        },
      },
    },
    seed: integer,
    experiments: {
      type: 'object',
      additionalProperties: false,
      properties: {
        perturb: outcome(PERTURBATION_SCHEMA),
        curvature: outcome(CURVATURE_SCHEMA),
        ablate: outcome(ABLATION_SCHEMA),
        probe: outcome(PROBE_SCHEMA),
        fourier: outcome(FUNCTIONAL_MODES_SCHEMA),
        'wd-intervention': outcome(DECAY_INTERVENTION_SCHEMA),
        verdict: outcome(VERDICT_SCHEMA),
      },
    },
    wallMs: number,
  },
} as const;

/** Parses and checks an analysis file (JSON text or a parsed value); throws a one-line FormatError. */
export const parseAnalysisFile = (input: string | unknown): AnalysisFile => ANALYSIS_FILE.parse(input);

/** The analysis file's loader. */
export const ANALYSIS_FILE = versionedLoader<AnalysisFile>({ name: 'analysis file', kind: ANALYSIS_FILE_KIND, versions: [ANALYSIS_FILE_VERSION], schema: ANALYSIS_SCHEMA });
