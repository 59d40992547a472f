// The model of a recorded run at the step an analysis asks for: `grok` (the run's grok step), `late` (its last
// step) or a step number. Training is deterministic, so the model at step S is rebuilt from the run file alone:
// from the latest checkpoint at or before S when one is given (else from step 0), trained on to S with the run's
// hyperparameter changes applied at their steps, exactly as the run did. Where the run recorded an evaluation at S,
// the replay's test loss is compared with it (on another adapter the kernels round differently and the two drift
// apart; the comparison is reported, not enforced).
import type { GpuRuntime } from '../gpu/runtime';
import type { Checkpoint } from '../train/checkpoint';
import type { RunConfig, RunFile } from '../formats/run-file';
import { configDifference } from '../train/checkpoint-file';
import { Trainer, type RunCallbacks, type TrainerProgress } from '../train/trainer';
import { ReplayCheck } from '../formats/analysis-file';

export type AnalysisStep = number | 'grok' | 'late';

/** "grok", "late" or a non-negative integer; anything else is an error that says what is accepted. */
export function parseAnalysisStep(text: string): AnalysisStep {
  if (text === 'grok' || text === 'late') return text;
  const step = Number(text);
  if (text.trim() === '' || !Number.isInteger(step) || step < 0) throw new RangeError(`the analysis step must be "grok", "late" or a step number, got "${text}"`);
  return step;
}

/** The step number `at` names in `run`. */
export function resolveAnalysisStep(run: RunFile, at: AnalysisStep): number {
  const last = run.summary.steps;
  if (at === 'late') return last;
  if (at === 'grok') {
    if (run.summary.grokStep === null) throw new RangeError(`the run did not grok in its ${last} steps: analyse --at late or a step number`);
    return run.summary.grokStep;
  }
  if (at > last) throw new RangeError(`the run has ${last} steps; step ${at} is past its end`);
  return at;
}

/**
 * A trainer holding `run`'s model at `step`, with its spectral edge (the last window at or before it). `checkpoints`:
 * any of the run's checkpoints (decoded), in any order; those of another run are rejected.
 */
export async function trainerAt(
  rt: GpuRuntime,
  run: RunFile,
  step: number,
  options: { checkpoints?: { config: RunConfig; checkpoint: Checkpoint }[]; onProgress?: (p: TrainerProgress) => void } = {},
): Promise<{ trainer: Trainer; replay: ReplayCheck }> {
  const config: RunConfig = { ...run.config, steps: step, earlyStop: null };
  for (const c of options.checkpoints ?? []) {
    const difference = configDifference(c.config, run.config);
    if (difference) throw new Error(`the checkpoint at step ${c.checkpoint.step} belongs to another run (${difference})`);
  }
  const start = (options.checkpoints ?? []).map((c) => c.checkpoint).filter((c) => c.step <= step).sort((x, y) => y.step - x.step)[0];
  const trainer = await Trainer.create(rt, config);
  if (start) trainer.restore(start);
  const applied = trainer.events.filter((e) => e.type === 'hyper').length;
  const changes = run.events.filter((e) => e.type === 'hyper').slice(applied);
  // A replay that diverges (a run file edited by hand, or an adapter that rounds differently) has no model at `step`.
  const replay = async (callbacks: RunCallbacks) => {
    if ((await trainer.run(callbacks)) !== 'diverged') return;
    const divergence = trainer.events.at(-1);
    throw new Error(`rebuilding the model for step ${step} failed: ${divergence?.type === 'divergence' ? divergence.message : 'the replay diverged'}`);
  };
  const onEvaluation = options.onProgress;
  for (const change of changes) {
    if (change.step > step) break;
    await replay({ until: change.step, ...(onEvaluation && { onEvaluation }) });
    trainer.setHyper(change.after);
  }
  if (trainer.step < step) await replay(onEvaluation ? { onEvaluation } : {});
  const recorded = run.series.step.indexOf(step);
  const replayed = trainer.series.step.indexOf(step);
  return {
    trainer,
    replay: {
      recordedTestLoss: recorded < 0 ? null : run.series.testLoss[recorded],
      replayedTestLoss: recorded < 0 || replayed < 0 ? null : trainer.series.testLoss[replayed],
      fromStep: start?.step ?? 0,
    },
  };
}
