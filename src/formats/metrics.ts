// What a run records at its evaluation cadence, as plain data: metric series (parallel arrays, one entry per
// evaluation), events (grokking, hyperparameter changes, divergence), task-head series and spectral records. The
// rules that read them (grok step, early stop) live in src/train/metrics.ts.
import type { HyperParams } from './optim';
import type { SpectralRecord } from './spectral';
import type { CausalRecord } from './live-causal';

/** One evaluation, taken after the optimiser step `step`. */
export interface MetricPoint {
  step: number;
  /** Loss of the minibatch of step `step` (before its update), from the step's own readback. */
  batchLoss: number;
  /** Global gradient norm of step `step`, before clipping. */
  gradNorm: number;
  /** Whole training set after step `step`: mean cross-entropy and token accuracy. */
  trainLoss: number;
  trainAcc: number;
  /** Whole test set after step `step`. */
  testLoss: number;
  testAcc: number;
  /** Teacher-forced sequence accuracy: the fraction of sequences whose scored targets are all right. */
  trainSeqAcc: number;
  testSeqAcc: number;
  /**
   * Test sequence accuracy of greedy decoding (encoder-decoder models: each predicted token is fed back). For
   * models whose predictions are never fed back as inputs (modular arithmetic, Dyck) it equals testSeqAcc.
   */
  testGreedyAcc: number;
  /** ||theta|| over all parameters and ||theta_attn||, summed in float64 from the parameters read back. */
  thetaNorm: number;
  attnNorm: number;
}

export type MetricKey = keyof MetricPoint;

/** The order in which series are listed (and checked) everywhere. */
export const METRIC_KEYS: readonly MetricKey[] = [
  'step', 'batchLoss', 'gradNorm', 'trainLoss', 'trainAcc', 'testLoss', 'testAcc', 'trainSeqAcc', 'testSeqAcc', 'testGreedyAcc', 'thetaNorm', 'attnNorm',
];

export type MetricSeries = { [K in MetricKey]: number[] };

/**
 * What grokking is read from (docs/science.md §1): test token accuracy; SCAN: test sequence accuracy; multitask: the lowest
 * task head's test accuracy (the run groks when every head has).
 */
export const GROK_METRICS = ['testAcc', 'testSeqAcc', 'minHeadTestAcc'] as const;
export type GrokMetric = (typeof GROK_METRICS)[number];

export type RunEvent =
  /**
   * The first evaluation whose grok metric (`metric`, at `value`) is >= GROK_TEST_ACCURACY; with `head`, that
   * task head's own test accuracy (multitask), without it the run's.
   */
  | { type: 'grok'; step: number; metric: GrokMetric; value: number; head?: string }
  /** Hyperparameters changed after step `step`: steps up to `step` used `before`, later steps `after`. */
  | { type: 'hyper'; step: number; before: HyperParams; after: HyperParams }
  /** A non-finite value at the evaluation of step `step`; the run stopped and went back to `restoredStep`. */
  | { type: 'divergence'; step: number; restoredStep: number; message: string };

/** What multitask runs record per task head at every evaluation. */
export const HEAD_METRIC_KEYS = ['trainLoss', 'trainAcc', 'testLoss', 'testAcc'] as const;

export type HeadMetricKey = (typeof HEAD_METRIC_KEYS)[number];

/** Multitask runs: each task head's train/test loss and accuracy at every evaluation, e.g. testAcc[head][evaluation]. */
export type HeadSeries = { names: string[] } & { [K in HeadMetricKey]: number[][] };

export interface RunMetrics {
  series: MetricSeries;
  events: RunEvent[];
  heads?: HeadSeries;
  /** One record per analysed window, for runs that track the spectral edge. */
  spectral?: SpectralRecord[];
  /** One record per live causal probe, for runs that take them (src/analysis/live-causal.ts). */
  causal?: CausalRecord[];
}

/**
 * Early stopping: stop once the run's grok metric (test accuracy; SCAN: test sequence accuracy; multitask: every
 * head's test accuracy) has been >= `testAccuracy` for the last `evaluations` evaluations in a row. The lab's rule
 * is { SOLVED_TEST_ACCURACY, K } (off unless asked for: the edge's interesting phases continue after grokking);
 * { GROK_TEST_ACCURACY, 1 } stops at the grok step.
 */
export interface EarlyStopRule {
  testAccuracy: number;
  evaluations: number;
}

export const STOP_REASONS = ['completed', 'early-stop', 'diverged', 'interrupted'] as const;

export type StopReason = (typeof STOP_REASONS)[number];
