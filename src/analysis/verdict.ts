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
import type { Evidence, Verdict } from '../formats/experiments';
import type { UniversalityClass } from '../formats/live-causal';

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
  /** Below this test accuracy before ablation the verdict carries a caveat: there is little accuracy left to lose. */
  minBaseAccuracy: 0.5,
} as const;

export interface VerdictInputs {
  /** The run's spectral records up to the analysed step. */
  records: readonly SpectralRecord[];
  /**
   * Ablation of {v1, v2}: its |delta test accuracy|, the mean over random 2-direction pairs, 1 / scored targets, and
   * (when known) the model's test accuracy before any removal.
   */
  ablation: { edge: number; randomMean: number; resolution: number; baseAccuracy?: number };
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

/** The caveat for a model whose test accuracy leaves an ablation nothing to remove (null: none needed). */
export function lowAccuracyCaveat(baseAccuracy: number | undefined): string | null {
  if (baseAccuracy === undefined || !(baseAccuracy < VERDICT_THRESHOLDS.minBaseAccuracy)) return null;
  return (
    `the model gets ${(100 * baseAccuracy).toFixed(1)}% of the test set right, so removing directions can hardly lower its accuracy: ` +
    'the ablation says little about what the edge does; analyse a grokked model instead'
  );
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
  // Accuracies are counts over the scored targets: the edge's removal flips a whole number of them.
  const edgeFlips = inputs.ablation.edge / inputs.ablation.resolution;
  const belowFlip = Math.round(edgeFlips) < 1;

  const decayDominated = gef < t.decayDominated;
  const frozen = rotation === null ? null : rotation < t.frozenDeg;
  const ablationFunctional = abl.value >= t.functionalRatio;
  const klFunctional = klRatio >= t.functionalRatio;
  const functional = ablationFunctional || klFunctional;
  const ablationEmpty = abl.value < t.emptyRatio;
  const klEmpty = klRatio < t.emptyRatio;
  const empty = belowFlip || (ablationEmpty && klEmpty);
  const ablationQuantity = `ablation ratio |delta acc| edge / random${abl.lowerBound ? ' (lower bound: random below one token flip)' : ''}`;
  const klQuantity = 'perturbation max KL ratio edge / random';
  const klValue = Number.isFinite(klRatio) ? klRatio : null;
  const evidence: Evidence[] = [
    { quantity: `median gradient energy fraction of v1 (last ${late.length} windows)`, value: gef, threshold: `< ${t.decayDominated}`, sign: 'decay-dominated', met: decayDominated },
    { quantity: `median rotation of v1, degrees (last ${late.length} windows)`, value: rotation, threshold: `< ${t.frozenDeg}`, sign: 'nearly frozen', met: frozen },
    { quantity: ablationQuantity, value: abl.value, threshold: `>= ${t.functionalRatio}`, sign: 'functional', met: ablationFunctional },
    { quantity: klQuantity, value: klValue, threshold: `>= ${t.functionalRatio}`, sign: 'functional', met: klFunctional },
    { quantity: ablationQuantity, value: abl.value, threshold: `< ${t.emptyRatio}, with the KL ratio`, sign: 'functionally empty', met: ablationEmpty },
    { quantity: klQuantity, value: klValue, threshold: `< ${t.emptyRatio}, with the ablation ratio`, sign: 'functionally empty', met: klEmpty },
    { quantity: 'token flips caused by removing the edge (|delta acc| / resolution)', value: edgeFlips, threshold: '< 1, on its own', sign: 'functionally empty', met: belowFlip },
  ];
  const caveat = lowAccuracyCaveat(inputs.ablation.baseAccuracy);
  const signs: Verdict['signs'] = [
    { sign: 'decay-dominated', holds: decayDominated },
    { sign: 'nearly frozen', holds: frozen },
    { sign: 'functional', holds: functional },
    { sign: 'functionally empty', holds: empty },
  ];
  const verdict = (cls: UniversalityClass, reason: string): Verdict => ({ class: cls, reason, evidence, signs, ...(caveat && { caveat }) });
  if (functional) {
    const by = [ablationFunctional && 'removing', klFunctional && 'moving along'].filter(Boolean).join(' and ');
    return verdict('functional', `${by} the edge changes the model ${Math.max(ablationFunctional ? abl.value : 0, klFunctional ? klRatio : 0).toPrecision(3)}x more than random directions do`);
  }
  if (decayDominated && empty && frozen === true) return verdict('compression', 'the edge is decay-dominated, nearly frozen and functionally empty');
  const held = [decayDominated && 'decay-dominated', empty && 'functionally empty', frozen && 'nearly frozen'].filter(Boolean);
  return verdict(
    'mixed',
    held.length
      ? `the edge is ${held.join(' and ')}, but not all three compression signs hold, and it is below the functional bar`
      : 'the edge is below the functional bar and shows no compression sign',
  );
}
