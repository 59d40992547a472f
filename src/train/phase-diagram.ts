// The phase diagram of SPEC §4: a grid of runs over train fraction x decay strength, once with L2 (AdamW's decay
// on every parameter, strength = the weight decay) and once with Low-Rank Decay (strength = the rate on W_Q and
// W_K of every attention module; every other parameter keeps AdamW's decay at the preset's weight decay), and per
// cell the highest test accuracy reached, the grok step and the stable ranks of W_Q and W_K at the cell's end.
//
// Cells run one after another, in the order of phaseDiagramCells. The file (PhaseDiagramFile, versioned, with a
// JSON Schema) holds the plan and the finished cells; runPhaseDiagram continues a file of the same plan by skipping
// its finished cells, and continues an interrupted cell bit for bit from that cell's checkpoint. The spectral edge
// is off in the cells: the diagram needs none of it, and the stable ranks are computed from the final parameters.
import Ajv from 'ajv';
import { attentionModules } from '../model/params';
import { stableRankOrNaN } from '../analysis/stable-rank';
import type { GpuRuntime } from '../gpu/runtime';
import type { Checkpoint } from './checkpoint';
import type { DecodedCheckpoint } from './checkpoint-file';
import { SOLVED_TEST_ACCURACY } from './metrics';
import { PRESETS, type PresetName } from './presets';
import { resolveRunConfig, RunConfigError, type RunConfig, type RunOverrides, type StopReason } from './run';
import { Trainer, type TrainerProgress } from './trainer';

export const PHASE_DIAGRAM_KIND = 'spectral-edge-lab.phase-diagram';
export const PHASE_DIAGRAM_VERSION = 1;

export type PhaseDecay = 'l2' | 'lrd';

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
}

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

/**
 * The run configuration of one cell (throws RunConfigError for a setting the preset refuses); `architecture`: the
 * model options (RMSNorm, QK-norm) of every cell, the preset's own model when none are given.
 */
export function cellConfig(plan: PhaseDiagramPlan, cell: PhaseCell, architecture: Pick<RunOverrides, 'norm' | 'qkNorm'> = {}): RunConfig {
  const decay = cell.decay === 'l2' ? { weightDecay: cell.strength } : { decay: 'lrd' as const, lrdRate: cell.strength };
  return resolveRunConfig(plan.preset, plan.seed, {
    ...architecture,
    trainFraction: cell.trainFraction,
    steps: plan.steps,
    evalEvery: plan.evalEvery,
    ...decay,
    earlyStop: plan.earlyStop === null ? null : { testAccuracy: SOLVED_TEST_ACCURACY, evaluations: plan.earlyStop },
    spectral: { enabled: false },
  });
}

/** Checks a plan; throws RunConfigError naming the bad setting (every cell's configuration is resolved). */
export function validatePlan(plan: PhaseDiagramPlan): void {
  const kind = PRESETS[plan.preset]?.task.kind;
  if (kind !== 'modarith' && kind !== 'multitask') {
    throw new RunConfigError(`the phase diagram varies the train fraction, so it needs a modular-arithmetic or multitask preset, not ${plan.preset}`);
  }
  const lists = { trainFractions: plan.trainFractions, l2: plan.l2, lrd: plan.lrd };
  for (const [name, values] of Object.entries(lists)) {
    if (values.some((v) => !Number.isFinite(v))) throw new RunConfigError(`${name} must be finite numbers, got ${values.join(', ')}`);
    if (new Set(values).size !== values.length) throw new RunConfigError(`${name} lists a value twice: ${values.join(', ')}`);
  }
  if (plan.trainFractions.length === 0) throw new RunConfigError('trainFractions is empty: the diagram needs at least one');
  if (plan.l2.length + plan.lrd.length === 0) throw new RunConfigError('no decay strengths: give l2 weight decays, lrd rates, or both');
  if (plan.earlyStop !== null && !(Number.isInteger(plan.earlyStop) && plan.earlyStop > 0)) {
    throw new RunConfigError(`earlyStop must be a positive integer or null, got ${plan.earlyStop}`);
  }
  for (const cell of phaseDiagramCells(plan)) cellConfig(plan, cell);
}

/** Throws a RunConfigError, naming the plan it holds, unless `previous` is a diagram of `plan` to continue. */
export function checkContinues(previous: PhaseDiagramFile, plan: PhaseDiagramPlan): void {
  if (JSON.stringify(previous.plan) !== JSON.stringify(plan)) {
    throw new RunConfigError(`the phase-diagram file to continue holds a different plan: ${JSON.stringify(previous.plan)}`);
  }
}

export interface PhaseDiagramCallbacks {
  /** Before each cell that runs (finished cells of a continued file are skipped silently). */
  onCellStart?(cell: PhaseCell, index: number, total: number, resumedAtStep: number | null): void;
  onEvaluation?(progress: TrainerProgress): void;
  /** After each cell, with the file as it now stands (write it: that is what makes the diagram resumable). */
  onCellDone?(file: PhaseDiagramFile, result: PhaseCellResult): void;
  /** Checked before every step; true stops the current cell and returns its checkpoint. */
  shouldStop?(): boolean;
}

export interface PhaseDiagramOutcome {
  file: PhaseDiagramFile;
  /** Set when shouldStop ended the run: the unfinished cell's configuration and state, to continue from. */
  interrupted?: { config: RunConfig; checkpoint: Checkpoint };
}

/**
 * Runs the cells of `plan` that `previous` (a file of the same plan) has not finished. `partial`, the checkpoint
 * of an interrupted run, continues the next cell when it is that cell's configuration.
 */
export async function runPhaseDiagram(
  rt: GpuRuntime,
  plan: PhaseDiagramPlan,
  callbacks: PhaseDiagramCallbacks = {},
  previous?: PhaseDiagramFile,
  partial?: DecodedCheckpoint,
): Promise<PhaseDiagramOutcome> {
  validatePlan(plan);
  if (previous) checkContinues(previous, plan);
  const cells = phaseDiagramCells(plan);
  const file: PhaseDiagramFile = { kind: PHASE_DIAGRAM_KIND, version: PHASE_DIAGRAM_VERSION, plan, cells: [...(previous?.cells ?? [])] };
  for (let i = file.cells.length; i < cells.length; i++) {
    const config = cellConfig(plan, cells[i]);
    // Each cell's buffers are freed before the next cell allocates its own.
    const outcome = await rt.scoped(async () => {
      const trainer = await Trainer.create(rt, config);
      const resumes = partial !== undefined && JSON.stringify(partial.config) === JSON.stringify(config);
      if (resumes) trainer.restore(partial.checkpoint);
      callbacks.onCellStart?.(cells[i], i, cells.length, resumes ? trainer.step : null);
      const reason = await trainer.run({ onEvaluation: callbacks.onEvaluation, shouldStop: callbacks.shouldStop });
      if (reason === 'interrupted') return { interrupted: { config, checkpoint: await trainer.checkpoint() } };
      return { result: await cellResult(cells[i], trainer) };
    });
    if ('interrupted' in outcome) return { file, interrupted: outcome.interrupted };
    file.cells.push(outcome.result);
    callbacks.onCellDone?.(file, outcome.result);
  }
  return { file };
}

/** A finished cell's result, from its trainer. */
export async function cellResult(cell: PhaseCell, trainer: Trainer): Promise<PhaseCellResult> {
  const run = trainer.toRunFile();
  const { step, trainAcc, testAcc } = run.series;
  if (step.length === 0) throw new Error(`phase diagram: the cell ${describeCell(cell)} has no evaluation (it stopped at step ${trainer.step})`);
  const best = testAcc.indexOf(Math.max(...testAcc));
  const { table } = trainer.engine;
  const { params } = await trainer.engine.exportState();
  const rank = (name: string) => {
    const s = table.get(name);
    const r = stableRankOrNaN(params.subarray(s.offset, s.offset + s.size), s.shape[0], s.shape[1]);
    return Number.isNaN(r) ? null : r;
  };
  const modules = attentionModules(table);
  return {
    ...cell,
    maxTestAcc: testAcc[best],
    maxTestAccStep: step[best],
    finalTrainAcc: trainAcc.at(-1)!,
    finalTestAcc: testAcc.at(-1)!,
    grokStep: run.summary.grokStep,
    steps: run.summary.steps,
    stopReason: run.summary.stopReason,
    stableRank: { q: modules.map((m) => rank(`${m}.wq`)), k: modules.map((m) => rank(`${m}.wk`)) },
    series: { step, trainAcc, testAcc },
    wallMs: run.summary.wallMs,
    adapter: run.summary.adapter,
  };
}

/** "L2 wd 1, train fraction 0.45" or "LRD rate 0.01, train fraction 0.45". */
export function describeCell(cell: PhaseCell): string {
  return `${cell.decay === 'l2' ? `L2 wd ${cell.strength}` : `LRD rate ${cell.strength}`}, train fraction ${cell.trainFraction}`;
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
        preset: { enum: Object.keys(PRESETS) },
        seed: integer,
        steps: integer,
        evalEvery: integer,
        trainFractions: numbers,
        l2: strengths,
        lrd: strengths,
        earlyStop: { type: ['integer', 'null'] },
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
          decay: { enum: ['l2', 'lrd'] },
          trainFraction: number,
          strength: number,
          maxTestAcc: number,
          maxTestAccStep: integer,
          finalTrainAcc: number,
          finalTestAcc: number,
          grokStep: { type: ['integer', 'null'] },
          steps: integer,
          stopReason: { enum: ['completed', 'early-stop', 'diverged', 'interrupted'] },
          stableRank: { type: 'object', additionalProperties: false, required: ['q', 'k'], properties: { q: ranks, k: ranks } },
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

export class PhaseDiagramFileError extends Error {
  override name = 'PhaseDiagramFileError';
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** Parses and validates a phase-diagram file (JSON text or a parsed value); the error names the first problems. */
export function parsePhaseDiagramFile(input: string | unknown): PhaseDiagramFile {
  let data: unknown = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input);
    } catch (err) {
      throw new PhaseDiagramFileError(`not JSON: ${(err as Error).message}`);
    }
  }
  const { kind, version } = (data ?? {}) as { kind?: unknown; version?: unknown };
  if (kind !== PHASE_DIAGRAM_KIND) throw new PhaseDiagramFileError(`not a phase-diagram file: kind is ${JSON.stringify(kind)}, expected "${PHASE_DIAGRAM_KIND}"`);
  if (version !== PHASE_DIAGRAM_VERSION) throw new PhaseDiagramFileError(`unsupported phase-diagram version ${JSON.stringify(version)}; this lab reads ${PHASE_DIAGRAM_VERSION}`);
  validator ??= new Ajv({ allErrors: true }).compile(PHASE_DIAGRAM_SCHEMA);
  if (!validator(data)) {
    const errors = (validator.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? e.keyword}`);
    throw new PhaseDiagramFileError(`invalid phase-diagram file: ${errors.join('; ')}`);
  }
  const file = data as PhaseDiagramFile;
  if (file.cells.length > phaseDiagramCells(file.plan).length) throw new PhaseDiagramFileError(`invalid phase-diagram file: ${file.cells.length} cells for a plan of ${phaseDiagramCells(file.plan).length}`);
  return file;
}
