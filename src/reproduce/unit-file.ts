// A finished unit on disk: one JSON file per unit in the study's output directory, named unit-<id>.json, written
// by a rename when the unit ends, so a killed study keeps every unit it finished and runs only the rest. Versioned
// and checked when read: a file of another study, another study version or another plan is refused by its name,
// never merged into a report.
import Ajv from 'ajv';
import { STUDY_VERSION, studyLabel, type StudyName, type StudyPlan, type UnitResult, type UnitSpec, STUDY_NAMES } from './study';

export const UNIT_FILE_KIND = 'spectral-edge-lab.reproduce-unit';
export const UNIT_FILE_VERSION = 1;

export interface UnitFile {
  kind: typeof UNIT_FILE_KIND;
  version: typeof UNIT_FILE_VERSION;
  study: StudyName;
  quick: boolean;
  studyVersion: number;
  /** Set when the study's units were shortened (StudyOptions.steps). */
  stepsOverride: number | null;
  unit: UnitSpec;
  result: UnitResult;
}

export class UnitFileError extends Error {
  override name = 'UnitFileError';
}

export const unitFileName = (id: string) => `unit-${id}.json`;
export const isUnitFileName = (name: string) => /^unit-.+\.json$/.test(name);

const numberOrNull = { type: ['number', 'null'] } as const;
const numbers = { type: 'array', items: { type: 'number' } } as const;

/** JSON Schema (draft 7) of a unit file: the envelope and the result's shape (the unit spec is compared with the plan). */
export const UNIT_FILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab reproduction unit',
  type: 'object',
  required: ['kind', 'version', 'study', 'quick', 'studyVersion', 'stepsOverride', 'unit', 'result'],
  properties: {
    kind: { const: UNIT_FILE_KIND },
    version: { const: UNIT_FILE_VERSION },
    study: { enum: [...STUDY_NAMES] },
    quick: { type: 'boolean' },
    studyVersion: { type: 'integer' },
    stepsOverride: { type: ['integer', 'null'] },
    unit: { type: 'object', required: ['kind', 'id', 'seed', 'label', 'tags'], properties: { kind: { enum: ['run', 'phase-cell'] }, id: { type: 'string' }, seed: { type: 'integer' } } },
    result: {
      type: 'object',
      required: ['metrics', 'notes', 'series', 'steps', 'wallMs', 'adapter'],
      properties: {
        metrics: { type: 'object', additionalProperties: numberOrNull },
        notes: { type: 'object', additionalProperties: { type: 'string' } },
        series: {
          type: 'object',
          required: ['eval', 'spectral', 'causal'],
          properties: {
            eval: { type: 'object', required: ['step', 'trainAcc', 'testAcc'], properties: { step: numbers, trainAcc: numbers, testAcc: numbers } },
            spectral: { type: 'object', required: ['step', 'g23', 'gef1', 'rotation1'], properties: { step: numbers, gef1: numbers } },
            causal: { type: 'object', required: ['step', 'edge', 'bulk', 'randomMeanAbs', 'resolution'], properties: { step: numbers, edge: numbers } },
          },
        },
        steps: { type: 'integer' },
        wallMs: { type: 'number' },
        adapter: { type: 'string' },
      },
    },
  },
} as const;

let validator: ReturnType<Ajv['compile']> | undefined;

export function unitFileOf(plan: StudyPlan, unit: UnitSpec, result: UnitResult): UnitFile {
  return { kind: UNIT_FILE_KIND, version: UNIT_FILE_VERSION, study: plan.name, quick: plan.quick, studyVersion: plan.version, stepsOverride: plan.stepsOverride, unit, result };
}

/**
 * Parses a unit file and checks that it belongs to `plan`: the same study (quick or full), study version and
 * shortening, and a unit of the plan with the same settings. `name` (the file's) starts every error message.
 */
export function parseUnitFile(name: string, text: string, plan: StudyPlan): UnitFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UnitFileError(`${name}: not JSON (${(err as Error).message})`);
  }
  const head = (data ?? {}) as Partial<UnitFile>;
  if (head.kind !== UNIT_FILE_KIND) throw new UnitFileError(`${name}: not a reproduction unit file (kind ${JSON.stringify(head.kind)})`);
  if (head.version !== UNIT_FILE_VERSION) throw new UnitFileError(`${name}: unit file version ${JSON.stringify(head.version)}; this lab reads ${UNIT_FILE_VERSION}`);
  const want = studyLabel(plan.name, plan.quick);
  if (typeof head.study === 'string' && (head.study !== plan.name || head.quick !== plan.quick)) {
    throw new UnitFileError(`${name}: a unit of ${studyLabel(head.study as StudyName, head.quick === true)}, not ${want}`);
  }
  if (head.studyVersion !== STUDY_VERSION) throw new UnitFileError(`${name}: written by ${want} version ${JSON.stringify(head.studyVersion)}; this lab's is ${STUDY_VERSION}`);
  validator ??= new Ajv({ allErrors: true }).compile(UNIT_FILE_SCHEMA);
  if (!validator(data)) {
    const errors = (validator.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? e.keyword}`);
    throw new UnitFileError(`${name}: invalid unit file: ${errors.join('; ')}`);
  }
  const file = data as UnitFile;
  if (file.stepsOverride !== plan.stepsOverride) {
    throw new UnitFileError(`${name}: its units ran ${file.stepsOverride === null ? 'at full length' : `shortened to ${file.stepsOverride} steps`}, this plan ${plan.stepsOverride === null ? 'at full length' : `at ${plan.stepsOverride}`}`);
  }
  const planned = plan.units.find((u) => u.id === file.unit.id);
  if (!planned) throw new UnitFileError(`${name}: unit ${file.unit.id} is not in this plan (seeds ${plan.seeds.join(',')}); use another --out or the same --seeds`);
  if (JSON.stringify(planned) !== JSON.stringify(file.unit)) throw new UnitFileError(`${name}: unit ${file.unit.id} was run with other settings than this plan's`);
  return file;
}
