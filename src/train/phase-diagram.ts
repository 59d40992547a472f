// The phase diagram of docs/science.md §4: a grid of runs over train fraction x decay strength, once with L2 (AdamW's decay
// on every parameter, strength = the weight decay) and once with Low-Rank Decay (strength = the rate on W_Q and
// W_K of every attention module; every other parameter keeps AdamW's decay at the preset's weight decay), and per
// cell the highest test accuracy reached, the grok step and the stable ranks and norms of W_Q and W_K at the cell's end.
//
// Cells run one after another, in the order of phaseDiagramCells. The file (PhaseDiagramFile, versioned, with a
// JSON Schema) holds the plan and the finished cells; runPhaseDiagram continues a file of the same plan by skipping
// its finished cells, and continues an interrupted cell bit for bit from that cell's checkpoint. The spectral edge
// is off in the cells: the diagram needs none of it, and the stable ranks are computed from the final parameters.
import { attentionModules } from '../model/params';
import { stableRankOrNaN } from '../spectral/stable-rank';
import type { GpuRuntime } from '../gpu/runtime';
import type { Checkpoint } from './checkpoint';
import type { DecodedCheckpoint } from './checkpoint-file';
import { SOLVED_TEST_ACCURACY } from './metrics';
import { PRESETS } from './presets';
import { resolveRunConfig, RunConfigError } from './run';
import type { RunConfig } from '../formats/run-file';
import { Trainer, type TrainerProgress } from './trainer';
import { PHASE_DIAGRAM_KIND, PHASE_DIAGRAM_VERSION, PhaseDiagramPlan, PhaseCell, PhaseCellResult, PhaseDiagramFile, phaseDiagramCells } from '../formats/phase-diagram-file';

/** The run configuration of one cell (throws RunConfigError for a setting the preset refuses). */
export function cellConfig(plan: PhaseDiagramPlan, cell: PhaseCell): RunConfig {
  const decay = cell.decay === 'l2' ? { weightDecay: cell.strength } : { decay: 'lrd' as const, lrdRate: cell.strength };
  return resolveRunConfig(plan.preset, plan.seed, {
    ...plan.overrides,
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
  const matrix = (name: string) => {
    const s = table.get(name);
    return { w: params.subarray(s.offset, s.offset + s.size), rows: s.shape[0], cols: s.shape[1] };
  };
  const rank = (name: string) => {
    const { w, rows, cols } = matrix(name);
    const r = stableRankOrNaN(w, rows, cols);
    return Number.isNaN(r) ? null : r;
  };
  const norm = (name: string) => Math.sqrt(matrix(name).w.reduce((sum, x) => sum + x * x, 0));
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
    norm: { q: modules.map((m) => norm(`${m}.wq`)), k: modules.map((m) => norm(`${m}.wk`)) },
    series: { step, trainAcc, testAcc },
    wallMs: run.summary.wallMs,
    adapter: run.summary.adapter,
  };
}

/** "L2 wd 1, train fraction 0.45" or "LRD rate 0.01, train fraction 0.45". */
export function describeCell(cell: PhaseCell): string {
  return `${cell.decay === 'l2' ? `L2 wd ${cell.strength}` : `LRD rate ${cell.strength}`}, train fraction ${cell.trainFraction}`;
}
