// The live causal probes' defaults per preset (src/analysis/live-causal.ts): how often they run and on how many
// test sequences. A probe costs about 40 forward passes over its subset (7 evaluations for the ablations, 29 for the
// perturbation curves, 3 for the curvature), so the cadence is set per preset to keep the probes' share of the
// training time at or below 10% on SwiftShader (`npm run bench` reports it as liveCausalOverhead), and the subset
// to keep one token flip well below the effects the lab reports (1 / scored targets: 0.004 for 256 modular-
// arithmetic pairs, about 0.001 for 64 Dyck sequences of ~14 scored positions).
import { LIVE_CAUSAL_LIMITS, type LiveCausalOptions } from '../formats/live-causal';
import type { PresetName } from '../formats/task';

/** Steps between probes (rounded up to a multiple of the snapshot cadence) and subset size, per preset. */
const PER_PRESET: Record<PresetName, { every: number; sequences: number }> = {
  'quick-add': { every: 100, sequences: 256 },
  'quick-multitask': { every: 100, sequences: 256 },
  'quick-dyck': { every: 200, sequences: 64 },
  modarith: { every: 100, sequences: 256 },
  multitask: { every: 100, sequences: 256 },
  dyck: { every: 200, sequences: 64 },
  scan: { every: 500, sequences: 64 },
  'quick-scan': { every: 500, sequences: 64 },
};

/** The preset's live causal options (enabled false: a run turns them on), for a run with `snapshotEvery` and a test set of `testSequences`. */
export function liveCausalDefaults(preset: PresetName, snapshotEvery: number, testSequences: number): LiveCausalOptions {
  const { every, sequences } = PER_PRESET[preset];
  return {
    enabled: false,
    every: Math.max(1, Math.ceil(every / snapshotEvery)) * snapshotEvery,
    sequences: Math.min(sequences, testSequences),
    randomPairs: LIVE_CAUSAL_LIMITS.randomPairs.default,
    epsRelative: LIVE_CAUSAL_LIMITS.epsRelative.default,
  };
}
