// One unit of a reproduction study on a GPU runtime: the lab's own engine end to end, nothing re-implemented.
//   run units         createTrainer (src/analysis/live-causal.ts: the live causal probes when the overrides ask for
//                     them); training pauses at each moment asked for (memorisation, grok) and runAnalysis
//                     (src/analysis/run-analysis.ts) runs the experiments there on the live model, which it leaves
//                     bit for bit as it found it; the last moment is the run's end.
//   phase-cell units  one cell of src/train/phase-diagram.ts (cellConfig, Trainer, cellResult).
// The result keeps named scalars (metrics.ts reads them out of the analyses and the spectral records) and the series
// the report's figures draw. Every unit's GPU buffers are freed when it ends.
import type { GpuRuntime } from '../gpu/runtime';
import { createTrainer } from '../analysis/live-causal';
import { runAnalysis } from '../analysis/run-analysis';
import { ExperimentCancelledError } from '../analysis/context';
import type { AnalysisFile } from '../formats/analysis-file';
import type { ExperimentName } from '../formats/experiments';
import { resolveRunConfig } from '../train/run';
import { Trainer, type TrainerProgress } from '../train/trainer';
import { cellConfig, cellResult } from '../train/phase-diagram';
import { phaseDiagramCells } from '../formats/phase-diagram-file';
import { headGrokStep } from '../train/metrics';
import type { Moment, PhaseUnit, RunUnit, UnitResult, UnitSpec } from './study';
import { analysisMetrics, phaseMetrics, spectralMetrics } from './metrics';

/** Train accuracy at which a run counts as having memorised its training set (the `memo` moment). */
export const MEMORISED_TRAIN_ACCURACY = 0.99;

/** Where an analysis at a moment stands: just started (no experiment yet), or `done` of `total` of one experiment. */
export interface AnalysisProgress {
  moment: Moment;
  step: number;
  experiment?: { name: ExperimentName; done: number; total: number; what: string };
}

const MOMENT_NAMES: Record<Moment, string> = { memo: 'memorisation', grok: 'the grok', late: 'the end' };

/** "analysing at the grok (step 150): ablate 3/27, random pair 2 of 20", for the CLI's status line and the page. */
export function describeAnalysis(a: AnalysisProgress): string {
  const at = `analysing at ${MOMENT_NAMES[a.moment]} (step ${a.step})`;
  if (!a.experiment) return at;
  const { name, done, total, what } = a.experiment;
  return `${at}: ${name} ${done}/${total}${what ? `, ${what}` : ''}`;
}

export interface UnitCallbacks {
  onEvaluation?(p: TrainerProgress): void;
  /** When an analysis at a moment starts, and as each of its experiments moves on. */
  onAnalysis?(a: AnalysisProgress): void;
  /** Checked before every step and between experiments and branch steps of an analysis: true abandons the unit (it
   * is not written, and runs again from its start). */
  shouldStop?(): boolean;
}

export class UnitInterrupted extends Error {
  override name = 'UnitInterrupted';
}

export function runUnit(rt: GpuRuntime, unit: UnitSpec, callbacks: UnitCallbacks = {}): Promise<UnitResult> {
  return rt.scoped(() => (unit.kind === 'run' ? runTrainingUnit(rt, unit, callbacks) : runPhaseUnit(rt, unit, callbacks)));
}

async function runTrainingUnit(rt: GpuRuntime, unit: RunUnit, callbacks: UnitCallbacks): Promise<UnitResult> {
  const started = performance.now();
  const config = resolveRunConfig(unit.preset, unit.seed, unit.overrides);
  const trainer = await createTrainer(rt, config);
  const pending = new Map(unit.analyses.map((a) => [a.moment, a]));
  const analyses: Partial<Record<Moment, AnalysisFile>> = {};
  const notes: Record<string, string> = {};

  const dueMoment = (): Moment | null => {
    if (pending.has('memo') && trainer.grokStep === null && (trainer.series.trainAcc.at(-1) ?? 0) >= MEMORISED_TRAIN_ACCURACY) return 'memo';
    if (pending.has('grok') && trainer.grokStep !== null) return 'grok';
    return null;
  };
  const analyse = async (moment: Moment) => {
    const request = pending.get(moment)!;
    pending.delete(moment);
    if (trainer.spectralRecords.length === 0) {
      notes[`${moment}.skipped`] = `no spectral window by step ${trainer.step}`;
      return;
    }
    const step = trainer.step;
    callbacks.onAnalysis?.({ moment, step });
    try {
      analyses[moment] = await runAnalysis(trainer, trainer.toRunFile(), {
        experiments: request.experiments,
        requested: moment,
        ...(callbacks.onAnalysis && { onProgress: (name, done, total, what) => callbacks.onAnalysis!({ moment, step, experiment: { name, done, total, what } }) }),
        ...(request.interventionSteps !== undefined && { interventionSteps: request.interventionSteps }),
        ...(callbacks.shouldStop && { shouldStop: callbacks.shouldStop }),
      });
    } catch (err) {
      if (err instanceof ExperimentCancelledError) throw new UnitInterrupted(`unit ${unit.id} interrupted during its analysis at ${moment} (step ${trainer.step})`);
      throw err;
    }
  };

  for (;;) {
    const reason = await trainer.run({
      ...(callbacks.onEvaluation && { onEvaluation: callbacks.onEvaluation }),
      shouldStop: () => dueMoment() !== null || (callbacks.shouldStop?.() ?? false),
    });
    const moment = dueMoment();
    if (moment) {
      // Memorisation comes before the grok or not at all.
      if (moment === 'grok' && pending.has('memo')) {
        pending.delete('memo');
        notes['memo.skipped'] = `the run grokked (step ${trainer.grokStep}) before train accuracy reached ${MEMORISED_TRAIN_ACCURACY}`;
      }
      await analyse(moment);
      continue;
    }
    if (reason === 'interrupted') throw new UnitInterrupted(`unit ${unit.id} interrupted at step ${trainer.step}`);
    break;
  }
  for (const moment of pending.keys()) {
    if (moment === 'late') await analyse('late');
    else notes[`${moment}.skipped`] = moment === 'grok' ? `the run did not grok in ${trainer.step} steps` : `the run never reached train accuracy ${MEMORISED_TRAIN_ACCURACY} before grokking`;
  }

  const run = trainer.toRunFile();
  const metrics: Record<string, number | null> = {
    grokked: run.summary.grokStep === null ? 0 : 1,
    grokStep: run.summary.grokStep,
    finalTestAcc: run.summary.final?.testAcc ?? null,
    finalTrainAcc: run.summary.final?.trainAcc ?? null,
    ...spectralMetrics(run.spectral ?? [], run.summary.grokStep),
  };
  for (const head of run.heads?.names ?? []) metrics[`grokStep.${head}`] = headGrokStep(run.events, head);
  for (const [moment, file] of Object.entries(analyses) as [Moment, AnalysisFile][]) {
    metrics[`${moment}.step`] = file.at.step;
    Object.assign(metrics, analysisMetrics(moment, file, notes));
  }
  const spectral = run.spectral ?? [];
  const causal = run.causal ?? [];
  return {
    metrics,
    notes,
    series: {
      eval: { step: run.series.step, trainAcc: run.series.trainAcc, testAcc: run.series.testAcc },
      spectral: {
        step: spectral.map((r) => r.step),
        g23: spectral.map((r) => r.g23),
        gef1: spectral.map((r) => r.gradEnergyFraction[0]),
        rotation1: spectral.map((r) => r.rotationDeg[0] ?? null),
      },
      causal: {
        step: causal.map((c) => c.step),
        edge: causal.map((c) => c.ablation.edge.deltaAccuracy),
        bulk: causal.map((c) => c.ablation.bulk?.deltaAccuracy ?? null),
        randomMeanAbs: causal.map((c) => c.ablation.randomMeanAbsDelta),
        resolution: causal.map((c) => c.resolution),
      },
    },
    steps: run.summary.steps,
    wallMs: Math.round(performance.now() - started),
    adapter: rt.adapter.description,
  };
}

async function runPhaseUnit(rt: GpuRuntime, unit: PhaseUnit, callbacks: UnitCallbacks): Promise<UnitResult> {
  const started = performance.now();
  const [cell, ...more] = phaseDiagramCells(unit.plan);
  if (!cell || more.length > 0) throw new Error(`phase unit ${unit.id} must hold exactly one cell, not ${more.length + (cell ? 1 : 0)}`);
  const trainer = await Trainer.create(rt, cellConfig(unit.plan, cell));
  const reason = await trainer.run({
    ...(callbacks.onEvaluation && { onEvaluation: callbacks.onEvaluation }),
    ...(callbacks.shouldStop && { shouldStop: callbacks.shouldStop }),
  });
  if (reason === 'interrupted') throw new UnitInterrupted(`unit ${unit.id} interrupted at step ${trainer.step}`);
  const result = await cellResult(cell, trainer);
  return {
    metrics: phaseMetrics(result),
    notes: {},
    series: { eval: { ...result.series }, spectral: { step: [], g23: [], gef1: [], rotation1: [] }, causal: { step: [], edge: [], bulk: [], randomMeanAbs: [], resolution: [] } },
    steps: result.steps,
    wallMs: Math.round(performance.now() - started),
    adapter: rt.adapter.description,
  };
}
