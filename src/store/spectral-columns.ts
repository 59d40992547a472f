// The spectral records (src/formats/spectral.ts) as chart columns: one row per analysed window, one column per
// plotted scalar (sigma_1..sigma_5, g23, R and k*, each edge direction's gradient energy fraction and alignment,
// rotations, the gap-flow terms, the stable ranks of each attention module's W_Q and W_K). A value a record lacks (an
// early window, a small W, a model with fewer attention modules) is NaN: a gap in the line, never a zero.
import type { SpectralRecord } from '../formats/spectral';
import { PRESETS } from '../train/presets';
import { attentionModules, buildParamTable } from '../model/params';

const indexed = <P extends string>(prefix: P, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}` as `${P}${number}`);

/** Attention modules whose stable ranks get columns: as many as the largest preset model has (SCAN: 9). */
export const STABLE_RANK_MODULES = Math.max(...Object.values(PRESETS).map((p) => attentionModules(buildParamTable(p.model)).length));

export const SPECTRAL_COLUMNS = [
  'step',
  ...indexed('sigma', 5),
  'g23',
  'gapRatio',
  'kStar',
  ...indexed('rotation', 4),
  ...indexed('energy', 3),
  ...indexed('trapezoidEnergy', 3),
  ...indexed('alignment', 3),
  'deltaGramNorm',
  'adiabatic',
  // The gap-flow terms (runs that measure them), per step.
  'gapCurvature',
  'gapDamping',
  'gapDriving',
  'gapPredicted',
  'gapObserved',
  // The stable ranks of W_Q and W_K of attention module i (1-based, in theta_attn's order).
  ...indexed('stableRankQ', STABLE_RANK_MODULES),
  ...indexed('stableRankK', STABLE_RANK_MODULES),
] as const;

export type SpectralColumn = (typeof SPECTRAL_COLUMNS)[number];

const orNaN = (x: number | null | undefined) => (x === null || x === undefined ? NaN : x);

export function spectralRow(record: SpectralRecord): Record<SpectralColumn, number> {
  const row: Partial<Record<SpectralColumn, number>> = {
    step: record.step,
    g23: orNaN(record.g23),
    gapRatio: orNaN(record.gapRatio),
    kStar: orNaN(record.kStar),
    deltaGramNorm: orNaN(record.deltaGramNorm),
    adiabatic: orNaN(record.adiabatic),
    gapCurvature: orNaN(record.gapFlow?.curvatureAsymmetry),
    gapDamping: orNaN(record.gapFlow?.damping),
    gapDriving: orNaN(record.gapFlow?.gradientDriving),
    gapPredicted: orNaN(record.gapFlow?.predicted),
    gapObserved: orNaN(record.gapFlow?.observed),
  };
  const spread = (prefix: string, values: readonly number[], n: number) => {
    for (let i = 0; i < n; i++) row[`${prefix}${i + 1}` as SpectralColumn] = orNaN(values[i]);
  };
  spread('sigma', record.sigma, 5);
  spread('rotation', record.rotationDeg, 4);
  spread('energy', record.gradEnergyFraction, 3);
  spread('trapezoidEnergy', record.trapezoidGradEnergyFraction, 3);
  spread('alignment', record.alignment, 3);
  spread('stableRankQ', record.stableRank?.q ?? [], STABLE_RANK_MODULES);
  spread('stableRankK', record.stableRank?.k ?? [], STABLE_RANK_MODULES);
  return row as Record<SpectralColumn, number>;
}
