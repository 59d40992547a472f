// The analysis file: what `npm run analyze` writes and the lab's experiment panels read. One run, one analysed
// step, every experiment's result (or the reason it does not apply) with its wall time. Versioned, and validated
// against its JSON schema when read; each experiment's result schema lives beside the experiment.
import Ajv from 'ajv';
import { PERTURBATION_SCHEMA, type PerturbationResult } from './perturbation';
import { CURVATURE_SCHEMA, type CurvatureResult } from './curvature';
import { ABLATION_SCHEMA, type AblationResult } from './ablation';
import { PROBE_SCHEMA, type ProbeExperimentResult } from './probe-run';
import { DECAY_INTERVENTION_SCHEMA, type DecayInterventionResult } from './decay-intervention';
import { FUNCTIONAL_MODES_SCHEMA, type FunctionalModesResult } from './edge-modes';
import type { Verdict } from './verdict';
import type { ReplayCheck } from './at-step';

export const ANALYSIS_FILE_KIND = 'spectral-edge-lab.analysis';
export const ANALYSIS_FILE_VERSION = 1;

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

const SIGNS = ['decay-dominated', 'nearly frozen', 'functional', 'functionally empty'];
const VERDICT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['class', 'reason', 'evidence'],
  properties: {
    class: { enum: ['functional', 'mixed', 'compression'] },
    reason: { type: 'string' },
    evidence: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['quantity', 'value', 'threshold', 'met'],
        properties: { quantity: { type: 'string' }, value: nullableNumber, threshold: { type: 'string' }, sign: { enum: SIGNS }, met: { type: ['boolean', 'null'] } },
      },
    },
    signs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sign', 'holds'],
        properties: { sign: { enum: SIGNS }, holds: { type: ['boolean', 'null'] } },
      },
    },
    caveat: { type: 'string' },
  },
} as const;

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

let validator: ReturnType<Ajv['compile']> | undefined;

/** Parses and validates an analysis file (JSON text or a parsed value); the error names the first bad path. */
export function parseAnalysisFile(input: string | unknown): AnalysisFile {
  const value: unknown = typeof input === 'string' ? JSON.parse(input) : input;
  validator ??= new Ajv({ allErrors: false, strict: false }).compile(ANALYSIS_SCHEMA);
  if (!validator(value)) {
    const [e] = validator.errors ?? [];
    throw new Error(`not a valid analysis file: ${e ? `${e.instancePath || '/'} ${e.message}` : 'unknown error'}`);
  }
  return value as AnalysisFile;
}
