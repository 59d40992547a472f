// The universality class of a run's late edge (docs/science.md §3), from measured quantities with stated thresholds:
//   functional   the edge {v_1, v_2} carries task structure: removing it or moving along it changes the function far
//                more than random directions do (ablation ratio or perturbation KL ratio >= functionalRatio);
//   compression  decay-dominated (median gradient energy fraction of v_1 < decayDominated), functionally empty (both
//                ratios < emptyRatio, or the edge's ablation effect below one token flip) and nearly frozen (median
//                rotation of v_1 < frozenDeg);
//   mixed        anything else: some but not all of the compression signs, or structure below the functional bar.
// The spectral quantities are medians over the last lateWindows windows at or before the analysed step. The
// verdict lists every quantity with its value and threshold, so a reader can disagree with the thresholds.
import type { SpectralRecord } from '../formats/spectral';
import { Evidence, Verdict } from '../formats/experiments';

export const VERDICT_THRESHOLDS = {
  /** Windows (at or before the analysed step) the spectral medians are taken over. */
  lateWindows: 3,
  /** Median gradient energy fraction of v_1 below this: the edge is decay-dominated. */
  decayDominated: 0.5,
  /** Median rotation of v_1 between windows below this (degrees): the edge is nearly frozen. */
  frozenDeg: 10,
  /** Edge/random ratio (ablation |delta accuracy| or perturbation max KL) at or above this: functional. */
  functionalRatio: 3,
  /** Both ratios below this: functionally empty. */
  emptyRatio: 1.5,
} as const;

export interface VerdictInputs {
  /** The run's spectral records up to the analysed step. */
  records: readonly SpectralRecord[];
  /** Ablation of {v1, v2}: its |delta test accuracy|, the mean over random 2-direction pairs, and 1 / scored targets. */
  ablation: { edge: number; randomMean: number; resolution: number };
  /** Perturbation sweep: the largest KL(base || perturbed) along the edge {v_1, v_2} and along the random directions. */
  perturbation: { edgeMaxKl: number; randomMaxKl: number };
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Edge / random, with a random effect below one token flip replaced by the resolution (a lower bound then). */
function ablationRatio(a: VerdictInputs['ablation']): { value: number; lowerBound: boolean } {
  const lowerBound = a.randomMean < a.resolution;
  return { value: a.edge / Math.max(a.randomMean, a.resolution), lowerBound };
}

export function universalityVerdict(inputs: VerdictInputs): Verdict {
  const t = VERDICT_THRESHOLDS;
  const late = inputs.records.slice(-t.lateWindows);
  if (late.length === 0) throw new Error('the verdict needs at least one spectral window at or before the analysed step');
  const gef = median(late.map((r) => r.gradEnergyFraction[0]))!;
  const rotation = median(late.flatMap((r) => (r.rotationDeg.length ? [r.rotationDeg[0]] : [])));
  const abl = ablationRatio(inputs.ablation);
  const { edgeMaxKl, randomMaxKl } = inputs.perturbation;
  const klRatio = randomMaxKl > 0 ? edgeMaxKl / randomMaxKl : edgeMaxKl > 0 ? Infinity : 0;
  const belowFlip = inputs.ablation.edge < inputs.ablation.resolution;

  const decayDominated = gef < t.decayDominated;
  const frozen = rotation === null ? null : rotation < t.frozenDeg;
  const functional = abl.value >= t.functionalRatio || klRatio >= t.functionalRatio;
  const empty = belowFlip || (abl.value < t.emptyRatio && klRatio < t.emptyRatio);
  const evidence: Evidence[] = [
    { quantity: `median gradient energy fraction of v1 (last ${late.length} windows)`, value: gef, threshold: `< ${t.decayDominated} decay-dominated`, met: decayDominated },
    { quantity: `median rotation of v1, degrees (last ${late.length} windows)`, value: rotation, threshold: `< ${t.frozenDeg} nearly frozen`, met: frozen },
    {
      quantity: `ablation ratio |delta acc| edge / random${abl.lowerBound ? ' (lower bound: random below one token flip)' : ''}`,
      value: abl.value,
      threshold: `>= ${t.functionalRatio} functional, < ${t.emptyRatio} empty`,
      met: functional ? true : empty ? false : null,
    },
    { quantity: 'perturbation max KL ratio edge / random', value: Number.isFinite(klRatio) ? klRatio : null, threshold: `>= ${t.functionalRatio} functional, < ${t.emptyRatio} empty`, met: klRatio >= t.functionalRatio ? true : klRatio < t.emptyRatio ? false : null },
    { quantity: 'edge ablation |delta acc| (resolution: one token flip)', value: inputs.ablation.edge, threshold: `< ${inputs.ablation.resolution.toPrecision(3)} below one flip`, met: belowFlip },
  ];
  if (functional) {
    return { class: 'functional', reason: `removing or moving along the edge changes the model ${Math.max(abl.value, klRatio).toPrecision(3)}x more than random directions`, evidence };
  }
  if (decayDominated && empty && frozen === true) {
    return { class: 'compression', reason: 'the edge is decay-dominated, nearly frozen and functionally empty', evidence };
  }
  const signs = [decayDominated && 'decay-dominated', empty && 'functionally empty', frozen && 'nearly frozen'].filter(Boolean);
  return {
    class: 'mixed',
    reason: signs.length ? `the edge is ${signs.join(' and ')}, but not all three compression signs hold and it is below the functional bar` : 'the edge carries some structure, below the functional bar, and shows no compression sign',
    evidence,
  };
}
