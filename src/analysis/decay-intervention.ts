// The weight-decay intervention (docs/science.md §3.5): branch a checkpoint into fresh runs, one per weight decay (default 0, 0.5,
// 1, 2), each continuing `steps` steps (default 3,000) from the checkpoint's parameters with fresh AdamW moments
// (m = v = 0, Adam's step count from 0: bias correction starts again), the checkpoint's lr and other settings, the
// batches the run would have drawn next (its sampler state), and no spectral tracking. The table has one row per
// branch at its end, plus the base row (the checkpoint itself, 0 steps):
//   test accuracy and loss (whole test set), the linear-probe R^2 (ridge alpha 1 on the residual stream after the
//   last block, first 300 test sequences, the seeded 70/30 split of src/analysis/probes.ts; Dyck: depth, SCAN: the
//   decoder's target tokens; null for tasks without a probe target, with the reason), the mean attention entropy on
//   the first 200 test sequences (src/analysis/attention-entropy.ts), ||theta|| and ||theta_attn||.
// Branching needs no engine change: a branch is a Trainer of the branch's RunConfig restored to a checkpoint whose
// engine state has the parameters, zero moments and step 0.
import type { GpuRuntime } from '../gpu/runtime';
import { taskHeadCount } from '../model/config';
import type { Checkpoint } from '../train/checkpoint';
import { Evaluator } from '../train/evaluator';
import { emptyMetrics, paramNorms } from '../train/metrics';
import { PRESETS, taskHeadNames } from '../train/presets';
import type { RunConfig } from '../formats/run-file';
import { Trainer } from '../train/trainer';
import { meanAttentionEntropy } from './attention-entropy';
import { ExperimentCancelledError, firstSequences, type Progress } from './context';
import { scoredPositions } from './probe-run';
import { probeR2 } from './probes';
import { ResidualStreamReader } from './residual-stream';
import { INTERVENTION_DEFAULTS, notForTask } from './experiments';
import { DecayRow, DecayProbe, DecayInterventionResult } from '../formats/experiments';

export const DECAY_INTERVENTION_DEFAULTS = {
  weightDecays: [...INTERVENTION_DEFAULTS.weightDecays],
  steps: INTERVENTION_DEFAULTS.steps,
  /** Test sequences of the attention entropy and of the probe (docs/science.md §3.5). */
  entropySequences: 200,
  probeSequences: 300,
  /** Sequences per forward pass of the probe / entropy graph. */
  chunk: 100,
} as const;

export interface DecayInterventionOptions {
  weightDecays?: number[];
  steps?: number;
  /** Evaluation cadence inside a branch (divergence is detected there); default the run's. */
  evalEvery?: number;
  progress?: Progress;
  /** Polled at every branch step: true ends the experiment with ExperimentCancelledError. */
  shouldStop?: () => boolean;
}

/**
 * The RunConfig of a branch: the run's, with this weight decay, `steps` steps, no early stop, no spectral edge and so
 * no live causal probes (they measure the edge).
 */
export function branchConfig(config: RunConfig, checkpoint: Checkpoint, weightDecay: number, steps: number, evalEvery = config.evalEvery): RunConfig {
  const optim = { ...checkpoint.engine.optim, weightDecay };
  const { causal: _runCausal, ...run } = structuredClone(config);
  const { causal: _asked, ...overrides } = run.overrides;
  return {
    ...run,
    overrides: { ...overrides, lr: optim.lr, weightDecay, steps, evalEvery, earlyStop: null, spectral: { enabled: false } },
    optim,
    steps,
    evalEvery,
    earlyStop: null,
    spectral: { ...config.spectral, enabled: false, gapFlow: false },
  };
}

/**
 * A trainer for one branch, at its step 0: the checkpoint's parameters and sampler state, zero Adam moments, the
 * branch's weight decay; `run()` trains its `steps` steps.
 */
export async function branchTrainer(rt: GpuRuntime, config: RunConfig, checkpoint: Checkpoint, weightDecay: number, steps: number, evalEvery?: number): Promise<Trainer> {
  const branch = branchConfig(config, checkpoint, weightDecay, steps, evalEvery);
  const trainer = await Trainer.create(rt, branch);
  const n = checkpoint.engine.params.length;
  trainer.restore({
    step: 0,
    engine: { step: 0, optim: branch.optim, params: checkpoint.engine.params, m: new Float32Array(n), v: new Float32Array(n) },
    sampler: checkpoint.sampler,
    metrics: emptyMetrics(taskHeadNames(branch.task), false),
    mark: { evaluations: 0, events: 0, spectral: 0, causal: 0 },
  });
  return trainer;
}

/** Why the task has no probe target (null: Dyck depth or SCAN decoder tokens). */
const missingProbe = (config: RunConfig): string | null => notForTask('probe', config.task.kind);

/** The table row of a trainer's model as it is now. */
async function measure(
  rt: GpuRuntime,
  trainer: Trainer,
  row: Pick<DecayRow, 'weightDecay' | 'steps' | 'stopReason'>,
  withProbe: boolean,
): Promise<{ row: DecayRow; entropySequences: number; probeSequences: number; positions: number }> {
  const { engine, config, taskData } = trainer;
  const { seqLen, readout, sourceLen } = config.shape;
  const shape = { seqLen, readout, ...(sourceLen !== undefined && { sourceLen }) };
  const heads = taskHeadCount(config.model);
  const test = taskData.test;
  const testCount = test.tokens.length / seqLen;
  const evaluator = await Evaluator.create(rt, config.model, engine.state, shape, Math.min(PRESETS[config.preset].evalChunk, testCount));
  const result = await evaluator.evaluate(test);
  const norms = paramNorms(await engine.readParams(), engine.table.attn);
  const D = DECAY_INTERVENTION_DEFAULTS;
  const reader = await ResidualStreamReader.create(rt, config.model, engine.state, shape, Math.min(D.chunk, testCount));
  const entropySequences = Math.min(D.entropySequences, testCount);
  const attentionEntropy = await meanAttentionEntropy(rt, reader.graph, firstSequences(test, shape, heads, entropySequences));
  let probe: number | null = null;
  let positions = 0;
  const probeSequences = Math.min(D.probeSequences, testCount);
  if (withProbe) {
    const data = firstSequences(test, shape, heads, probeSequences);
    const { features, targets, targetDim } = scoredPositions(reader, await reader.read(data), data);
    probe = probeR2(features, targets, { kind: 'linear', seed: config.seed, targetDim });
    positions = targets.length / targetDim;
  }
  return {
    row: {
      ...row,
      testAccuracy: result.accuracy,
      testLoss: result.loss,
      testSequenceAccuracy: result.sequenceAccuracy,
      probeR2: probe,
      attentionEntropy,
      thetaNorm: norms.theta,
      attnNorm: norms.attn,
    },
    entropySequences,
    probeSequences,
    positions,
  };
}

export async function decayIntervention(rt: GpuRuntime, config: RunConfig, checkpoint: Checkpoint, options: DecayInterventionOptions = {}): Promise<DecayInterventionResult> {
  const D = DECAY_INTERVENTION_DEFAULTS;
  const weightDecays = options.weightDecays ?? [...D.weightDecays];
  const steps = options.steps ?? D.steps;
  if (weightDecays.length === 0) throw new Error('the weight-decay intervention needs at least one weight decay');
  for (const wd of weightDecays) if (!(Number.isFinite(wd) && wd >= 0)) throw new Error(`weight decays must be finite and >= 0, got ${wd}`);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`steps must be a positive integer, got ${steps}`);
  const noProbe = missingProbe(config);
  const total = weightDecays.length * steps + weightDecays.length + 1;
  let done = 0;
  const report = (what: string) => options.progress?.(done, total, what);

  let base: Awaited<ReturnType<typeof measure>> | null = null;
  const branches: DecayRow[] = [];
  for (const weightDecay of weightDecays) {
    // Each branch (its trainer and the evaluators and readers measuring it) is freed before the next one is built.
    await rt.scoped(async () => {
      const trainer = await branchTrainer(rt, config, checkpoint, weightDecay, steps, options.evalEvery);
      if (!base) {
        report('measuring the checkpoint');
        base = await measure(rt, trainer, { weightDecay: checkpoint.engine.optim.weightDecay, steps: 0, stopReason: 'base' }, noProbe === null);
        done += 1;
      }
      const before = done;
      report(`branch wd ${weightDecay}`);
      const stopReason = await trainer.run({
        ...(options.shouldStop && { shouldStop: options.shouldStop }),
        onEvaluation: ({ point }) => {
          done = before + point.step;
          report(`branch wd ${weightDecay}: step ${point.step} of ${steps}`);
        },
      });
      if (stopReason === 'interrupted') throw new ExperimentCancelledError();
      done = before + steps;
      report(`measuring branch wd ${weightDecay}`);
      branches.push((await measure(rt, trainer, { weightDecay, steps: trainer.step, stopReason }, noProbe === null)).row);
      done += 1;
    });
  }
  report('done');
  const measured = base!;
  const probe: DecayProbe = noProbe !== null ? { target: null, reason: noProbe } : {
    target: config.task.kind === 'dyck' ? 'dyck-depth' : 'decoder-token',
    sequences: measured.probeSequences,
    positions: measured.positions,
  };
  return { fromStep: checkpoint.step, steps, lr: checkpoint.engine.optim.lr, probe, entropySequences: measured.entropySequences, base: measured.row, branches };
}
