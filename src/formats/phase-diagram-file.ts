// The phase-diagram file (docs/science.md §4, src/train/phase-diagram.ts): the plan of a grid of runs over train fraction x
// decay strength and its finished cells, as versioned JSON with a JSON Schema, read through the one loader
// (src/formats/versioned.ts).
import { PRESET_NAMES, type PresetName } from './task';
import { STOP_REASONS, type StopReason } from './metrics';
import { DECAY_KINDS, type DecayKind } from './optim';
import { RUN_OVERRIDES_PROPERTIES, type RunOverrides } from './run-file';
import { invalid, versionedLoader } from './versioned';

export const PHASE_DIAGRAM_KIND = 'spectral-edge-lab.phase-diagram';

export const PHASE_DIAGRAM_VERSION = 1;

export type PhaseDecay = DecayKind;

export interface PhaseDiagramPlan {
  /** A modular-arithmetic or multitask preset (the ones with a train fraction). */
  preset: PresetName;
  seed: number;
  /** Steps per cell (a cell may stop early, see earlyStop). */
  steps: number;
  evalEvery: number;
  trainFractions: number[];
  /** The weight decays of the L2 cells (empty: no L2 cells). */
  l2: number[];
  /** The Low-Rank Decay rates of the LRD cells (empty: none). */
  lrd: number[];
  /** Stop a cell once test accuracy has been >= SOLVED_TEST_ACCURACY for this many evaluations in a row; null: never. */
  earlyStop: number | null;
  /** The run overrides every cell shares (absent: none, the preset's settings). */
  overrides?: PhaseOverrides;
}

/**
 * The run options a diagram may set for every cell, besides those it sets itself (train fraction, decay, steps, cadence,
 * early stop): the operation and modulus, the learning rate, the batch, the model's size and norms, and AdamW's
 * constants.
 */
export const PHASE_OVERRIDE_KEYS = ['op', 'p', 'lr', 'batch', 'nLayers', 'dModel', 'nHeads', 'dFF', 'norm', 'qkNorm', 'beta1', 'beta2', 'eps', 'clipNorm'] as const;
export type PhaseOverrides = Pick<RunOverrides, (typeof PHASE_OVERRIDE_KEYS)[number]>;

export interface PhaseCell {
  decay: PhaseDecay;
  trainFraction: number;
  /** The weight decay (l2) or the Low-Rank Decay rate (lrd). */
  strength: number;
}

export interface PhaseCellResult extends PhaseCell {
  /** The highest test accuracy of the cell's evaluations, and the first step it was reached. */
  maxTestAcc: number;
  maxTestAccStep: number;
  finalTrainAcc: number;
  finalTestAcc: number;
  grokStep: number | null;
  steps: number;
  stopReason: StopReason;
  /** The stable ranks of each attention module's W_Q and W_K after the last step (null: a zero matrix). */
  stableRank: { q: (number | null)[]; k: (number | null)[] };
  /**
   * The Frobenius norms of the same matrices (absent in files from before it). A matrix Low-Rank Decay has shrunk
   * to its floor has a flat spectrum, so a stable rank near d: only its norm tells it from a full-rank one.
   */
  norm?: { q: number[]; k: number[] };
  /** Train and test accuracy at every evaluation. */
  series: { step: number[]; trainAcc: number[]; testAcc: number[] };
  wallMs: number;
  adapter: string;
}

export interface PhaseDiagramFile {
  kind: typeof PHASE_DIAGRAM_KIND;
  version: typeof PHASE_DIAGRAM_VERSION;
  plan: PhaseDiagramPlan;
  /** The finished cells, in the order of phaseDiagramCells. */
  cells: PhaseCellResult[];
}

/** Every cell of the plan: the L2 cells, then the LRD cells, each by train fraction then strength. */
export function phaseDiagramCells(plan: PhaseDiagramPlan): PhaseCell[] {
  const grid = (decay: PhaseDecay, strengths: number[]) =>
    plan.trainFractions.flatMap((trainFraction) => strengths.map((strength) => ({ decay, trainFraction, strength })));
  return [...grid('l2', plan.l2), ...grid('lrd', plan.lrd)];
}

// ---- The file ----------------------------------------------------------------------------------------------

const number = { type: 'number' } as const;
const numbers = { type: 'array', items: number } as const;
const integer = { type: 'integer', minimum: 0 } as const;
const strengths = { type: 'array', items: { type: 'number', minimum: 0 } } as const;
const ranks = { type: 'array', items: { type: ['number', 'null'] } } as const;

/** JSON Schema (draft 7) of a phase-diagram file of version PHASE_DIAGRAM_VERSION. */
export const PHASE_DIAGRAM_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab phase diagram',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'version', 'plan', 'cells'],
  properties: {
    kind: { const: PHASE_DIAGRAM_KIND },
    version: { const: PHASE_DIAGRAM_VERSION },
    plan: {
      type: 'object',
      additionalProperties: false,
      required: ['preset', 'seed', 'steps', 'evalEvery', 'trainFractions', 'l2', 'lrd', 'earlyStop'],
      properties: {
        preset: { enum: PRESET_NAMES },
        seed: integer,
        steps: integer,
        evalEvery: integer,
        trainFractions: numbers,
        l2: strengths,
        lrd: strengths,
        earlyStop: { type: ['integer', 'null'] },
        overrides: { type: 'object', additionalProperties: false, properties: Object.fromEntries(PHASE_OVERRIDE_KEYS.map((k) => [k, RUN_OVERRIDES_PROPERTIES[k]])) },
      },
    },
    cells: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'decay', 'trainFraction', 'strength', 'maxTestAcc', 'maxTestAccStep', 'finalTrainAcc', 'finalTestAcc', 'grokStep', 'steps',
          'stopReason', 'stableRank', 'series', 'wallMs', 'adapter',
        ],
        properties: {
          decay: { enum: DECAY_KINDS },
          trainFraction: number,
          strength: number,
          maxTestAcc: number,
          maxTestAccStep: integer,
          finalTrainAcc: number,
          finalTestAcc: number,
          grokStep: { type: ['integer', 'null'] },
          steps: integer,
          stopReason: { enum: STOP_REASONS },
          stableRank: { type: 'object', additionalProperties: false, required: ['q', 'k'], properties: { q: ranks, k: ranks } },
          norm: { type: 'object', additionalProperties: false, required: ['q', 'k'], properties: { q: numbers, k: numbers } },
          series: {
            type: 'object',
            additionalProperties: false,
            required: ['step', 'trainAcc', 'testAcc'],
            properties: { step: { type: 'array', items: integer }, trainAcc: numbers, testAcc: numbers },
          },
          wallMs: number,
          adapter: { type: 'string' },
        },
      },
    },
  },
} as const;

/** Parses and checks a phase-diagram file (JSON text or a parsed value); throws a one-line FormatError. */
export const parsePhaseDiagramFile = (input: string | unknown): PhaseDiagramFile => PHASE_DIAGRAM_FILE.parse(input);

/** The phase-diagram file's loader: no more cells than the plan has. */
export const PHASE_DIAGRAM_FILE = versionedLoader<PhaseDiagramFile>({
  name: 'phase-diagram file',
  kind: PHASE_DIAGRAM_KIND,
  versions: [PHASE_DIAGRAM_VERSION],
  schema: PHASE_DIAGRAM_SCHEMA,
  check(file) {
    const cells = phaseDiagramCells(file.plan).length;
    if (file.cells.length > cells) throw invalid('cells', file.cells, `must hold at most the plan's ${cells} cells`);
  },
});
