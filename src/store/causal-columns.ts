// The live causal records (src/formats/live-causal.ts) as chart columns: one row per probed window. Ablation: the
// edge's and the bulk's Δ test accuracy, the random pairs' band (lowest, mean and highest signed Δacc) and the
// one-token band (±resolution); perturbation: for v1..v3 and the random band, the largest KL and the largest loss
// change over the curve's points (all within ±eps); curvature v1ᵀHv1 and its float32 noise band (±resolution); and
// the verdict as an index into UNIVERSALITY_CLASSES. A value a record lacks (no bulk pair, fewer than 3 edge
// vectors) is NaN: a gap in the line, never a zero.
import { UNIVERSALITY_CLASSES, type CausalRecord, type LivePerturbationCurve } from '../formats/live-causal';

/** Edge directions whose perturbation gets columns (the record has up to 3). */
export const PERTURBED_EDGE_DIRECTIONS = 3;

const indexed = <P extends string>(prefix: P, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}` as `${P}${number}`);

export const CAUSAL_COLUMNS = [
  'step',
  'edgeDeltaAcc',
  'bulkDeltaAcc',
  'randomDeltaAccMin',
  'randomDeltaAccMean',
  'randomDeltaAccMax',
  /** The random pairs' largest |Δacc| (what "below resolution" is judged on). */
  'randomMaxAbsDelta',
  'tokenLow',
  'tokenHigh',
  'resolution',
  ...indexed('klV', PERTURBED_EDGE_DIRECTIONS),
  'klRandomMin',
  'klRandomMean',
  'klRandomMax',
  ...indexed('dLossV', PERTURBED_EDGE_DIRECTIONS),
  'dLossRandomMin',
  'dLossRandomMean',
  'dLossRandomMax',
  'curvature',
  'curvatureNoiseLow',
  'curvatureNoiseHigh',
  'verdict',
] as const;

export type CausalColumn = (typeof CAUSAL_COLUMNS)[number];

/** min, mean and max of some values (NaN for none). */
function spread(values: readonly number[]): { min: number; mean: number; max: number } {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { min: NaN, mean: NaN, max: NaN };
  return { min: Math.min(...finite), mean: finite.reduce((a, b) => a + b, 0) / finite.length, max: Math.max(...finite) };
}

/** The largest value along one perturbed direction (over every point of its curve; NaN when it has none). */
export const curveMax = (values: readonly number[]): number => (values.length === 0 ? NaN : Math.max(...values));

export function causalRow(record: CausalRecord): Record<CausalColumn, number> {
  const { ablation, perturbation, curvature, resolution } = record;
  const random = spread(ablation.random.map((r) => r.deltaAccuracy));
  const row: Partial<Record<CausalColumn, number>> = {
    step: record.step,
    edgeDeltaAcc: ablation.edge.deltaAccuracy,
    bulkDeltaAcc: ablation.bulk?.deltaAccuracy ?? NaN,
    randomDeltaAccMin: random.min,
    randomDeltaAccMean: random.mean,
    randomDeltaAccMax: random.max,
    randomMaxAbsDelta: ablation.randomMaxAbsDelta,
    tokenLow: -resolution,
    tokenHigh: resolution,
    resolution,
    curvature: curvature.v1,
    curvatureNoiseLow: -curvature.resolution,
    curvatureNoiseHigh: curvature.resolution,
    verdict: UNIVERSALITY_CLASSES.indexOf(record.verdict.class),
  };
  const perturbed = (prefix: 'klV' | 'dLossV', measure: 'kl' | 'deltaLoss', randomPrefix: 'klRandom' | 'dLossRandom') => {
    for (let i = 0; i < PERTURBED_EDGE_DIRECTIONS; i++) {
      const curve: LivePerturbationCurve | undefined = perturbation.edge[i];
      row[`${prefix}${i + 1}` as CausalColumn] = curve ? curveMax(curve[measure]) : NaN;
    }
    const r = spread(perturbation.random.map((c) => curveMax(c[measure])));
    row[`${randomPrefix}Min`] = r.min;
    row[`${randomPrefix}Mean`] = r.mean;
    row[`${randomPrefix}Max`] = r.max;
  };
  perturbed('klV', 'kl', 'klRandom');
  perturbed('dLossV', 'deltaLoss', 'dLossRandom');
  if (row.verdict! < 0) row.verdict = NaN;
  return row as Record<CausalColumn, number>;
}
