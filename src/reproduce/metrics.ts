// The named scalars a reproduction unit reports, read out of what the engine recorded: the spectral records, the
// analysis files of its moments and phase-diagram cells. Pure functions (no GPU), so the definitions below are what
// the report's rows mean and the tests check them on hand-made records.
//
// Spectral (per run; gef = v1's gradient energy fraction, docs/science.md §2.5):
//   g23Decline      max g23 over the run / the lowest g23 after that peak (the largest fall from the peak);
//   gef.pre         mean gef over the windows that end before the grok step;
//   gef.grok        gef of the first window ending at or after the grok step;
//   gef.late        mean gef over the last 3 windows;
//   gef.min         lowest gef of the run, and gef.minStep its window step;
//   edgeTurnStep    the first window step with gef < 0.5 (the edge turns decay-driven, §2.5);
//   rotation.median median rotation of v1 between consecutive windows (degrees).
import type { AnalysisFile } from '../formats/analysis-file';
import type { SpectralRecord } from '../formats/spectral';
import type { PhaseCellResult } from '../formats/phase-diagram-file';
import type { Moment } from './study';

/** Windows the "late" gradient share is averaged over. */
export const LATE_WINDOWS = 3;
/** Below this v1's gradient energy fraction, the edge is decay-driven (docs/science.md §2.5). */
export const DECAY_DRIVEN = 0.5;

const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length);

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The largest fall of g23 from its peak: max / the minimum after the peak (null without two positive values). */
export function g23Decline(g23: readonly (number | null)[]): number | null {
  const values = g23.map((g) => (g !== null && Number.isFinite(g) ? g : null));
  let peak = -1;
  values.forEach((g, i) => {
    if (g !== null && (peak < 0 || g > values[peak]!)) peak = i;
  });
  if (peak < 0) return null;
  const after = values.slice(peak + 1).filter((g): g is number => g !== null);
  if (after.length === 0) return null;
  const low = Math.min(...after);
  return low > 0 ? values[peak]! / low : null;
}

export function spectralMetrics(records: readonly SpectralRecord[], grokStep: number | null): Record<string, number | null> {
  const gef = records.map((r) => r.gradEnergyFraction[0]);
  const steps = records.map((r) => r.step);
  const atGrok = grokStep === null ? -1 : steps.findIndex((s) => s >= grokStep);
  let minIndex = -1;
  gef.forEach((g, i) => {
    if (minIndex < 0 || g < gef[minIndex]) minIndex = i;
  });
  const turn = gef.findIndex((g) => g < DECAY_DRIVEN);
  return {
    g23Decline: g23Decline(records.map((r) => r.g23)),
    'gef.pre': grokStep === null ? null : mean(gef.filter((_, i) => steps[i] < grokStep)),
    'gef.grok': atGrok < 0 ? null : gef[atGrok],
    'gef.late': mean(gef.slice(-LATE_WINDOWS)),
    'gef.min': minIndex < 0 ? null : gef[minIndex],
    'gef.minStep': minIndex < 0 ? null : steps[minIndex],
    edgeTurnStep: turn < 0 ? null : steps[turn],
    'rotation.median': median(records.flatMap((r) => (r.rotationDeg.length > 0 ? [r.rotationDeg[0]] : []))),
  };
}

/**
 * The scalars of one moment's analysis file, keyed `<moment>.<experiment>.<quantity>`; the verdict's class and the
 * reasons an experiment did not apply go into `notes`.
 */
export function analysisMetrics(moment: Moment, file: AnalysisFile, notes: Record<string, string>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const put = (key: string, value: number | null) => {
    out[`${moment}.${key}`] = value;
  };
  const e = file.experiments;
  for (const [name, outcome] of Object.entries(e)) {
    if (outcome && 'notApplicable' in outcome) notes[`${moment}.${name}.notApplicable`] = outcome.notApplicable;
  }
  if (e.ablate && 'result' in e.ablate) {
    const a = e.ablate.result;
    put('ablate.edge', a.edge.deltaAccuracy);
    put('ablate.edgeRemoved', a.edge.removedFraction);
    put('ablate.bulk', a.bulk?.deltaAccuracy ?? null);
    put('ablate.randomMeanAbs', a.random.meanAbsDelta);
    put('ablate.randomMaxAbs', a.random.maxAbsDelta);
    put('ablate.resolution', a.resolution);
  }
  if (e.perturb && 'result' in e.perturb) {
    const s = e.perturb.result.summary;
    put('perturb.edgeMaxKl', Math.max(...s.edgeMaxKl.slice(0, 2)));
    put('perturb.randomMaxKl', s.randomMaxKl);
  }
  if (e.curvature && 'result' in e.curvature) {
    const c = e.curvature.result;
    put('curvature.v1', c.edge[0] ?? null);
    put('curvature.resolution', c.curvatureResolution);
  }
  if (e.probe && 'result' in e.probe) {
    const { trained, untrained } = e.probe.result;
    put('probe.linear', trained.linear);
    put('probe.quadratic', trained.quadratic);
    put('probe.mlp', trained.mlp);
    put('probe.untrainedLinear', untrained.linear);
  }
  if (e['wd-intervention'] && 'result' in e['wd-intervention']) {
    for (const row of e['wd-intervention'].result.branches) {
      put(`wd.${row.weightDecay}.acc`, row.testAccuracy);
      put(`wd.${row.weightDecay}.r2`, row.probeR2);
      put(`wd.${row.weightDecay}.norm`, row.thetaNorm);
    }
  }
  if (e.fourier && 'result' in e.fourier) {
    const randomBest: Record<string, number> = {};
    for (const d of e.fourier.result.directions) {
      // Modular arithmetic: the spectra over the pairs a != b (docs/science.md §3.7, "the diagonal").
      const bases = d.offDiagonal?.bases ?? d.bases;
      for (const [basis, modes] of Object.entries(bases)) {
        if (!modes) continue;
        if (d.kind === 'random') {
          randomBest[basis] = Math.max(randomBest[basis] ?? 0, modes.concentration);
          continue;
        }
        put(`fourier.${basis}.${d.label}.F`, modes.concentration);
        put(`fourier.${basis}.${d.label}.peak`, modes.peakFrequency);
        put(`fourier.${basis}.${d.label}.null`, modes.nullConcentration);
      }
    }
    for (const [basis, f] of Object.entries(randomBest)) put(`fourier.${basis}.randomMax.F`, f);
  }
  if (e.verdict && 'result' in e.verdict) notes[`${moment}.verdict`] = e.verdict.result.class;
  return out;
}

const meanOf = (xs: readonly (number | null)[] | undefined) => mean((xs ?? []).filter((x): x is number => x !== null));

/**
 * A phase-diagram cell's scalars: whether it grokked, its max test accuracy, and W_Q's and W_K's stable ranks and
 * Frobenius norms (each a mean over the attention modules). Q and K stay apart: Low-Rank Decay can leave one at rank
 * 1 and shrink the other to its floor, a flat spectrum of stable rank near d, and a mean of the two means neither.
 */
export function phaseMetrics(cell: PhaseCellResult): Record<string, number | null> {
  return {
    grokked: cell.grokStep === null ? 0 : 1,
    grokStep: cell.grokStep,
    maxTestAcc: cell.maxTestAcc,
    finalTestAcc: cell.finalTestAcc,
    trainFraction: cell.trainFraction,
    strength: cell.strength,
    stableRankQ: meanOf(cell.stableRank.q),
    stableRankK: meanOf(cell.stableRank.k),
    normQ: meanOf(cell.norm?.q),
    normK: meanOf(cell.norm?.k),
  };
}
