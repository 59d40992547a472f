// How many training steps go into one GPU submission. Steps are grouped while nothing is read back or written
// from the CPU between them: a group ends at a step the trainer has to wait on (an evaluation, whose checkpoint
// and metrics are read back; a spectral snapshot, after which a window may be analysed and probed), at the end
// of the run or of the current `run` call (the page's chunks), and at MAX_STEPS_PER_SUBMISSION.
import { MAX_STEPS_PER_SUBMISSION } from '../model/engine';
import type { RunConfig } from '../formats/run-file';

export interface SubmissionCadences {
  /** The last step this group may reach (the run's length, or where the current call stops). */
  end: number;
  /** Every multiple of each of these ends a group (evaluation, snapshot and probe cadences). */
  every: readonly number[];
  /** The most steps a group may hold (MAX_STEPS_PER_SUBMISSION unless given; 1: one step per submission). */
  max?: number;
}

/** The number of steps K of the group that starts at step `next`: it runs steps next .. next + K - 1. */
export function stepsPerSubmission(next: number, { end, every, max = MAX_STEPS_PER_SUBMISSION }: SubmissionCadences): number {
  if (!(Number.isInteger(max) && max >= 1 && max <= MAX_STEPS_PER_SUBMISSION)) throw new Error(`steps per submission must be an integer in [1, ${MAX_STEPS_PER_SUBMISSION}], got ${max}`);
  if (!(Number.isInteger(next) && next >= 1 && next <= end)) throw new Error(`step ${next} is outside [1, ${end}]`);
  let last = Math.min(end, next + max - 1);
  for (const c of every) last = Math.min(last, Math.ceil(next / c) * c);
  return last - next + 1;
}

/** The cadences that end a run's submissions: evaluations (checkpoints), spectral snapshots and live causal probes. */
export function submissionCadences({ evalEvery, spectral, causal }: Pick<RunConfig, 'evalEvery' | 'spectral' | 'causal'>): number[] {
  return [evalEvery, ...(spectral.enabled ? [spectral.snapshotEvery] : []), ...(causal?.enabled ? [causal.every] : [])];
}

/** A whole run's submissions, uninterrupted: how many, and the largest (steps / submissions is the mean). */
export function submissionPlan(config: Pick<RunConfig, 'steps' | 'evalEvery' | 'spectral' | 'causal'>): { submissions: number; steps: number; largest: number } {
  const every = submissionCadences(config);
  let submissions = 0;
  let largest = 0;
  for (let next = 1; next <= config.steps; submissions++) {
    const k = stepsPerSubmission(next, { end: config.steps, every });
    largest = Math.max(largest, k);
    next += k;
  }
  return { submissions, steps: config.steps, largest };
}
